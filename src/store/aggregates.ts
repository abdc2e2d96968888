/**
 * Whole-log aggregates a service without an in-memory mirror of the log reads from its store
 * (docs/service.md, "User cache"): who has feedback, how many events, the highest seq, and per
 * item how many users gave it a positive. SQL stores answer them with one pass over their indexes.
 */
import type { AppliedCounts, FeedbackStats, PositiveRule, StoredFeedback } from './types.js';

/** A WHERE clause matching the positive events of `rules` (none: matches nothing), with its parameters. */
export function positiveWhere(rules: readonly PositiveRule[], param: (n: number) => string): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const parts = rules.map((r) => {
    params.push(r.type);
    const t = `type = ${param(params.length)}`;
    if (r.minValue === undefined) return `(${t})`;
    params.push(r.minValue);
    return `(${t} AND value >= ${param(params.length)})`;
  });
  return { sql: parts.length > 0 ? parts.join(' OR ') : '1 = 0', params };
}

/** Whether an event is positive under `rules` (the in-memory store's side of `positiveWhere`). */
export function isPositiveUnder(rules: readonly PositiveRule[], e: Pick<StoredFeedback, 'type' | 'value'>): boolean {
  return rules.some((r) => r.type === e.type && (r.minValue === undefined || e.value >= r.minValue));
}

/** The stats of a list of rows (the in-memory store). */
export function statsOfRows(rows: readonly StoredFeedback[], rules: readonly PositiveRule[]): FeedbackStats {
  const users = new Set<string>();
  const pairs = new Set<string>();
  const positiveUsers = new Map<string, number>();
  let maxSeq = 0;
  for (const e of rows) {
    users.add(e.user);
    if (e.seq > maxSeq) maxSeq = e.seq;
    if (!isPositiveUnder(rules, e)) continue;
    const key = `${e.user}\u0000${e.item}`;
    if (pairs.has(key)) continue;
    pairs.add(key);
    positiveUsers.set(e.item, (positiveUsers.get(e.item) ?? 0) + 1);
  }
  return { users: [...users], events: rows.length, maxSeq, positiveUsers };
}

/**
 * One statement (so one snapshot) answering Store.appliedCounts: a first row (item NULL) with the
 * event count `c` and the highest erasure generation `g`, then one row per item with its
 * positive-user count. `kept` is the condition selecting the applied rows; `pos` the positive rule.
 */
export function appliedCountsSql(feedback: string, erasures: string, kept: string, pos: string): string {
  return (
    `SELECT NULL AS item, (SELECT COUNT(*) FROM ${feedback} WHERE ${kept}) AS c, (SELECT COALESCE(MAX(gen), 0) FROM ${erasures}) AS g ` +
    `UNION ALL SELECT item_id AS item, COUNT(DISTINCT user_id) AS c, NULL AS g FROM ${feedback} WHERE ${kept} AND (${pos}) GROUP BY item_id`
  );
}

/** The rows of `appliedCountsSql` as AppliedCounts. */
export function appliedCountsOf(rows: readonly { item: string | null; c: number | string; g: number | string | null }[]): AppliedCounts {
  const out: AppliedCounts = { events: 0, positiveUsers: new Map(), erasureGen: 0 };
  for (const r of rows) {
    if (r.item === null) {
      out.events = Number(r.c);
      out.erasureGen = Number(r.g);
    } else out.positiveUsers.set(r.item, Number(r.c));
  }
  return out;
}
