/**
 * With the user cache (live.ts): the positives new-items.ts scores a new item without categories
 * from (the items its first users liked), read from the store instead of a pass over every user's
 * mirrored feedback. Read before a request that may list new items, when the items, the feedback
 * or the served model changed since the last read: the positive events of every user with a
 * positive on one of the newest items the model does not know, as the mirror would hold them.
 */
import type { Store } from '../store/types.js';
import type { LiveData } from './live.js';
import { MAX_NEW_ITEMS } from './new-items.js';
import { positiveRules } from './user-cache.js';
import { refreshCounts } from './count-refresh.js';

/** Re-reads the positive counts if a write could not count; reads the co-liked positives (UserCache.coLiked) for the model tagged `model`, whose items `known` tells. */
export async function prepareCoLiked(live: LiveData, store: Store, model: string, known: (id: string) => boolean): Promise<void> {
  const c = live.cache;
  if (!c) return;
  // the per-item positive counts exact first (new items and lists read them)
  await refreshCounts(live, store);
  const key = `${model}|${live.itemsVersion}|${live.maxSeq}|${live.feedbackCount}|${live.erasureGen}|${c.countsVersion}`;
  if (c.coLikedKey === key) return;
  // the newest items the model does not know: listed again only when the items or the model change,
  // so a new like costs a look-up per such item, not a pass over the catalogue
  const unknownKey = `${model}|${live.itemsVersion}`;
  if (c.unknownKey !== unknownKey) {
    const all = [...live.items.keys()];
    const unknown: string[] = [];
    for (let r = all.length - 1; r >= 0 && unknown.length < MAX_NEW_ITEMS; r--) if (!known(all[r]!)) unknown.push(all[r]!);
    c.unknownItems = unknown;
    c.unknownKey = unknownKey;
  }
  const wanted = c.unknownItems.filter((id) => (c.positiveUsers.get(id) ?? 0) > 0);
  const byUser = new Map<string, { item: string }[]>();
  if (wanted.length > 0) {
    for (const e of await store.positivesOfLikers(wanted, positiveRules(live.policy))) {
      if (!live.applied(e.seq)) continue;
      let list = byUser.get(e.user);
      if (!list) byUser.set(e.user, (list = []));
      list.push({ item: e.item });
    }
  }
  c.coLiked = [...byUser.values()].map((positives) => ({ positives }));
  c.coLikedKey = key;
}
