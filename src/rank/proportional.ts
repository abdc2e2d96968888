/**
 * `proportional[:interleave]`: persona- (or category-) proportional slot allocation.
 *
 * 1. Slots: the k list positions are shared among the user's tastes in proportion to p(g|u)
 *    (their share of the history) by largest-remainder rounding (Hamilton's method): each taste
 *    gets floor(k p_g), and the slots left over go to the largest remainders k p_g - floor(k p_g)
 *    (ties: larger p_g, then lower taste index).
 * 2. Filling: tastes in decreasing order of slots (ties as above) each take their best remaining
 *    pool items that carry that taste (by the model's score; an item fills one slot only). Slots a
 *    taste cannot fill from the pool go to the best remaining items of any taste.
 * 3. Order: by default the chosen items are listed in score order, which keeps the accuracy of
 *    the list's head (the K-list is proportional; its prefixes need not be). With `interleave`
 *    each position goes to the taste furthest behind its quota at that depth (deficit
 *    slots_g * position / k - placed_g, ties to the better next item), so every prefix is
 *    proportional too.
 */
import type { ListReranker, RerankInput } from './pipeline.js';
import { largestRemainder } from '../math/apportion.js';
import { DEFAULT_POOL } from './calibrated.js';
import { poolWithoutHistory, type TasteSpace, type UserTastes } from './tastes.js';

export type ProportionalOrder = 'score' | 'interleave';

/**
 * Chooses pool positions (the pool best-first) for a list of min(k, pool) items, in the order
 * described above. Exported for tests.
 */
export function proportionalSelect(tastes: UserTastes, poolLength: number, k: number, order: ProportionalOrder = 'score'): Int32Array {
  const want = Math.min(k, poolLength);
  const { p, ptr, idx } = tastes;
  const slots = largestRemainder(p.subarray(0, tastes.n), want);
  const tasteOrder = Array.from({ length: tastes.n }, (_, g) => g)
    .filter((g) => slots[g]! > 0)
    .sort((a, b) => slots[b]! - slots[a]! || p[b]! - p[a]! || a - b);
  const taken = new Uint8Array(poolLength);
  // group of each chosen position: its taste slot, or -1 for a leftover slot
  const groupOf = new Map<number, number>();
  let count = 0;
  for (const g of tasteOrder) {
    let filled = 0;
    for (let j = 0; j < poolLength && filled < slots[g]!; j++) {
      if (taken[j]) continue;
      let has = false;
      for (let e = ptr[j]!; e < ptr[j + 1]!; e++) if (idx[e] === g) has = true;
      if (!has) continue;
      taken[j] = 1;
      groupOf.set(j, g);
      filled++;
      count++;
    }
  }
  for (let j = 0; j < poolLength && count < want; j++) {
    if (taken[j]) continue;
    taken[j] = 1;
    groupOf.set(j, -1);
    count++;
  }
  const chosen = [...groupOf.keys()].sort((a, b) => a - b);
  if (order === 'score') return Int32Array.from(chosen);
  // interleave: groups' queues are already best-first because `chosen` is in pool order
  const queues = new Map<number, number[]>();
  for (const j of chosen) {
    const g = groupOf.get(j)!;
    const q = queues.get(g);
    if (q) q.push(j);
    else queues.set(g, [j]);
  }
  const quota = new Map<number, number>();
  for (const [g, q] of queues) quota.set(g, q.length);
  const placed = new Map<number, number>();
  const out = new Int32Array(chosen.length);
  for (let t = 0; t < chosen.length; t++) {
    let bestG = 0;
    let bestDeficit = -Infinity;
    let bestHead = Infinity;
    for (const [g, q] of queues) {
      const done = placed.get(g) ?? 0;
      if (done >= q.length) continue;
      const deficit = (quota.get(g)! * (t + 1)) / chosen.length - done;
      const head = q[done]!;
      if (deficit > bestDeficit + 1e-12 || (Math.abs(deficit - bestDeficit) <= 1e-12 && head < bestHead)) {
        bestG = g;
        bestDeficit = deficit;
        bestHead = head;
      }
    }
    out[t] = bestHead;
    placed.set(bestG, (placed.get(bestG) ?? 0) + 1);
  }
  return out;
}

export class ProportionalReranker implements ListReranker {
  readonly name: string;

  constructor(
    private readonly space: TasteSpace,
    readonly order: ProportionalOrder = 'score',
    private readonly minPool = DEFAULT_POOL,
  ) {
    this.name = `proportional${order === 'interleave' ? ':interleave' : ''} (${space.name})`;
  }

  poolSize(k: number): number {
    return Math.max(this.minPool, 5 * k);
  }

  rerank(input: RerankInput, out: Int32Array): number {
    const pool = poolWithoutHistory(input.pool, input.history);
    const tastes = this.space.forUser(input, pool);
    const chosen = proportionalSelect(tastes, pool.length, input.k, this.order);
    for (let r = 0; r < chosen.length; r++) out[r] = pool[chosen[r]!]!;
    return chosen.length;
  }
}
