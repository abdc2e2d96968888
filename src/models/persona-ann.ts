/**
 * Per-persona retrieval for large catalogues (docs/scale.md), in the manner of ComiRec (Cen et
 * al. 2020, "Controllable Multi-Interest Framework for Recommendation"): each of a user's personas
 * retrieves its own top candidates from one ANN index over the item target vectors, the candidates
 * are merged, and the merged pool is reranked with the persona model's own score
 *
 *   s(i) = log sum_k pi_k exp(z_k(i) - lse_k),   z_k(i) = Q_i . p_k + B_i,
 *
 * so the persona weights pi_k and each persona's normaliser decide the final order, as they do in
 * exact scoring. The index holds [Q_i, B_i] per candidate and persona k queries it with [p_k, 1]:
 * the inner product is z_k(i) with the bias folded in as an extra dimension.
 *
 * lse_k = log sum over all candidates of exp(z_k(i)) is a sum over the catalogue. It is computed
 * exactly from the retrieved pool plus a fixed uniform sample of the other candidates, scaled to
 * their number (an unbiased estimate of the rest of the partition sum; the largest terms are the
 * retrieved ones, which are counted exactly). When the sample covers every candidate (catalogues of
 * at most `normaliserSample` items) lse_k is exact and so is every reranked score.
 *
 * The neighbour term (itemItem > 0) is added in the rerank but not seen by retrieval.
 */
import { sortedHas } from '../data/csr.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';
import { AnnIndex, type AnnIndexOptions } from './ann.js';
import { personasFor } from './model.js';
import { dot } from './personas-cluster.js';
import type { PersonaModel } from './personas.js';

export interface PersonaRetrievalOptions extends AnnIndexOptions {
  /** Items each persona retrieves (besides the history, which is retrieved and dropped). */
  readonly perPersona?: number;
  /** Candidates sampled once (seeded) to estimate each persona's normaliser; exact at or below it. */
  readonly normaliserSample?: number;
  readonly seed?: number;
}

export const PERSONA_RETRIEVAL_DEFAULTS = { perPersona: 200, normaliserSample: 4096, seed: 42 } as const;

/**
 * The catalogue size (candidate items) from which `recommend`-style callers retrieve through the
 * ANN index instead of scoring every candidate (`--ann-min-items`); docs/scale.md says how it was
 * chosen and how to measure it again.
 */
export const DEFAULT_ANN_MIN_ITEMS = 20_000;

/** Whether a catalogue of `candidates` items is scored through retrieval (minItems 0: never). */
export function useAnn(candidates: number, minItems: number = DEFAULT_ANN_MIN_ITEMS): boolean {
  return minItems > 0 && candidates >= minItems;
}

export interface RetrievedList {
  /** Item indices, best first (history excluded; ties: lower index first). */
  readonly items: Int32Array;
  /** The model's score of each item (see the module comment for the normaliser). */
  readonly scores: Float32Array;
  /** How many distinct items the personas retrieved (the reranked pool, history included). */
  readonly pool: number;
}

/** What the index holds: per candidate (ascending) [Q_i, B_i], dim + 1 values. */
export function retrievalVectors(model: PersonaModel): { items: Int32Array; vectors: Float32Array; dim: number } {
  const d = model.dim;
  const cand = model.candidateItems();
  const vectors = new Float32Array(cand.length * (d + 1));
  for (let c = 0; c < cand.length; c++) {
    vectors.set(model.targetVector(cand[c]!), c * (d + 1));
    vectors[c * (d + 1) + d] = model.itemBias(cand[c]!);
  }
  return { items: cand, vectors, dim: d + 1 };
}

export class PersonaRetriever {
  readonly model: PersonaModel;
  readonly index: AnnIndex;
  readonly perPersona: number;
  private readonly cand: Int32Array;
  private readonly sample: Int32Array;
  private readonly mark: Uint8Array;

  /** `index`: an index over `retrievalVectors(model)` built elsewhere (e.g. on another thread), else built here. */
  constructor(model: PersonaModel, options: PersonaRetrievalOptions = {}, index?: AnnIndex) {
    const o = { ...PERSONA_RETRIEVAL_DEFAULTS, ...options };
    if (!Number.isInteger(o.perPersona) || o.perPersona < 1) throw new ConfigError(`perPersona must be a positive integer, got ${o.perPersona}`, 'ann.perPersona');
    if (!Number.isInteger(o.normaliserSample) || o.normaliserSample < 1) throw new ConfigError(`normaliserSample must be a positive integer, got ${o.normaliserSample}`, 'ann.normaliserSample');
    this.model = model;
    this.perPersona = o.perPersona;
    const cand = model.candidateItems();
    this.cand = cand;
    if (index && (index.size !== cand.length || index.dim !== model.dim + 1)) throw new ConfigError(`the index holds ${index.size} items of ${index.dim} values, the model ${cand.length} of ${model.dim + 1}`, 'ann.index');
    this.index = index ?? new AnnIndex(cand, retrievalVectors(model).vectors, model.dim + 1, options);
    // the normaliser sample: every candidate, or a seeded uniform draw without replacement
    if (cand.length <= o.normaliserSample) {
      this.sample = cand;
    } else {
      const shuffled = new Rng(o.seed).derive('ann', 'normaliser').shuffle(Int32Array.from(cand));
      this.sample = shuffled.subarray(0, o.normaliserSample).sort();
    }
    let nItems = 0;
    for (const j of cand) nItems = Math.max(nItems, j + 1);
    this.mark = new Uint8Array(nItems);
  }

