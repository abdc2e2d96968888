/**
 * The generative model: a world's catalogue (catalogue.ts) and each user's plan (group, planted
 * personas and their weights) and rows. Items are drawn by sampler.ts; the truth types and records
 * are truth.ts; the streaming `generateWorld` is generate.ts.
 */
import { largestRemainder } from '../math/apportion.js';
import { Rng } from '../math/rng.js';
import { buildCatalogue, drawIndex, type CategoryPool } from './catalogue.js';
import { parsePopulation, resolveWorldConfig, type Population, type WorldConfig, type WorldConfigInput } from './config.js';
import { categoryNames } from './names.js';
import type { ItemSampler } from './sampler.js';
import { userTruthLine, userTruthOf, UserRows, type PlantedTaste, type UserPlan, type UserTruth } from './truth.js';

export { UserRows, type Group, type PlantedPersona, type PlantedTaste, type UserPlan, type UserTruth } from './truth.js';

/**
 * The catalogue of a world and the per-user generator. Building it costs O(items x categories
 * per item x styles); `generateUser(u)` depends only on the catalogue and `rng.derive('user', u)`.
 */
export class World {
  readonly config: WorldConfig;
  readonly population: Population;
  readonly categoryNames: readonly string[];
  readonly nItems: number;
  /** External ID of item index i is String(i + 1); of user u, String(u + 1). */
  readonly titles: readonly string[];
  /** Item categories as CSR (primary category first). */
  readonly itemCategoryPtr: Int32Array;
  readonly itemCategoryIdx: Int32Array;
  /** Intrinsic popularity weight of every item (power law inside its primary category). */
  readonly itemPopularity: Float64Array;
  /** Split populations: +1 = loved by A and disliked by B, -1 = the reverse, 0 = not contested. */
  readonly itemPolarity: Int8Array;
  /** Relative frequency of each category as a persona's main category (sums to 1). */
  readonly categoryPopularity: Float64Array;
  readonly maxInteractions: number;

  private readonly root: Rng;
  private readonly pools: CategoryPool[];
  private readonly globalSampler: ItemSampler;
  /** seen[i] = 1 while item i is in the current user's rows (cleared after each user). */
  private readonly seen: Uint8Array;
  private drawnItem = 0;
  private drawnAffinity = 0;
  private categoryJson: string[] | null = null;
  private readonly styleCdf: Float64Array;

  constructor(input: WorldConfigInput = {}) {
    const config = resolveWorldConfig(input);
    this.config = config;
    this.population = parsePopulation(config.population);
    this.nItems = config.items;
    this.categoryNames = categoryNames(config.categories);
    this.maxInteractions = config.maxInteractions ?? Math.max(config.minInteractions, Math.ceil(20 * config.meanInteractions));
    this.root = new Rng(config.seed);
    const catalogue = buildCatalogue(config, this.population, this.root);
    this.categoryPopularity = catalogue.categoryPopularity;
    this.itemCategoryPtr = catalogue.itemCategoryPtr;
    this.itemCategoryIdx = catalogue.itemCategoryIdx;
    this.titles = catalogue.titles;
    this.itemPopularity = catalogue.itemPopularity;
    this.itemPolarity = catalogue.itemPolarity;
    this.pools = catalogue.pools;
    this.globalSampler = catalogue.globalSampler;
    this.seen = new Uint8Array(config.items);
    this.styleCdf = new Float64Array(4 * 2 * config.styles);
  }

  /** Categories of item index i (indices into `categoryNames`, primary first). */
  itemCategories(i: number): Int32Array {
    return this.itemCategoryIdx.subarray(this.itemCategoryPtr[i]!, this.itemCategoryPtr[i + 1]!);
  }

  /** A UserRows buffer large enough for any user of this world. */
  newRows(): UserRows {
    return new UserRows(this.maxInteractions);
  }

