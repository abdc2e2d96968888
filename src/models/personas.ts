/**
 * `personas`: every user is K_u personas built from their own items (PRODUCT.md P4, P6;
 * docs/personas.md). Items have a context vector W_j, a target vector Q_i and a bias B_i. A
 * history H is clustered by the direction of its items' W_j into K_u = min(k, floor(|H| /
 * itemsPerPersona)) clusters (at least 1); persona k is p_k = |C_k|^-alpha sum_{j in C_k} W_j and
 *
 *   s(u, i) = log sum_k pi_k softmax_i(Q_i . p_k + B_i),   pi_k = |C_k|^gamma / sum
 *
 * (a mixture of per-persona multinomials, exact softmax over the candidates). Training maximises
 * the same likelihood for held-out parts of each history (sampled softmax with logQ correction),
 * so the trained score is the ranked score. With k = 1 it is a one-vector model of the same family
 * (p = |H|^-alpha sum_{j in H} W_j, FISM-like). Personas need no optimisation: a training user's
 * personas are exactly the fold-in of their training history. No item categories are used.
 * Memory: items x d (W, Q, Adam moments, gradient buffers) plus interactions; never items^2.
 */
import { adaptiveK, exactSoftmax, PersonasConfig } from './personas-config.js';
import { releaseArena } from '../math/persona-kernels.js';
import { personaTrainState } from './personas-state.js';
import { PersonaAdam } from './personas-adam.js';
import { personaEpoch } from './personas-epoch.js';
import type { ComponentLogits, RowRead } from './component-logits.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';
import { runEpochs } from './model.js';
import { clusterHistory, membersOf, personasOf } from './personas-cluster.js';
import { activeUsers, chunkPool, decayedLr, NegativeSampler, type EpochRun } from './item-train.js';
import { neighbourRows, neighbourTerm } from './personas-neighbours.js';
import { gradChunk, mixWeights, scoreMixture, type StepParams, type TrainState } from './personas-train.js';
import { personaCalibratedSlate, personaSlate, writeSlateScores } from './persona-slate.js';

export { adaptiveK, PersonasConfig } from './personas-config.js';

const kernelUrl = new URL(import.meta.url.endsWith('.ts') ? './personas-train.ts' : './personas-train.js', import.meta.url).href;

export class PersonaModel implements Recommender, FoldIn {
  readonly name = 'personas';
  readonly params: PersonasConfig;
  private nItems = 0;
  private nUsers = 0;
  private W: Float32Array = new Float32Array(0);
  private Q: Float32Array = new Float32Array(0);
  private B: Float32Array = new Float32Array(0);
  /** Training users' personas (the fold-in of their training history), pptr over users. */
  private P: Float32Array = new Float32Array(0);
  private pptr: Int32Array = new Int32Array(1);
  private cand: Int32Array = new Int32Array(0);
  private candPos: Int32Array = new Int32Array(0);
  /** The neighbour term's rows (row j: the items i that keep j, with sim(i, j)); empty when off. */
  private sPtr: Int32Array = new Int32Array(1);
  private sIdx: Int32Array = new Int32Array(0);
  private sVal: Float32Array = new Float32Array(0);
  /** Per persona set: each persona's log normaliser over the candidates (personaWeights). */
  private lseCache = new WeakMap<Float32Array, { history: Int32Array | undefined; lse: Float64Array; pi: Float64Array | null; extra: Float32Array | null; weights?: Map<number, Float32Array> }>();

  constructor(params: Partial<PersonasConfig> = {}) {
    this.params = PersonasConfig.parse(params);
  }

  get dim(): number {
    return this.params.dim;
  }

