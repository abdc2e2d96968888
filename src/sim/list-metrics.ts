/**
 * The feedback loop's per-list and corpus metrics (src/sim/feedback.ts has the definitions): taste
 * coverage, graded DCG against planted preferences, ckl, exposure and polarisation.
 */
import { sortedHas } from '../data/csr.js';
import { calibrationKL, jensenShannon, tasteDistribution, type ItemCategories } from '../data/categories.js';
import { LIST_LENGTH } from './consumption.js';


/** Share of the user's personas served by at least one list item; null with fewer than 2 personas. */
export function tasteCoverage(list: ArrayLike<number>, serves: Uint8Array, personas: number): number | null {
  if (personas < 2) return null;
  let bits = 0;
  for (let r = 0; r < list.length; r++) bits |= serves[list[r]!]!;
  let n = 0;
  for (let k = 0; k < personas; k++) if (bits & (1 << k)) n++;
  return n / personas;
}

/** DCG with gains pref[i]: sum over ranks r (1-based) of pref[list[r]] / log2(r + 1). */
export function gradedDcg(list: ArrayLike<number>, pref: ArrayLike<number>, k = list.length): number {
  let dcg = 0;
  for (let r = 0; r < Math.min(k, list.length); r++) dcg += pref[list[r]!]! / Math.log2(r + 2);
  return dcg;
}

/** DCG of the best list: the k items of `ranked` (best first) not in `seen` (ascending). */
export function idealDcg(ranked: Int32Array, pref: ArrayLike<number>, seen: Int32Array, k: number): number {
  let dcg = 0;
  let r = 0;
  for (let j = 0; j < ranked.length && r < k; j++) {
    const i = ranked[j]!;
    if (sortedHas(seen, 0, seen.length, i)) continue;
    dcg += pref[i]! / Math.log2(r + 2);
    r++;
  }
  return dcg;
}

/** ckl of a list against a taste mix p (PROTOCOL.md's ckl; q = the list's category distribution). */
export function listCkl(list: Int32Array, cats: ItemCategories, p: Float64Array, scratch = new Float64Array(cats.names.length)): number {
  tasteDistribution(list, cats, scratch);
  return calibrationKL(p, scratch, cats.names.length);
}

/** Exposure distribution over items: each list slot (the first k) counts 1, normalised to sum 1. */
export function exposureDistribution(lists: readonly ArrayLike<number>[], nItems: number, k = LIST_LENGTH): Float64Array {
  const e = new Float64Array(nItems);
  let total = 0;
  for (const l of lists) {
    for (let r = 0; r < Math.min(k, l.length); r++) {
      e[l[r]!] += 1;
      total++;
    }
  }
  if (total > 0) for (let i = 0; i < nItems; i++) e[i]! /= total;
  return e;
}

/** Polarisation: JS divergence (base 2) between the exposure distributions of two groups' lists. */
export function polarisation(listsA: readonly ArrayLike<number>[], listsB: readonly ArrayLike<number>[], nItems: number, k = LIST_LENGTH): number {
  return jensenShannon(exposureDistribution(listsA, nItems, k), exposureDistribution(listsB, nItems, k), nItems);
}