  /** Whether the normaliser sample is the whole catalogue (reranked scores are then exact). */
  get exactNormaliser(): boolean {
    return this.sample.length === this.cand.length;
  }

  /**
   * The top `n` of a user (a training user's index, or -1 with `history` folded in) over the
   * retrieved pool, the history excluded, with the model's scores.
   */
  recommend(user: number, history: Int32Array, n: number): RetrievedList {
    const { items, scores } = this.scorePool(user, history);
    const order = Array.from(items.keys()).filter((r) => !sortedHas(history, 0, history.length, items[r]!));
    order.sort((a, b) => scores[b]! - scores[a]! || items[a]! - items[b]!);
    const top = order.slice(0, Math.max(0, n));
    return { items: Int32Array.from(top, (r) => items[r]!), scores: Float32Array.from(top, (r) => scores[r]!), pool: items.length };
  }

  /**
   * A full score row (length nItems) for callers that select from one: -Infinity except the
   * retrieved pool, which gets the model's scores (the history included, for the caller to exclude).
   */
  scoreRow(user: number, history: Int32Array, out: Float32Array): number {
    const { items, scores } = this.scorePool(user, history);
    out.fill(-Infinity);
    for (let r = 0; r < items.length; r++) out[items[r]!] = scores[r]!;
    return items.length;
  }

  /** The retrieved pool (ascending) and its scores. */
  private scorePool(user: number, history: Int32Array): { items: Int32Array; scores: Float32Array } {
    const m = this.model;
    const hist = Int32Array.from(history).sort();
    const own = personasFor(m, user, hist);
    if (own.length === 0) return this.biasPool(hist.length);
    // the mixture's components (the personas and the whole-history persona when it applies)
    const { components, pi, extra, excl } = m.mixtureTerms(own, hist);
    const k = components.length / m.dim;
    const logPi = Float64Array.from({ length: k }, (_, p) => (pi ? Math.log(pi[p]!) : -Math.log(k)));
    // each component's own top candidates (the history is retrieved too, so ask for that many more)
    return this.pooled(components, logPi, extra, excl, hist, this.perPersona + hist.length);
  }

  /** No usable history: the score is the bias (popularity) alone, so retrieve with a zero persona. */
  private biasPool(skip: number): PoolScores {
    const m = this.model;
    const d = m.dim;
    const q = new Float32Array(d + 1);
    q[d] = 1;
    const items = this.index.search(q, this.perPersona + skip).sort();
    const rest = this.sample.filter((j) => !sortedHas(items, 0, items.length, j));
    const outside = { items: rest, scores: Float32Array.from(rest, (j) => m.itemBias(j)), total: this.cand.length - items.length };
    return { items, scores: Float32Array.from(items, (j) => m.itemBias(j)), score: (j) => m.itemBias(j), outside: () => outside };
  }

  /**
   * The pool of a persona set scored as `scorePersonas(personas, row, history)` scores it (the
   * persona weights from the history, the history left out of the normalisers): each component
   * retrieves `perPersona + skip` items (`skip`: items the caller will drop, e.g. seen or deleted
   * ones). `score(j)` scores any other candidate with the same normalisers (for items the caller
   * needs beside the pool). For the service (src/serve/ann-retrieval.ts).
   */
  scoreSet(personas: Float32Array, history: Int32Array, skip: number): PoolScores {
    const m = this.model;
    const hist = Int32Array.from(history).sort();
    if (personas.length === 0) return this.biasPool(skip);
    const { components, pi, extra, excl } = m.mixtureTerms(personas, hist);
    const k = components.length / m.dim;
    const logPi = Float64Array.from({ length: k }, (_, p) => (pi ? Math.log(pi[p]!) : -Math.log(k)));
    return this.pooled(components, logPi, extra, excl, hist, this.perPersona + skip);
  }

