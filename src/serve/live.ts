/**
 * The live data the service answers from: item metadata, and users' feedback (which items they
 * have seen, which were positive, and when) and persona overrides, for the users in the user cache
 * (user-cache.ts: read from the store on a miss) or, with `userCache` 0, for every user (a mirror).
 * The store is the truth (every write goes there first and is durable before it shows up here).
 */
import { isPositive, type FeedbackPolicy } from './feedback-policy.js';
import type { FeedbackRecord, PersonaOverride, Store, StoredFeedback } from '../store/types.js';
import { LiveItems } from './live-items.js';
import { positiveRules, UserCache, type UserLive } from './user-cache.js';
import { refreshOnce } from './count-refresh.js';
import { loadUser } from './user-load.js';

export type { ItemChange } from './live-items.js';
export { DEFAULT_FEEDBACK_TYPES, isPositive, parseFeedbackPolicy, type FeedbackPolicy, type FeedbackTypeRule } from './feedback-policy.js';

export type { UserLive } from './user-cache.js';


/** Seqs skipped over (gaps) are re-checked for this long: a lower seq can commit after a higher one. */
const GAP_TTL_MS = 60_000;
const MAX_GAPS = 100_000;

export class LiveData extends LiveItems {
  readonly users = new Map<string, UserLive>();
  /**
   * Seqs below the highest applied one that were not seen yet (another process's transaction may
   * still commit them), with when to stop waiting. Rolled-back seqs simply expire.
   */
  private readonly gaps = new Map<number, number>();
  private trackGaps = false;
  /** Source of user versions: unique across users and deletions, so a cache key never repeats. */
  private clock = 0;
  feedbackCount = 0;
  maxSeq = 0;
  /**
   * Users deleted from the store, with the generation of their latest erasure (store.ts
   * `Erasure`): a model trained before that generation holds vectors of a user who no longer
   * exists, and the engine must never serve them to a new user with the same id.
   */
  private readonly erased = new Map<string, number>();
  /** Highest erasure generation applied. */
  erasureGen = 0;
  /** Users being reloaded after an erasure: the seqs applied to their fresh state meanwhile. */
  private readonly reloading = new Map<string, Set<number>>();
  private erasing: Promise<unknown> = Promise.resolve(0);

  /**
   * Null: every user's feedback is mirrored (`users` holds them all). Else `users` holds at most
   * `cache.budget` recently used users (an LRU), read from the store on a miss (`ensureUser`).
   */
  readonly cache: UserCache | null;

  /** `userCache`: how many users' feedback to keep (0 or absent: mirror every user). */
  constructor(
    readonly policy: FeedbackPolicy,
    opts: { userCache?: number } = {},
  ) {
    super();
    this.cache = opts.userCache ? new UserCache(opts.userCache, () => this.evict('')) : null;
  }

  static async load(store: Store, policy: FeedbackPolicy, opts: { userCache?: number } = {}): Promise<LiveData> {
    const live = new LiveData(policy, opts);
    // erasures first: one committed after this read is applied by the next catch-up
    for (;;) {
      const rows = await store.erasuresSince(live.erasureGen, 10_000);
      for (const e of rows) live.noteErasure(e.user, e.gen);
      if (rows.length < 10_000) break;
    }
    for (const it of await store.allItems()) live.items.set(it.id, it);
    if (live.cache) {
      // no history is read: who has feedback, how much, and each item's positive users (SQL aggregates)
      const stats = await store.feedbackStats(positiveRules(policy));
      for (const u of stats.users) live.cache.known.add(u);
      live.cache.positiveUsers = stats.positiveUsers;
      live.feedbackCount = stats.events;
      live.maxSeq = stats.maxSeq;
    } else live.applyFeedback(await store.allFeedback());
    live.trackGaps = true; // holes in the history are deletions, not commits still to come
    return live;
  }

