/**
 * Non-personalised item lists of the live data: the most popular items (overall and per category)
 * and the latest items. They need no model, so they answer before the first training, for items
 * posted after it, and on a home page for anyone.
 *
 * - popular: items by how many users gave them a positive (live.ts `isPositive`), ties by the
 *   item's position in the catalogue (older first);
 * - latest: items by when they were first created, newest first (the store keeps items in
 *   creation order: SQLite rowid, PostgreSQL `created`; an update keeps the place).
 *
 * The counts are rebuilt from the live mirror (one pass over the positives and a sort; with the
 * user cache, a copy of its per-item counts) when its
 * items changed since the last list, and when only its feedback changed at most once every
 * REBUILD_EVERY_MS, so that a stream of writes does not cost a pass per read.
 */
import { NotFoundError } from '../errors.js';
import type { LiveData } from './live.js';

export interface ListedItem {
  id: string;
  title: string;
  categories: string[];
  /** Users with a positive on the item. */
  positives: number;
}

export interface ListRequest {
  n: number;
  offset: number;
  /** Only items of this category. */
  category?: string | undefined;
  /** Item ids never to return. */
  exclude?: readonly string[];
  /** A user whose items (any feedback) are never returned. */
  user?: string | undefined;
}

interface Snapshot {
  key: string;
  itemsVersion: number;
  builtAt: number;
  /** Users with a positive, per item id. */
  positives: Map<string, number>;
  /** Item ids by popularity (most first; ties: catalogue order). */
  popular: string[];
  /** Item ids newest first. */
  latest: string[];
  categories: Set<string>;
}

const snapshots = new WeakMap<LiveData, Snapshot>();

/** When only feedback changed, the lists are rebuilt at most this often. */
export const REBUILD_EVERY_MS = 1000;

/** What the lists depend on: the items and the feedback of the mirror. */
function keyOf(live: LiveData): string {
  return `${live.itemsVersion}|${live.maxSeq}|${live.feedbackCount}|${live.userCount}|${live.erasureGen}|${live.cache?.countsVersion ?? 0}`;
}

function snapshot(live: LiveData): Snapshot {
  const key = keyOf(live);
  const s = snapshots.get(live);
  if (s && (s.key === key || (s.itemsVersion === live.itemsVersion && Date.now() - s.builtAt < REBUILD_EVERY_MS))) return s;
  // with the user cache (live.ts): its per-item counts, kept current on every write
  const positives = live.cache ? new Map(live.cache.positiveUsers) : new Map<string, number>();
  const seen = new Set<string>();
  for (const u of live.cache ? [] : live.users.values()) {
    seen.clear();
    for (const p of u.positives) {
      if (seen.has(p.item)) continue;
      seen.add(p.item);
      positives.set(p.item, (positives.get(p.item) ?? 0) + 1);
    }
  }
  const order = [...live.items.keys()];
  const position = new Map(order.map((id, r) => [id, r]));
  const popular = order.slice().sort((a, b) => (positives.get(b) ?? 0) - (positives.get(a) ?? 0) || position.get(a)! - position.get(b)!);
  const categories = new Set<string>();
  for (const it of live.items.values()) for (const c of it.categories) categories.add(c);
  const next: Snapshot = { key, itemsVersion: live.itemsVersion, builtAt: Date.now(), positives, popular, latest: order.reverse(), categories };
  snapshots.set(live, next);
  return next;
}

/** Users with a positive on each item (ids not listed have none). */
export function positiveCounts(live: LiveData): ReadonlyMap<string, number> {
  return snapshot(live).positives;
}

/** The categories of the live items. */
export function liveCategories(live: LiveData): ReadonlySet<string> {
  return snapshot(live).categories;
}

/**
 * A page of a list: the filters (category, exclusions, the user's items) apply before the page is
 * cut, so `n` items come back while the catalogue has them.
 */
export function itemList(live: LiveData, kind: 'popular' | 'latest', req: ListRequest): { list: 'popular' | 'latest'; category: string | null; items: ListedItem[] } {
  const s = snapshot(live);
  if (req.category !== undefined && !s.categories.has(req.category)) {
    throw new NotFoundError(`category "${req.category}": no item has it`);
  }
  const skip = new Set(req.exclude ?? []);
  const seen = req.user !== undefined ? live.users.get(req.user)?.seen : undefined;
  const items: ListedItem[] = [];
  let passed = 0;
  for (const id of kind === 'popular' ? s.popular : s.latest) {
    if (items.length >= req.n) break;
    if (skip.has(id) || seen?.has(id)) continue;
    const it = live.items.get(id);
    if (!it || (req.category !== undefined && !it.categories.includes(req.category))) continue;
    if (passed++ < req.offset) continue;
    items.push({ id, title: it.title || id, categories: it.categories, positives: s.positives.get(id) ?? 0 });
  }
  return { list: kind, category: req.category ?? null, items };
}
