/**
 * `bpr`: Bayesian Personalised Ranking matrix factorisation (Rendle et al. 2009) with an item bias.
 * x_uij = u·(v_i - v_j) + b_i - b_j for a training positive (u, i) and a negative j drawn uniformly
 * from the candidates (redrawn while j is one of u's positives); SGD ascends ln σ(x_uij) with L2
 * regularisation on every parameter touched. Each epoch draws as many (u, i) pairs, uniformly with
 * replacement, as there are training positives.
 *
 * Single-threaded on purpose: SGD run in parallel (Hogwild) would make the factors depend on thread
 * timing. The epochs run in a WebAssembly SIMD kernel (assembly/factors.ts: float32, f32x4 dot
 * and fused update, its own copy of the Rng generator), a few ms an epoch on ml-latest-small.
 * Every random number comes from a stream derived from the fit seed and the epoch, so a seed fixes
 * the model.
 *
 * Fold-in (users unknown to the model): the same SGD with the item side frozen, from u = 0, on the
 * history's positives, with a stream derived from the fit seed and a hash of the history.
 */
import { z } from 'zod';
import { sortedHas } from '../data/csr.js';
import { BprKernel } from '../math/factor-kernels.js';
import { Rng } from '../math/rng.js';
import { batchUserFactors, historySet, nonZeroRows, scoreFactors } from './factors.js';
import { runEpochs } from './model.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const BprConfig = z
  .object({
    /** Latent dimensions. */
    factors: z.number().int().min(1).max(1024).default(64),
    /** SGD learning rate. */
    lr: z.number().positive().max(1).default(0.05),
    /** L2 regularisation of user, item and bias parameters (per update). */
    reg: z.number().min(0).default(0.01),
    /** Passes; each samples as many (user, positive) pairs as there are training positives. */
    epochs: z.number().int().min(1).default(150),
  })
  .strict();
export type BprConfig = z.infer<typeof BprConfig>;

/** Standard deviation of the initial factors. */
const INIT_STD = 0.1;
/** Redraws of a negative that is one of the user's positives before the sample is skipped. */
const MAX_REDRAWS = 50;
/** Largest user x item bitset of positives (16 MB); beyond, negatives are checked by binary search. */
const MAX_BITSET_BITS = 1 << 27;
/** Upper bound on fold-in SGD steps (a very long history folds in with this many updates). */
const MAX_FOLD_STEPS = 200_000;

export class Bpr implements Recommender, FoldIn {
  readonly name = 'bpr';
  readonly params: BprConfig;
  private nItems = 0;
  private userF: Float32Array = new Float32Array(0);
  private itemF: Float32Array = new Float32Array(0);
  private itemB: Float32Array = new Float32Array(0);
  /** Items negatives are drawn from (the training candidates), also used by fold-in. */
  private negPool: Int32Array = new Int32Array(0);
  private foldSeed = 0;
  /** Items with non-zero factors (lazily computed; the others score their bias alone). */
  private active: Int32Array | null = null;

  constructor(params: Partial<BprConfig> = {}) {
    this.params = BprConfig.parse(params);
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const { factors: d, lr, reg, epochs } = this.params;
    const nUsers = train.nUsers;
    const nItems = train.nItems;
    const ui = train.userItems;
    const U = new Float32Array(nUsers * d);
    const V = new Float32Array(nItems * d);
    const bias = new Float32Array(nItems);
    const init = ctx.rng.derive('bpr', 'init');
    // uniform with standard deviation INIT_STD (cheaper than normal draws, same scale)
    const a = INIT_STD * Math.sqrt(3);
    for (let k = 0; k < U.length; k++) U[k] = a * (2 * init.next() - 1);
    for (let k = 0; k < V.length; k++) V[k] = a * (2 * init.next() - 1);
    // users without positives and items that are never sampled (not candidates) stay at 0
    for (let u = 0; u < nUsers; u++) if (ui.indptr[u + 1] === ui.indptr[u]) U.fill(0, u * d, (u + 1) * d);
    for (let i = 0; i < nItems; i++) if (train.itemPopularity[i] === 0) V.fill(0, i * d, (i + 1) * d);
    const nnz = ui.indices.length;
    const posUser = new Int32Array(nnz);
    for (let u = 0; u < nUsers; u++) posUser.fill(u, ui.indptr[u]!, ui.indptr[u + 1]!);
    const cand = train.candidates;
    this.nItems = nItems;
    this.userF = U;
    this.itemF = V;
    this.itemB = bias;
    this.negPool = cand;
    this.active = null;
    this.foldSeed = ctx.rng.derive('bpr', 'fold-in').seed;
    if (nnz === 0 || cand.length === 0) return;
    // user x item bitset of the positives for the negative check (a binary search when too big)
    let liked: Uint32Array | null = null;
    if (nUsers * nItems <= MAX_BITSET_BITS) {
      liked = new Uint32Array(Math.ceil((nUsers * nItems) / 32));
      for (let k = 0; k < nnz; k++) {
        const bit = posUser[k]! * nItems + ui.indices[k]!;
        liked[bit >>> 5]! |= 1 << (bit & 31);
      }
    }

    const kernel = new BprKernel({ nUsers, nItems, d, U, V, bias, posUser, indptr: ui.indptr, indices: ui.indices, cand, liked });
    try {
      await runEpochs(ctx, 'bpr', epochs, (e) => kernel.epoch(ctx.rng.derive('bpr', 'epoch', e).seed, lr, reg));
    } finally {
      const f = kernel.factors();
      this.userF = f.U;
      this.itemF = f.V;
      this.itemB = f.bias;
    }
  }

