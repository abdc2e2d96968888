/**
 * The live data the service answers from, mirrored in memory from the store: item metadata, each
 * user's feedback (which items they have seen, which were positive, and when), persona overrides.
 * The store is the truth (every write goes there first and is durable before it shows up here);
 * this mirror keeps per-request work to a few map look-ups. Versions let caches notice changes.
 */
import { ConfigError } from '../errors.js';
import type { FeedbackRecord, ItemRecord, PersonaOverride, Store, StoredFeedback } from '../store/types.js';

/** Which feedback types exist and which count as positive (configuration). */
export interface FeedbackTypeRule {
  positive: boolean;
  /** Positive only when value >= minValue (e.g. ratings). */
  minValue?: number;
}
export type FeedbackPolicy = Readonly<Record<string, FeedbackTypeRule>>;

export const DEFAULT_FEEDBACK_TYPES: FeedbackPolicy = {
  view: { positive: false },
  click: { positive: false },
  like: { positive: true },
  dislike: { positive: false },
  purchase: { positive: true },
  rating: { positive: true, minValue: 4 },
};

/**
 * A policy from a list of the positive types, e.g. "like,purchase,rating>=4": the listed types are
 * positive (with an optional minimum value); the other default types stay, as not positive.
 */
export function parseFeedbackPolicy(spec: string): FeedbackPolicy {
  const out: Record<string, FeedbackTypeRule> = {};
  for (const name of Object.keys(DEFAULT_FEEDBACK_TYPES)) out[name] = { positive: false };
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([A-Za-z0-9_.-]{1,64})(?:>=(-?\d+(?:\.\d+)?))?$/.exec(part);
    if (!m) throw new ConfigError(`"${part}": expected a type name, optionally with a minimum value (e.g. rating>=4)`, '--positive');
    out[m[1]!] = m[2] !== undefined ? { positive: true, minValue: Number(m[2]) } : { positive: true };
  }
  return out;
}

export function isPositive(policy: FeedbackPolicy, type: string, value: number): boolean {
  const rule = policy[type];
  if (!rule || !rule.positive) return false;
  return rule.minValue === undefined || value >= rule.minValue;
}

export interface UserLive {
  /** Every item the user gave any feedback on (never recommended back), with its event count. */
  seen: Map<string, number>;
  /** Positive events: item and store seq, oldest first. */
  positives: { item: string; seq: number }[];
  overrides: Map<number, { muted: boolean; boost: number }> | null;
  /** Feedback events (all types). */
  events: number;
  /** Any change of the user (feedback or persona settings). */
  version: number;
  /**
   * Changes of the positives (what the persona set, the scores and the confidence depend on):
   * a view or a click leaves it as it is.
   */
  tasteVersion: number;
  /** Changes of the persona settings (mutes, boosts): the scores and answers, not the persona set. */
  settingsVersion: number;
}

/** What an item upsert or deletion changed (LiveData.itemChangesSince). */
export interface ItemChange {
  /** The itemsVersion the change made. */
  version: number;
  id: string;
  /** 'title': only the title; 'catalogue': categories, a new item or a deletion. */
  kind: 'title' | 'catalogue';
}

/** Item changes kept for the engines to catch up on (more than this: they rebuild). */
const MAX_ITEM_CHANGES = 10_000;

/** Seqs skipped over (gaps) are re-checked for this long: a lower seq can commit after a higher one. */
const GAP_TTL_MS = 60_000;
const MAX_GAPS = 100_000;

export class LiveData {
  readonly items = new Map<string, ItemRecord>();
  readonly users = new Map<string, UserLive>();
  /** Increases with every item upsert or deletion that changed something. */
  itemsVersion = 0;
  /** The latest item changes, oldest first (at most MAX_ITEM_CHANGES). */
  private itemChanges: ItemChange[] = [];
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
  private erasing: Promise<number> = Promise.resolve(0);

  constructor(readonly policy: FeedbackPolicy) {}

