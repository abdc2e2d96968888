/**
 * The PostgreSQL store, for several server replicas sharing one store. Every write is one
 * transaction (feedback: one per group of concurrent requests, postgres-feedback.ts); COMMIT returns after the WAL flush (synchronous_commit is left at its default, on),
 * so an acknowledged write is durable. Tables live in `schema` (default "personae"), which lets
 * tests run side by side in one database. Push to replicas and leases: postgres-notify.ts.
 */
import pg from 'pg';
import { canonicalEdges } from './edges.js';
import { CHUNK, insertChunked } from './postgres-chunks.js';
import { deleteEdgesOf, insertEdges, selectEdges } from './postgres-edges.js';
import { inTransaction, pgFeedbackWriter } from './postgres-feedback.js';
import { acquirePgLease, PgChangeFeed, releasePgLease, replicaSchemaSql } from './postgres-notify.js';
import { appliedCountsOf, appliedCountsSql, positiveWhere } from './aggregates.js';
import type { AppliedCounts, FeedbackStats, PositiveRule, ApiKeyInfo, ChangeFeed, EdgeRecord, Erasure, FeedbackRecord, ItemRecord, KeyScope, Lease, ModelRecord, OnboardingRecord, PersonaOverride, Store, StoredFeedback, UserRecord, UserSummary, Job } from './types.js';
import { ENV_KEY_LABEL, keyIdOf, feedbackFromRow, jobFromRow, jobValues, modelFromRow, type FeedbackRow, type JobRow, type ModelRow } from './rows.js';

// bigint (seq, counts) as JS numbers: the counts stay far below 2^53
pg.types.setTypeParser(20, (v: string) => Number(v));

