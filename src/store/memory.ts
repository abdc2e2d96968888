/**
 * The memory store (`--db memory:`): the same contract as the SQL stores (test/serve-store.test.ts)
 * held in this process's maps, for tests and throwaway demos. Nothing survives the process; a write
 * resolves once it is applied. Records are copied in and out, as a database would, so a caller
 * never holds the store's own objects.
 */
import { canonicalEdges, compareEdges, edgeHeldBy, edgeKey } from './edges.js';
import { isPositiveUnder, statsOfRows } from './aggregates.js';
import type { AppliedCounts, FeedbackStats, PositiveRule, ApiKeyInfo, EdgeRecord, Erasure, FeedbackRecord, ItemRecord, Job, KeyScope, Lease, ModelRecord, OnboardingRecord, PersonaOverride, Store, StoredFeedback, UserRecord, UserSummary } from './types.js';
import { ENV_KEY_LABEL, keyIdOf } from './rows.js';

interface KeyRow {
  scope: KeyScope;
  label: string;
  created: number;
  prefix: string;
  source: 'env' | 'api';
}

/** Byte order of the UTF-8 encodings: how SQLite (BINARY) and PostgreSQL (COLLATE "C") order ids. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class MemoryStore implements Store {
  readonly kind = 'memory';
  private open = false;
  private readonly items = new Map<string, ItemRecord>();
  private readonly users = new Map<string, UserRecord>();
  /** Every feedback row in seq order. */
  private feedback: StoredFeedback[] = [];
  /** Each user's rows in seq order (the same objects as `feedback`). */
  private readonly byUser = new Map<string, StoredFeedback[]>();
  private nextSeq = 1;
  private readonly erasures: Erasure[] = [];
  private nextGen = 1;
  private readonly overrides = new Map<string, Map<number, PersonaOverride>>();
  private readonly keys = new Map<string, KeyRow>();
  private readonly models = new Map<number, ModelRecord>();
  private nextVersion = 1;
  private readonly jobs = new Map<string, { job: Job; updatedAt: number }>();
  private readonly settings = new Map<string, string>();
  private readonly onboarding = new Map<string, OnboardingRecord>();
  /** Social edges by edgeKey (edges.ts), in their stored orientation. */
  private readonly edges = new Map<string, EdgeRecord>();
  private readonly leases = new Map<string, Lease>();

  async init(): Promise<void> {
    this.open = true;
  }

  async close(): Promise<void> {
    this.open = false;
  }

  /** Every operation on a store that is not open fails like a closed database does (a 503). */
  private live(): void {
    if (!this.open) throw new Error('the memory store is not open');
  }

  private dropFeedback(keep: (f: StoredFeedback) => boolean): void {
    this.feedback = this.feedback.filter(keep);
    this.byUser.clear();
    for (const f of this.feedback) this.userRows(f.user).push(f);
  }

  private userRows(user: string): StoredFeedback[] {
    let rows = this.byUser.get(user);
    if (!rows) this.byUser.set(user, (rows = []));
    return rows;
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    this.live();
    for (const it of items) this.items.set(it.id, structuredClone(it));
  }

  async getItem(id: string): Promise<ItemRecord | null> {
    this.live();
    const it = this.items.get(id);
    return it ? structuredClone(it) : null;
  }

  async deleteItem(id: string): Promise<boolean> {
    this.live();
    if (!this.items.delete(id)) return false;
    this.dropFeedback((f) => f.item !== id);
    return true;
  }

  async allItems(): Promise<ItemRecord[]> {
    this.live();
    return [...this.items.values()].map((it) => structuredClone(it));
  }

  async countItems(): Promise<number> {
    this.live();
    return this.items.size;
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<void> {
    this.live();
    for (const u of users) this.users.set(u.id, structuredClone(u));
  }

  async getUser(id: string): Promise<UserRecord | null> {
    this.live();
    const u = this.users.get(id);
    return u ? structuredClone(u) : null;
  }

  async deleteUser(id: string): Promise<boolean> {
    this.live();
    if (this.byUser.has(id)) this.dropFeedback((f) => f.user !== id);
    this.overrides.delete(id);
    for (const [k, e] of this.edges) if (e.user === id || e.friend === id) this.edges.delete(k);
    if (!this.users.delete(id)) return false;
    this.erasures.push({ gen: this.nextGen++, user: id });
    return true;
  }

  async erasuresSince(gen: number, limit: number): Promise<Erasure[]> {
    this.live();
    return this.erasures
      .filter((e) => e.gen > gen)
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  async erasureGeneration(): Promise<number> {
    this.live();
    return this.erasures.at(-1)?.gen ?? 0;
  }

  async listUsers(limit: number, offset: number): Promise<{ users: UserSummary[]; total: number }> {
    this.live();
    const ids = [...this.users.keys()].sort(byBytes).slice(offset, offset + limit);
    return { users: ids.map((id) => ({ id, interactions: this.byUser.get(id)?.length ?? 0 })), total: this.users.size };
  }

  async addFeedback(events: readonly FeedbackRecord[]): Promise<number[]> {
    this.live();
    return events.map((e) => {
      if (!this.users.has(e.user)) this.users.set(e.user, { id: e.user, attributes: {} });
      const row: StoredFeedback = { seq: this.nextSeq++, user: e.user, item: e.item, type: e.type, value: e.value, ts: e.ts };
      this.feedback.push(row);
      this.userRows(e.user).push(row);
      return row.seq;
    });
  }

  async feedbackOf(user: string): Promise<StoredFeedback[]> {
    this.live();
    return (this.byUser.get(user) ?? []).map((f) => ({ ...f }));
  }

  async allFeedback(): Promise<StoredFeedback[]> {
    this.live();
    return this.feedback.map((f) => ({ ...f }));
  }

  async feedbackSince(seq: number, limit: number): Promise<StoredFeedback[]> {
    this.live();
    // rows are in seq order: binary search for the first seq above `seq`
    let lo = 0;
    let hi = this.feedback.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.feedback[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.feedback.slice(lo, lo + limit).map((f) => ({ ...f }));
  }

  async feedbackBySeqs(seqs: readonly number[]): Promise<StoredFeedback[]> {
    this.live();
    const wanted = new Set(seqs);
    return this.feedback.filter((f) => wanted.has(f.seq)).map((f) => ({ ...f }));
  }

  async feedbackStats(rules: readonly PositiveRule[]): Promise<FeedbackStats> {
    this.live();
    return statsOfRows(this.feedback, rules);
  }

  async appliedCounts(rules: readonly PositiveRule[], upTo: number, skip: readonly number[]): Promise<AppliedCounts> {
    this.live();
    const out = new Set(skip);
    const st = statsOfRows(this.feedback.filter((f) => f.seq <= upTo && !out.has(f.seq)), rules);
    return { events: st.events, positiveUsers: st.positiveUsers, erasureGen: this.erasures.at(-1)?.gen ?? 0 };
  }

  async positivesOfLikers(items: readonly string[], rules: readonly PositiveRule[]): Promise<StoredFeedback[]> {
    const wanted = new Set(items);
    const likers = new Set(this.feedback.filter((e) => wanted.has(e.item) && isPositiveUnder(rules, e)).map((e) => e.user));
    return this.feedback.filter((e) => likers.has(e.user) && isPositiveUnder(rules, e)).map((f) => ({ ...f }));
  }

  async countFeedback(): Promise<number> {
    this.live();
    return this.feedback.length;
  }

  async addEdges(edges: readonly EdgeRecord[]): Promise<number> {
    this.live();
    let added = 0;
    for (const e of canonicalEdges(edges)) {
      for (const id of [e.user, e.friend]) if (!this.users.has(id)) this.users.set(id, { id, attributes: {} });
      const k = edgeKey(e);
      if (this.edges.has(k)) continue;
      this.edges.set(k, e);
      added++;
    }
    return added;
  }

  async edgesOf(user: string): Promise<EdgeRecord[]> {
    this.live();
    return [...this.edges.values()].filter((e) => e.user === user || e.friend === user).map((e) => ({ ...e })).sort(compareEdges);
  }

  async allEdges(): Promise<EdgeRecord[]> {
    this.live();
    return [...this.edges.values()].map((e) => ({ ...e })).sort(compareEdges);
  }

  async deleteEdges(user: string, friends: readonly string[] | null): Promise<number> {
    this.live();
    const set = friends === null ? null : new Set(friends);
    let n = 0;
    for (const [k, e] of this.edges) {
      if (!edgeHeldBy(e, user, set)) continue;
      this.edges.delete(k);
      n++;
    }
    return n;
  }

  async countEdges(): Promise<number> {
    this.live();
    return this.edges.size;
  }

  async setOverride(o: PersonaOverride): Promise<void> {
    this.live();
    let mine = this.overrides.get(o.user);
    if (!mine) this.overrides.set(o.user, (mine = new Map()));
    mine.set(o.persona, { ...o });
  }

  async overridesOf(user: string): Promise<PersonaOverride[]> {
    this.live();
    return [...(this.overrides.get(user)?.values() ?? [])].sort((a, b) => a.persona - b.persona).map((o) => ({ ...o }));
  }

  async addApiKey(hash: string, scope: KeyScope, label: string, prefix = ''): Promise<void> {
    this.live();
    const row = this.keys.get(hash);
    if (row) row.scope = scope;
    else this.keys.set(hash, { scope, label, created: Date.now(), prefix, source: 'api' });
  }

  async findApiKey(hash: string): Promise<KeyScope | null> {
    this.live();
    return this.keys.get(hash)?.scope ?? null;
  }

  async replaceEnvApiKey(hash: string, prefix: string): Promise<void> {
    this.live();
    for (const [h, row] of this.keys) if (row.source === 'env' || (row.label === ENV_KEY_LABEL && row.prefix === '')) this.keys.delete(h);
    const row = this.keys.get(hash);
    if (row) {
      row.scope = 'admin';
      row.source = 'env';
    } else this.keys.set(hash, { scope: 'admin', label: ENV_KEY_LABEL, created: Date.now(), prefix, source: 'env' });
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    this.live();
    return [...this.keys]
      .sort(([ha, a], [hb, b]) => a.created - b.created || byBytes(ha, hb))
      .map(([hash, r]) => ({ id: keyIdOf(hash), prefix: r.prefix, scope: r.scope, label: r.label, created: r.created, source: r.source }));
  }

  async deleteApiKey(id: string): Promise<boolean> {
    this.live();
    let gone = false;
    for (const h of [...this.keys.keys()]) if (keyIdOf(h) === id) gone = this.keys.delete(h) || gone;
    return gone;
  }

  async countApiKeys(): Promise<number> {
    this.live();
    return this.keys.size;
  }

  async addModel(m: Omit<ModelRecord, 'version'>): Promise<ModelRecord> {
    this.live();
    const record: ModelRecord = { ...structuredClone(m), version: this.nextVersion++ };
    this.models.set(record.version, record);
    return structuredClone(record);
  }

  async latestModel(): Promise<ModelRecord | null> {
    this.live();
    return (await this.listModels())[0] ?? null;
  }

  async listModels(): Promise<ModelRecord[]> {
    this.live();
    return [...this.models.values()].sort((a, b) => b.version - a.version).map((m) => structuredClone(m));
  }

  async deleteModel(version: number): Promise<boolean> {
    this.live();
    return this.models.delete(version);
  }

  async saveJob(job: Job, updatedAt: number): Promise<void> {
    this.live();
    const old = this.jobs.get(job.id);
    // as the SQL upsert: id, kind and startedAt stay as first written
    const saved = old ? { ...structuredClone(job), kind: old.job.kind, startedAt: old.job.startedAt } : structuredClone(job);
    this.jobs.set(job.id, { job: saved, updatedAt });
  }

  async getJob(id: string): Promise<Job | null> {
    this.live();
    const j = this.jobs.get(id);
    return j ? structuredClone(j.job) : null;
  }

  async listJobs(limit: number): Promise<Job[]> {
    this.live();
    // as the SQL: ORDER BY started_at DESC, id
    return [...this.jobs.values()]
      .map((j) => j.job)
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map((j) => structuredClone(j));
  }

  async getSetting(key: string): Promise<string | null> {
    this.live();
    return this.settings.get(key) ?? null;
  }

  async setSetting(key: string, value: string | null): Promise<void> {
    this.live();
    if (value === null) this.settings.delete(key);
    else this.settings.set(key, value);
  }

  async failStaleJobs(before: number, error: string): Promise<number> {
    this.live();
    let n = 0;
    for (const j of this.jobs.values()) {
      if (j.job.state !== 'running' || j.updatedAt >= before) continue;
      j.job = { ...j.job, state: 'failed', error, finishedAt: new Date().toISOString() };
      j.updatedAt = Date.now();
      n++;
    }
    return n;
  }

  async acquireLease(name: string, holder: string, job: string, ttlMs: number): Promise<Lease> {
    this.live();
    const now = Date.now();
    const held = this.leases.get(name);
    if (!held || held.expires <= now || (held.holder === holder && held.job === job)) this.leases.set(name, { name, holder, job, expires: now + Math.max(0, Math.round(ttlMs)) });
    return { ...this.leases.get(name)! };
  }

  async releaseLease(name: string, holder: string, job: string): Promise<boolean> {
    this.live();
    const held = this.leases.get(name);
    return held !== undefined && held.holder === holder && held.job === job && this.leases.delete(name);
  }

  async probeWrite(): Promise<void> {
    this.live();
  }

  async saveOnboarding(s: OnboardingRecord): Promise<void> {
    this.live();
    this.onboarding.set(s.id, { ...s });
  }

  async getOnboarding(id: string): Promise<OnboardingRecord | null> {
    this.live();
    const r = this.onboarding.get(id);
    return r ? { ...r } : null;
  }

  async pruneOnboarding(before: number): Promise<number> {
    this.live();
    let n = 0;
    for (const [id, r] of this.onboarding) if (r.updatedAt < before && this.onboarding.delete(id)) n++;
    return n;
  }
}
