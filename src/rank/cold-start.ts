/**
 * Cold start, a rank stage: for a user with no history, a popular-but-diverse order of the
 * candidates, computed once per catalogue, and the list taken from it (minus exclusions, within
 * the allowed candidates).
 */
import type { ItemCategories } from '../data/categories.js';

export interface ColdOrder {
  /** Every candidate, popular but diverse first. */
  order: Int32Array;
  /** Popularity / the highest popularity for candidates, -Infinity elsewhere (the shown scores). */
  scores: Float32Array;
}

/**
 * Popular but diverse: greedily, the item maximising popularity / (1 + how often its categories
 * were already picked), over the `poolSize` most popular candidates (ties by item ID rank), for the
 * first `picks` places; the rest by popularity (a simple MMR-style rule after Carbonell and
 * Goldstein's maximal marginal relevance).
 */
export function popularDiverseOrder(
  candidates: Int32Array,
  cats: ItemCategories,
  popularity: Int32Array,
  itemRanks: Int32Array,
  opts: { poolSize?: number; picks?: number } = {},
): ColdOrder {
  const pop = popularity;
  const poolSize = opts.poolSize ?? 3000;
  const byPop = Array.from(candidates).sort((a, b) => pop[b]! - pop[a]! || itemRanks[a]! - itemRanks[b]!);
  const pool = byPop.slice(0, poolSize);
  const used = new Float64Array(cats.names.length);
  const taken = new Uint8Array(pool.length);
  const order: number[] = [];
  const m = Math.min(pool.length, opts.picks ?? 1000);
  for (let step = 0; step < m; step++) {
    let best = -1;
    let bestV = -Infinity;
    for (let p = 0; p < pool.length; p++) {
      if (taken[p]) continue;
      const i = pool[p]!;
      const a = cats.ptr[i]!;
      const b = cats.ptr[i + 1]!;
      let pen = 0;
      for (let q = a; q < b; q++) pen += used[cats.idx[q]!]!;
      if (b > a) pen /= b - a;
      const v = pop[i]! / (1 + pen);
      if (v > bestV) {
        bestV = v;
        best = p;
      }
    }
    taken[best] = 1;
    const i = pool[best]!;
    order.push(i);
    for (let q = cats.ptr[i]!; q < cats.ptr[i + 1]!; q++) used[cats.idx[q]!]! += 1;
  }
  for (const i of byPop.slice(poolSize)) order.push(i);
  const maxPop = Math.max(1, pop[byPop[0] ?? 0] ?? 1);
  const scores = new Float32Array(itemRanks.length).fill(-Infinity);
  for (const i of candidates) scores[i] = pop[i]! / maxPop;
  return { order: Int32Array.from(order), scores };
}

/** The first `k` items of a cold order that are not excluded and (when `allowed` is given) allowed. */
export function coldList(order: Int32Array, exclude: Int32Array, allowed: Int32Array | null, k: number): Int32Array {
  const ok = allowed ? new Set(allowed) : null;
  const ex = new Set(exclude);
  const out: number[] = [];
  for (const i of order) {
    if (out.length >= k) break;
    if (ex.has(i) || (ok && !ok.has(i))) continue;
    out.push(i);
  }
  return Int32Array.from(out);
}
