/**
 * `personas`: every user is K persona vectors, not one (PRODUCT.md P4, P6; docs/personas.md).
 *
 * score(u, i) = b_i + v_i . sum_k a_k(u, i) p_uk,   a_k(u, i) = softmax_k(p_uk . v_i / tau)
 * (the attention score, used by `attention()`). The default list score is the mixture
 * log sum_k w_k softmax_i(p_uk . v_i + b_i) (each persona normalised over the candidates, also a
 * lone persona) plus beta * x_u B, an EASE item-item expert (Steck 2019) fitted on the same rows:
 * a product of experts, a hybrid (docs/personas.md, round 3). Explanations use `personaWeights`,
 * the personas' posterior responsibilities under equal weights.
 * With categories in the data, v_i = free_i + mean of i's learned category vectors (content-aware).
 * The fitted parameters are averaged over the last `avgEpochs` epochs.
 *
 * Training: the multinomial likelihood (a full softmax over all candidate items per user, as in
 * Mult-VAE) plus attention-entropy terms (sharp attention on positives, diffuse on the items the
 * model currently favours), L2, and a group term that pulls a user's personas toward their mean.
 * Two phases: a warm-up with one vector per user, then each user's vector is split into
 * K_u = min(k, max(1, floor(|H_u| / itemsPerPersona))) personas by spherical k-means on the user's
 * own item vectors (clusters smaller than minClusterItems are dropped), and training continues.
 * Users are processed in minibatches; each batch is cut into a fixed number of chunks whose
 * item gradients go to separate buffers summed in a fixed order, so results never depend on the
 * number of threads. Fold-in repeats both phases for one history with the items fixed.
 */
import { z } from 'zod';
import { WorkerPool, sharedFloat32, splitRange, toShared } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';
import { runEpochs } from './model.js';
import { EaseScorer } from './ease.js';
import { attentionOf, personaLse, gradChunk, personaShares, scoreUser, splitPersonas, userStep, type StepParams, type TrainState } from './personas-train.js';

export const PersonasConfig = z
  .object({
    /** Maximum personas per user. */
    k: z.number().int().min(1).max(32).default(4),
    dim: z.number().int().min(2).max(1024).default(64),
    /** Attention temperature. */
    tau: z.number().positive().default(0.25),
    /** Adam learning rate of the item side (vectors and biases). */
    lr: z.number().positive().default(0.04),
    /** Adam learning rate of the personas (each user takes one step per epoch). */
    userLr: z.number().positive().default(0.15),
    /** Learn a bias per item (a popularity prior); false keeps every bias at 0. */
    itemBias: z.boolean().default(true),
    /** Both learning rates decay linearly to this fraction by the last epoch. */
    lrEnd: z.number().min(0).max(1).default(0.1),
    /** Items with |H_u| x softmax probability below this get no backward pass. */
    skipEps: z.number().min(0).default(1e-3),
    l2Item: z.number().min(0).default(15),
    l2User: z.number().min(0).default(0.5),
    l2Group: z.number().min(0).default(0.05),
    /** Total epochs, the first `warmEpochs` of which use one vector per user. */
    epochs: z.number().int().min(1).default(20),
    /** The fitted parameters are the average of the snapshots after the last this-many epochs. */
    avgEpochs: z.number().int().min(1).default(5),
    /** Adam steps on a user's personas each time their batch comes up. */
    userSteps: z.number().int().min(1).max(8).default(1),
    warmEpochs: z.number().int().min(0).default(10),
    batchSize: z.number().int().min(1).default(32),
    /** Adaptive K: one persona per this many history items (at least 1, at most k). */
    itemsPerPersona: z.number().int().min(1).default(10),
    /** k-means clusters with fewer items are dropped when personas are split. */
    minClusterItems: z.number().int().min(1).default(3),
    /** Personas start at the user's vector plus this times the (rescaled) cluster offset. */
    splitScale: z.number().min(0).default(0.3),
    entPos: z.number().min(0).default(0.01),
    entNeg: z.number().min(0).default(0.01),
    /** Divide each user's loss by |H_u| (every user weighs the same). */
    userMean: z.boolean().default(false),
    /** Each user's loss is multiplied by |H_u|^-userPow (between the plain sum, 0, and userMean, 1). */
    userPow: z.number().min(0).max(1).default(0),
    /** Training loss of users with 2+ personas: the attention score's softmax, or the mixture of per-persona softmaxes. */
    loss: z.enum(['attention', 'mixture']).default('attention'),
    initStd: z.number().positive().default(0.1),
    /** Shared negatives sampled per batch (sampled softmax with logQ correction); 0 = full softmax. */
    negatives: z.number().int().min(0).default(500),
    /** Negatives are drawn with probability proportional to popularity^negPower. */
    negPower: z.number().min(0).max(1).default(0.5),
    /**
     * Content-aware items: v_i = free_i + mean of the vectors of i's categories (TrainSet.categories),
     * learned jointly; ignored when the data has no categories.
     */
    catEmb: z.boolean().default(true),
    /** L2 weight of the category vectors (same scaling as l2Item). */
    l2Cat: z.number().min(0).default(30),
    /**
     * Scoring: 'attention' = b_i + sum_k a_k z_k; 'mixture' = log sum_k share_k^mixGamma
     * softmax_i(z_k + b_i), each persona's softmax normalised over the candidates.
     */
    scoring: z.enum(['attention', 'mixture']).default('mixture'),
    mixGamma: z.number().min(-2).max(2).default(0),
    /**
     * Weight beta of the item-item expert: the list score is s_persona + beta * x_u B, with B the
     * EASE weights (Steck 2019) fitted on the same training rows (a product of experts). 0 = the
     * pure persona model. The item-item term depends on the history only, not on the personas.
     */
    itemItem: z.number().min(0).default(8),
    /** L2 (lambda) of the item-item expert's closed-form fit. */
    itemItemLambda: z.number().positive().default(200),
    foldInSteps: z.number().int().min(1).default(40),
    foldInLr: z.number().positive().default(0.05),
  })
  .strict();