  /** The model never reads item categories (the baselines get none either). */
  usesCategories(_train: TrainSet): boolean {
    return false;
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const cfg = this.params;
    const d = cfg.dim;
    const { nUsers, nItems } = train;
    this.nUsers = nUsers;
    this.nItems = nItems;
    this.cand = Int32Array.from(train.candidates);
    this.candPos = new Int32Array(nItems).fill(-1);
    this.cand.forEach((j, c) => (this.candPos[j] = c));
    this.buildNeighbours(train);
    // small problems: every candidate is a negative of every batch (exact softmax)
    const users = activeUsers(train.userItems.indptr, nUsers);
    const full = exactSoftmax(users.length, this.cand.length, cfg);
    const st = personaTrainState(train, cfg, this.cand, { ptr: this.sPtr, idx: this.sIdx, val: this.sVal }, full ? this.cand.length : cfg.negatives, ctx.rng.derive('personas', 'items'));
    const { W, Q, B, hptr, hidx } = st;
    if (full) {
      st.pool = this.cand;
      st.poolLogW = new Float32Array(this.cand.length);
    }
    this.W = W;
    this.Q = Q;
    this.B = B;
    const pool = chunkPool(ctx.threads);
    const opt = new PersonaAdam(st, cfg.itemBias);
    const run: EpochRun<TrainState, StepParams> = {
      st, users, batchSize: cfg.batchSize, pool, kernelUrl, gradChunk,
      sampler: full ? null : new NegativeSampler(this.cand, train.itemPopularity, cfg.negPower), negatives: cfg.negatives,
    };
    const params = (seed: number): StepParams => ({ alpha: cfg.alpha, gamma: cfg.gamma, holdout: cfg.holdout, seed, skipEps: full ? cfg.skipEps / 100 : cfg.skipEps, whole: cfg.whole });
    const nAvg = Math.min(cfg.avgEpochs, cfg.epochs);
    const sums = nAvg > 1 ? [new Float64Array(W.length), new Float64Array(Q.length), new Float64Array(B.length)] : null;
    try {
      await runEpochs(ctx, 'personas', cfg.epochs, async (e) => {
        const kMax = e < cfg.warmEpochs ? 1 : cfg.k;
        const lr = decayedLr(cfg.lr, cfg.lrEnd, e, cfg.epochs);
        // each epoch clusters every training history on the current context vectors first
        const cluster = { kMax, perPersona: cfg.itemsPerPersona, minItems: cfg.minClusterItems, iters: cfg.clusterIters };
        const loss = await personaEpoch(pool, run, ctx.rng.derive('personas', 'epoch', e), params, opt, lr, cfg.l2Item, cluster);
        if (sums && e >= cfg.epochs - nAvg) [W, Q, B].forEach((a, r) => { for (let x = 0; x < a.length; x++) sums[r]![x] += a[x]!; });
        return loss;
      });
    } finally {
      await pool?.close();
      releaseArena();
    }
    this.W = sums ? Float32Array.from(sums[0]!, (x) => x / nAvg) : Float32Array.from(W);
    this.Q = sums ? Float32Array.from(sums[1]!, (x) => x / nAvg) : Float32Array.from(Q);
    this.B = sums ? Float32Array.from(sums[2]!, (x) => x / nAvg) : Float32Array.from(B);
    // a training user's personas are the fold-in of their training history
    const parts: Float32Array[] = [];
    const pptr = new Int32Array(nUsers + 1);
    for (let u = 0; u < nUsers; u++) {
      const ps = this.foldIn(hidx.subarray(hptr[u]!, hptr[u + 1]!));
      parts.push(ps);
      pptr[u + 1] = pptr[u]! + ps.length / d;
    }
    this.P = new Float32Array(pptr[nUsers]! * d);
    parts.forEach((ps, u) => this.P.set(ps, pptr[u]! * d));
    this.pptr = pptr;
    this.lseCache = new WeakMap();
  }

  /** Top-`neighbours` item-kNN rows, transposed so that row j lists the items i that keep j. */
  private buildNeighbours(train: TrainSet): void {
    const r = this.params.itemItem === 0 ? { ptr: new Int32Array(train.nItems + 1), idx: new Int32Array(0), val: new Float32Array(0) } : neighbourRows(train, this.params.neighbours, this.params.shrink);
    ({ ptr: this.sPtr, idx: this.sIdx, val: this.sVal } = r);
  }

