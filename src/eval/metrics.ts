/**
 * Per-user ranking metrics, exactly as defined in /work/shared/design/PROTOCOL.md ("Metrics at
 * cut-off K"). Everything works on dense item indices in typed arrays so that 100k users x 2 cut-offs
 * stay cheap: no per-user objects besides the returned record, category scratch is reused.
 *
 * Conventions (the protocol leaves them open; chosen so that a failing model never looks better):
 * - L is the first min(K, list.length) entries of `list`; list items are assumed distinct.
 * - A user with no TEST items is not a test user: the accuracy metrics are null.
 * - An empty list: recall/ndcg/hit/mrr/arp = 0, ckl = ln(100) (its formula with q = 0, the maximum
 *   given the 0.01 smoothing), tdd = 1 (maximal), minorityRecall = 0, dominantShare = 0.
 * - A user whose TRAIN items carry no category mass (no train items): p(g|u) is undefined and all
 *   four category metrics are null.
 */
import { sortedHas } from '../data/csr.js';
import { calibrationKL, jensenShannon, tasteDistribution, type ItemCategories } from '../data/categories.js';

export interface UserEvalInput {
  /** Top-K item indices, best first; may be shorter than K (few candidates), longer is cut to K. */
  readonly list: Int32Array;
  /** The user's TEST items T, ascending. */
  readonly test: Int32Array;
  /** The user's TRAIN items H, ascending. */
  readonly train: Int32Array;
}

export interface MetricContext {
  readonly k: number;
  /** Item categories, or null when the data has none (category metrics are then null). */
  readonly categories: ItemCategories | null;
  /** TRAIN positives per item index (items beyond its length count as 0). */
  readonly itemPopularity: Int32Array;
}

/** Metric names in report order; keys are `${name}@${k}`. */
export const METRIC_NAMES = ['recall', 'ndcg', 'hit', 'mrr', 'arp', 'ckl', 'tdd', 'minorityRecall', 'dominantShare'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export function metricKeys(k: number): string[] {
  return METRIC_NAMES.map((m) => `${m}@${k}`);
}

/**
 * Two categories whose p(g|u) differ by less than this are tied. p is a mean of fractions 1/|G(i)|,
 * so genuinely different values differ by >= 1/(|H| lcm(|G|...)) (~1e-8 for big histories), while
 * summation noise is ~|H| * 1e-16; exact float equality would break true ties like 1/2+1/3+1/6 vs 1.
 */
const TIE_EPS = 1e-10;

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`metrics: k must be a positive integer, got ${k}`);
}

/** Binary search in an ascending Int32Array. */
function contains(sorted: Int32Array, x: number): boolean {
  return sortedHas(sorted, 0, sorted.length, x);
}

/** |L ∩ T| / min(K, |T|); null when T is empty. */
export function recallAt(list: Int32Array, test: Int32Array, k: number): number | null {
  checkK(k);
  if (test.length === 0) return null;
  const n = Math.min(k, list.length);
  let hits = 0;
  for (let r = 0; r < n; r++) if (contains(test, list[r]!)) hits++;
  return hits / Math.min(k, test.length);
}

/** Binary-gain nDCG: sum over hits of 1/log2(r+1), over the same sum for min(K,|T|) hits at the top. */
export function ndcgAt(list: Int32Array, test: Int32Array, k: number): number | null {
  const dcg = dcgAt(list, test, k);
  if (dcg === null) return null;
  let ideal = 0;
  const m = Math.min(k, test.length);
  for (let r = 0; r < m; r++) ideal += 1 / Math.log2(r + 2);
  return dcg / ideal;
}

/** 1 if any of L is in T, else 0; null when T is empty. */
export function hitAt(list: Int32Array, test: Int32Array, k: number): number | null {
  const rank = firstHitRank(list, test, k);
  return rank === null ? null : rank > 0 ? 1 : 0;
}

/** 1/rank of the first hit (1-based), 0 if none; null when T is empty. */
export function mrrAt(list: Int32Array, test: Int32Array, k: number): number | null {
  const rank = firstHitRank(list, test, k);
  return rank === null ? null : rank > 0 ? 1 / rank : 0;
}

function firstHitRank(list: Int32Array, test: Int32Array, k: number): number | null {
  checkK(k);
  if (test.length === 0) return null;
  const n = Math.min(k, list.length);
  for (let r = 0; r < n; r++) if (contains(test, list[r]!)) return r + 1;
  return 0;
}