export type PersonasConfig = z.infer<typeof PersonasConfig>;

/** Gradient chunks per batch: fixed, so the reduction order never depends on the thread count. */
const CHUNKS = 4;
const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;

const kernelUrl = new URL(import.meta.url.endsWith('.ts') ? './personas-train.ts' : './personas-train.js', import.meta.url).href;

/** The adaptive-K rule: one persona per `itemsPerPersona` history items, at least 1, at most k. */
export function adaptiveK(historyLength: number, cfg: Pick<PersonasConfig, 'k' | 'itemsPerPersona'>): number {
  if (historyLength <= 0) return 0;
  return Math.max(1, Math.min(cfg.k, Math.floor(historyLength / cfg.itemsPerPersona)));
}

export class PersonaModel implements Recommender, FoldIn {
  readonly name = 'personas';
  readonly params: PersonasConfig;
  private nItems = 0;
  private nUsers = 0;
  private V: Float32Array = new Float32Array(0);
  private B: Float32Array = new Float32Array(0);
  private P: Float32Array = new Float32Array(0);
  private pptr: Int32Array = new Int32Array(1);
  private cand: Int32Array = new Int32Array(0);
  private candPos: Int32Array = new Int32Array(0);
  private sampler: NegativeSampler | null = null;
  /** Fixed negatives of fold-in (systematic sample) and their log weights; empty = full softmax. */
  private foldPool: Int32Array = new Int32Array(0);
  private foldPoolLogW: Float32Array = new Float32Array(0);
  /** The item-item expert (null when itemItem = 0). */
  private ease: EaseScorer | null = null;
  private easeBuf: Float32Array = new Float32Array(0);
  /** Per persona set: log of each persona's softmax normaliser over the candidates (personaWeights). */
  private lseCache = new WeakMap<Float32Array, Float64Array>();

  constructor(params: Partial<PersonasConfig> = {}) {
    this.params = PersonasConfig.parse(params);
  }

  get dim(): number {
    return this.params.dim;
  }