  /**
   * The mixture a persona set is scored with, given the history: mixture weights (gamma != 0;
   * equal weights otherwise), the whole-history component (whole > 0, 2+ personas: an extra row
   * p_all with weight lambda, the personas sharing 1 - lambda), the neighbour term, all from each
   * history item's persona (the one it has the largest cosine with), and the history items left
   * out of the softmax normalisers. Without a history: the personas alone, equal weights.
   */
  private components(personas: Float32Array, history?: Int32Array): { P: Float32Array; k: number; pi: Float64Array | null; extra: Float32Array | null; excl: Uint8Array | null } {
    const cfg = this.params;
    const d = cfg.dim;
    const k = personas.length / d;
    const h = history && k > 0 ? this.usable(history) : new Int32Array(0);
    if (h.length === 0) return { P: personas, k, pi: null, extra: null, excl: null };
    const excl = new Uint8Array(this.nItems);
    for (const j of h) excl[j] = 1;
    const whole = cfg.whole > 0 && k > 1;
    const needMembers = cfg.itemItem > 0 || (cfg.gamma !== 0 && k > 1);
    const members = needMembers ? membersOf(this.W, d, h, personas, k) : new Int32Array(h.length);
    let pi: Float64Array | null = null;
    if (cfg.gamma !== 0 && k > 1) {
      const count = new Float64Array(k);
      for (const q of members) count[q]!++;
      pi = mixWeights(count, k, cfg.gamma);
      // a persona without members (a subset scored with the full history) keeps a small weight
      for (let q = 0; q < k; q++) if (pi[q] === 0) pi[q] = 1e-6;
    }
    let extra = cfg.itemItem > 0 ? neighbourTerm(this.sPtr, this.sIdx, this.sVal, this.nItems, h, members, k, cfg.itemItem, cfg.alpha) : null;
    if (!whole) return { P: personas, k, pi, extra, excl };
    const P = new Float32Array((k + 1) * d);
    P.set(personas);
    P.set(personasOf(this.W, d, h, new Int32Array(h.length), 1, cfg.alpha), k * d);
    const piAll = new Float64Array(k + 1);
    for (let q = 0; q < k; q++) piAll[q] = (1 - cfg.whole) * (pi ? pi[q]! : 1 / k);
    piAll[k] = cfg.whole;
    if (extra) {
      const e = new Float32Array((k + 1) * this.nItems);
      e.set(extra);
      e.set(neighbourTerm(this.sPtr, this.sIdx, this.sVal, this.nItems, h, new Int32Array(h.length), 1, cfg.itemItem, cfg.alpha), k * this.nItems);
      extra = e;
    }
    return { P, k: k + 1, pi: piAll, extra, excl };
  }

