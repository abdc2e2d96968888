/**
 * What every store does the same way with social edges (types.ts `EdgeRecord`): a `friend` edge is
 * undirected and stored once, as (smaller id, larger id) by code unit order, so that "a is b's
 * friend" and "b is a's friend" are one row; a `follow` edge keeps its direction. A batch is
 * deduplicated before it is written (the first occurrence's `ts` is kept).
 */
import type { EdgeRecord } from './types.js';

/** The stored orientation of one edge. */
export function canonicalEdge(e: EdgeRecord): EdgeRecord {
  if (e.kind === 'friend' && e.friend < e.user) return { user: e.friend, friend: e.user, kind: e.kind, ts: e.ts };
  return { user: e.user, friend: e.friend, kind: e.kind, ts: e.ts };
}

/** The key of a stored edge (its primary key in the SQL stores). */
export const edgeKey = (e: EdgeRecord): string => `${e.kind}\u0000${e.user}\u0000${e.friend}`;

/** Edges in their stored orientation, each once (first occurrence kept), in input order. */
export function canonicalEdges(edges: readonly EdgeRecord[]): EdgeRecord[] {
  const seen = new Set<string>();
  const out: EdgeRecord[] = [];
  for (const raw of edges) {
    const e = canonicalEdge(raw);
    const k = edgeKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out;
}

/** The order every store lists edges in: (ts, user, friend, kind), ids by code units. */
export function compareEdges(a: EdgeRecord, b: EdgeRecord): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  for (const f of ['user', 'friend', 'kind'] as const) if (a[f] !== b[f]) return a[f] < b[f] ? -1 : 1;
  return 0;
}

/** Whether `e` is one of the edges `deleteEdges(user, friends)` removes (friends null: any). */
export function edgeHeldBy(e: EdgeRecord, user: string, friends: ReadonlySet<string> | null): boolean {
  if (e.user === user) return friends === null || friends.has(e.friend);
  if (e.kind === 'friend' && e.friend === user) return friends === null || friends.has(e.user);
  return false;
}