  /** The item vectors take the category vectors when catEmb is on and the data has categories. */
  usesCategories(train: TrainSet): boolean {
    return this.params.catEmb && train.categories !== null;
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const cfg = this.params;
    const d = cfg.dim;
    const { nUsers, nItems } = train;
    this.nUsers = nUsers;
    this.nItems = nItems;
    const cand = toShared(Int32Array.from(train.candidates));
    const candPos = toShared(new Int32Array(nItems).fill(-1));
    cand.forEach((j, c) => (candPos[j] = c));
    this.cand = cand;
    this.candPos = candPos;
    // item vectors ~ N(0, initStd^2), biases = centred log popularity (the softmax's prior)
    const V = sharedFloat32(nItems * d);
    const B = sharedFloat32(nItems);
    const rngItems = ctx.rng.derive('personas', 'items');
    let meanLog = 0;
    for (const j of cand) meanLog += Math.log(train.itemPopularity[j]! + 1);
    meanLog /= Math.max(1, cand.length);
    for (const j of cand) {
      for (let x = 0; x < d; x++) V[j * d + x] = cfg.initStd * rngItems.normal();
      if (cfg.itemBias) B[j] = Math.log(train.itemPopularity[j]! + 1) - meanLog;
    }
    const hptr = toShared(train.userItems.indptr);
    const hidx = toShared(train.userItems.indices);
    const active: number[] = [];
    for (let u = 0; u < nUsers; u++) if (hptr[u + 1]! > hptr[u]!) active.push(u);
    const activeUsers = Int32Array.from(active);
    const gV = Array.from({ length: CHUNKS }, () => sharedFloat32(nItems * d));
    const gB = Array.from({ length: CHUNKS }, () => sharedFloat32(nItems));
    const cats = cfg.catEmb && train.categories ? train.categories : null;
    const items = new ItemAdam(V, B, cand, d, cfg.itemBias, cats, cfg.l2Cat / Math.max(1e-12, cfg.l2Item));

    // phase 1: one vector per user
    const pptr1 = toShared(new Int32Array(nUsers + 1));
    for (let u = 0; u < nUsers; u++) pptr1[u + 1] = pptr1[u]! + (hptr[u + 1]! > hptr[u]! ? 1 : 0);
    const P1 = sharedFloat32(pptr1[nUsers]! * d);
    const rngUsers = ctx.rng.derive('personas', 'users');
    for (let x = 0; x < P1.length; x++) P1[x] = cfg.initStd * rngUsers.normal();
    const mk = (P: Float32Array, pptr: Int32Array): TrainState => ({
      d, nItems, V, B, P, mP: sharedFloat32(P.length), vP: sharedFloat32(P.length), pptr, hptr, hidx, cand, candPos, gV, gB,
      pool: cand, poolLogW: new Float32Array(cand.length),
    });
    this.sampler = new NegativeSampler(cand, train.itemPopularity, cfg.negPower);
    if (cfg.negatives > 0) {
      const fixed = this.sampler.draw(cfg.negatives, null);
      this.foldPool = fixed.items;
      this.foldPoolLogW = fixed.logW;
    } else {
      this.foldPool = new Int32Array(0);
      this.foldPoolLogW = new Float32Array(0);
    }
    // the model is usable between epochs (e.g. from onProgress), on the live arrays
    this.V = V;
    this.B = B;
    this.P = P1;
    this.pptr = pptr1;
    const threads = Math.max(1, Math.min(ctx.threads, CHUNKS));
    const pool = threads > 1 ? new WorkerPool(threads) : null;
    try {
      const warm = Math.min(cfg.warmEpochs, cfg.epochs);
      const st1 = mk(P1, pptr1);
      if (warm > 0) await runEpochs(ctx, 'personas: warm-up', warm, (e) => this.epoch(st1, items, activeUsers, e, ctx.rng.derive('personas', 'warm', e), pool, e + 1));
      // phase 2: split each user's vector into adaptive-K personas
      const pptr = toShared(new Int32Array(nUsers + 1));
      const parts: Float32Array[] = [];
      for (let u = 0; u < nUsers; u++) {
        const h = hidx.subarray(hptr[u]!, hptr[u + 1]!);
        const ku = adaptiveK(h.length, cfg);
        let ps: Float32Array = new Float32Array(0);
        if (ku > 0) ps = splitPersonas(P1.subarray(pptr1[u]! * d, pptr1[u + 1]! * d), h, V, d, ku, cfg.minClusterItems, cfg.splitScale);
        parts.push(ps);
        pptr[u + 1] = pptr[u]! + ps.length / d;
      }
      const P = sharedFloat32(pptr[nUsers]! * d);
      parts.forEach((ps, u) => P.set(ps, pptr[u]! * d));
      const st2 = mk(P, pptr);
      // personas inherit their user's Adam moments, so the step sizes continue smoothly
      for (let u = 0; u < nUsers; u++) {
        for (let q = pptr[u]!; q < pptr[u + 1]!; q++) {
          st2.mP.set(st1.mP.subarray(pptr1[u]! * d, pptr1[u + 1]! * d), q * d);
          st2.vP.set(st1.vP.subarray(pptr1[u]! * d, pptr1[u + 1]! * d), q * d);
        }
      }
      this.P = P;
      this.pptr = pptr;
      const rest = cfg.epochs - warm;
      // the final parameters are the mean of the snapshots after the last `avgEpochs` epochs
      const nAvg = Math.min(cfg.avgEpochs, rest);
      const sV = nAvg > 1 ? new Float64Array(V.length) : null;
      const sB = nAvg > 1 ? new Float64Array(B.length) : null;
      const sP = nAvg > 1 ? new Float64Array(P.length) : null;
      if (rest > 0) {
        await runEpochs(ctx, 'personas', rest, async (e) => {
          const loss = await this.epoch(st2, items, activeUsers, e, ctx.rng.derive('personas', 'main', e), pool, warm + e + 1);
          if (sV && sB && sP && e >= rest - nAvg) {
            for (let x = 0; x < V.length; x++) sV[x] += V[x]!;
            for (let x = 0; x < B.length; x++) sB[x] += B[x]!;
            for (let x = 0; x < P.length; x++) sP[x] += P[x]!;
          }
          return loss;
        });
      }
      this.V = sV ? Float32Array.from(sV, (x) => x / nAvg) : Float32Array.from(V);
      this.B = sB ? Float32Array.from(sB, (x) => x / nAvg) : Float32Array.from(B);
      this.P = sP ? Float32Array.from(sP, (x) => x / nAvg) : Float32Array.from(P);
      this.pptr = Int32Array.from(pptr);
    } finally {
      await pool?.close();
    }
    this.lseCache = new WeakMap();
    if (cfg.itemItem > 0) {
      const ease = new EaseScorer({ lambda: cfg.itemItemLambda });
      await ease.fit(train, ctx);
      this.ease = ease;
    } else {
      this.ease = null;
    }
  }