/** Mean TRAIN popularity over the items actually in L (not divided by K); 0 for an empty list. */
export function arpAt(list: Int32Array, itemPopularity: Int32Array, k: number): number {
  checkK(k);
  const n = Math.min(k, list.length);
  if (n === 0) return 0;
  let sum = 0;
  for (let r = 0; r < n; r++) sum += itemPopularity[list[r]!] ?? 0;
  return sum / n;
}

/** Distinct items over all users' top-K lists / number of candidates (a corpus metric). */
export function coverage(lists: readonly Int32Array[], k: number, nCandidates: number): number {
  checkK(k);
  if (!(nCandidates > 0)) throw new RangeError(`coverage: nCandidates must be positive, got ${nCandidates}`);
  let maxItem = -1;
  for (const l of lists) for (let r = 0; r < Math.min(k, l.length); r++) if (l[r]! > maxItem) maxItem = l[r]!;
  const seen = new Uint8Array(maxItem + 1);
  let distinct = 0;
  for (const l of lists) {
    for (let r = 0; r < Math.min(k, l.length); r++) {
      const i = l[r]!;
      if (seen[i] === 0) {
        seen[i] = 1;
        distinct++;
      }
    }
  }
  return distinct / nCandidates;
}

/**
 * d_u: the category with the largest p (ties within TIE_EPS: the alphabetically first name by
 * UTF-16 code unit order, i.e. JS `<`, which matches Python's default string order for BMP names).
 * Returns -1 when p has no mass.
 */
export function dominantCategory(p: Float64Array, names: readonly string[]): number {
  let best = -1;
  for (let g = 0; g < names.length; g++) {
    const v = p[g]!;
    if (!(v > 0)) continue;
    if (best < 0 || v > p[best]! + TIE_EPS) best = g;
    else if (Math.abs(v - p[best]!) <= TIE_EPS && names[g]! < names[best]!) best = g;
  }
  return best;
}

function hasCategory(cats: ItemCategories, item: number, g: number): boolean {
  if (item < 0 || item + 1 >= cats.ptr.length) return false;
  for (let e = cats.ptr[item]!; e < cats.ptr[item + 1]!; e++) if (cats.idx[e] === g) return true;
  return false;
}

/** |L ∩ M| / min(K, |M|), M = test items without category d; null when |M| = 0. */
export function minorityRecallAt(list: Int32Array, test: Int32Array, cats: ItemCategories, dominant: number, k: number): number | null {
  checkK(k);
  let sizeM = 0;
  for (let j = 0; j < test.length; j++) if (!hasCategory(cats, test[j]!, dominant)) sizeM++;
  if (sizeM === 0) return null;
  const n = Math.min(k, list.length);
  let hits = 0;
  for (let r = 0; r < n; r++) {
    const i = list[r]!;
    if (contains(test, i) && !hasCategory(cats, i, dominant)) hits++;
  }
  return hits / Math.min(k, sizeM);
}

/** (share of L with category d) / (share of H with category d); 0 for an empty list, null if H lacks d. */
export function dominantShareAt(list: Int32Array, train: Int32Array, cats: ItemCategories, dominant: number, k: number): number | null {
  checkK(k);
  let inH = 0;
  for (let j = 0; j < train.length; j++) if (hasCategory(cats, train[j]!, dominant)) inH++;
  if (inH === 0) return null;
  const n = Math.min(k, list.length);
  if (n === 0) return 0;
  let inL = 0;
  for (let r = 0; r < n; r++) if (hasCategory(cats, list[r]!, dominant)) inL++;
  return inL / n / (inH / train.length);
}

export interface CategoryMetrics {
  ckl: number | null;
  tdd: number | null;
  minorityRecall: number | null;
  dominantShare: number | null;
}

interface Scratch {
  p: Float64Array;
  q: Float64Array;
}
/** One pair of buffers per category table; evaluation is synchronous, so sharing is safe. */
const scratchByTable = new WeakMap<ItemCategories, Scratch>();

function scratchFor(cats: ItemCategories): Scratch {
  let s = scratchByTable.get(cats);
  if (!s || s.p.length < cats.names.length) {
    s = { p: new Float64Array(cats.names.length), q: new Float64Array(cats.names.length) };
    scratchByTable.set(cats, s);
  }
  return s;
}