const schemaSql = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.items (id TEXT PRIMARY KEY, title TEXT NOT NULL, categories JSONB NOT NULL, created BIGSERIAL);
CREATE TABLE IF NOT EXISTS ${s}.users (id TEXT PRIMARY KEY, attributes JSONB NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS ${s}.feedback (
  seq BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
  type TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, ts BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_user ON ${s}.feedback (user_id, seq);
CREATE INDEX IF NOT EXISTS feedback_item ON ${s}.feedback (item_id);
CREATE TABLE IF NOT EXISTS ${s}.api_keys (hash TEXT PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created BIGINT NOT NULL);
ALTER TABLE ${s}.api_keys ADD COLUMN IF NOT EXISTS prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE ${s}.api_keys ADD COLUMN IF NOT EXISTS source TEXT NOT NULL DEFAULT 'api';
CREATE TABLE IF NOT EXISTS ${s}.erasures (gen BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.persona_overrides (
  user_id TEXT NOT NULL, persona INTEGER NOT NULL, muted BOOLEAN NOT NULL, boost DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (user_id, persona));
CREATE TABLE IF NOT EXISTS ${s}.models (
  version SERIAL PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
  trained_at TEXT NOT NULL, params JSONB NOT NULL, feedback_seq BIGINT NOT NULL, evaluation TEXT);
CREATE TABLE IF NOT EXISTS ${s}.jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, progress TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT, error TEXT, model TEXT, updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.health (id INTEGER PRIMARY KEY, at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.onboarding (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.social_edges (
  user_id TEXT NOT NULL, friend_id TEXT NOT NULL, kind TEXT NOT NULL, ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, friend_id, kind));
CREATE INDEX IF NOT EXISTS social_edges_friend ON ${s}.social_edges (friend_id);
`;

export class PgStore implements Store {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly s: string;
  /** Feedback, group-committed (postgres-feedback.ts). */
  private readonly feedbackWriter: ReturnType<typeof pgFeedbackWriter>;

  constructor(url: string, schema = 'personae') {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name "${schema}"`);
    this.s = schema;
    this.pool = new pg.Pool({ connectionString: url, max: 8 });
    // an idle client that loses its connection must not crash the process
    this.pool.on('error', () => {});
    this.feedbackWriter = pgFeedbackWriter(this.pool, schema);
  }

  async init(): Promise<void> {
    const c = await this.pool.connect();
    try {
      // concurrent replicas creating the schema at once: serialise on an advisory lock
      await c.query('SELECT pg_advisory_lock(727001)');
      await c.query(schemaSql(this.s));
      await c.query(replicaSchemaSql(this.s));
    } finally {
      await c.query('SELECT pg_advisory_unlock(727001)').catch(() => undefined);
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.feedbackWriter.idle();
    await this.pool.end();
  }

  /** Drops this store's schema (tests). */
  async dropSchema(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.s} CASCADE`);
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    await this.tx((c) =>
      insertChunked(
        c,
        items,
        ['', '', '::jsonb'],
        (it) => [it.id, it.title, JSON.stringify(it.categories)],
        (values) => `INSERT INTO ${this.s}.items (id, title, categories) VALUES ${values} ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, categories = EXCLUDED.categories`,
      ),
    );
  }

  async getItem(id: string): Promise<ItemRecord | null> {
    const r = await this.pool.query<ItemRecord>(`SELECT id, title, categories FROM ${this.s}.items WHERE id = $1`, [id]);
    return r.rows[0] ?? null;
  }

  async deleteItem(id: string): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query(`DELETE FROM ${this.s}.feedback WHERE item_id = $1`, [id]);
      return ((await c.query(`DELETE FROM ${this.s}.items WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    });
  }

  async allItems(): Promise<ItemRecord[]> {
    return (await this.pool.query<ItemRecord>(`SELECT id, title, categories FROM ${this.s}.items ORDER BY created`)).rows;
  }

  async countItems(): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${this.s}.items`)).rows[0]!.n;
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<void> {
    await this.tx((c) =>
      insertChunked(
        c,
        users,
        ['', '::jsonb'],
        (u) => [u.id, JSON.stringify(u.attributes)],
        (values) => `INSERT INTO ${this.s}.users (id, attributes) VALUES ${values} ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes`,
      ),
    );
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const r = await this.pool.query<UserRecord>(`SELECT id, attributes FROM ${this.s}.users WHERE id = $1`, [id]);
    return r.rows[0] ?? null;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query(`DELETE FROM ${this.s}.feedback WHERE user_id = $1`, [id]);
      await c.query(`DELETE FROM ${this.s}.persona_overrides WHERE user_id = $1`, [id]);
      await c.query(`DELETE FROM ${this.s}.social_edges WHERE user_id = $1 OR friend_id = $1`, [id]);
      const gone = ((await c.query(`DELETE FROM ${this.s}.users WHERE id = $1`, [id])).rowCount ?? 0) > 0;
      if (gone) {
        // erasures commit in generation order (replicas read them by gen): one deletion at a time
        await c.query(`LOCK TABLE ${this.s}.erasures IN SHARE ROW EXCLUSIVE MODE`);
        await c.query(`INSERT INTO ${this.s}.erasures (user_id, at) VALUES ($1, $2)`, [id, Date.now()]);
      }
      return gone;
    });
  }

  async erasuresSince(gen: number, limit: number): Promise<Erasure[]> {
    return (await this.pool.query<Erasure>(`SELECT gen, user_id AS user FROM ${this.s}.erasures WHERE gen > $1 ORDER BY gen LIMIT $2`, [gen, limit])).rows;
  }

  async erasureGeneration(): Promise<number> {
    return (await this.pool.query<{ g: number }>(`SELECT COALESCE(MAX(gen), 0)::bigint AS g FROM ${this.s}.erasures`)).rows[0]!.g;
  }

  async listUsers(limit: number, offset: number): Promise<{ users: UserSummary[]; total: number }> {
    const total = (await this.pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${this.s}.users`)).rows[0]!.n;
    const r = await this.pool.query<UserSummary>(
      `SELECT u.id AS id, (SELECT COUNT(*) FROM ${this.s}.feedback f WHERE f.user_id = u.id)::bigint AS interactions
       FROM ${this.s}.users u ORDER BY u.id COLLATE "C" LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    return { users: r.rows, total };
  }

  async addFeedback(events: readonly FeedbackRecord[]): Promise<number[]> {
    return this.feedbackWriter.add(events);
  }

  async feedbackOf(user: string): Promise<StoredFeedback[]> {
    const r = await this.pool.query<FeedbackRow>(`SELECT seq, user_id, item_id, type, value, ts FROM ${this.s}.feedback WHERE user_id = $1 ORDER BY seq`, [user]);
    return r.rows.map(feedbackFromRow);
  }

  async allFeedback(): Promise<StoredFeedback[]> {
    const r = await this.pool.query<FeedbackRow>(`SELECT seq, user_id, item_id, type, value, ts FROM ${this.s}.feedback ORDER BY seq`);
    return r.rows.map(feedbackFromRow);
  }

  async feedbackSince(seq: number, limit: number): Promise<StoredFeedback[]> {
    const r = await this.pool.query<FeedbackRow>(`SELECT seq, user_id, item_id, type, value, ts FROM ${this.s}.feedback WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
    return r.rows.map(feedbackFromRow);
  }

  async feedbackBySeqs(seqs: readonly number[]): Promise<StoredFeedback[]> {
    if (seqs.length === 0) return [];
    const r = await this.pool.query<FeedbackRow>(`SELECT seq, user_id, item_id, type, value, ts FROM ${this.s}.feedback WHERE seq = ANY($1::bigint[]) ORDER BY seq`, [seqs]);
    return r.rows.map(feedbackFromRow);
  }

  async countFeedback(): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${this.s}.feedback`)).rows[0]!.n;
  }

  async feedbackStats(rules: readonly PositiveRule[]): Promise<FeedbackStats> {
    const w = positiveWhere(rules, (k) => `$${k}`);
    // one snapshot for the three reads (a write committing between them would be half counted)
    return this.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const users = (await c.query<{ u: string }>(`SELECT DISTINCT user_id AS u FROM ${this.s}.feedback`)).rows.map((r) => r.u);
      const t = (await c.query<{ n: string; m: string }>(`SELECT COUNT(*)::bigint AS n, COALESCE(MAX(seq), 0)::bigint AS m FROM ${this.s}.feedback`)).rows[0]!;
      const rows = (await c.query<{ item: string; c: string }>(`SELECT item_id AS item, COUNT(DISTINCT user_id)::bigint AS c FROM ${this.s}.feedback WHERE ${w.sql} GROUP BY item_id`, w.params)).rows;
      return { users, events: Number(t.n), maxSeq: Number(t.m), positiveUsers: new Map(rows.map((r) => [r.item, Number(r.c)])) };
    });
  }

  async appliedCounts(rules: readonly PositiveRule[], upTo: number, skip: readonly number[]): Promise<AppliedCounts> {
    const w = positiveWhere(rules, (k) => `$${k + 2}`);
    const sql = appliedCountsSql(`${this.s}.feedback`, `${this.s}.erasures`, 'seq <= $1 AND seq <> ALL($2::bigint[])', w.sql);
    return appliedCountsOf((await this.pool.query<{ item: string | null; c: string; g: string | null }>(sql, [upTo, skip, ...w.params])).rows);
  }

  async positivesOfLikers(items: readonly string[], rules: readonly PositiveRule[]): Promise<StoredFeedback[]> {
    const w = positiveWhere(rules, (k) => `$${k + 1}`);
    const likers = `SELECT DISTINCT user_id FROM ${this.s}.feedback WHERE item_id = ANY($1::text[]) AND (${w.sql})`;
    const r = await this.pool.query<FeedbackRow>(`SELECT seq, user_id, item_id, type, value, ts FROM ${this.s}.feedback WHERE user_id IN (${likers}) AND (${w.sql}) ORDER BY seq`, [items, ...w.params]);
    return r.rows.map(feedbackFromRow);
  }

  async addEdges(edges: readonly EdgeRecord[]): Promise<number> {
    const all = canonicalEdges(edges);
    return all.length === 0 ? 0 : this.tx((c) => insertEdges(c, this.s, all, CHUNK));
  }

  async edgesOf(user: string): Promise<EdgeRecord[]> {
    return selectEdges(this.pool, this.s, user);
  }

  async allEdges(): Promise<EdgeRecord[]> {
    return selectEdges(this.pool, this.s, null);
  }

  async deleteEdges(user: string, friends: readonly string[] | null): Promise<number> {
    return deleteEdgesOf(this.pool, this.s, user, friends);
  }

  async countEdges(): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${this.s}.social_edges`)).rows[0]!.n;
  }

  async setOverride(o: PersonaOverride): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.persona_overrides (user_id, persona, muted, boost) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, persona) DO UPDATE SET muted = EXCLUDED.muted, boost = EXCLUDED.boost`,
      [o.user, o.persona, o.muted, o.boost],
    );
  }

  async overridesOf(user: string): Promise<PersonaOverride[]> {
    const r = await this.pool.query<{ persona: number; muted: boolean; boost: number }>(
      `SELECT persona, muted, boost FROM ${this.s}.persona_overrides WHERE user_id = $1 ORDER BY persona`,
      [user],
    );
    return r.rows.map((x) => ({ user, persona: x.persona, muted: x.muted, boost: x.boost }));
  }

  async addApiKey(hash: string, scope: KeyScope, label: string, prefix = ''): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.api_keys (hash, scope, label, created, prefix, source) VALUES ($1, $2, $3, $4, $5, 'api') ON CONFLICT (hash) DO UPDATE SET scope = EXCLUDED.scope`,
      [hash, scope, label, Date.now(), prefix],
    );
  }

  async replaceEnvApiKey(hash: string, prefix: string): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`DELETE FROM ${this.s}.api_keys WHERE source = 'env' OR (label = $1 AND prefix = '')`, [ENV_KEY_LABEL]);
      await c.query(
        `INSERT INTO ${this.s}.api_keys (hash, scope, label, created, prefix, source) VALUES ($1, 'admin', $2, $3, $4, 'env')
         ON CONFLICT (hash) DO UPDATE SET scope = 'admin', source = 'env'`,
        [hash, ENV_KEY_LABEL, Date.now(), prefix],
      );
    });
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    const r = await this.pool.query<Omit<ApiKeyInfo, 'id'> & { hash: string }>(`SELECT hash, scope, label, created, prefix, source FROM ${this.s}.api_keys ORDER BY created, hash`);
    return r.rows.map(({ hash, ...x }) => ({ id: keyIdOf(hash), ...x }));
  }

  async deleteApiKey(id: string): Promise<boolean> {
    return ((await this.pool.query(`DELETE FROM ${this.s}.api_keys WHERE substr(hash, 1, 16) = $1`, [id])).rowCount ?? 0) > 0;
  }

  async countApiKeys(): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${this.s}.api_keys`)).rows[0]!.n;
  }

  async findApiKey(hash: string): Promise<KeyScope | null> {
    const r = await this.pool.query<{ scope: KeyScope }>(`SELECT scope FROM ${this.s}.api_keys WHERE hash = $1`, [hash]);
    return r.rows[0]?.scope ?? null;
  }

  async addModel(m: Omit<ModelRecord, 'version'>): Promise<ModelRecord> {
    const r = await this.pool.query<{ version: number }>(
      `INSERT INTO ${this.s}.models (name, path, sha256, trained_at, params, feedback_seq, evaluation) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING version`,
      [m.name, m.path, m.sha256, m.trainedAt, JSON.stringify(m.params), m.feedbackSeq, m.evaluation],
    );
    return { ...m, version: r.rows[0]!.version };
  }

  async latestModel(): Promise<ModelRecord | null> {
    const r = await this.pool.query<ModelRow<ModelRecord['params']>>(`SELECT * FROM ${this.s}.models ORDER BY version DESC LIMIT 1`);
    const x = r.rows[0];
    return x ? modelFromRow(x, (params) => params) : null;
  }

  async listModels(): Promise<ModelRecord[]> {
    const r = await this.pool.query<ModelRow<ModelRecord['params']>>(`SELECT * FROM ${this.s}.models ORDER BY version DESC`);
    return r.rows.map((x) => modelFromRow(x, (params) => params));
  }

  async deleteModel(version: number): Promise<boolean> {
    return ((await this.pool.query(`DELETE FROM ${this.s}.models WHERE version = $1`, [version])).rowCount ?? 0) > 0;
  }

  async saveJob(job: Job, updatedAt: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.jobs (id, kind, state, progress, started_at, finished_at, error, model, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, progress = EXCLUDED.progress, finished_at = EXCLUDED.finished_at, error = EXCLUDED.error, model = EXCLUDED.model, updated_at = EXCLUDED.updated_at`,
      jobValues(job, updatedAt),
    );
  }

  async getJob(id: string): Promise<Job | null> {
    const r = await this.pool.query<JobRow>(`SELECT * FROM ${this.s}.jobs WHERE id = $1`, [id]);
    return r.rows[0] ? jobFromRow(r.rows[0]) : null;
  }

  async listJobs(limit: number): Promise<Job[]> {
    const r = await this.pool.query<JobRow>(`SELECT * FROM ${this.s}.jobs ORDER BY started_at DESC, id LIMIT $1`, [limit]);
    return r.rows.map(jobFromRow);
  }

  async getSetting(key: string): Promise<string | null> {
    const r = await this.pool.query<{ value: string }>(`SELECT value FROM ${this.s}.settings WHERE key = $1`, [key]);
    return r.rows[0]?.value ?? null;
  }

  async setSetting(key: string, value: string | null): Promise<void> {
    if (value === null) await this.pool.query(`DELETE FROM ${this.s}.settings WHERE key = $1`, [key]);
    else await this.pool.query(`INSERT INTO ${this.s}.settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
  }

  async failStaleJobs(before: number, error: string): Promise<number> {
    const r = await this.pool.query(`UPDATE ${this.s}.jobs SET state = 'failed', error = $1, finished_at = $2, updated_at = $3 WHERE state = 'running' AND updated_at < $4`, [error, new Date().toISOString(), Date.now(), before]);
    return r.rowCount ?? 0;
  }

  acquireLease(name: string, holder: string, job: string, ttlMs: number): Promise<Lease> {
    return acquirePgLease(this.pool, this.s, name, holder, job, ttlMs);
  }

  releaseLease(name: string, holder: string, job: string): Promise<boolean> {
    return releasePgLease(this.pool, this.s, name, holder, job);
  }

  changeFeed(): ChangeFeed {
    return new PgChangeFeed(this.pool, this.s);
  }

  async probeWrite(): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.s}.health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at`, [Date.now()]);
  }

  async saveOnboarding(s: OnboardingRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.onboarding (id, state, updated_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
      [s.id, s.state, s.updatedAt],
    );
  }

  async getOnboarding(id: string): Promise<OnboardingRecord | null> {
    const r = await this.pool.query<{ id: string; state: string; updated_at: string }>(`SELECT id, state, updated_at FROM ${this.s}.onboarding WHERE id = $1`, [id]);
    const row = r.rows[0];
    return row ? { id: row.id, state: row.state, updatedAt: Number(row.updated_at) } : null;
  }

  async pruneOnboarding(before: number): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.s}.onboarding WHERE updated_at < $1`, [before])).rowCount ?? 0;
  }
}