  static async load(store: Store, policy: FeedbackPolicy): Promise<LiveData> {
    const live = new LiveData(policy);
    // erasures first: one committed after this read is applied by the next catch-up
    for (;;) {
      const rows = await store.erasuresSince(live.erasureGen, 10_000);
      for (const e of rows) live.noteErasure(e.user, e.gen);
      if (rows.length < 10_000) break;
    }
    for (const it of await store.allItems()) live.items.set(it.id, it);
    live.applyFeedback(await store.allFeedback());
    live.trackGaps = true; // holes in the history are deletions, not commits still to come
    return live;
  }

  private user(id: string): UserLive {
    let u = this.users.get(id);
    if (!u) {
      const v = ++this.clock;
      u = { seen: new Map(), positives: [], overrides: null, events: 0, version: v, tasteVersion: v, settingsVersion: v };
      this.users.set(id, u);
    }
    return u;
  }

  /**
   * Upserts items. Only real changes count: an unchanged item changes nothing, a new title is a
   * 'title' change, new categories or a new item a 'catalogue' change (ItemChange).
   */
  upsertItems(items: readonly ItemRecord[]): void {
    let changed = false;
    for (const it of items) {
      const old = this.items.get(it.id);
      this.items.set(it.id, it);
      let kind: ItemChange['kind'] | null = null;
      if (!old || old.categories.length !== it.categories.length || old.categories.some((c, j) => c !== it.categories[j])) kind = 'catalogue';
      else if (old.title !== it.title) kind = 'title';
      if (kind === null) continue;
      if (!changed) this.itemsVersion++;
      changed = true;
      this.noteItemChange({ version: this.itemsVersion, id: it.id, kind });
    }
  }

  private noteItemChange(c: ItemChange): void {
    this.itemChanges.push(c);
    if (this.itemChanges.length > 2 * MAX_ITEM_CHANGES) this.itemChanges = this.itemChanges.slice(-MAX_ITEM_CHANGES);
  }

  /**
   * The item changes after `version`, oldest first, or null when some of them are no longer kept
   * (the caller then rebuilds from the items).
   */
  itemChangesSince(version: number): ItemChange[] | null {
    if (version >= this.itemsVersion) return [];
    const first = this.itemChanges[0];
    if (!first || first.version > version + 1) return null;
    let a = this.itemChanges.length;
    while (a > 0 && this.itemChanges[a - 1]!.version > version) a--;
    return this.itemChanges.slice(a);
  }

  deleteItem(id: string): void {
    this.items.delete(id);
    this.itemsVersion++;
    this.noteItemChange({ version: this.itemsVersion, id, kind: 'catalogue' });
    for (const u of this.users.values()) {
      const n = u.seen.get(id);
      if (n !== undefined) {
        // the store deleted the item's feedback too
        u.seen.delete(id);
        u.events -= n;
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
    const run = this.erasing.then(
      () => this.applyErasuresNow(store),
      () => this.applyErasuresNow(store),
    );
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
      if (rows.length < 1000) return n;
    }
  }

  private applyOne(u: UserLive, e: FeedbackRecord & { seq: number }): void {
    u.seen.set(e.item, (u.seen.get(e.item) ?? 0) + 1);
    u.events++;
    u.version = ++this.clock;
    if (isPositive(this.policy, e.type, e.value)) {
      u.positives.push({ item: e.item, seq: e.seq });
      u.tasteVersion = u.version;
    }
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
      this.applyOne(this.user(e.user), e);
      this.reloading.get(e.user)?.add(e.seq);
      if (e.seq > this.maxSeq) this.maxSeq = e.seq;
    }
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
      this.applyFeedback(rows);
      if (rows.length < 5000) break;
    }
    return this.feedbackCount - before;
  }

  /** Loads a user's overrides once (then this process's PATCH and other replicas' changes, replica-sync.ts, keep them). */
  async overrides(store: Store, id: string): Promise<Map<number, { muted: boolean; boost: number }>> {
    const u = this.user(id);
    if (!u.overrides) {
      const list: PersonaOverride[] = await store.overridesOf(id);
      u.overrides = new Map(list.map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
    }
    return u.overrides;
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
    const u = this.user(o.user);
    (u.overrides ??= new Map()).set(o.persona, { muted: o.muted, boost: o.boost });
    u.version = u.settingsVersion = ++this.clock;
  }
}