  /** Adds beta * (item-item scores of each batch row's history) to `out` (rows of nItems). */
  private addItemItem(batch: UserBatch, out: Float32Array): void {
    if (!this.ease || this.params.itemItem === 0) return;
    const n = this.nItems;
    const need = batch.users.length * n;
    if (this.easeBuf.length < need) this.easeBuf = new Float32Array(need);
    const buf = this.easeBuf.subarray(0, need);
    this.ease.scoreBatch(batch, buf);
    const beta = this.params.itemItem;
    for (let x = 0; x < need; x++) out[x] = out[x]! + beta * buf[x]!;
  }

  private stepParams(t: number, updateItems: boolean, lr = this.params.lr): StepParams {
    const c = this.params;
    return {
      tau: c.tau, lr, beta1: ADAM_B1, beta2: ADAM_B2, t, l2User: c.l2User, l2Group: c.l2Group,
      entPos: c.entPos, entNeg: c.entNeg, userMean: c.userMean, userPow: c.userPow, mixture: c.loss === 'mixture', skipEps: c.skipEps, updateItems, userSteps: c.userSteps,
    };
  }

  /** One pass over the users in seeded-shuffled minibatches; returns the mean loss per user. */
  private async epoch(st: TrainState, items: ItemAdam, users: Int32Array, e: number, rng: Rng, pool: WorkerPool | null, t: number): Promise<number> {
    const order = rng.shuffle(Int32Array.from(users));
    // learning rates decay linearly from 1x to lrEnd x over the epochs
    const cfg = this.params;
    const decay = cfg.epochs > 1 ? 1 - ((1 - cfg.lrEnd) * (t - 1)) / (cfg.epochs - 1) : 1;
    const prm = this.stepParams(t, true, cfg.userLr * decay);
    const bs = this.params.batchSize;
    let loss = 0;
    for (let s = 0; s < order.length; s += bs) {
      const batch = order.subarray(s, Math.min(order.length, s + bs));
      if (this.params.negatives > 0 && this.sampler) {
        const drawn = this.sampler.draw(this.params.negatives, rng);
        st.pool = drawn.items;
        st.poolLogW = drawn.logW;
      }
      const ranges = splitRange(batch.length, CHUNKS);
      const losses = await Promise.all(
        ranges.map(([a, b], c) => {
          const us = batch.slice(a, b);
          return pool ? pool.run<number>(kernelUrl, 'gradChunk', [st, prm, us, c]) : Promise.resolve(gradChunk(st, prm, us, c));
        }),
      );
      for (const l of losses) loss += l;
      // chunks that got no users (tiny batch) must not contribute stale gradients
      items.step(st.gV.slice(0, ranges.length), st.gB.slice(0, ranges.length), cfg.lr * decay, (2 * cfg.l2Item * batch.length) / users.length);
    }
    return loss / Math.max(1, users.length);
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    const d = this.params.dim;
    for (let b = 0; b < batch.users.length; b++) {
      const row = out.subarray(b * n, (b + 1) * n);
      const u = batch.users[b]!;
      if (u >= 0 && u < this.nUsers && this.pptr[u + 1]! > this.pptr[u]!) {
        const base = this.pptr[u]! * d;
        const k = this.pptr[u + 1]! - this.pptr[u]!;
        const mix = this.mixOf(this.P, base, k, batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!));
        scoreUser(this.V, this.B, this.P, base, k, d, this.params.tau, this.cand, row, mix);
      } else {
        const hist = batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!);
        this.scorePersonasOnly(this.foldIn(hist), row, hist);
      }
    }
    this.addItemItem(batch, out);
  }

  private mixOf(P: Float32Array, base: number, k: number, hist: Int32Array | undefined): { shares: Float64Array; gamma: number } | null {
    if (this.params.scoring !== 'mixture' || k === 0) return null;
    // one persona: still normalised (log softmax), so any persona subset scores on the same scale
    if (this.params.mixGamma === 0 || k === 1) return { shares: new Float64Array(k).fill(1 / k), gamma: 0 };
    const d = this.params.dim;
    const h = hist ? Int32Array.from(hist).filter((j) => j >= 0 && j < this.nItems && this.candPos[j]! >= 0) : new Int32Array(0);
    const shares = h.length > 0 ? personaShares(this.V, P, base, k, d, this.params.tau, h) : new Float64Array(k).fill(1 / k);
    return { shares, gamma: this.params.mixGamma };
  }

  /**
   * Scores of a persona set (e.g. from `foldIn`) for every item (non-candidates: -Infinity).
   * `history` (optional) gives the persona shares of mixture scoring (uniform without it).
   */
  scorePersonas(personas: Float32Array, out: Float32Array, history?: Int32Array): void {
    this.scorePersonasOnly(personas, out, history);
    if (history) this.addItemItem({ users: Int32Array.of(-1), indptr: Int32Array.of(0, history.length), items: history }, out);
  }

  private scorePersonasOnly(personas: Float32Array, out: Float32Array, history?: Int32Array): void {
    const d = this.params.dim;
    const k = personas.length / d;
    scoreUser(this.V, this.B, personas, 0, k, d, this.params.tau, this.cand, out, this.mixOf(personas, 0, k, history));
  }

  /**
   * How much each persona carries `item` (sums to 1). Mixture scoring: the posterior
   * responsibility of persona k for the item under equal prior weights,
   * r_k = p_k(i) / sum_q p_q(i) with p_k = softmax over the candidates of (z_k + b). The arg-max
   * is the persona whose own distribution puts the most mass on the item; with mixGamma 0 removing
   * it can only lower the mixture score (the other personas' p_q(i) are smaller than the mixture's
   * average). Attention scoring, or one persona: the attention weights.
   */
  personaWeights(personas: Float32Array, item: number): Float32Array {
    const d = this.params.dim;
    const k = personas.length / d;
    if (this.params.scoring !== 'mixture' || k <= 1 || item < 0 || item >= this.nItems || this.candPos[item]! < 0) return this.attentionFor(personas, item);
    let lse = this.lseCache.get(personas);
    if (!lse) {
      lse = personaLse(this.V, this.B, personas, 0, k, d, this.cand);
      this.lseCache.set(personas, lse);
    }
    const out = new Float32Array(k);
    const lp = new Float64Array(k);
    let m = -Infinity;
    for (let q = 0; q < k; q++) {
      let z = 0;
      for (let x = 0; x < d; x++) z += personas[q * d + x]! * this.V[item * d + x]!;
      lp[q] = z - lse[q]!;
      if (lp[q]! > m) m = lp[q]!;
    }
    let sum = 0;
    for (let q = 0; q < k; q++) sum += lp[q] = Math.exp(lp[q]! - m);
    for (let q = 0; q < k; q++) out[q] = lp[q]! / sum;
    return out;
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

  /** The attention weights a_k(user, item) over the user's personas (sum to 1). */
  attention(user: number, item: number): Float32Array {
    const d = this.params.dim;
    return attentionOf(this.V, this.P, this.pptr[user]! * d, this.personaCount(user), d, this.params.tau, item);
  }

  /** Attention weights of a persona set (e.g. from `foldIn`) for an item. */
  attentionFor(personas: Float32Array, item: number): Float32Array {
    const d = this.params.dim;
    return attentionOf(this.V, personas, 0, personas.length / d, d, this.params.tau, item);
  }

  /** The item vector (a view; do not modify). */
  itemVector(item: number): Float32Array {
    const d = this.params.dim;
    return this.V.subarray(item * d, (item + 1) * d);
  }

  /**
   * Personas for a new or changed history (item indices), items fixed: a single vector is fitted
   * (foldInSteps Adam steps on the softmax over the history and a fixed systematic sample of
   * `negatives` items, or all candidates when negatives = 0), split by the adaptive-K rule and
   * k-means, and the personas refined with as many steps again. Deterministic; returns K_f x dim
   * (K_f = 0 when no history item is a candidate).
   */
  foldIn(items: Int32Array): Float32Array {
    const cfg = this.params;
    const d = cfg.dim;
    const hist = Int32Array.from(new Set(Array.from(items).filter((j) => j >= 0 && j < this.nItems && this.candPos[j]! >= 0))).sort();
    if (hist.length === 0) return new Float32Array(0);
    const mk = (P: Float32Array): TrainState => ({
      d, nItems: this.nItems, V: this.V, B: this.B, P, mP: new Float32Array(P.length), vP: new Float32Array(P.length),
      pptr: Int32Array.of(0, P.length / d), hptr: Int32Array.of(0, hist.length), hidx: hist, cand: this.cand, candPos: this.candPos, gV: [], gB: [],
      pool: this.foldPool.length > 0 ? this.foldPool : this.cand,
      poolLogW: this.foldPool.length > 0 ? this.foldPoolLogW : new Float32Array(this.cand.length),
    });
    const p1 = new Float32Array(d);
    const st1 = mk(p1);
    for (let t = 1; t <= cfg.foldInSteps; t++) userStep(st1, this.stepParams(t, false, cfg.foldInLr), 0, null, null);
    const ku = adaptiveK(hist.length, cfg);
    if (ku <= 1) return p1;
    const ps = splitPersonas(p1, hist, this.V, d, ku, cfg.minClusterItems, cfg.splitScale);
    if (ps.length === d) return ps;
    const st2 = mk(ps);
    for (let t = 1; t <= cfg.foldInSteps; t++) userStep(st2, this.stepParams(t, false, cfg.foldInLr), 0, null, null);
    return ps;
  }

  toArtifact(): ModelArtifact {
    const ease = this.ease?.toArtifact().arrays;
    return {
      kind: 'personas',
      version: 1,
      config: { ...this.params, nUsers: this.nUsers, nItems: this.nItems },
      arrays: {
        V: this.V, B: this.B, P: this.P, pptr: this.pptr, cand: this.cand, foldPool: this.foldPool, foldPoolLogW: this.foldPoolLogW,
        ...(ease ? { easeWeights: ease.weights!, easeCandidates: ease.candidates! } : {}),
      },
    };
  }

  static fromArtifact(a: ModelArtifact): PersonaModel {
    const { nUsers, nItems, ...params } = a.config;
    const m = new PersonaModel(params as Partial<PersonasConfig>);
    m.nUsers = Number(nUsers);
    m.nItems = Number(nItems);
    m.V = a.arrays.V as Float32Array;
    m.B = a.arrays.B as Float32Array;
    m.P = a.arrays.P as Float32Array;
    m.pptr = a.arrays.pptr as Int32Array;
    m.cand = a.arrays.cand as Int32Array;
    m.foldPool = (a.arrays.foldPool as Int32Array | undefined) ?? new Int32Array(0);
    m.foldPoolLogW = (a.arrays.foldPoolLogW as Float32Array | undefined) ?? new Float32Array(0);
    m.candPos = new Int32Array(m.nItems).fill(-1);
    m.cand.forEach((j, c) => (m.candPos[j] = c));
    const ew = a.arrays.easeWeights as Float32Array | undefined;
    const ec = a.arrays.easeCandidates as Int32Array | undefined;
    if (ew && ec && m.params.itemItem > 0) {
      m.ease = EaseScorer.fromArtifact({ kind: 'ease', version: 1, config: { lambda: m.params.itemItemLambda }, arrays: { weights: ew, candidates: ec, nItems: Int32Array.of(m.nItems) } });
    }
    return m;
  }
}

