/**
 * The social edge statements of the PostgreSQL store (postgres.ts `PgStore`, which calls these
 * with its pool or its transaction's client and its schema): the `social_edges` table, primary key
 * (user_id, friend_id, kind), edges in their stored orientation (edges.ts).
 */
import type pg from 'pg';
import { compareEdges } from './edges.js';
import { edgeFromRow, type EdgeRow } from './rows.js';
import type { EdgeRecord } from './types.js';

/** Inserts canonical edges (creating unknown users) in chunks of `chunk`, inside the caller's transaction; returns how many were new. */
export async function insertEdges(c: pg.PoolClient, s: string, edges: readonly EdgeRecord[], chunk: number): Promise<number> {
  let added = 0;
  for (let a = 0; a < edges.length; a += chunk) {
    const part = edges.slice(a, a + chunk);
    const users = [...new Set(part.flatMap((e) => [e.user, e.friend]))];
    await c.query(`INSERT INTO ${s}.users (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING`, [users]);
    const r = await c.query(
      `INSERT INTO ${s}.social_edges (user_id, friend_id, kind, ts)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`,
      [part.map((e) => e.user), part.map((e) => e.friend), part.map((e) => e.kind), part.map((e) => e.ts)],
    );
    added += r.rowCount ?? 0;
  }
  return added;
}

/** The edges with `user` at either end, or all edges (user null), in the stores' order. */
export async function selectEdges(pool: pg.Pool, s: string, user: string | null): Promise<EdgeRecord[]> {
  const r =
    user === null
      ? await pool.query<EdgeRow>(`SELECT user_id, friend_id, kind, ts FROM ${s}.social_edges`)
      : await pool.query<EdgeRow>(`SELECT user_id, friend_id, kind, ts FROM ${s}.social_edges WHERE user_id = $1 OR friend_id = $1`, [user]);
  return r.rows.map(edgeFromRow).sort(compareEdges);
}

/** Store.deleteEdges: what `user` holds to each of `friends` (null: to anyone); returns how many. */
export async function deleteEdgesOf(pool: pg.Pool, s: string, user: string, friends: readonly string[] | null): Promise<number> {
  if (friends === null) return (await pool.query(`DELETE FROM ${s}.social_edges WHERE user_id = $1 OR (kind = 'friend' AND friend_id = $1)`, [user])).rowCount ?? 0;
  const r = await pool.query(
    `DELETE FROM ${s}.social_edges WHERE (user_id = $1 AND friend_id = ANY($2::text[])) OR (kind = 'friend' AND friend_id = $1 AND user_id = ANY($2::text[]))`,
    [user, [...new Set(friends)]],
  );
  return r.rowCount ?? 0;
}
