/**
 * The PostgreSQL store's feedback writes, group-committed (group-commit.ts): the requests queued
 * while a commit is in flight go in the next transaction, as one multi-row INSERT of all their
 * events (users first), so that one BEGIN/INSERT/COMMIT round trip and one WAL flush serve them
 * all. A request resolves with its seqs after COMMIT (an acknowledged write is durable). When the
 * group's INSERT fails, the transaction is rolled back and each request is retried in its own
 * transaction, so a failing request fails alone.
 */
import type pg from 'pg';
import { GroupCommit, type Outcome } from './group-commit.js';
import type { FeedbackRecord } from './types.js';

/** Rows per INSERT (the five arrays of one statement). */
const CHUNK = 2000;

/** Inserts `events` (and their unknown users) on a client inside a transaction; returns their seqs in order. */
async function insertEvents(c: pg.PoolClient, s: string, events: readonly FeedbackRecord[]): Promise<number[]> {
  const seqs: number[] = [];
  for (let a = 0; a < events.length; a += CHUNK) {
    const part = events.slice(a, a + CHUNK);
    const users = [...new Set(part.map((e) => e.user))];
    await c.query({ name: `${s}.feedback-users`, text: `INSERT INTO ${s}.users (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING`, values: [users] });
    const r = await c.query<{ seq: number }>({
      name: `${s}.feedback-insert`,
      text: `INSERT INTO ${s}.feedback (user_id, item_id, type, value, ts)
             SELECT u, i, ty, v, ts FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::bigint[]) WITH ORDINALITY AS t(u, i, ty, v, ts, o)
             ORDER BY o RETURNING seq`,
      values: [part.map((e) => e.user), part.map((e) => e.item), part.map((e) => e.type), part.map((e) => e.value), part.map((e) => e.ts)],
    });
    // the sequence is drawn in ORDER BY o order: the sorted seqs are the events' seqs in order
    seqs.push(...r.rows.map((x) => x.seq).sort((x, y) => x - y));
  }
  return seqs;
}

/** `fn` in one transaction on a pooled client: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** `add(events)`: appends feedback through group commit; resolves with the seqs once durable. */
export function pgFeedbackWriter(pool: pg.Pool, schema: string): { add: (events: readonly FeedbackRecord[]) => Promise<number[]>; idle: () => Promise<void> } {
  const commit = async (group: readonly (readonly FeedbackRecord[])[]): Promise<Outcome<number[]>[]> => {
    try {
      const seqs = await inTransaction(pool, (c) => insertEvents(c, schema, group.flat()));
      let at = 0;
      return group.map((events) => ({ ok: true, value: seqs.slice(at, (at += events.length)) }));
    } catch (err) {
      if (group.length === 1) return [{ ok: false, error: err }];
      // one of them failed the group: each on its own, in order
      const out: Outcome<number[]>[] = [];
      for (const events of group) {
        try {
          out.push({ ok: true, value: await inTransaction(pool, (c) => insertEvents(c, schema, events)) });
        } catch (e) {
          out.push({ ok: false, error: e });
        }
      }
      return out;
    }
  };
  const groups = new GroupCommit(commit, { weight: (events) => events.length, maxWeight: 10_000 });
  return { add: (events) => (events.length === 0 ? Promise.resolve([]) : groups.submit(events)), idle: () => groups.idle() };
}