  /** The user's entry, created (and cached) if absent (for the live data's files). */
  user(id: string): UserLive {
    let u = this.users.get(id);
    if (!u) {
      const v = ++this.clock;
      u = { seen: new Map(), positives: [], overrides: null, events: 0, version: v, tasteVersion: v, settingsVersion: v };
      this.users.set(id, u);
      if (this.cache) {
        this.cache.known.add(id);
        if (this.users.size > this.cache.budget) this.evict(id);
      }
    }
    return u;
  }

  /** Drops the least recently used cached users that are not held (`UserCache.hold`) and not `keep`, down to the budget. */
  private evict(keep: string): void {
    const c = this.cache!;
    for (const id of this.users.keys()) {
      if (this.users.size <= c.budget) return;
      // a user being rebuilt after an erasure stays (applyErasures adds the rows it reads to it)
      if (id !== keep && !c.held.has(id) && !this.reloading.has(id)) this.users.delete(id);
    }
  }

  /** Whether the user has feedback (or persona settings) here: cached or not. */
  hasUser(id: string): boolean {
    return this.cache ? this.cache.known.has(id) : this.users.has(id);
  }

  /** How many users have feedback. */
  get userCount(): number {
    return this.cache ? this.cache.known.size : this.users.size;
  }

  /**
   * The user's live feedback, read from the store (history and persona settings) when not cached;
   * undefined for a user without feedback. With the cache, the user stays in it at least until the
   * caller's synchronous work after the await is done (the engine reads `users` synchronously).
   */
  async ensureUser(store: Store, id: string): Promise<UserLive | undefined> {
    const c = this.cache;
    if (!c) return this.users.get(id);
    for (;;) {
      const hit = this.users.get(id);
      if (hit) {
        this.users.delete(id);
        this.users.set(id, hit);
        c.hold(id);
        return hit;
      }
      if (!c.known.has(id)) return undefined;
      let p = c.pending.get(id);
      if (!p) {
        p = loadUser(this, store, id).finally(() => c.pending.delete(id));
        c.pending.set(id, p);
      }
      await p;
    }
  }


  deleteItem(id: string): void {
    this.items.delete(id);
    // the store deleted the item's feedback; users not at hand may have had some: the counts are re-read
    if (this.cache) {
      this.cache.positiveUsers.delete(id);
      this.cache.dirty = true;
    }
    this.itemsVersion++;
    this.noteItemChange({ version: this.itemsVersion, id, kind: 'catalogue' });
    for (const u of this.users.values()) {
      const n = u.seen.get(id);
      if (n !== undefined) {
        // the store deleted the item's feedback too
        u.seen.delete(id);
        u.events -= n;
        this.feedbackCount -= n;
        const before = u.positives.length;
        u.positives = u.positives.filter((p) => p.item !== id);
        u.version = ++this.clock;
        if (u.positives.length !== before) u.tasteVersion = u.version;
      }
    }
  }

  /** Drops a user from the mirror (their data is gone from the store). */
  deleteUser(id: string): void {
    const u = this.users.get(id);
    const reading = this.cache?.loading.get(id);
    if (reading) reading.erased = true;
    if (this.cache?.known.delete(id)) {
      if (u) this.cache.dropPositives(u.positives.map((p) => p.item));
      // not at hand: how many events and positives left is read back from the store (count-refresh.ts)
      else this.cache.dirty = true;
    }
    if (!u) return;
    this.feedbackCount -= u.events;
    this.users.delete(id);
  }

  private noteErasure(user: string, gen: number): void {
    this.erased.set(user, gen);
    if (gen > this.erasureGen) this.erasureGen = gen;
  }

  /** Whether `user` was deleted after erasure generation `gen` (e.g. after a model was trained). */
  erasedAfter(user: string, gen: number): boolean {
    return (this.erased.get(user) ?? 0) > gen;
  }

  /**
   * Applies the user deletions recorded in the store since the last call (this process's own and
   * other replicas'): each deleted user leaves the mirror at once and is then rebuilt from what the
   * store still holds for the id (only events committed after the deletion: a new user). Calls run
   * one after another. Returns how many erasures were new.
   */
  applyErasures(store: Store): Promise<number> {
    return this.exclusive(() => this.applyErasuresNow(store));
  }