/** Draws a batch's shared negatives with replacement, q(j) ~ popularity^power; distinct items with log(count / (N q)). */
class NegativeSampler {
  private readonly cdf: Float64Array;
  private readonly q: Float64Array;
  private readonly count: Int32Array;

  constructor(
    private readonly cand: Int32Array,
    popularity: Int32Array,
    power: number,
  ) {
    this.q = Float64Array.from(cand, (j) => Math.pow(Math.max(1, popularity[j]!), power));
    let sum = 0;
    for (const x of this.q) sum += x;
    this.cdf = new Float64Array(cand.length);
    let acc = 0;
    for (let c = 0; c < cand.length; c++) {
      this.q[c] = this.q[c]! / sum;
      acc += this.q[c]!;
      this.cdf[c] = acc;
    }
    this.count = new Int32Array(cand.length);
  }

  /** `n` draws; with no rng, systematic sampling at the CDF points (s + 0.5) / n (deterministic). */
  draw(n: number, rng: Rng | null): { items: Int32Array; logW: Float32Array } {
    const { cdf, count } = this;
    count.fill(0);
    const last = cdf.length - 1;
    for (let s = 0; s < n; s++) {
      const r = (rng ? rng.next() : (s + 0.5) / n) * cdf[last]!;
      let lo = 0;
      let hi = last;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > r) hi = mid;
        else lo = mid + 1;
      }
      count[lo]!++;
    }
    let m = 0;
    for (let c = 0; c < count.length; c++) if (count[c]! > 0) m++;
    const items = new Int32Array(m);
    const logW = new Float32Array(m);
    m = 0;
    for (let c = 0; c < count.length; c++) {
      if (count[c]! === 0) continue;
      items[m] = this.cand[c]!;
      logW[m] = Math.log(count[c]! / (n * this.q[c]!));
      m++;
    }
    return { items, logW };
  }
}

