/**
 * The SQLite store (the default): one file, WAL journal, synchronous=FULL so that a committed
 * transaction survives a crash (an acknowledged write is on disk). better-sqlite3 is synchronous;
 * the statements are small and prepared once (`st`). Feedback, the write that comes under load,
 * is group-committed by a worker thread with its own connection (sqlite-writer.ts), so that its
 * commits never wait for the disk on the event loop; an in-memory database (one connection only)
 * commits it here.
 */
import Database from 'better-sqlite3';
import { SqliteFeedbackWriter } from './sqlite-writer.js';
import { canonicalEdges, compareEdges } from './edges.js';
import { appliedCountsOf, appliedCountsSql, positiveWhere } from './aggregates.js';
import type { AppliedCounts, FeedbackStats, PositiveRule, ApiKeyInfo, EdgeRecord, Erasure, FeedbackRecord, ItemRecord, KeyScope, Lease, ModelRecord, OnboardingRecord, PersonaOverride, Store, StoredFeedback, UserRecord, UserSummary, Job } from './types.js';
import { ENV_KEY_LABEL, keyIdOf, edgeFromRow, feedbackFromRow, jobFromRow, jobValues, modelFromRow, type EdgeRow, type FeedbackRow, type JobRow, type ModelRow } from './rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, title TEXT NOT NULL, categories TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, attributes TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS feedback (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
  type TEXT NOT NULL, value REAL NOT NULL, ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id, seq);
