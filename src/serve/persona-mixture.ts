/**
 * Scoring a persona set as the mixture of per-persona rankings: what the service serves when a
 * user has a recent persona (folded in from positives newer than the model), a muted persona or a
 * boosted one.
 */
import type { PersonaSet } from '../models/persona-assignment.js';
import type { OwnRows } from './persona-rows.js';
import type { PersonaSetting } from './user-state.js';

/** Whether a list is scored as the mixture (a recent persona, or a mute or boost of one of the set's personas). */
export function usesMixture(set: PersonaSet | null, recent: unknown, overrides: ReadonlyMap<number, PersonaSetting>): boolean {
  const k = set?.k ?? 0;
  return recent !== null || [...overrides].some(([q, o]) => q < k && (o.muted || o.boost !== 1));
}

/** The mixture's accumulator, reused from call to call. */
let accBuf = new Float64Array(0);

/**
 * The list score log sum_k c_k softmax_i(s_k(i)) over the unmuted personas, c_k = boost_k / K:
 * each persona's own ranking (s_k: the model's score of persona k alone), weighted by its setting,
 * so a fresh taste gets its share of the list at once instead of waiting for the history-based
 * weights to notice it. With every persona muted, `fallback` (the cold-start scores) is written.
 * `rows` holds each persona's own score row, `scorePersonas` of its vector alone, and that row's
 * log normaliser (persona-rows.ts `rowLogNormaliser`), computed once per persona; it adds each
 * persona's share straight from the persona's logits, without making the row (persona-rows.ts).
 */
export function mixtureScores(set: PersonaSet, overrides: ReadonlyMap<number, PersonaSetting>, fallback: Float32Array, out: Float32Array, rows: OwnRows): void {
  const n = out.length;
  if (accBuf.length !== n) accBuf = new Float64Array(n);
  const acc = accBuf.fill(0);
  let any = false;
  const cs = new Float64Array(set.k);
  for (let q = 0; q < set.k; q++) {
    const o = overrides.get(q);
    const c = o?.muted ? 0 : (o?.boost ?? 1) / set.k;
    if (!(c > 0)) continue;
    any = true;
    cs[q] = c;
  }
  if (any) rows.addShares(cs, acc);
  if (!any) {
    out.set(fallback);
    return;
  }
  for (let i = 0; i < n; i++) out[i] = acc[i]! > 0 ? Math.log(acc[i]!) : -Infinity;
}