  /** Fills `out` with user u's rows (in time order) and returns the user's planted personas. */
  generateUser(u: number, out: UserRows): UserPlan {
    const cfg = this.config;
    const rng = this.root.derive('user', u);
    const C = cfg.categories;
    const S = cfg.styles;

    // group; bridging users are drawn from their own stream, so the other users' rows do not
    // depend on the bridge share
    let group: -1 | 0 | 1 = -1;
    if (this.population.kind === 'split') group = rng.next() < this.population.shareA ? 0 : 1;
    const bridge = this.population.kind === 'split' ? (this.population.bridge ?? 0) : 0;
    const brng = bridge > 0 ? this.root.derive('bridge', u) : null;
    const bridging = brng !== null && brng.next() < bridge;

    // persona count and weights: minority m ~ U[lo, hi]; others m + (1 - K m) * Dirichlet
    // (a bridging user has at least two personas: one per side)
    const K = Math.min(C, drawIndex(rng, bridging ? cfg.personaCounts.map((p, k) => (k === 0 ? 0 : p)) : cfg.personaCounts) + 1);
    const weights: number[] = [];
    if (K === 1) weights.push(1);
    else {
      const [lo, hi] = cfg.minorityWeight;
      const m = lo + (hi - lo) * rng.next();
      const g: number[] = [];
      let gs = 0;
      for (let k = 0; k < K - 1; k++) {
        const x = rng.gamma(cfg.personaConcentration);
        g.push(x);
        gs += x;
      }
      const rest = Math.max(0, 1 - K * m);
      for (let k = 0; k < K - 1; k++) weights.push(m + (gs > 0 ? (rest * g[k]!) / gs : rest / (K - 1)));
      weights.sort((a, b) => b - a);
      weights.push(m);
    }

    // categories: distinct main categories by popularity, sometimes a second one mixed in
    const cats: number[][] = [];
    const mains: number[] = [];
    const catPop = this.categoryPopularity;
    while (mains.length < K) {
      const c = searchCdfArray(catPop, rng.next());
      if (!mains.includes(c)) mains.push(c);
    }
    for (let k = 0; k < K; k++) {
      const list = [mains[k]!];
      if (rng.next() < cfg.mixedPersonaRate) {
        let c2 = mains[k]!;
        while (c2 === mains[k]) c2 = searchCdfArray(catPop, rng.next());
        list.push(c2);
      }
      cats.push(list);
    }

    // sides: everyone holds their group's side; a bridging user's dominant persona holds their
    // group's side, the minority persona the other, middle personas a side by a fair coin
    const sides: number[] = new Array<number>(K).fill(group);
    if (bridging) {
      sides[K - 1] = 1 - group;
      for (let k = 1; k < K - 1; k++) sides[k] = brng!.next() < 0.5 ? 0 : 1;
    }

    // taste: a Dirichlet mixture over the styles of each of the persona's categories
    const styleCdf = this.styleCdf;
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < cats[k]!.length; j++) {
        const base = (k * 2 + j) * S;
        let acc = 0;
        for (let s = 0; s < S; s++) styleCdf[base + s] = acc += rng.gamma(cfg.styleConcentration);
        if (!(acc > 0)) for (let s = 0; s < S; s++) styleCdf[base + s] = acc = s + 1;
        for (let s = 0; s < S; s++) styleCdf[base + s]! /= acc;
      }
    }

    // activity: lognormal with the configured mean, clamped, and capped so that no persona needs
    // more than 60% of one of its categories' items
    const sigma = cfg.activitySigma;
    const mu = Math.log(cfg.meanInteractions) - (sigma * sigma) / 2;
    let n = Math.round(Math.exp(mu + sigma * rng.normal()));
    n = Math.min(this.maxInteractions, Math.max(cfg.minInteractions, n));
    const personaShare = 1 - cfg.noise;
    for (let k = 0; k < K; k++) {
      const list = cats[k]!;
      for (let j = 0; j < list.length; j++) {
        const share = list.length === 1 ? 1 : j === 0 ? 1 - cfg.mixedPersonaShare : cfg.mixedPersonaShare;
        const demand = weights[k]! * share * personaShare;
        if (demand > 0) n = Math.min(n, Math.floor((0.6 * this.pools[list[j]!]!.items.length) / demand));
      }
    }
    n = Math.max(Math.min(n, this.maxInteractions), Math.min(cfg.minInteractions, this.maxInteractions));

    // allot rows: noise by stochastic rounding, personas by largest remainder (each >= 1 if possible)
    const nNoise = Math.min(n, Math.floor(cfg.noise * n + rng.next()));
    const nPersona = n - nNoise;
    const shared = largestRemainder(weights, nPersona);
    const counts = nPersona >= K ? atLeastOneEach(shared) : shared;
    const labels = out.persona;
    let w = 0;
    for (let k = 0; k < K; k++) for (let r = 0; r < counts[k]!; r++) labels[w++] = k;
    for (let r = 0; r < nNoise; r++) labels[w++] = -1;
    shuffleRange(rng, labels, n);

    // time line: start somewhere in the first 75% of the span, active for 2-25% of it
    const span = cfg.spanDays * 86400;
    let t = cfg.startTime + Math.floor(rng.next() * 0.75 * span);
    const meanGap = (span * (0.02 + 0.23 * rng.next())) / Math.max(1, n);

    // rows
    const seen = this.seen;
    let len = 0;
    for (let r = 0; r < n; r++) {
      const k = labels[r]!;
      let rating: number;
      const side = k < 0 ? -1 : sides[k]!;
      const groupSign = side === 0 ? 1 : side === 1 ? -1 : 0;
      if (k < 0) {
        if (!this.drawGlobal(rng)) continue;
        const x = rng.next();
        rating = x < 0.3 ? 1 : x < 0.7 ? 2 : 3;
      } else {
        const list = cats[k]!;
        const j = list.length > 1 && rng.next() < cfg.mixedPersonaShare ? 1 : 0;
        const base = (k * 2 + j) * S;
        let s = 0;
        const xs = rng.next();
        while (s < S - 1 && styleCdf[base + s]! <= xs) s++;
        if (!this.drawFromPool(rng, this.pools[list[j]!]!, s)) continue;
        const polarity = this.itemPolarity[this.drawnItem]!;
        if (groupSign !== 0 && polarity !== 0 && polarity !== groupSign) {
          rating = rng.next() < 0.5 ? 1 : 2;
        } else if (rng.next() < cfg.lukewarm) {
          rating = 3;
        } else {
          // taste-matched sampling tilts the affinity's mean to about beta: 5 above it, 4 below
          rating = rng.next() < 1 / (1 + Math.exp(-1.5 * (this.drawnAffinity - cfg.tasteStrength))) ? 5 : 4;
        }
      }
      const item = this.drawnItem;
      seen[item] = 1;
      t += 1 + Math.floor(-Math.log(1 - rng.next()) * meanGap);
      out.item[len] = item;
      out.rating[len] = rating;
      out.timestamp[len] = t;
      out.persona[len] = k;
      out.side[len] = side;
      len++;
    }
    for (let r = 0; r < len; r++) seen[out.item[r]!] = 0;
    out.length = len;
    return { group: bridging ? 2 : group, weights, categories: cats, sides };
  }

  /** userTruth(u, plan) as one JSON line (the same text JSON.stringify gives, built faster). */
  userTruthJson(u: number, plan: UserPlan): string {
    return userTruthLine((this.categoryJson ??= this.categoryNames.map((n) => JSON.stringify(n))), u, plan);
  }

  /** The truth record of a plan (as written to truth.jsonl). */
  userTruth(u: number, plan: UserPlan): UserTruth {
    return userTruthOf(this.categoryNames, u, plan);
  }

  /**
   * User u's planted taste: the plan `generateUser` draws (the same draws: it runs the generator)
   * and each persona's mixture over the styles of each of its categories,
   * styleMix[k][j][s] (sums to 1 over s), for the persona's j-th category.
   */
  plantedTaste(u: number, rows: UserRows = this.newRows()): PlantedTaste {
    const plan = this.generateUser(u, rows);
    const S = this.config.styles;
    const cdf = this.styleCdf;
    const styleMix = plan.categories.map((cats, k) =>
      cats.map((_, j) => {
        const base = (k * 2 + j) * S;
        const m = new Float64Array(S);
        let prev = 0;
        for (let s = 0; s < S; s++) {
          m[s] = Math.max(0, cdf[base + s]! - prev);
          prev = cdf[base + s]!;
        }
        return m;
      }),
    );
    return { plan, styleMix };
  }

  /**
   * How a persona in style s of category c picks items: the items of c (any of their categories)
   * and their choice probabilities popularity(i) * exp(beta <s, v_i>), normalised to sum to 1
   * (the distribution the generator samples a persona row from, before it skips seen items).
   */
  styleChoice(c: number, s: number): { items: Int32Array; prob: Float64Array } {
    const pool = this.pools[c];
    if (!pool || s < 0 || s >= this.config.styles) throw new RangeError(`styleChoice: no category ${c} / style ${s}`);
    const n = pool.items.length;
    const prob = new Float64Array(n);
    const beta = this.config.tasteStrength;
    let total = 0;
    for (let p = 0; p < n; p++) total += prob[p] = this.itemPopularity[pool.items[p]!]! * Math.exp(beta * pool.affinity[s * n + p]!);
    if (total > 0) for (let p = 0; p < n; p++) prob[p]! /= total;
    return { items: pool.items, prob };
  }

  /** Draws an item of `pool` from style s that this user has not seen; false if the pool is used up. */
  private drawFromPool(rng: Rng, pool: CategoryPool, s: number): boolean {
    const sampler = pool.sampler[s]!;
    const n = sampler.size;
    if (n === 0) return false;
    for (let tries = 0; tries < 32; tries++) {
      sampler.draw(rng.next());
      if (this.seen[sampler.item] === 0) {
        this.drawnItem = sampler.item;
        this.drawnAffinity = sampler.affinity;
        return true;
      }
    }
    // rare (heavy users in small categories): the next unseen item after a random start
    const start = rng.int(n);
    for (let q = 0; q < n; q++) {
      const pos = (start + q) % n;
      if (this.seen[pool.items[pos]!] === 0) {
        this.drawnItem = pool.items[pos]!;
        this.drawnAffinity = pool.affinity[s * n + pos]!;
        return true;
      }
    }
    return false;
  }

  /** Draws an unseen item by popularity alone (noise rows); false if the user has seen every item. */
  private drawGlobal(rng: Rng): boolean {
    const sampler = this.globalSampler;
    for (let tries = 0; tries < 32; tries++) {
      sampler.draw(rng.next());
      if (this.seen[sampler.item] === 0) {
        this.drawnItem = sampler.item;
        return true;
      }
    }
    const start = rng.int(this.nItems);
    for (let q = 0; q < this.nItems; q++) {
      const i = (start + q) % this.nItems;
      if (this.seen[i] === 0) {
        this.drawnItem = i;
        return true;
      }
    }
    return false;
  }
}

function searchCdfArray(p: Float64Array, x: number): number {
  let acc = 0;
  for (let c = 0; c < p.length; c++) {
    acc += p[c]!;
    if (x < acc) return c;
  }
  return p.length - 1;
}

/** Gives every zero count one slot from the largest count (the first on ties). */
function atLeastOneEach(counts: Int32Array): Int32Array {
  const K = counts.length;
  for (let k = 0; k < K; k++) {
    if (counts[k]! > 0) continue;
    let big = 0;
    for (let j = 1; j < K; j++) if (counts[j]! > counts[big]!) big = j;
    counts[big]!--;
    counts[k] = 1;
  }
  return counts;
}

function shuffleRange(rng: Rng, a: Int8Array, n: number): void {
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
