/**
 * Item categories (e.g. genres) as a CSR over items, the one builder of that table, and the taste
 * maths on it: PROTOCOL.md's category distribution p(g|.) and the two divergences between taste
 * mixes (ckl's calibration KL and tdd's Jensen-Shannon). Rerankers, metrics, explanations and the
 * service all read tastes through these functions.
 */

/** Item categories as CSR over items: item i has names[idx[ptr[i]..ptr[i+1])]. */
export interface ItemCategories {
  readonly names: readonly string[];
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
}

/**
 * The category table of items 0..nItems-1, `namesOf(i)` giving item i's category names. Category
 * indices follow first appearance (item order, then list order); a name repeated on one item
 * counts once.
 */
export function buildCategories(nItems: number, namesOf: (item: number) => readonly string[]): ItemCategories {
  const nameIndex = new Map<string, number>();
  const ptr = new Int32Array(nItems + 1);
  const idx: number[] = [];
  for (let i = 0; i < nItems; i++) {
    const start = idx.length;
    for (const c of namesOf(i)) {
      let ci = nameIndex.get(c);
      if (ci === undefined) nameIndex.set(c, (ci = nameIndex.size));
      if (!idx.includes(ci, start)) idx.push(ci);
    }
    ptr[i + 1] = idx.length;
  }
  return { names: [...nameIndex.keys()], ptr, idx: Int32Array.from(idx) };
}

/** The categories of item `item` as indices into `cats.names`. */
export function categoriesOf(cats: ItemCategories, item: number): Int32Array {
  if (item + 1 >= cats.ptr.length) return new Int32Array(0);
  return cats.idx.subarray(cats.ptr[item]!, cats.ptr[item + 1]!);
}

/**
 * Taste distribution of a set of items: out[g] = mean over items of p(g|i), p(g|i) = 1/|G(i)|.
 * Generic over the CSR, so categories and personas share it. Writes out[0..names.length) (out must be
 * at least that long) and returns how many items carried mass; items with an empty row (impossible
 * for logs built by LogBuilder, which gives them `(none)`) are left out of the mean. All zero when
 * that count is 0.
 */
export function tasteDistribution(items: Int32Array, cats: ItemCategories, out: Float64Array): number {
  const nCat = cats.names.length;
  if (out.length < nCat) throw new RangeError(`tasteDistribution: out has ${out.length} slots, need ${nCat}`);
  out.fill(0, 0, nCat);
  const { ptr, idx } = cats;
  let counted = 0;
  for (let j = 0; j < items.length; j++) {
    const i = items[j]!;
    if (i < 0 || i + 1 >= ptr.length) continue;
    const start = ptr[i]!;
    const end = ptr[i + 1]!;
    if (end === start) continue;
    const w = 1 / (end - start);
    for (let e = start; e < end; e++) out[idx[e]!] += w;
    counted++;
  }
  if (counted > 0) for (let g = 0; g < nCat; g++) out[g] /= counted;
  return counted;
}

/** Steck's miscalibration: sum over g with p > 0 of p ln(p / (0.99 q + 0.01 p)); >= 0. */
export function calibrationKL(p: Float64Array, q: Float64Array, nCat = p.length): number {
  let kl = 0;
  for (let g = 0; g < nCat; g++) {
    const pg = p[g]!;
    if (pg > 0) kl += pg * Math.log(pg / (0.99 * q[g]! + 0.01 * pg));
  }
  // >= 0 by Gibbs' inequality (p sums to 1, q~ to 1, or to 0.01 when q = 0); clamp rounding noise.
  return Math.max(0, kl);
}

/** Jensen-Shannon divergence, base-2 logs, no smoothing; in [0, 1]. */
export function jensenShannon(p: Float64Array, q: Float64Array, nCat = p.length): number {
  let js = 0;
  for (let g = 0; g < nCat; g++) {
    const pg = p[g]!;
    const qg = q[g]!;
    const m = 0.5 * (pg + qg);
    if (pg > 0) js += 0.5 * pg * Math.log2(pg / m);
    if (qg > 0) js += 0.5 * qg * Math.log2(qg / m);
  }
  return Math.min(1, Math.max(0, js));
}