/**
 * Adam on the candidate rows of the item vectors and biases (dense: the softmax touches all).
 * With categories, the free part F and the category vectors G are the parameters and
 * V_j = F_j + mean_{g in cats(j)} G_g is recomputed after every step.
 */
class ItemAdam {
  private readonly mV: Float32Array;
  private readonly vV: Float32Array;
  private readonly mB: Float32Array;
  private readonly vB: Float32Array;
  private readonly F: Float32Array | null = null;
  private readonly G: Float32Array = new Float32Array(0);
  private readonly mG: Float32Array = new Float32Array(0);
  private readonly vG: Float32Array = new Float32Array(0);
  private readonly gG: Float64Array = new Float64Array(0);
  private readonly row: Float64Array;
  private t = 0;

  constructor(
    private readonly V: Float32Array,
    private readonly B: Float32Array,
    private readonly cand: Int32Array,
    private readonly d: number,
    private readonly learnBias: boolean,
    private readonly cats: { ptr: Int32Array; idx: Int32Array; names: readonly string[] } | null = null,
    private readonly catL2Ratio = 1,
  ) {
    this.mV = new Float32Array(V.length);
    this.vV = new Float32Array(V.length);
    this.mB = new Float32Array(B.length);
    this.vB = new Float32Array(B.length);
    this.row = new Float64Array(d);
    if (cats) {
      this.F = Float32Array.from(V);
      const nc = cats.names.length;
      this.G = new Float32Array(nc * d);
      this.mG = new Float32Array(nc * d);
      this.vG = new Float32Array(nc * d);
      this.gG = new Float64Array(nc * d);
    }
  }

