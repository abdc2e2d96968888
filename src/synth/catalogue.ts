/**
 * The catalogue of a world: category popularity, the items (categories, latent vectors, titles),
 * their popularity, the per-category style pools the generator samples persona rows from, and the
 * contested items of split populations. Built once per world by `buildCatalogue`
 * (O(items x categories per item x styles)); the per-user generator is model.ts.
 */
import type { Rng } from '../math/rng.js';
import type { Population, WorldConfig } from './config.js';
import { makeTitle } from './names.js';
import { ItemSampler } from './sampler.js';

/** An index drawn with probability proportional to `weights`. */
export function drawIndex(rng: Rng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = rng.next() * total;
  for (let k = 0; k < weights.length; k++) {
    x -= weights[k]!;
    if (x < 0) return k;
  }
  return weights.length - 1;
}

/** The items of one category, with one alias sampler per style and the items' style affinities. */
export interface CategoryPool {
  readonly items: Int32Array;
  /** sampler[s] over `items`, weights popularity * exp(beta * affinity). */
  readonly sampler: ItemSampler[];
  /** affinity[s * items.length + pos] = <style s, v_item>. */
  readonly affinity: Float32Array;
}

/** What `buildCatalogue` returns: the World's catalogue fields (see World) and its samplers. */
export interface Catalogue {
  readonly categoryPopularity: Float64Array;
  readonly itemCategoryPtr: Int32Array;
  readonly itemCategoryIdx: Int32Array;
  readonly titles: readonly string[];
  readonly itemPopularity: Float64Array;
  readonly itemPolarity: Int8Array;
  /** One pool per category. */
  readonly pools: CategoryPool[];
  /** Every item by popularity alone (noise rows). */
  readonly globalSampler: ItemSampler;
}

/** The catalogue of a world, each part from its own stream of `root` ('world', part). */
export function buildCatalogue(config: WorldConfig, population: Population, root: Rng): Catalogue {
  const C = config.categories;
  const N = config.items;
  const S = config.styles;
  const d = config.tasteDim;

  // category popularity: Zipf over a seeded order
  const catRng = root.derive('world', 'categories');
  const order = catRng.shuffle(Array.from({ length: C }, (_, c) => c));
  const catPop = new Float64Array(C);
  order.forEach((c, rank) => (catPop[c] = Math.pow(rank + 1, -config.categorySkew)));
  let catTotal = 0;
  for (const p of catPop) catTotal += p;
  for (let c = 0; c < C; c++) catPop[c]! /= catTotal;
  // items spread over categories half uniformly, half by category popularity
  const itemCatWeights = Array.from(catPop, (p) => 0.5 / C + 0.5 * p);

  // items: categories, latent vectors, titles
  const itemRng = root.derive('world', 'items');
  const ptr = new Int32Array(N + 1);
  const idx: number[] = [];
  const vectors = new Float32Array(N * d);
  const titles: string[] = new Array<string>(N);
  const countWeights = config.itemCategoryCounts.slice();
  for (let k = C; k < countWeights.length; k++) countWeights[k] = 0;
  const picked: number[] = [];
  for (let i = 0; i < N; i++) {
    const k = drawIndex(itemRng, countWeights) + 1;
    picked.length = 0;
    if (i < C) picked.push(i); // every category has at least one item
    while (picked.length < k) {
      const c = drawIndex(itemRng, itemCatWeights);
      if (!picked.includes(c)) picked.push(c);
    }
    idx.push(...picked);
    ptr[i + 1] = idx.length;
    for (let j = 0; j < d; j++) vectors[i * d + j] = itemRng.normal();
    titles[i] = makeTitle(itemRng, picked[0]!, picked[k > 1 ? 1 : 0]!);
  }

  // popularity: power law over a seeded rank inside the primary category
  const popRng = root.derive('world', 'popularity');
  const byPrimary: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < N; i++) byPrimary[idx[ptr[i]!]!]!.push(i);
  const popularity = new Float64Array(N);
  for (const members of byPrimary) {
    popRng.shuffle(members);
    members.forEach((i, rank) => (popularity[i] = Math.pow(rank + 1, -config.popularityExponent)));
  }
  const globalSampler = new ItemSampler(popularity, Int32Array.from({ length: N }, (_, i) => i), null);

  // styles: unit vectors per category; pools with one CDF per style
  const styleRng = root.derive('world', 'styles');
  const members: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < N; i++) for (let k = ptr[i]!; k < ptr[i + 1]!; k++) members[idx[k]!]!.push(i);
  const beta = config.tasteStrength;
  const pools = members.map((list) => {
    const items = Int32Array.from(list);
    const n = items.length;
    const affinity = new Float32Array(S * n);
    const sampler: ItemSampler[] = [];
    const center = new Float64Array(d);
    const weight = new Float64Array(n);
    for (let s = 0; s < S; s++) {
      let norm = 0;
      for (let j = 0; j < d; j++) norm += (center[j] = styleRng.normal()) ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let p = 0; p < n; p++) {
        const i = items[p]!;
        let z = 0;
        for (let j = 0; j < d; j++) z += center[j]! * vectors[i * d + j]!;
        z /= norm;
        affinity[s * n + p] = z;
        weight[p] = popularity[i]! * Math.exp(beta * z);
      }
      sampler.push(new ItemSampler(weight, items, affinity.subarray(s * n, (s + 1) * n)));
    }
    return { items, sampler, affinity };
  });

  // contested items (split populations): a seeded subset, polarity alternating => balanced
  const itemPolarity = new Int8Array(N);
  if (population.kind === 'split') {
    const contRng = root.derive('world', 'contested');
    const all = contRng.shuffle(Array.from({ length: N }, (_, i) => i));
    const m = Math.round(config.contested * N);
    for (let k = 0; k < m; k++) itemPolarity[all[k]!] = k % 2 === 0 ? 1 : -1;
  }

  return {
    categoryPopularity: catPop,
    itemCategoryPtr: ptr,
    itemCategoryIdx: Int32Array.from(idx),
    titles,
    itemPopularity: popularity,
    itemPolarity,
    pools,
    globalSampler,
  };
}
