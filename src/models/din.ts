/**
 * `din`: Deep Interest Network (Zhou et al., arXiv 1706.06978). The user has no vector: a candidate
 * i is scored by attention over the user's history items (behaviours), with an attention unit
 * on the candidate's embedding, each behaviour's embedding and their product:
 *
 *   a_ij = (c ⊙ e_i + v) . e_j,   w_ij = softmax_j(a_ij),   s(u, i) = |H|^(1-alpha) Q_i . sum_j w_ij e_j + B_i
 *
 * (e = the items' behaviour embeddings, Q = target vectors, B = biases, c and v = the unit's
 * weights). The unit is DIN's activation unit without its hidden layer, so that all candidate x
 * behaviour pairs are two matrix products (scoring runs them on the WebAssembly kernels of
 * src/math/nn-kernels.ts, in din-score.ts); the weights are normalised over the behaviours and the sum is scaled
 * by |H|^(1-alpha) (DIN leaves the weights unnormalised, i.e. alpha = 0 with uniform attention;
 * with uniform weights and alpha = 0.5 the user is the one vector of `personas:k=1`). `recent` = N attends over the last N behaviours only (by time when the training
 * set has times, else in the order given). Trained like `personas`: each epoch holds out a share
 * of every history as targets and maximises their sampled softmax (logQ correction, shared
 * popularity-skewed negatives, sparse Adam on the touched item rows). Fold-in is free: the
 * history is the user, so a training user and the same history as an unknown user score the same.
 * Memory: items x d (e, Q, Adam moments, gradient buffers) plus interactions; never items^2.
 */