  /** Sums the chunk gradients in chunk order, adds L2 (weight `l2` on V), takes one Adam step. */
  step(gV: readonly Float32Array[], gB: readonly Float32Array[], lr: number, l2: number): void {
    this.t++;
    const c1 = 1 / (1 - Math.pow(ADAM_B1, this.t));
    const c2 = 1 / (1 - Math.pow(ADAM_B2, this.t));
    const { V, B, d, mV, vV, mB, vB, F, cats, G, gG, row } = this;
    const X = F ?? V;
    const nc = gV.length;
    if (cats) gG.fill(0);
    for (const j of this.cand) {
      for (let x = 0; x < d; x++) {
        let g = 0;
        for (let c = 0; c < nc; c++) g += gV[c]![j * d + x]!;
        row[x] = g;
      }
      if (cats) {
        const a = cats.ptr[j]!;
        const b = cats.ptr[j + 1]!;
        const inv = b > a ? 1 / (b - a) : 0;
        for (let q = a; q < b; q++) {
          const go = cats.idx[q]! * d;
          for (let x = 0; x < d; x++) gG[go + x] += row[x]! * inv;
        }
      }
      for (let x = 0; x < d; x++) {
        const o = j * d + x;
        const g = row[x]! + l2 * X[o]!;
        const m = (mV[o] = ADAM_B1 * mV[o]! + (1 - ADAM_B1) * g);
        const v = (vV[o] = ADAM_B2 * vV[o]! + (1 - ADAM_B2) * g * g);
        X[o] = X[o]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
      }
      if (!this.learnBias) continue;
      let g = 0;
      for (let c = 0; c < nc; c++) g += gB[c]![j]!;
      const m = (mB[j] = ADAM_B1 * mB[j]! + (1 - ADAM_B1) * g);
      const v = (vB[j] = ADAM_B2 * vB[j]! + (1 - ADAM_B2) * g * g);
      B[j] = B[j]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
    }
    if (!cats || !F) return;
    const l2c = l2 * this.catL2Ratio;
    const { mG, vG } = this;
    for (let o = 0; o < G.length; o++) {
      const g = gG[o]! + l2c * G[o]!;
      const m = (mG[o] = ADAM_B1 * mG[o]! + (1 - ADAM_B1) * g);
      const v = (vG[o] = ADAM_B2 * vG[o]! + (1 - ADAM_B2) * g * g);
      G[o] = G[o]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
    }
    for (const j of this.cand) {
      const a = cats.ptr[j]!;
      const b = cats.ptr[j + 1]!;
      const inv = b > a ? 1 / (b - a) : 0;
      for (let x = 0; x < d; x++) row[x] = 0;
      for (let q = a; q < b; q++) {
        const go = cats.idx[q]! * d;
        for (let x = 0; x < d; x++) row[x] += G[go + x]!;
      }
      for (let x = 0; x < d; x++) V[j * d + x] = F[j * d + x]! + row[x]! * inv;
    }
  }
}

export const personasSpec: ModelSpec = {
  name: 'personas',
  description: 'K persona vectors per user with item-conditioned attention and category-aware item vectors, trained with a (sampled) softmax loss',
  schema: PersonasConfig,
  create: (params) => new PersonaModel(params as Partial<PersonasConfig>),
  fromArtifact: (a) => PersonaModel.fromArtifact(a),
  // merged over the defaults; picked by validation ndcg@20 (see docs/personas.md)
  tuningGrid: [{}, { itemItem: 4 }, { itemItem: 16 }, { itemsPerPersona: 20 }],
};