  /**
   * The pool of the mixture of per-persona rankings, s(i) = log sum_q c_q softmax_q(z_q(i)) over
   * all candidates (no history: each persona scored alone): the personas with c_q > 0 retrieve
   * `perPersona + skip` items each, the others are left out. The service's list for a muted,
   * boosted or recent persona (src/serve/persona-mixture.ts).
   */
  scoreRankings(personas: Float32Array, weights: Float64Array, skip: number): PoolScores {
    const logW = Float64Array.from(weights, (c) => (c > 0 ? Math.log(c) : -Infinity));
    return this.pooled(personas, logW, null, null, new Int32Array(0), this.perPersona + skip);
  }

  /**
   * Retrieval and exact rerank of a mixture: components (rows of dim) with log weights (-Infinity:
   * neither retrieved nor counted), the neighbour term (components x nItems) or null, the items
   * left out of the normalisers (excl, `hist` ascending) or null; `count` items per component.
   */
  private pooled(personas: Float32Array, logPi: Float64Array, extra: Float32Array | null, excl: Uint8Array | null, hist: Int32Array, count: number): PoolScores {
    const m = this.model;
    const d = m.dim;
    const k = personas.length / d;
    const mark = this.mark;
    const pool: number[] = [];
    const q = new Float32Array(d + 1);
    for (let p = 0; p < k; p++) {
      if (logPi[p] === -Infinity) continue;
      q.set(personas.subarray(p * d, (p + 1) * d));
      q[d] = 1;
      for (const j of this.index.search(q, count)) {
        if (!mark[j]) {
          mark[j] = 1;
          pool.push(j);
        }
      }
    }
    const items = Int32Array.from(pool).sort();
    const nItems = extra ? extra.length / k : 0;
    const out = (j: number): boolean => excl !== null && excl[j] === 1;
    const z = (p: number, j: number): number => dot(m.targetVector(j), 0, personas, p * d, d) + m.itemBias(j) + (extra ? extra[p * nItems + j]! : 0);
    // each component's normaliser over the candidates outside the history: the pool exactly, the
    // rest from the sample scaled to its size
    const lse = new Float64Array(k);
    const rest = this.sample.filter((j) => !mark[j] && !out(j));
    let outside = 0;
    for (const j of hist) if (!mark[j] && out(j)) outside++;
    const scale = this.exactNormaliser ? 1 : rest.length > 0 ? (this.cand.length - items.length - outside) / rest.length : 0;
    const zp = new Float64Array(items.length * k);
    // the sample's logits (component-major), kept for `outside`
    const zs = new Float64Array(rest.length * k);
    for (let p = 0; p < k; p++) {
      if (logPi[p] === -Infinity) continue;
      let mx = -Infinity;
      for (let r = 0; r < items.length; r++) mx = Math.max(mx, (zp[r * k + p] = z(p, items[r]!)));
      const zr = zs.subarray(p * rest.length, (p + 1) * rest.length);
      for (let r = 0; r < rest.length; r++) zr[r] = z(p, rest[r]!);
      for (const v of zr) mx = Math.max(mx, v);
      let sumPool = 0;
      for (let r = 0; r < items.length; r++) if (!out(items[r]!)) sumPool += Math.exp(zp[r * k + p]! - mx);
      let sumRest = 0;
      for (const v of zr) sumRest += Math.exp(v - mx);
      lse[p] = mx + Math.log(sumPool + scale * sumRest);
    }
    for (const j of items) mark[j] = 0;
    const mix = (zOf: (p: number) => number): number => {
      let mx = -Infinity;
      for (let p = 0; p < k; p++) if (logPi[p] !== -Infinity) mx = Math.max(mx, zOf(p) - lse[p]! + logPi[p]!);
      let s = 0;
      for (let p = 0; p < k; p++) if (logPi[p] !== -Infinity) s += Math.exp(zOf(p) - lse[p]! + logPi[p]! - mx);
      return mx + Math.log(s);
    };
    const scores = new Float32Array(items.length);
    for (let r = 0; r < items.length; r++) scores[r] = mix((p) => zp[r * k + p]!);
    let sampled: Float32Array | null = null;
    const total = this.cand.length - items.length - outside;
    return {
      items,
      scores,
      score: (j) => Math.fround(mix((p) => z(p, j))),
      outside: () => {
        sampled ??= Float32Array.from(rest, (_, r) => mix((p) => zs[p * rest.length + r]!));
        return { items: rest, scores: sampled, total };
      },
    };
  }
}

/** A retrieved pool with its scores, and the same scoring for any other candidate. */
export interface PoolScores {
  /** Item indices, ascending. */
  readonly items: Int32Array;
  readonly scores: Float32Array;
  /** The score of candidate j with the pool's normalisers (the pool's own score for a pool item). */
  score(j: number): number;
  /**
   * The candidates outside the pool (and outside the history left out of the normalisers): the
   * normaliser sample's items among them with their scores, and how many there are in all (the
   * sample stands for them; it is all of them when the normaliser is exact).
   */
  outside(): { items: Int32Array; scores: Float32Array; total: number };
}