import { z } from 'zod';
import { sharedFloat32, toShared } from '../math/pool.js';
import { DinScorer } from './din-score.js';
import { attend, gradChunk, historyScale, type DinState, type DinStep } from './din-train.js';
import { activeUsers, chunkBuffers, chunkPool, CHUNKS, decayedLr, initItemVectors, ItemAdam, itemEpoch, NegativeSampler, type EpochRun } from './item-train.js';
import type { FitContext, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';
import { runEpochs } from './model.js';

export const DinConfig = z
  .object({
    dim: z.number().int().min(2).max(1024).default(32),
    /** The attended sum is scaled by |H|^(1-alpha) (1 = a weighted mean, 0 = DIN's unnormalised sum). */
    alpha: z.number().min(0).max(1).default(0.5),
    /** Attend over the last this-many behaviours only (0 = the whole history). */
    recent: z.number().int().min(0).default(0),
    /** Share of each history held out as targets per epoch (the rest are the behaviours). */
    holdout: z.number().gt(0).lt(1).default(0.25),
    /** Adam learning rate (decays linearly to lrEnd x by the last epoch). */
    lr: z.number().positive().default(0.01),
    lrEnd: z.number().min(0).max(1).default(0.1),
    /** L2 on the item vectors (applied to the rows a batch touches). */
    l2Item: z.number().min(0).default(0.03),
    epochs: z.number().int().min(1).default(15),
    batchSize: z.number().int().min(1).default(32),
    /** Shared negatives per batch (sampled softmax with logQ correction). */
    negatives: z.number().int().min(1).default(200),
    /** Negatives are drawn with probability proportional to popularity^negPower. */
    negPower: z.number().min(0).max(1).default(0.5),
    skipEps: z.number().min(0).default(1e-4),
    initStd: z.number().positive().default(0.05),
  })
  .strict();
export type DinConfig = z.infer<typeof DinConfig>;

const kernelUrl = new URL(import.meta.url.endsWith('.ts') ? './din-train.ts' : './din-train.js', import.meta.url).href;

/** One behaviour's part in a score (see `DinModel.explain`). */
export interface BehaviourShare {
  /** The history item (index). */
  readonly item: number;
  /** Its attention weight w_ij (the weights of a history sum to 1). */
  readonly weight: number;
  /** What it adds to the score: |H|^(1-alpha) w_ij (Q_i . e_j). */
  readonly contribution: number;
}

export class DinModel implements Recommender {
  readonly name = 'din';
  readonly params: DinConfig;
  private nItems = 0;
  private nUsers = 0;
  private W: Float32Array = new Float32Array(0);
  private Q: Float32Array = new Float32Array(0);
  private B: Float32Array = new Float32Array(0);
  private att: Float32Array = new Float32Array(0);
  private cand: Int32Array = new Int32Array(0);
  private isCand: Uint8Array = new Uint8Array(0);
  /** Training histories, oldest first (the order `recent` reads for training users). */
  private hptr: Int32Array = new Int32Array(1);
  private hidx: Int32Array = new Int32Array(0);
  private scorer: DinScorer | null = null;

  constructor(params: Partial<DinConfig> = {}) {
    this.params = DinConfig.parse(params);
  }

  usesCategories(_train: TrainSet): boolean {
    return false;
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const cfg = this.params;
    const d = cfg.dim;
    const { nUsers, nItems } = train;
    this.nUsers = nUsers;
    this.nItems = nItems;
    this.setCandidates(Int32Array.from(train.candidates));
    this.orderHistories(train);
    const { W, Q, B } = initItemVectors(train, this.cand, d, cfg.initStd, true, ctx.rng.derive('din', 'items'));
    const att = sharedFloat32(2 * d);
    // the unit starts as plain similarity: c = 1, v = 0
    att.fill(1, 0, d);
    const st: DinState = {
      d, nItems, W, Q, B, att, hptr: toShared(this.hptr), hidx: toShared(this.hidx),
      pool: new Int32Array(0), poolLogW: new Float32Array(0),
      ...chunkBuffers(nItems, d),
      gAtt: Array.from({ length: CHUNKS }, () => sharedFloat32(2 * d)),
    };
    const opt = new ItemAdam(st, true);
    const unitAdam = new DenseAdam(2 * d);
    const pool = chunkPool(ctx.threads);
    const run: EpochRun<DinState, DinStep> = {
      st, users: activeUsers(this.hptr, nUsers), batchSize: cfg.batchSize, pool, kernelUrl, gradChunk,
      sampler: new NegativeSampler(this.cand, train.itemPopularity, cfg.negPower), negatives: cfg.negatives,
    };
    try {
      await runEpochs(ctx, 'din', cfg.epochs, async (e) => {
        const lr = decayedLr(cfg.lr, cfg.lrEnd, e, cfg.epochs);
        const params = (seed: number): DinStep => ({ holdout: cfg.holdout, seed, recent: cfg.recent, skipEps: cfg.skipEps, alpha: cfg.alpha });
        return itemEpoch(run, ctx.rng.derive('din', 'epoch', e), params, (chunks) => {
          // the unit's gradient: chunks summed in order, then zeroed
          const g = new Float64Array(2 * d);
          for (let c = 0; c < chunks; c++) {
            const gc = st.gAtt[c]!;
            for (let x = 0; x < g.length; x++) g[x] += gc[x]!;
            gc.fill(0);
          }
          unitAdam.step(st.att, g, lr);
          opt.step(chunks, lr, cfg.l2Item);
        });
      });
    } finally {
      await pool?.close();
    }
    this.W = Float32Array.from(W);
    this.Q = Float32Array.from(Q);
    this.B = Float32Array.from(B);
    this.att = Float32Array.from(att);
    this.scorer = null;
  }

  private setCandidates(cand: Int32Array): void {
    this.cand = cand;
    this.isCand = new Uint8Array(this.nItems);
    for (const j of cand) this.isCand[j] = 1;
  }

  /** Each training row ordered by (time, item) when the training set has times, else by item. */
  private orderHistories(train: TrainSet): void {
    const { indptr, indices } = train.userItems;
    const time = train.userItemTime;
    this.hptr = Int32Array.from(indptr);
    this.hidx = Int32Array.from(indices);
    if (!time) return;
    for (let u = 0; u < train.nUsers; u++) {
      const a = indptr[u]!;
      const pos = Array.from({ length: indptr[u + 1]! - a }, (_, k) => a + k);
      pos.sort((p, q) => time[p]! - time[q]! || indices[p]! - indices[q]!);
      pos.forEach((p, k) => (this.hidx[a + k] = indices[p]!));
    }
  }

  /**
   * The behaviours a history contributes: its distinct candidate items, oldest first (a training
   * user's rows are reordered by their training times; items not among them keep the given order,
   * after them), the last `recent` when set.
   */
  behaviours(user: number, history: Int32Array): Int32Array {
    const seen = new Set<number>();
    let h: number[] = [];
    for (const j of history) {
      if (j < 0 || j >= this.nItems || !this.isCand[j] || seen.has(j)) continue;
      seen.add(j);
      h.push(j);
    }
    if (user >= 0 && user < this.nUsers) {
      const pos = new Map<number, number>();
      for (let p = this.hptr[user]!; p < this.hptr[user + 1]!; p++) pos.set(this.hidx[p]!, p);
      const known = h.filter((j) => pos.has(j)).sort((a, b) => pos.get(a)! - pos.get(b)!);
      h = [...known, ...h.filter((j) => !pos.has(j))];
    }
    const r = this.params.recent;
    return Int32Array.from(r > 0 && h.length > r ? h.slice(h.length - r) : h);
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    for (let b = 0; b < batch.users.length; b++) {
      const hist = this.behaviours(batch.users[b]!, batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!));
      this.scoreBehaviours(hist, out.subarray(b * n, (b + 1) * n));
    }
  }

  /**
   * Scores of every item for a set of behaviours (item indices, used as given: no window, no
   * de-duplication); non-candidates -Infinity, and only the bias B_i without behaviours.
   */
  scoreBehaviours(hist: Int32Array, out: Float32Array): void {
    const d = this.params.dim;
    const vecs = new Float32Array(hist.length * d);
    hist.forEach((j, h) => vecs.set(this.W.subarray(j * d, (j + 1) * d), h * d));
    this.scoreVectors(vecs, null, historyScale(hist.length, this.params.alpha), out);
  }

  /**
   * The scorer over any memory of vectors in the behaviour space (rows of `vecs`, m x dim):
   * s(i) = scale x Q_i . sum_k w_ik m_k + B_i with w_ik = softmax_k(q_i . m_k + logWeight_k)
   * (logWeight null = 0: a memory vector that stands for n behaviours with equal logits gets
   * log n). Items' own behaviours are `scoreBehaviours`; `study memory` also scores persona
   * summaries. Non-candidates -Infinity; only B_i when m = 0. (din-score.ts)
   */
  scoreVectors(vecs: Float32Array, logWeight: Float64Array | null, scale: number, out: Float32Array): void {
    this.scorerOf().scoreVectors(vecs, logWeight, scale, out);
  }

  /**
   * Similarity retrieval (the memory of `study memory` that keeps, for each candidate, the
   * behaviours most similar to it): for each budget ns[t], every candidate i attends over the
   * ns[t] behaviours of `hist` with the largest cosine between e_i and e_j (ties: the later
   * behaviour), scaled by |kept|^(1-alpha); scores go to outs[t] (non-candidates -Infinity).
   */
  scoreSimilar(hist: Int32Array, ns: readonly number[], outs: readonly Float32Array[]): void {
    this.scorerOf().scoreSimilar(hist, ns, outs);
  }

  /** The scorer over the fitted arrays, built on first use (fit drops it). */
  private scorerOf(): DinScorer {
    this.scorer ??= new DinScorer({ nItems: this.nItems, dim: this.params.dim, alpha: this.params.alpha, W: this.W, Q: this.Q, B: this.B, att: this.att, cand: this.cand });
    return this.scorer;
  }


  get dim(): number {
    return this.params.dim;
  }

  /** The behaviour embeddings e (items x dim, row-major; a view, do not modify). */
  embeddings(): Float32Array {
    return this.W;
  }

  /**
   * Which behaviours carried `item`'s score for a user with this history (`user` = training user
   * index or -1): every behaviour of the window with its attention weight and its contribution
   * |H|^(1-alpha) w_ij (Q_i . e_j) to the score, largest contribution first. The contributions plus
   * B_i are the score (up to float rounding). Empty for a non-candidate or an empty history.
   */
  explain(user: number, history: Int32Array, item: number): BehaviourShare[] {
    if (item < 0 || item >= this.nItems || !this.isCand[item]) return [];
    const hist = this.behaviours(user, history);
    const w = new Float64Array(hist.length);
    const s = new Float64Array(hist.length);
    attend(this.W, this.Q, this.att, this.params.dim, item, hist, hist.length, w, s);
    const f = historyScale(hist.length, this.params.alpha);
    const out = Array.from(hist, (j, h) => ({ item: j, weight: w[h]!, contribution: f * w[h]! * s[h]! }));
    return out.sort((a, b) => b.contribution - a.contribution || a.item - b.item);
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'din',
      version: 1,
      config: { ...this.params, nUsers: this.nUsers, nItems: this.nItems },
      arrays: { W: this.W, Q: this.Q, B: this.B, att: this.att, cand: this.cand, hptr: this.hptr, hidx: this.hidx },
    };
  }

  static fromArtifact(a: ModelArtifact): DinModel {
    if (a.version !== 1) throw new Error(`din: artifact version ${a.version} is not supported; refit it`);
    const { nUsers, nItems, ...params } = a.config;
    const m = new DinModel(params as Partial<DinConfig>);
    m.nUsers = Number(nUsers);
    m.nItems = Number(nItems);
    m.W = a.arrays.W as Float32Array;
    m.Q = a.arrays.Q as Float32Array;
    m.B = a.arrays.B as Float32Array;
    m.att = a.arrays.att as Float32Array;
    m.hptr = a.arrays.hptr as Int32Array;
    m.hidx = a.arrays.hidx as Int32Array;
    m.setCandidates(a.arrays.cand as Int32Array);
    return m;
  }
}

/** Plain Adam on a small dense vector (the attention unit's 2d weights). */
class DenseAdam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(n: number) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }

  step(w: Float32Array, g: Float64Array, lr: number): void {
    const t = ++this.t;
    const c1 = 1 / (1 - Math.pow(0.9, t));
    const c2 = 1 / (1 - Math.pow(0.999, t));
    for (let x = 0; x < w.length; x++) {
      const m = (this.m[x] = 0.9 * this.m[x]! + 0.1 * g[x]!);
      const v = (this.v[x] = 0.999 * this.v[x]! + 0.001 * g[x]! * g[x]!);
      w[x] = w[x]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
    }
  }
}

export const dinSpec: ModelSpec = {
  name: 'din',
  description: 'Deep Interest Network: a candidate is scored by attention over the user\'s history items (no user vector); `recent` = last N only; no item categories',
  schema: DinConfig,
  create: (params) => new DinModel(params as Partial<DinConfig>),
  fromArtifact: (a) => DinModel.fromArtifact(a),
  tuningGrid: [{}, { l2Item: 0.1 }, { recent: 50 }],
};