  /** Runs `fn` after the erasures (and other `exclusive` work) in progress, and before the next. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.erasing.then(fn, fn);
    this.erasing = run;
    return run;
  }

  private async applyErasuresNow(store: Store): Promise<number> {
    let n = 0;
    for (;;) {
      const rows = await store.erasuresSince(this.erasureGen, 1000);
      const users = new Set<string>();
      for (const e of rows) {
        this.noteErasure(e.user, e.gen);
        users.add(e.user);
      }
      n += rows.length;
      for (const id of users) {
        this.deleteUser(id);
        this.reloading.set(id, new Set());
      }
      for (const id of users) {
        try {
          const kept = await store.feedbackOf(id);
          const fresh = this.reloading.get(id)!;
          // events applied through the normal path (seq above maxSeq, or a gap still open) are not taken here
          const missing = kept.filter((e) => e.seq <= this.maxSeq && !this.gaps.has(e.seq) && !fresh.has(e.seq));
          if (missing.length > 0) {
            const u = this.user(id);
            for (const e of missing) this.applyOne(u, e);
            u.positives.sort((a, b) => a.seq - b.seq);
          }
        } finally {
          this.reloading.delete(id);
        }
      }
      if (rows.length < 1000) break;
    }
    // an erased user not at hand: the counts are read back from the store
    if (this.cache?.dirty) await refreshOnce(this, store);
    return n;
  }

  /** Applies one event to a user; `counted`: it is new here (not a history read back from the store). */
  applyOne(u: UserLive, e: FeedbackRecord & { seq: number }, counted = true): void {
    u.seen.set(e.item, (u.seen.get(e.item) ?? 0) + 1);
    u.events++;
    u.version = ++this.clock;
    if (isPositive(this.policy, e.type, e.value)) {
      if (counted) this.cache?.notePositive(e.item, u.positives.some((p) => p.item === e.item));
      u.positives.push({ item: e.item, seq: e.seq });
      u.tasteVersion = u.version;
    }
    if (counted) this.feedbackCount++;
  }

  /** An event of a user not in the cache: only the counts and, while their history is read, that read's catch-up. */
  private applyUncached(e: FeedbackRecord & { seq: number }): void {
    const c = this.cache!;
    c.known.add(e.user);
    c.loading.get(e.user)?.during.push({ ...e, seq: e.seq });
    if (isPositive(this.policy, e.type, e.value)) c.notePositive(e.item, undefined);
    this.feedbackCount++;
  }

  touchUser(id: string): void {
    const u = this.user(id);
    u.version = u.tasteVersion = u.settingsVersion = ++this.clock;
  }

  applyFeedback(events: readonly (FeedbackRecord & { seq: number })[] | readonly StoredFeedback[]): void {
    const now = Date.now();
    for (const e of events) {
      // applied already (or a gap given up on): never twice
      if (e.seq <= this.maxSeq && !this.gaps.delete(e.seq)) continue;
      if (e.seq > this.maxSeq && this.trackGaps) {
        for (let q = this.maxSeq + 1; q < e.seq && this.gaps.size < MAX_GAPS; q++) this.gaps.set(q, now + GAP_TTL_MS);
      }
      // a user without feedback here has a complete (empty) history: cached at once
      if (this.cache && !this.users.has(e.user) && this.cache.known.has(e.user)) this.applyUncached(e);
      else this.applyOne(this.user(e.user), e);
      this.reloading.get(e.user)?.add(e.seq);
      if (e.seq > this.maxSeq) this.maxSeq = e.seq;
    }
  }

