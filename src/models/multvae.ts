/**
 * `multvae`: the variational autoencoder with a multinomial likelihood of Liang, Krishnan, Hoffman
 * & Jebara (2018), "Variational Autoencoders for Collaborative Filtering".
 *
 * A user is their binary history x over the candidate items (the items with a training positive).
 * Encoder: x / |x|₂, dropout on that input while training (each history item kept with probability
 * 1 - dropout, kept ones scaled by 1 / (1 - dropout)), a tanh layer of `hidden` units, then a
 * linear layer to the mean μ and log-variance log σ² of a `latent`-dimensional Gaussian q(z | x).
 * Decoder: z -> tanh layer of `hidden` units -> one logit per candidate item; π = softmax over the
 * candidates. A batch of users minimises the mean over its users of
 *   -Σ_i x_i log π_i  +  β · KL(q(z | x) ‖ N(0, I))  (+ l2 · Σ w² over the weight matrices)
 * with z = μ + σ ⊙ ε, ε ~ N(0, I) (the reparameterisation), β rising linearly from 0 to `anneal`
 * over `annealSteps` updates (0: over the whole fit) and Adam (lr, 0.9, 0.999, 1e-8). Each epoch
 * shuffles the training users with a non-empty history into batches of `batch`.
 *
 * Scoring (any user, known or not: the batch's history is encoded, nothing is stored per user):
 * z = μ (no sampling, no dropout), the decoder's logits for the candidates; other items -Infinity.
 * `foldIn` returns μ, and `decode` scores latent vectors, so decode(foldIn(h)) is the score of h.
 *
 * Layout and speed (the network is multvae-forward.ts, its training step multvae-net.ts): the
 * input layer is sparse (a user's hidden pre-activation is the sum of the encoder rows of their
 * history items); the other layers are dense float32 products in the
 * WebAssembly SIMD kernels of src/math/nn-kernels.ts over one memory holding the parameters, their
 * gradients, the Adam moments and the activations of one batch (hidden and latent sizes padded to
 * multiples of 8 and the candidate count to a multiple of 8; the padding stays exactly zero).
 * Memory grows as candidates x hidden plus batch x candidates. With `threads` > 1 the large
 * products of a training batch are shared with pool workers in fixed output blocks (see
 * src/math/nn-kernels.ts), which gives the same bits as one thread; everything else runs on the
 * calling thread. Every random number comes from streams derived from the fit seed (init, then per
 * epoch: shuffle, dropout, noise), so a seed fixes the model, whatever the thread count.
 */
import { z } from 'zod';
import { WorkerPool } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { historySet } from './factors.js';
import type { VaeDims } from './multvae-forward.js';
import { VaeNet, type VaeTrainBatch } from './multvae-net.js';
import { runEpochs } from './model.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export type { VaeDims } from './multvae-forward.js';
export { VaeNet, type VaeTrainBatch } from './multvae-net.js';

export const MultVaeConfig = z
  .object({
    /** Units of the encoder's and the decoder's tanh layer. */
    hidden: z.number().int().min(1).max(4096).default(600),
    /** Dimensions of the latent Gaussian. */
    latent: z.number().int().min(1).max(2048).default(200),
    /** Passes over the training users. */
    epochs: z.number().int().min(1).default(200),
    /** Users per update. */
    batch: z.number().int().min(1).max(100000).default(500),
    /** Adam learning rate. */
    lr: z.number().positive().max(1).default(0.001),
    /** Dropout rate of the (normalised) input while training. */
    dropout: z.number().min(0).max(0.95).default(0.5),
    /** Final KL weight β. */
    anneal: z.number().min(0).max(10).default(0.2),
    /** Updates over which β rises linearly from 0 to `anneal` (0: over the whole fit). */
    annealSteps: z.number().int().min(0).default(0),
    /** L2 penalty l2 · Σ w² on the weight matrices (not the biases). */
    l2: z.number().min(0).default(0),
  })
  .strict();
export type MultVaeConfig = z.infer<typeof MultVaeConfig>;

/** Rows of the scoring buffers (users scored per pass of the decoder). */
const SCORE_ROWS = 128;

