/**
 * With the user cache (live.ts, user-cache.ts): re-reads the per-item positive-user counts and the
 * event count from the store when a change could not be counted here (`UserCache.dirty`: a
 * positive of a user not at hand, the erasure of a user not at hand, an item's deletion).
 *
 * The store may hold rows this process has not applied yet (a write committed whose reply is not
 * handled yet, another replica's rows before the catch-up), and may lack rows it still counts (an
 * erasure committed and not applied yet). So the store counts only the applied rows (seq up to the
 * highest applied, not the seqs still awaited: `LiveData.appliedCut`), in one snapshot that also
 * tells the newest erasure; a snapshot newer than the erasures applied here is read again after
 * applying them. What changed here while the store answered (rows above the cut or awaited, users
 * erased) is not in the snapshot and is added to it. Attempts run one at a time with the erasures
 * (`LiveData.exclusive`), and concurrent callers share one refresh.
 */
import type { Store } from '../store/types.js';
import type { FeedbackPolicy } from './feedback-policy.js';
import { positiveRules, type UserCache } from './user-cache.js';

/** What the re-read uses of the live data (live.ts LiveData). */
export interface CountTarget {
  readonly cache: UserCache | null;
  readonly policy: FeedbackPolicy;
  readonly erasureGen: number;
  feedbackCount: number;
  appliedCut(): { upTo: number; skip: number[] };
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  applyErasures(store: Store): Promise<number>;
}

/** Reads after which a refresh that keeps being overtaken gives up (the next request tries again). */
const MAX_ATTEMPTS = 4;

/** Makes the cache's counts exact again if they are not (`dirty`); a no-op without the cache. */
export function refreshCounts(live: CountTarget, store: Store): Promise<void> {
  const c = live.cache;
  if (!c) return Promise.resolve();
  if (c.refreshing) return c.refreshing;
  if (!c.dirty && !c.reading) return Promise.resolve();
  const run = (async () => {
    // a read in flight (the erasures' own, applyErasures) is waited for: `exclusive` runs after it
    for (let attempt = 0; (c.dirty || c.reading) && attempt < MAX_ATTEMPTS; attempt++) {
      const done = await live.exclusive(async () => (c.dirty ? refreshOnce(live, store) : 'done'));
      if (done === 'erasures') await live.applyErasures(store);
    }
  })().finally(() => (c.refreshing = null));
  c.refreshing = run;
  return run;
}

/**
 * One read of the counts (inside `LiveData.exclusive`, as the erasures are applied): 'done' (exact
 * unless a change that cannot be counted came meanwhile: `dirty` again), or 'erasures' when the
 * store has erasures not applied here yet.
 */
export async function refreshOnce(live: CountTarget, store: Store): Promise<'done' | 'erasures'> {
  const c = live.cache!;
  c.dirty = false;
  const { upTo, skip } = live.appliedCut();
  const gen = live.erasureGen;
  const before = new Map(c.positiveUsers);
  const events = live.feedbackCount;
  c.reading = true;
  let got;
  try {
    got = await store.appliedCounts(positiveRules(live.policy), upTo, skip);
  } catch (err) {
    c.dirty = true;
    throw err;
  } finally {
    c.reading = false;
  }
  if (got.erasureGen > gen) {
    c.dirty = true;
    return 'erasures';
  }
  const counts = got.positiveUsers;
  const add = (item: string, d: number): void => {
    const n = (counts.get(item) ?? 0) + d;
    if (n > 0) counts.set(item, n);
    else counts.delete(item);
  };
  for (const [item, n] of c.positiveUsers) if (n !== (before.get(item) ?? 0)) add(item, n - (before.get(item) ?? 0));
  for (const [item, n] of before) if (!c.positiveUsers.has(item)) add(item, -n);
  c.positiveUsers = counts;
  live.feedbackCount = got.events + (live.feedbackCount - events);
  c.countsVersion++;
  return 'done';
}