/** ckl, tdd, minorityRecall and dominantShare for one user against any item->group CSR. */
export function categoryMetrics(input: UserEvalInput, k: number, cats: ItemCategories): CategoryMetrics {
  checkK(k);
  const { p, q } = scratchFor(cats);
  const nCat = cats.names.length;
  if (tasteDistribution(input.train, cats, p) === 0) return { ckl: null, tdd: null, minorityRecall: null, dominantShare: null };
  const list = input.list.length > k ? input.list.subarray(0, k) : input.list;
  const dominant = dominantCategory(p, cats.names);
  const inList = tasteDistribution(list, cats, q);
  return {
    // An empty list leaves q = 0: ckl keeps its formula (= ln 100), tdd is set to its maximum.
    ckl: calibrationKL(p, q, nCat),
    tdd: inList === 0 ? 1 : jensenShannon(p, q, nCat),
    minorityRecall: minorityRecallAt(list, input.test, cats, dominant, k),
    dominantShare: dominantShareAt(list, input.train, cats, dominant, k),
  };
}

/** All metrics of METRIC_NAMES for one user at one cut-off, keyed `${name}@${k}`. */
export function evaluateUser(input: UserEvalInput, ctx: MetricContext): Record<string, number | null> {
  const { k } = ctx;
  const { list, test } = input;
  const cat = ctx.categories ? categoryMetrics(input, k, ctx.categories) : null;
  return {
    [`recall@${k}`]: recallAt(list, test, k),
    [`ndcg@${k}`]: ndcgAt(list, test, k),
    [`hit@${k}`]: hitAt(list, test, k),
    [`mrr@${k}`]: mrrAt(list, test, k),
    [`arp@${k}`]: arpAt(list, ctx.itemPopularity, k),
    [`ckl@${k}`]: cat ? cat.ckl : null,
    [`tdd@${k}`]: cat ? cat.tdd : null,
    [`minorityRecall@${k}`]: cat ? cat.minorityRecall : null,
    [`dominantShare@${k}`]: cat ? cat.dominantShare : null,
  };
}

/**
 * Binary-gain DCG of the first min(K, |L|) entries: sum over hits at rank r (1-based) of
 * 1/log2(r + 1); null when T is empty. `ndcgAt` is this over the same sum for min(K, |T|) hits.
 */
export function dcgAt(list: Int32Array, test: Int32Array, k: number): number | null {
  checkK(k);
  if (test.length === 0) return null;
  const n = Math.min(k, list.length);
  let dcg = 0;
  for (let r = 0; r < n; r++) if (contains(test, list[r]!)) dcg += 1 / Math.log2(r + 2);
  return dcg;
}

/**
 * Gini index of exposure (a corpus metric): how unequally the top-K slots of all lists are spread
 * over the `nItems` recommendable items (those never recommended count with 0). With the counts
 * c_(1) <= ... <= c_(n) ascending, G = sum_j (2j - n - 1) c_(j) / (n sum_j c_(j)): 0 when every
 * item gets the same exposure, (n - 1)/n when one item gets all of it; 0 for no exposure at all.
 * Memory is O(distinct recommended items), never O(nItems) beyond the count of zeros.
 */
export function giniIndex(lists: readonly Int32Array[], k: number, nItems: number): number {
  checkK(k);
  if (!Number.isInteger(nItems) || nItems < 1) throw new RangeError(`giniIndex: nItems must be a positive integer, got ${nItems}`);
  const counts = new Map<number, number>();
  let total = 0;
  for (const l of lists) {
    for (let r = 0; r < Math.min(k, l.length); r++) {
      counts.set(l[r]!, (counts.get(l[r]!) ?? 0) + 1);
      total++;
    }
  }
  if (counts.size > nItems) throw new RangeError(`giniIndex: the lists hold ${counts.size} distinct items, more than nItems = ${nItems}`);
  if (total === 0) return 0;
  const sorted = Float64Array.from(counts.values()).sort();
  const zeros = nItems - sorted.length;
  let sum = 0;
  for (let j = 0; j < sorted.length; j++) {
    const rank = zeros + j + 1; // 1-based rank among all n items, zeros first
    sum += (2 * rank - nItems - 1) * sorted[j]!;
  }
  return sum / (nItems * total);
}