export class MultVae implements Recommender, FoldIn {
  /**
   * Output-layer work of one batch (rows x hidden x candidates) below which worker threads are
   * not started (ml-latest-small: 500 x 600 x ~8k = 2.4e9).
   */
  static parallelMinWork = 1e8;
  readonly name = 'multvae';
  readonly params: MultVaeConfig;
  private nItems = 0;
  private candidates: Int32Array = new Int32Array(0);
  /** item -> candidate position, -1 for the others. */
  private pos: Int32Array = new Int32Array(0);
  private net: VaeNet | null = null;

  constructor(params: Partial<MultVaeConfig> = {}) {
    this.params = MultVaeConfig.parse(params);
  }

  private setItems(nItems: number, candidates: Int32Array): void {
    this.nItems = nItems;
    this.candidates = candidates;
    this.pos = new Int32Array(nItems).fill(-1);
    for (let j = 0; j < candidates.length; j++) this.pos[candidates[j]!] = j;
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const { hidden, latent, epochs, batch, lr, dropout, anneal, annealSteps, l2 } = this.params;
    this.setItems(train.nItems, Int32Array.from(train.candidates));
    const dims: VaeDims = { nc: this.candidates.length, hidden, latent };
    const ui = train.userItems;
    const users: number[] = [];
    for (let u = 0; u < train.nUsers; u++) if (ui.indptr[u + 1]! > ui.indptr[u]!) users.push(u);
    const order = Int32Array.from(users);
    const net = new VaeNet(dims, Math.min(batch, Math.max(1, order.length)), true);
    net.init(ctx.rng.derive('multvae', 'init'));
    this.net = net;
    const perEpoch = Math.ceil(order.length / batch);
    const totalSteps = perEpoch * epochs;
    const rampSteps = annealSteps > 0 ? annealSteps : totalSteps;
    const keepScale = 1 / (1 - dropout);
    const threads = Math.max(1, Math.floor(ctx.threads));
    const pool = threads > 1 && net.rows * net.hp * net.ns >= MultVae.parallelMinWork ? new WorkerPool(threads - 1) : null;
    let step = 0;
    try {
      await runEpochs(ctx, 'multvae', epochs, async (e) => {
        if (order.length === 0) return undefined;
        const shuffle = ctx.rng.derive('multvae', 'shuffle', e);
        const drop = ctx.rng.derive('multvae', 'dropout', e);
        const noise = ctx.rng.derive('multvae', 'noise', e);
        shuffle.shuffle(order);
        let total = 0;
        for (let s = 0; s < order.length; s += batch) {
          const rowsU = order.subarray(s, Math.min(order.length, s + batch));
          const tb = this.trainBatch(train, rowsU, dropout, keepScale, drop, noise);
          step++;
          const beta = anneal * Math.min(1, step / rampSteps);
          total += (await net.lossAndGrad(tb, beta, l2, pool)) * rowsU.length;
          net.adamStep(step, lr);
        }
        return total / order.length;
      });
    } finally {
      this.net = scoringNet(net);
      await pool?.close();
    }
  }

  private trainBatch(train: TrainSet, rowsU: Int32Array, dropout: number, keepScale: number, drop: Rng, noise: Rng): VaeTrainBatch {
    const ui = train.userItems;
    const indptr = new Int32Array(rowsU.length + 1);
    for (let b = 0; b < rowsU.length; b++) indptr[b + 1] = indptr[b]! + ui.indptr[rowsU[b]! + 1]! - ui.indptr[rowsU[b]!]!;
    const items = new Int32Array(indptr[rowsU.length]!);
    const keep = new Uint8Array(items.length);
    for (let b = 0; b < rowsU.length; b++) {
      const u = rowsU[b]!;
      let k = indptr[b]!;
      for (let t = ui.indptr[u]!; t < ui.indptr[u + 1]!; t++) {
        items[k] = this.pos[ui.indices[t]!]!;
        keep[k] = drop.next() >= dropout ? 1 : 0;
        k++;
      }
    }
    const l = this.params.latent;
    const eps = new Float32Array(rowsU.length * l);
    for (let k = 0; k < eps.length; k++) eps[k] = noise.normal();
    return { indptr, items, keep, keepScale, eps };
  }

  private requireNet(): VaeNet {
    if (!this.net) throw new Error('multvae: the model is not fitted');
    return this.net;
  }