  /** The user vector for a history with the items fixed (see the file comment). */
  foldIn(items: Int32Array): Float32Array {
    const { factors: d, lr, reg, epochs } = this.params;
    const x = new Float32Array(d);
    const h = historySet(items, this.nItems);
    const n = h.length;
    const cand = this.negPool;
    if (n === 0 || cand.length === 0) return x;
    let hash = 0x811c9dc5;
    for (let k = 0; k < n; k++) hash = Math.imul(hash ^ h[k]!, 0x01000193);
    const rng = new Rng(this.foldSeed).derive('bpr', 'fold-in', n, hash >>> 0);
    const steps = Math.min(MAX_FOLD_STEPS, epochs * n);
    const V = this.itemF;
    const decay = 1 - lr * reg;
    for (let s = 0; s < steps; s++) {
      const i = h[below(rng, n)]!;
      let j = cand[below(rng, cand.length)]!;
      let redraws = 0;
      while (sortedHas(h, 0, n, j)) {
        if (++redraws > MAX_REDRAWS) break;
        j = cand[below(rng, cand.length)]!;
      }
      if (redraws > MAX_REDRAWS) continue;
      foldStep(x, V, this.itemB, i, j, d, lr, decay);
    }
    return x;
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const d = this.params.factors;
    const users = batchUserFactors(batch, this.userF, d, (items) => this.foldIn(items));
    this.active ??= nonZeroRows(this.itemF, this.nItems, d);
    scoreFactors(users, batch.users.length, this.itemF, this.itemB, this.active, this.nItems, d, out);
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'bpr',
      version: 1,
      config: { ...this.params },
      arrays: {
        userFactors: this.userF,
        itemFactors: this.itemF,
        itemBias: this.itemB,
        negatives: this.negPool,
        foldSeed: Int32Array.of(this.foldSeed | 0),
      },
    };
  }

  static fromArtifact(a: ModelArtifact): Bpr {
    const m = new Bpr(a.config as Partial<BprConfig>);
    m.userF = a.arrays.userFactors as Float32Array;
    m.itemF = a.arrays.itemFactors as Float32Array;
    m.itemB = a.arrays.itemBias as Float32Array;
    m.negPool = a.arrays.negatives as Int32Array;
    m.foldSeed = (a.arrays.foldSeed as Int32Array)[0]! >>> 0;
    m.nItems = m.itemB.length;
    return m;
  }
}

/** Fold-in step: the user vector x moves, the items stay. */
function foldStep(x: Float32Array, V: Float32Array, bias: Float32Array, i: number, j: number, d: number, lr: number, decay: number): void {
  const io = i * d;
  const jo = j * d;
  let s = bias[i]! - bias[j]!;
  for (let f = 0; f < d; f++) s += x[f]! * (V[io + f]! - V[jo + f]!);
  const g = lr / (1 + Math.exp(s));
  for (let f = 0; f < d; f++) x[f] = decay * x[f]! + g * (V[io + f]! - V[jo + f]!);
}

/**
 * Uniform integer in [0, n): floor(u32 · n / 2^32), exact in doubles for n < 2^21 (bias below
 * n / 2^32, i.e. < 0.05%); larger n use the rejection sampler of Rng.
 */
function below(rng: Rng, n: number): number {
  return n < 2097152 ? Math.floor((rng.nextU32() * n) / 4294967296) : rng.int(n);
}

/** Moved to ./factors.ts (shared with ials); re-exported for existing importers. */
export { nonZeroRows, scoreFactors } from './factors.js';

export const bprSpec: ModelSpec = {
  name: 'bpr',
  description: 'BPR matrix factorisation with item bias, SGD with uniform negative sampling',
  schema: BprConfig,
  create: (params) => new Bpr(params as Partial<BprConfig>),
  fromArtifact: (a) => Bpr.fromArtifact(a),
  tuningGrid: [
    { lr: 0.05, reg: 0.01, epochs: 100 },
    { lr: 0.05, reg: 0.01, epochs: 150 },
    { lr: 0.05, reg: 0.01, epochs: 250 },
    { lr: 0.1, reg: 0.01, epochs: 100 },
    { lr: 0.02, reg: 0.01, epochs: 250 },
    { lr: 0.05, reg: 0.02, epochs: 200 },
  ],
};