  private usable(items: Int32Array): Int32Array {
    return Int32Array.from(new Set(Array.from(items).filter((j) => j >= 0 && j < this.nItems && this.candPos[j]! >= 0))).sort();
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    for (let b = 0; b < batch.users.length; b++) {
      const u = batch.users[b]!;
      const hist = batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!);
      const ps = u >= 0 && u < this.nUsers && this.personaCount(u) > 0 ? this.personaVectors(u) : this.foldIn(hist);
      this.scorePersonas(ps, out.subarray(b * n, (b + 1) * n), hist);
    }
  }

  /**
   * Scores of a persona set (any subset of a user's rows, or from `foldIn`) for every item (non-candidates
   * -Infinity). `history` gives the mixture weights when gamma != 0 (each history item counts for the persona
   * it has the largest cosine with), else equal weights. `logits`: the components' logits kept by the caller
   * (used and offered without a neighbour term); `read`: what is read of the row (component-logits.ts).
   */
  scorePersonas(personas: Float32Array, out: Float32Array, history?: Int32Array, logits?: ComponentLogits, read: RowRead = 'all'): void {
    const c = this.components(personas, history);
    const d = this.params.dim;
    const kept = logits && !c.extra ? { known: Array.from({ length: c.k }, (_, q) => logits.get(c.P.subarray(q * d, (q + 1) * d))), keep: (q: number, z: Float64Array, lse: number) => logits.put(c.P.subarray(q * d, (q + 1) * d), z, lse) } : null;
    // 'none': the normalisers personaWeights reads, those of the personas (not of the whole-history component)
    const kc = read === 'none' ? Math.min(c.k, personas.length / d) : c.k;
    const lse = scoreMixture(this.Q, this.B, c.P, 0, kc, d, this.cand, out, c.pi, c.extra, this.nItems, c.excl, kept, this.params.slate === 'mixture' || read === 'none' ? read : 'all');
    this.lseCache.set(personas, { history, lse, pi: c.pi, extra: c.extra }); // personaWeights' normalisers: no second pass
    if (read !== 'none' && this.params.slate !== 'mixture' && personas.length / this.params.dim > 1) writeSlateScores(out, this.shareSlate(personas, c, out, history));
  }

  /** The share or calibrated slate of a persona set (2+ personas; src/models/persona-slate.ts); `rel` the mixture scores. */
  private shareSlate(personas: Float32Array, c: ReturnType<PersonaModel['components']>, rel: Float32Array, history?: Int32Array): Int32Array {
    const cfg = this.params;
    const d = cfg.dim;
    const k = personas.length / d;
    const hasWhole = c.k > k;
    let shares: Float64Array;
    const h = history ? this.usable(history) : new Int32Array(0);
    if (cfg.slateGamma !== undefined && h.length > 0) {
      const count = new Float64Array(k);
      for (const q of membersOf(this.W, d, h, personas, k)) count[q]!++;
      shares = mixWeights(count, k, cfg.slateGamma);
    } else shares = c.pi ? Float64Array.from(c.pi.subarray(0, k)) : new Float64Array(k).fill(1 / k);
    const input = {
      nItems: this.nItems, cand: this.cand, personas: k, hasWhole,
      wholeWeight: cfg.slateWhole ?? cfg.whole, excl: c.excl, shares, size: cfg.slateSize,
    };
    const component = (row: number, out: Float32Array): void => {
      scoreMixture(this.Q, this.B, c.P, row * d, 1, d, this.cand, out, null, c.extra ? c.extra.subarray(row * this.nItems) : null, this.nItems, c.excl);
    };
    return cfg.slate === 'calibrated' ? personaCalibratedSlate(input, rel, component, cfg.slateLambda) : personaSlate(input, component);
  }

  /**
   * How much each persona carries `item` (sums to 1): its posterior responsibility
   * r_k = pi_k p_k(i) / sum_q pi_q p_q(i), p_k = softmax over the candidates of Q . p_k + B.
   */
  personaWeights(personas: Float32Array, item: number, history?: Int32Array): Float32Array {
    const d = this.params.dim;
    const k = personas.length / d;
    const out = new Float32Array(k);
    if (k === 0) return out;
    if (k === 1 || item < 0 || item >= this.nItems || this.candPos[item]! < 0) return out.fill(1 / k);
    let cached = this.lseCache.get(personas);
    if (!cached || cached.history !== history) {
      const { P, k: kc, pi, extra, excl } = this.components(personas, history);
      cached = { history, lse: scoreMixture(this.Q, this.B, P, 0, kc, d, this.cand, new Float32Array(0), pi, extra, this.nItems, excl, null, 'none'), pi, extra };
      this.lseCache.set(personas, cached);
    }
    const { lse, pi, extra } = cached;
    const memo = (cached.weights ??= new Map()).get(item); // asked again for the same set and history (ambiguity, profile, explanations)
    if (memo) return memo.slice();
    const lp = new Float64Array(k);
    let m = -Infinity;
    for (let q = 0; q < k; q++) {
      let z = extra ? extra[q * this.nItems + item]! : 0;
      for (let x = 0; x < d; x++) z += personas[q * d + x]! * this.Q[item * d + x]!;
      lp[q] = z - lse[q]! + Math.log(pi ? pi[q]! : 1 / k);
      if (lp[q]! > m) m = lp[q]!;
    }
    let sum = 0;
    for (let q = 0; q < k; q++) sum += lp[q] = Math.exp(lp[q]! - m);
    for (let q = 0; q < k; q++) out[q] = lp[q]! / sum;
    cached.weights.set(item, out);
    return out.slice();
  }

  /** Number of personas of a training user (0 for users without training history). */
  personaCount(user: number): number {
    if (user < 0 || user >= this.nUsers) return 0;
    return this.pptr[user + 1]! - this.pptr[user]!;
  }

  /** A copy of a training user's personas, personaCount(user) x dim, row-major. */
  personaVectors(user: number): Float32Array {
    const d = this.params.dim;
    if (user < 0 || user >= this.nUsers) return new Float32Array(0);
    return this.P.slice(this.pptr[user]! * d, this.pptr[user + 1]! * d);
  }

  /** The responsibilities of a training user's personas for an item (equal mixture weights). */
  attention(user: number, item: number): Float32Array {
    return this.personaWeights(this.personaVectors(user), item);
  }

  /** Responsibilities of a persona set for an item (equal mixture weights). */
  attentionFor(personas: Float32Array, item: number): Float32Array {
    return this.personaWeights(personas, item);
  }

  /** The item's context vector, the part it adds to a persona it belongs to (a view; do not modify). */
  itemVector(item: number): Float32Array {
    return this.W.subarray(item * this.params.dim, (item + 1) * this.params.dim);
  }

  /** The item's target vector: z_k(i) = Q_i . p_k + B_i (a view; do not modify). */
  targetVector(item: number): Float32Array {
    const d = this.params.dim;
    return this.Q.subarray(item * d, (item + 1) * d);
  }

  /** The item's bias B_i (0 for items the model has no bias for). */
  itemBias(item: number): number {
    return this.B[item] ?? 0;
  }

  /** The candidate items (those with a training positive), ascending; a view, do not modify. */
  candidateItems(): Int32Array {
    return this.cand;
  }

  /**
   * The mixture `scorePersonas` computes for a persona set and a history: the component rows
   * (the personas, plus p_all when the whole-history component applies), their weights pi (null:
   * equal weights), the neighbour term (components x nItems, null when itemItem = 0) and the items
   * left out of the normalisers (the history; null without one). With them,
   * z_c(i) = Q_i . P_c + B_i + extra[c * nItems + i], lse_c = log sum over candidates not in excl of
   * exp z_c, and s(i) = log sum_c pi_c exp(z_c(i) - lse_c).
   */
  mixtureTerms(personas: Float32Array, history?: Int32Array): { components: Float32Array; pi: Float64Array | null; extra: Float32Array | null; excl: Uint8Array | null } {
    const c = this.components(personas, history);
    return { components: c.P, pi: c.pi, extra: c.extra, excl: c.excl };
  }

  /**
   * Each history item's persona index in `foldIn(history)` (-1 for items that are not candidates):
   * the cluster it was put in, which is the persona it has the largest cosine with.
   */
  personaMembers(history: Int32Array): Int32Array {
    const d = this.params.dim;
    const h = this.usable(history);
    const out = new Int32Array(history.length).fill(-1);
    if (h.length === 0) return out;
    const ps = this.foldIn(h);
    const mem = membersOf(this.W, d, h, ps, ps.length / d);
    const pos = new Map<number, number>();
    h.forEach((j, i) => pos.set(j, mem[i]!));
    history.forEach((j, i) => (out[i] = pos.get(j) ?? -1));
    return out;
  }

  /**
   * Personas for a history (item indices), items fixed: the history (distinct candidates) is
   * clustered into adaptive-K clusters and each persona is the scaled sum of its items' context
   * vectors. No optimisation, no random numbers; K_f x dim (K_f = 0 without a candidate item).
   */
  foldIn(items: Int32Array): Float32Array {
    const cfg = this.params;
    const h = this.usable(items);
    if (h.length === 0) return new Float32Array(0);
    const assign = new Int32Array(h.length);
    const k = clusterHistory(this.W, cfg.dim, h, adaptiveK(h.length, cfg), cfg.minClusterItems, cfg.clusterIters, assign);
    return personasOf(this.W, cfg.dim, h, assign, k, cfg.alpha);
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'personas',
      version: 2,
      config: { ...this.params, nUsers: this.nUsers, nItems: this.nItems },
      arrays: { W: this.W, Q: this.Q, B: this.B, P: this.P, pptr: this.pptr, cand: this.cand, sPtr: this.sPtr, sIdx: this.sIdx, sVal: this.sVal },
    };
  }

  static fromArtifact(a: ModelArtifact): PersonaModel {
    if (a.version !== 2) throw new Error(`personas: artifact version ${a.version} is from an older persona model; refit it`);
    const { nUsers, nItems, ...params } = a.config;
    const m = new PersonaModel(params as Partial<PersonasConfig>);
    m.nUsers = Number(nUsers);
    m.nItems = Number(nItems);
    m.W = a.arrays.W as Float32Array;
    m.Q = a.arrays.Q as Float32Array;
    m.B = a.arrays.B as Float32Array;
    m.P = a.arrays.P as Float32Array;
    m.pptr = a.arrays.pptr as Int32Array;
    m.cand = a.arrays.cand as Int32Array;
    m.sPtr = a.arrays.sPtr as Int32Array;
    m.sIdx = a.arrays.sIdx as Int32Array;
    m.sVal = a.arrays.sVal as Float32Array;
    m.candPos = new Int32Array(m.nItems).fill(-1);
    m.cand.forEach((j, c) => (m.candPos[j] = c));
    return m;
  }
}

export const personasSpec: ModelSpec = {
  name: 'personas',
  description: 'each user is K personas built from their own items (item-anchored), scored as a mixture of per-persona softmaxes; no item categories',
  schema: PersonasConfig,
  create: (params) => new PersonaModel(params as Partial<PersonasConfig>),
  fromArtifact: (a) => PersonaModel.fromArtifact(a),
  // merged over the defaults; picked by validation ndcg@20 (see docs/personas.md, "Tuning grid");
  // every entry also acts with one persona and none sets k, so the twin gets the same grid
  tuningGrid: [{}, { l2Item: 0.02 }, { itemItem: 6 }],
};