  /** Candidate positions of a history (unknown and non-candidate items dropped), ascending. */
  private positions(items: Int32Array): Int32Array {
    const h = historySet(items, this.nItems);
    const out: number[] = [];
    for (let k = 0; k < h.length; k++) {
      const j = this.pos[h[k]!]!;
      if (j >= 0) out.push(j);
    }
    return Int32Array.from(out);
  }

  /** The latent mean μ of a history (the user's vector; `decode` scores it). */
  foldIn(items: Int32Array): Float32Array {
    const p = this.positions(items);
    return this.requireNet().encodeMu(1, Int32Array.of(0, p.length), p);
  }

  /** Scores (nItems per row, non-candidates -Infinity) of `count` latent vectors. */
  decode(latent: Float32Array, count: number, out: Float32Array): void {
    const net = this.requireNet();
    const l = this.params.latent;
    for (let s = 0; s < count; s += net.rows) {
      const r = Math.min(net.rows, count - s);
      const logits = net.decodeLatent(r, latent.subarray(s * l, (s + r) * l));
      this.scatter(logits, r, out.subarray(s * this.nItems));
    }
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const net = this.requireNet();
    const n = batch.users.length;
    for (let s = 0; s < n; s += net.rows) {
      const r = Math.min(net.rows, n - s);
      const hist: Int32Array[] = [];
      for (let b = s; b < s + r; b++) hist.push(this.positions(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!)));
      const indptr = new Int32Array(r + 1);
      for (let b = 0; b < r; b++) indptr[b + 1] = indptr[b]! + hist[b]!.length;
      const items = new Int32Array(indptr[r]!);
      for (let b = 0; b < r; b++) items.set(hist[b]!, indptr[b]!);
      this.scatter(net.scoreHistories(r, indptr, items), r, out.subarray(s * this.nItems));
    }
  }

  private scatter(logits: Float32Array, r: number, out: Float32Array): void {
    const ns = this.requireNet().ns;
    const cand = this.candidates;
    const n = this.nItems;
    for (let b = 0; b < r; b++) {
      out.fill(-Infinity, b * n, (b + 1) * n);
      for (let j = 0; j < cand.length; j++) out[b * n + cand[j]!] = logits[b * ns + j]!;
    }
  }

  toArtifact(): ModelArtifact {
    const net = this.requireNet();
    return {
      kind: 'multvae',
      version: 1,
      config: { ...this.params },
      arrays: {
        params: Float32Array.from(net.params),
        candidates: this.candidates,
        nItems: Int32Array.of(this.nItems),
      },
    };
  }

  static fromArtifact(a: ModelArtifact): MultVae {
    const m = new MultVae(a.config as Partial<MultVaeConfig>);
    m.setItems((a.arrays.nItems as Int32Array)[0]!, a.arrays.candidates as Int32Array);
    const net = new VaeNet({ nc: m.candidates.length, hidden: m.params.hidden, latent: m.params.latent }, SCORE_ROWS, false);
    const p = a.arrays.params as Float32Array;
    if (p.length !== net.size) throw new Error(`multvae artifact: params has ${p.length} values, the network needs ${net.size}`);
    net.params.set(p);
    m.net = net;
    return m;
  }
}

/** A network with the trained parameters and scoring buffers only (drops gradients and moments). */
function scoringNet(trained: VaeNet): VaeNet {
  const net = new VaeNet(trained.dims, SCORE_ROWS, false);
  net.params.set(trained.params);
  return net;
}

export const multVaeSpec: ModelSpec = {
  name: 'multvae',
  description: 'Mult-VAE (Liang et al. 2018): variational autoencoder, multinomial likelihood, KL annealing',
  schema: MultVaeConfig,
  create: (params) => new MultVae(params as Partial<MultVaeConfig>),
  fromArtifact: (a) => MultVae.fromArtifact(a),
  // each entry is a full fit on the validation split: a few, around the paper's recipe
  tuningGrid: [
    { anneal: 0.2, dropout: 0.5, epochs: 200 },
    { anneal: 0.4, dropout: 0.5, epochs: 200 },
    { anneal: 0.2, dropout: 0.3, epochs: 200 },
    { anneal: 0.2, dropout: 0.5, epochs: 100 },
  ],
};