CREATE INDEX IF NOT EXISTS feedback_item ON feedback (item_id);
CREATE TABLE IF NOT EXISTS api_keys (hash TEXT PRIMARY KEY, scope TEXT NOT NULL, label TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS erasures (gen INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS persona_overrides (
  user_id TEXT NOT NULL, persona INTEGER NOT NULL, muted INTEGER NOT NULL, boost REAL NOT NULL,
  PRIMARY KEY (user_id, persona));
CREATE TABLE IF NOT EXISTS models (
  version INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
  trained_at TEXT NOT NULL, params TEXT NOT NULL, feedback_seq INTEGER NOT NULL, evaluation TEXT);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, progress TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT, error TEXT, model TEXT, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS onboarding (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS social_edges (
  user_id TEXT NOT NULL, friend_id TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, friend_id, kind));
CREATE INDEX IF NOT EXISTS social_edges_friend ON social_edges (friend_id);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, job TEXT NOT NULL, expires INTEGER NOT NULL);
`;


export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private db!: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** The group-commit writer of feedback (null: committed on this connection). */
  private writer: SqliteFeedbackWriter | null = null;

  /** `opts.writerThread` (default true for a file): feedback is group-committed by a worker thread. */
  constructor(
    readonly file: string,
    private readonly opts: { writerThread?: boolean } = {},
  ) {}

  /** The statement of `sql`, prepared once per connection. */
  private st(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  pollWrites(): void {
    this.writer?.poll();
  }

  /** Groups committed by the writer thread and the requests in them (null without one). */
  writerStats(): { groups: number; requests: number } | null {
    return this.writer?.stats() ?? null;
  }

  async init(): Promise<void> {
    this.db = new Database(this.file);
    if (this.file !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // columns added after the first release of the table
    const cols = new Set((this.st('PRAGMA table_info(api_keys)').all() as { name: string }[]).map((c) => c.name));
    if (!cols.has('prefix')) this.db.exec("ALTER TABLE api_keys ADD COLUMN prefix TEXT NOT NULL DEFAULT ''");
    if (!cols.has('source')) this.db.exec("ALTER TABLE api_keys ADD COLUMN source TEXT NOT NULL DEFAULT 'api'");
    if (this.file !== ':memory:' && this.file !== '' && this.opts.writerThread !== false) {
      this.writer = new SqliteFeedbackWriter(this.file);
      this.writer.start();
    }
  }

  async close(): Promise<void> {
    // the writes queued before close commit first
    await this.writer?.close();
    this.db.close();
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    const st = this.st('INSERT INTO items (id, title, categories) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title, categories = excluded.categories');
    this.db.transaction(() => {
      for (const it of items) st.run(it.id, it.title, JSON.stringify(it.categories));
    })();
  }

  async getItem(id: string): Promise<ItemRecord | null> {
    const r = this.st('SELECT id, title, categories FROM items WHERE id = ?').get(id) as { id: string; title: string; categories: string } | undefined;
    return r ? { id: r.id, title: r.title, categories: JSON.parse(r.categories) as string[] } : null;
  }

  async deleteItem(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.st('DELETE FROM feedback WHERE item_id = ?').run(id);
      return this.st('DELETE FROM items WHERE id = ?').run(id).changes > 0;
    })();
  }

  async allItems(): Promise<ItemRecord[]> {
    const rows = this.st('SELECT id, title, categories FROM items ORDER BY rowid').all() as { id: string; title: string; categories: string }[];
    return rows.map((r) => ({ id: r.id, title: r.title, categories: JSON.parse(r.categories) as string[] }));
  }

  async countItems(): Promise<number> {
    return (this.st('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n;
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<void> {
    const st = this.st('INSERT INTO users (id, attributes) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes');
    this.db.transaction(() => {
      for (const u of users) st.run(u.id, JSON.stringify(u.attributes));
    })();
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const r = this.st('SELECT id, attributes FROM users WHERE id = ?').get(id) as { id: string; attributes: string } | undefined;
    return r ? { id: r.id, attributes: JSON.parse(r.attributes) as UserRecord['attributes'] } : null;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.st('DELETE FROM feedback WHERE user_id = ?').run(id);
      this.st('DELETE FROM persona_overrides WHERE user_id = ?').run(id);
      this.st('DELETE FROM social_edges WHERE user_id = ? OR friend_id = ?').run(id, id);
      const gone = this.st('DELETE FROM users WHERE id = ?').run(id).changes > 0;
      if (gone) this.st('INSERT INTO erasures (user_id, at) VALUES (?, ?)').run(id, Date.now());
      return gone;
    })();
  }

  async erasuresSince(gen: number, limit: number): Promise<Erasure[]> {
    return this.st('SELECT gen, user_id AS user FROM erasures WHERE gen > ? ORDER BY gen LIMIT ?').all(gen, limit) as Erasure[];
  }

  async erasureGeneration(): Promise<number> {
    return (this.st('SELECT COALESCE(MAX(gen), 0) AS g FROM erasures').get() as { g: number }).g;
  }

  async listUsers(limit: number, offset: number): Promise<{ users: UserSummary[]; total: number }> {
    const total = (this.st('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    const rows = this.st(
        'SELECT u.id AS id, (SELECT COUNT(*) FROM feedback f WHERE f.user_id = u.id) AS interactions FROM users u ORDER BY u.id LIMIT ? OFFSET ?',
      )
      .all(limit, offset) as UserSummary[];
    return { users: rows, total };
  }

  async addFeedback(events: readonly FeedbackRecord[]): Promise<number[]> {
    if (events.length === 0) return [];
    if (this.writer) return this.writer.add(events);
    const ins = this.st('INSERT INTO feedback (user_id, item_id, type, value, ts) VALUES (?, ?, ?, ?, ?)');
    const user = this.st("INSERT INTO users (id, attributes) VALUES (?, '{}') ON CONFLICT (id) DO NOTHING");
    return this.db.transaction(() => {
      const seqs: number[] = [];
      for (const e of events) {
        user.run(e.user);
        seqs.push(Number(ins.run(e.user, e.item, e.type, e.value, e.ts).lastInsertRowid));
      }
      return seqs;
    })();
  }

  async feedbackOf(user: string): Promise<StoredFeedback[]> {
    const rows = this.st('SELECT seq, user_id, item_id, type, value, ts FROM feedback WHERE user_id = ? ORDER BY seq').all(user) as FeedbackRow[];
    return rows.map(feedbackFromRow);
  }

  async allFeedback(): Promise<StoredFeedback[]> {
    const rows = this.st('SELECT seq, user_id, item_id, type, value, ts FROM feedback ORDER BY seq').all() as FeedbackRow[];
    return rows.map(feedbackFromRow);
  }

  async feedbackSince(seq: number, limit: number): Promise<StoredFeedback[]> {
    const rows = this.st('SELECT seq, user_id, item_id, type, value, ts FROM feedback WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as FeedbackRow[];
    return rows.map(feedbackFromRow);
  }

  async feedbackBySeqs(seqs: readonly number[]): Promise<StoredFeedback[]> {
    if (seqs.length === 0) return [];
    const rows = this.st('SELECT seq, user_id, item_id, type, value, ts FROM feedback WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq')
      .all(JSON.stringify(seqs)) as FeedbackRow[];
    return rows.map(feedbackFromRow);
  }

  async countFeedback(): Promise<number> {
    return (this.st('SELECT COUNT(*) AS n FROM feedback').get() as { n: number }).n;
  }

  async feedbackStats(rules: readonly PositiveRule[]): Promise<FeedbackStats> {
    const w = positiveWhere(rules, () => '?');
    // one read transaction: one snapshot (the writer thread commits on its own connection)
    return this.db.transaction(() => {
      const users = this.st('SELECT DISTINCT user_id FROM feedback').pluck().all() as string[];
      const { n, m } = this.st('SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS m FROM feedback').get() as { n: number; m: number };
      // one pass over the table (NOT INDEXED): walking the item index instead looks each row up at
      // random for its type and value, which is far slower on a large store
      const rows = this.db.prepare(`SELECT item_id AS item, COUNT(DISTINCT user_id) AS c FROM feedback NOT INDEXED WHERE ${w.sql} GROUP BY item_id`).all(...w.params) as { item: string; c: number }[];
      return { users, events: n, maxSeq: m, positiveUsers: new Map(rows.map((r) => [r.item, r.c])) };
    })();
  }

  async appliedCounts(rules: readonly PositiveRule[], upTo: number, skip: readonly number[]): Promise<AppliedCounts> {
    const w = positiveWhere(rules, () => '?');
    const sql = appliedCountsSql('feedback NOT INDEXED', 'erasures', 'seq <= ? AND seq NOT IN (SELECT value FROM json_each(?))', w.sql);
    const kept = [upTo, JSON.stringify(skip)];
    return appliedCountsOf(this.db.prepare(sql).all(...kept, ...kept, ...w.params) as { item: string | null; c: number; g: number | null }[]);
  }

  async positivesOfLikers(items: readonly string[], rules: readonly PositiveRule[]): Promise<StoredFeedback[]> {
    const w = positiveWhere(rules, () => '?');
    const likers = `SELECT DISTINCT user_id FROM feedback WHERE item_id IN (SELECT value FROM json_each(?)) AND (${w.sql})`;
    const sql = `SELECT seq, user_id, item_id, type, value, ts FROM feedback WHERE user_id IN (${likers}) AND (${w.sql}) ORDER BY seq`;
    return (this.db.prepare(sql).all(JSON.stringify(items), ...w.params, ...w.params) as FeedbackRow[]).map(feedbackFromRow);
  }

  async addEdges(edges: readonly EdgeRecord[]): Promise<number> {
    const ins = this.st('INSERT INTO social_edges (user_id, friend_id, kind, ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    const user = this.st("INSERT INTO users (id, attributes) VALUES (?, '{}') ON CONFLICT (id) DO NOTHING");
    return this.db.transaction(() => {
      let added = 0;
      for (const e of canonicalEdges(edges)) {
        user.run(e.user);
        user.run(e.friend);
        added += ins.run(e.user, e.friend, e.kind, e.ts).changes;
      }
      return added;
    })();
  }

  async edgesOf(user: string): Promise<EdgeRecord[]> {
    const rows = this.st('SELECT user_id, friend_id, kind, ts FROM social_edges WHERE user_id = ? OR friend_id = ?').all(user, user) as EdgeRow[];
    return rows.map(edgeFromRow).sort(compareEdges);
  }

  async allEdges(): Promise<EdgeRecord[]> {
    return (this.st('SELECT user_id, friend_id, kind, ts FROM social_edges').all() as EdgeRow[]).map(edgeFromRow).sort(compareEdges);
  }

  async deleteEdges(user: string, friends: readonly string[] | null): Promise<number> {
    if (friends === null) return this.st("DELETE FROM social_edges WHERE user_id = ? OR (kind = 'friend' AND friend_id = ?)").run(user, user).changes;
    const del = this.st("DELETE FROM social_edges WHERE (user_id = ? AND friend_id = ?) OR (kind = 'friend' AND user_id = ? AND friend_id = ?)");
    return this.db.transaction(() => {
      let n = 0;
      for (const f of new Set(friends)) n += del.run(user, f, f, user).changes;
      return n;
    })();
  }

  async countEdges(): Promise<number> {
    return (this.st('SELECT COUNT(*) AS n FROM social_edges').get() as { n: number }).n;
  }

  async setOverride(o: PersonaOverride): Promise<void> {
    this.st('INSERT INTO persona_overrides (user_id, persona, muted, boost) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, persona) DO UPDATE SET muted = excluded.muted, boost = excluded.boost')
      .run(o.user, o.persona, o.muted ? 1 : 0, o.boost);
  }

  async overridesOf(user: string): Promise<PersonaOverride[]> {
    const rows = this.st('SELECT persona, muted, boost FROM persona_overrides WHERE user_id = ? ORDER BY persona').all(user) as { persona: number; muted: number; boost: number }[];
    return rows.map((r) => ({ user, persona: r.persona, muted: r.muted === 1, boost: r.boost }));
  }

  async addApiKey(hash: string, scope: KeyScope, label: string, prefix = ''): Promise<void> {
    this.st("INSERT INTO api_keys (hash, scope, label, created, prefix, source) VALUES (?, ?, ?, ?, ?, 'api') ON CONFLICT (hash) DO UPDATE SET scope = excluded.scope")
      .run(hash, scope, label, Date.now(), prefix);
  }

  async replaceEnvApiKey(hash: string, prefix: string): Promise<void> {
    this.db.transaction(() => {
      this.st("DELETE FROM api_keys WHERE source = 'env' OR (label = ? AND prefix = '')").run(ENV_KEY_LABEL);
      this.st("INSERT INTO api_keys (hash, scope, label, created, prefix, source) VALUES (?, 'admin', ?, ?, ?, 'env') ON CONFLICT (hash) DO UPDATE SET scope = 'admin', source = 'env'")
        .run(hash, ENV_KEY_LABEL, Date.now(), prefix);
    })();
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    const rows = this.st('SELECT hash, scope, label, created, prefix, source FROM api_keys ORDER BY created, hash').all() as (Omit<ApiKeyInfo, 'id'> & { hash: string })[];
    return rows.map(({ hash, ...r }) => ({ id: keyIdOf(hash), ...r }));
  }

  async deleteApiKey(id: string): Promise<boolean> {
    return this.st('DELETE FROM api_keys WHERE substr(hash, 1, 16) = ?').run(id).changes > 0;
  }

  async countApiKeys(): Promise<number> {
    return (this.st('SELECT COUNT(*) AS n FROM api_keys').get() as { n: number }).n;
  }

  async findApiKey(hash: string): Promise<KeyScope | null> {
    const r = this.st('SELECT scope FROM api_keys WHERE hash = ?').get(hash) as { scope: KeyScope } | undefined;
    return r?.scope ?? null;
  }

  async addModel(m: Omit<ModelRecord, 'version'>): Promise<ModelRecord> {
    const r = this.st('INSERT INTO models (name, path, sha256, trained_at, params, feedback_seq, evaluation) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(m.name, m.path, m.sha256, m.trainedAt, JSON.stringify(m.params), m.feedbackSeq, m.evaluation);
    return { ...m, version: Number(r.lastInsertRowid) };
  }

  async latestModel(): Promise<ModelRecord | null> {
    const r = this.st('SELECT * FROM models ORDER BY version DESC LIMIT 1').get() as ModelRow<string> | undefined;
    return r ? modelFromRow(r, (params) => JSON.parse(params) as ModelRecord['params']) : null;
  }

  async listModels(): Promise<ModelRecord[]> {
    const rows = this.st('SELECT * FROM models ORDER BY version DESC').all() as ModelRow<string>[];
    return rows.map((r) => modelFromRow(r, (params) => JSON.parse(params) as ModelRecord['params']));
  }

  async deleteModel(version: number): Promise<boolean> {
    return this.st('DELETE FROM models WHERE version = ?').run(version).changes > 0;
  }

  async saveJob(job: Job, updatedAt: number): Promise<void> {
    this.st(
        `INSERT INTO jobs (id, kind, state, progress, started_at, finished_at, error, model, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress, finished_at = excluded.finished_at, error = excluded.error, model = excluded.model, updated_at = excluded.updated_at`,
      )
      .run(...jobValues(job, updatedAt));
  }

  async getJob(id: string): Promise<Job | null> {
    const r = this.st('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r ? jobFromRow(r) : null;
  }

  async listJobs(limit: number): Promise<Job[]> {
    const rows = this.st('SELECT * FROM jobs ORDER BY started_at DESC, id LIMIT ?').all(limit) as JobRow[];
    return rows.map(jobFromRow);
  }

  async getSetting(key: string): Promise<string | null> {
    const r = this.st('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  async setSetting(key: string, value: string | null): Promise<void> {
    if (value === null) this.st('DELETE FROM settings WHERE key = ?').run(key);
    else this.st('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async failStaleJobs(before: number, error: string): Promise<number> {
    return this.st("UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ? WHERE state = 'running' AND updated_at < ?").run(error, new Date().toISOString(), Date.now(), before).changes;
  }

  async acquireLease(name: string, holder: string, job: string, ttlMs: number): Promise<Lease> {
    const now = Date.now();
    const taken = this.db
      .prepare(
        `INSERT INTO leases (name, holder, job, expires) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, job = excluded.job, expires = excluded.expires
         WHERE leases.expires <= ? OR (leases.holder = excluded.holder AND leases.job = excluded.job) RETURNING name, holder, job, expires`,
      )
      .get(name, holder, job, now + Math.max(0, Math.round(ttlMs)), now) as Lease | undefined;
    return taken ?? (this.db.prepare('SELECT name, holder, job, expires FROM leases WHERE name = ?').get(name) as Lease);
  }

  async releaseLease(name: string, holder: string, job: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM leases WHERE name = ? AND holder = ? AND job = ?').run(name, holder, job).changes > 0;
  }

  async probeWrite(): Promise<void> {
    this.st('INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at').run(Date.now());
  }

  async saveOnboarding(s: OnboardingRecord): Promise<void> {
    this.st('INSERT INTO onboarding (id, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at').run(s.id, s.state, s.updatedAt);
  }

  async getOnboarding(id: string): Promise<OnboardingRecord | null> {
    const r = this.st('SELECT id, state, updated_at FROM onboarding WHERE id = ?').get(id) as { id: string; state: string; updated_at: number } | undefined;
    return r ? { id: r.id, state: r.state, updatedAt: Number(r.updated_at) } : null;
  }

  async pruneOnboarding(before: number): Promise<number> {
    return this.st('DELETE FROM onboarding WHERE updated_at < ?').run(before).changes;
  }
}
