/**
 * What replicas sharing one PostgreSQL store need beyond the tables of postgres.ts: push of
 * committed writes (LISTEN/NOTIFY) and named leases.
 *
 * Triggers (created by `replicaSchemaSql`, run from PgStore.init) record every write other replicas
 * must apply and NOTIFY one channel (the schema's name) in the same transaction, so a notification
 * is delivered only after its commit and never for a rollback. The payload is small JSON,
 * `{"k": kind, "seq": n}` (PostgreSQL limits payloads to 8000 bytes): replicas re-read the store.
 * - feedback (statement trigger): `feedback` with the highest seq inserted; the rows are the log.
 * - erasures (row trigger): `erasure` with the generation.
 * - items, persona_overrides, api_keys, models, settings (statement triggers): one row per changed
 *   key in `changes` (seq, kind, ref, at), or one row with ref NULL when a statement changes more
 *   than CHANGE_REFS_MAX rows, then `item` / `persona` / `key` / `model` / `setting` with the
 *   highest change seq. The `changes` inserts take a self-conflicting table lock held to commit, so
 *   change seqs commit in order and a replica's cursor (`seq > n`) never skips a later commit.
 */
import pg from 'pg';
import type { ChangeFeed, ChangeListener, ChangeSignal, Lease, StoreChange } from './types.js';

/** A statement changing more rows than this records one change with ref NULL ("re-read them all"). */
export const CHANGE_REFS_MAX = 1000;

const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/** [table, kind, the ref of a row of transition table n, events] of the change-log triggers. */
const LOGGED: readonly [string, StoreChange['kind'], string, readonly ('INSERT' | 'UPDATE' | 'DELETE')[]][] = [
  ['items', 'item', 'id', ['INSERT', 'UPDATE', 'DELETE']],
  ['persona_overrides', 'persona', 'user_id', ['INSERT', 'UPDATE']],
  ['api_keys', 'key', 'substr(hash, 1, 16)', ['INSERT', 'UPDATE', 'DELETE']],
  ['models', 'model', 'version::text', ['INSERT']],
  ['settings', 'setting', 'key', ['INSERT', 'UPDATE', 'DELETE']],
];

/** A trigger created only when missing (CREATE OR REPLACE TRIGGER needs PostgreSQL 14). */
const trigger = (s: string, table: string, name: string, body: string): string =>
  `IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '${s}.${table}'::regclass AND tgname = '${name}') THEN CREATE TRIGGER ${name} ${body}; END IF;`;

/** The leases and change-log tables, the notify functions and their triggers (idempotent; after the tables of postgres.ts). */
export function replicaSchemaSql(s: string): string {
  const fns = LOGGED.map(
    ([table, kind, ref]) => `
CREATE OR REPLACE FUNCTION ${s}.${table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM ${s}.note_changes('${kind}', ARRAY(SELECT DISTINCT ${ref} FROM n)); RETURN NULL; END $$;`,
  ).join('');
  const triggers = LOGGED.flatMap(([table, , , events]) =>
    events.map((ev) => trigger(s, table, `${table}_${ev.toLowerCase()}_notify`, `AFTER ${ev} ON ${s}.${table} REFERENCING ${ev === 'DELETE' ? 'OLD' : 'NEW'} TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION ${s}.${table}_changed()`)),
  ).join('\n  ');
  return `
CREATE TABLE IF NOT EXISTS ${s}.leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, job TEXT NOT NULL, expires BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.changes (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, ref TEXT, at BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION ${s}.note_changes(k TEXT, refs TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE last BIGINT;
BEGIN
  IF cardinality(refs) = 0 THEN RETURN; END IF;
  IF cardinality(refs) > ${CHANGE_REFS_MAX} THEN refs := ARRAY[NULL::text]; END IF;
  -- self-conflicting, held to commit: change seqs commit in the order they are drawn
  LOCK TABLE ${s}.changes IN SHARE ROW EXCLUSIVE MODE;
  WITH ins AS (INSERT INTO ${s}.changes (kind, ref, at) SELECT k, r, ${NOW_MS} FROM unnest(refs) AS r RETURNING seq)
  SELECT max(seq) INTO last FROM ins;
  PERFORM pg_notify('${s}', json_build_object('k', k, 'seq', last)::text);
END $$;${fns}
CREATE OR REPLACE FUNCTION ${s}.feedback_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE last BIGINT;
BEGIN
  SELECT max(seq) INTO last FROM n;
  IF last IS NOT NULL THEN PERFORM pg_notify('${s}', json_build_object('k', 'feedback', 'seq', last)::text); END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION ${s}.erasure_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('${s}', json_build_object('k', 'erasure', 'seq', NEW.gen)::text); RETURN NULL; END $$;
DO $$ BEGIN
  ${triggers}
  ${trigger(s, 'feedback', 'feedback_insert_notify', `AFTER INSERT ON ${s}.feedback REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION ${s}.feedback_added()`)}
  ${trigger(s, 'erasures', 'erasures_insert_notify', `AFTER INSERT ON ${s}.erasures FOR EACH ROW EXECUTE FUNCTION ${s}.erasure_added()`)}
END $$;
`;
}