  /**
   * With the cache: reads the histories of the users of positive events who are not cached, so that
   * applying the events keeps each item's positive-user count exact (`UserCache.notePositive`).
   */
  async prepareFeedback(store: Store, events: readonly FeedbackRecord[]): Promise<void> {
    const c = this.cache;
    if (!c) return;
    const ids = new Set<string>();
    for (const e of events) if (c.known.has(e.user) && !this.users.has(e.user) && isPositive(this.policy, e.type, e.value)) ids.add(e.user);
    await Promise.all([...ids].map((id) => this.ensureUser(store, id)));
  }

  /**
   * Applies feedback other processes wrote (replicas sharing a store): everything after the
   * highest seq seen, and the seqs skipped over that have committed since (a PostgreSQL sequence
   * value can commit after a higher one), after the user deletions recorded since. Returns how
   * many events were new. In the steady state these are two indexed queries that return nothing.
   */
  async catchUp(store: Store): Promise<number> {
    // deletions first, so that a deleted user's rows are never applied after their erasure
    await this.applyErasures(store);
    const before = this.feedbackCount;
    const now = Date.now();
    for (const [q, until] of this.gaps) if (until < now) this.gaps.delete(q);
    if (this.gaps.size > 0) {
      const wanted = [...this.gaps.keys()];
      for (let a = 0; a < wanted.length; a += 1000) this.applyFeedback(await store.feedbackBySeqs(wanted.slice(a, a + 1000)));
    }
    for (;;) {
      const rows = await store.feedbackSince(this.maxSeq, 5000);
      await this.prepareFeedback(store, rows);
      this.applyFeedback(rows);
      if (rows.length < 5000) break;
    }
    return this.feedbackCount - before;
  }

  /** Loads a user's overrides once (then this process's PATCH and other replicas' changes, replica-sync.ts, keep them). */
  async overrides(store: Store, id: string): Promise<Map<number, { muted: boolean; boost: number }>> {
    const read = async (u: UserLive): Promise<void> => {
      // a setting written while the store answered: read again
      const v = u.settingsVersion;
      const list = await store.overridesOf(id);
      if (u.settingsVersion === v) u.overrides ??= new Map(list.map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
    };
    // with the cache: read with the history on a miss; the user stays cached for the caller's synchronous work
    for (let u = await this.ensureUser(store, id); this.cache; u = await this.ensureUser(store, id)) {
      if (!u) return new Map((await store.overridesOf(id)).map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
      if (u.overrides) return u.overrides;
      await read(u);
    }
    const u = this.user(id);
    while (!u.overrides) await read(u);
    return u.overrides;
  }

  /** The rows applied here: seq up to `upTo`, except the seqs skipped over and still awaited (`skip`). */
  appliedCut(): { upTo: number; skip: number[] } {
    return { upTo: this.maxSeq, skip: [...this.gaps.keys()] };
  }

  /** Whether the feedback row `seq` is applied here (false for a seq skipped over and still awaited). */
  applied(seq: number): boolean {
    return seq <= this.maxSeq && !this.gaps.has(seq);
  }

  /**
   * Replaces a user's persona settings with the store's (another replica changed them), when this
   * mirror holds them and they differ; returns whether anything changed.
   */
  replaceOverrides(id: string, list: readonly PersonaOverride[]): boolean {
    const u = this.users.get(id);
    if (!u?.overrides) return false;
    const old = u.overrides;
    if (list.length === old.size && list.every((o) => old.get(o.persona)?.muted === o.muted && old.get(o.persona)?.boost === o.boost)) return false;
    u.overrides = new Map(list.map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
    u.version = u.settingsVersion = ++this.clock;
    return true;
  }

  setOverride(o: PersonaOverride): void {
    // a user not in the cache reads the stored setting when next read (a read in flight reads again)
    const u = this.cache ? this.users.get(o.user) : this.user(o.user);
    if (!u) return this.cache!.settingsChanged(o.user);
    // settings not read yet (null) are read from the store, which has this one, when next needed
    u.overrides?.set(o.persona, { muted: o.muted, boost: o.boost });
    u.version = u.settingsVersion = ++this.clock;
  }
}