interface LeaseRow {
  name: string;
  holder: string;
  job: string;
  expires: number;
}

/** Store.acquireLease: one atomic upsert that takes a free, expired or own lease (the database's clock). */
export async function acquirePgLease(pool: pg.Pool, s: string, name: string, holder: string, job: string, ttlMs: number): Promise<Lease> {
  for (let attempt = 0; ; attempt++) {
    const r = await pool.query<LeaseRow>(
      `INSERT INTO ${s}.leases AS l (name, holder, job, expires) VALUES ($1, $2, $3, ${NOW_MS} + $4)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, job = EXCLUDED.job, expires = EXCLUDED.expires
       WHERE l.expires <= ${NOW_MS} OR (l.holder = EXCLUDED.holder AND l.job = EXCLUDED.job)
       RETURNING name, holder, job, expires`,
      [name, holder, job, Math.max(0, Math.round(ttlMs))],
    );
    if (r.rows[0]) return r.rows[0];
    const held = await pool.query<LeaseRow>(`SELECT name, holder, job, expires FROM ${s}.leases WHERE name = $1`, [name]);
    // released between the two statements: try again
    if (held.rows[0] || attempt >= 3) return held.rows[0] ?? { name, holder: '', job: '', expires: 0 };
  }
}

export async function releasePgLease(pool: pg.Pool, s: string, name: string, holder: string, job: string): Promise<boolean> {
  return ((await pool.query(`DELETE FROM ${s}.leases WHERE name = $1 AND holder = $2 AND job = $3`, [name, holder, job])).rowCount ?? 0) > 0;
}

const KINDS = new Set<ChangeSignal['kind']>(['feedback', 'erasure', 'item', 'persona', 'key', 'model', 'setting']);

/** A notification's payload as a signal, or null when it is not one of ours. */
export function parseSignal(payload: string | undefined): ChangeSignal | null {
  try {
    const p = JSON.parse(payload ?? '') as { k?: unknown; seq?: unknown };
    return typeof p.k === 'string' && KINDS.has(p.k as ChangeSignal['kind']) && typeof p.seq === 'number' ? { kind: p.k as ChangeSignal['kind'], seq: p.seq } : null;
  } catch {
    return null;
  }
}

/** First reconnect delay and its cap (doubling in between). */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 15_000;

/** The change feed of a PostgreSQL store: queries on the store's pool, LISTEN on a dedicated connection. */
export class PgChangeFeed implements ChangeFeed {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private delay = RETRY_FIRST_MS;

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async head(): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT COALESCE(MAX(seq), 0)::bigint AS n FROM ${this.s}.changes`)).rows[0]!.n;
  }

  async since(seq: number, limit: number): Promise<StoreChange[] | null> {
    const r = await this.pool.query<StoreChange & { first: number | null }>(
      `SELECT seq, kind, ref, (SELECT MIN(seq) FROM ${this.s}.changes)::bigint AS first FROM ${this.s}.changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [seq, limit],
    );
    // the oldest kept change is past the cursor's next one: some were pruned
    const first = r.rows[0]?.first ?? null;
    if (first !== null && first > seq + 1) return null;
    return r.rows.map(({ seq: q, kind, ref }) => ({ seq: q, kind, ref }));
  }

  async prune(before: number): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.s}.changes WHERE at < $1 AND seq < (SELECT MAX(seq) FROM ${this.s}.changes)`, [before])).rowCount ?? 0;
  }

  listen(l: ChangeListener): void {
    if (this.closed || this.client || this.retry) return;
    const connect = async (): Promise<void> => {
      this.retry = null;
      if (this.closed) return;
      // the pool's connection settings; keepalive so a silently dropped connection ends too
      const client = new pg.Client({ ...this.pool.options, keepAlive: true, application_name: `personae-listen:${this.s}` });
      this.client = client;
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        if (this.client === client) this.client = null;
        client.removeAllListeners('notification');
        void client.end().catch(() => undefined);
        if (this.closed) return;
        const wait = this.delay;
        this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
        l.lost(err, wait);
        this.retry = setTimeout(() => void connect(), wait);
        this.retry.unref();
      };
      client.on('error', fail);
      client.on('end', () => fail(new Error('the LISTEN connection ended')));
      client.on('notification', (m) => {
        if (m.channel !== this.s) return;
        const sig = parseSignal(m.payload);
        if (sig) l.signal(sig);
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.s}"`);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (failed || this.closed) return;
      this.delay = RETRY_FIRST_MS;
      l.connected();
    };
    void connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('notification');
      await c.end().catch(() => undefined);
    }
  }
}
