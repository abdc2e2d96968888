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
 * Layout and speed: the input layer is sparse (a user's hidden pre-activation is the sum of the
 * encoder rows of their history items); the other layers are dense float32 products in the
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
import { NnArena, type AdamOptions, type Mat, type ProductOp } from '../math/nn-kernels.js';
import { WorkerPool } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { historySet } from './factors.js';
import { runEpochs } from './model.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

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

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
/** Rows of the scoring buffers (users scored per pass of the decoder). */
const SCORE_ROWS = 128;

type ProductArgs = [ProductOp, Mat, Mat, Mat, number, number, number];

const ceil = (x: number, q: number): number => Math.ceil(x / q) * q;

/** The sizes of a network: candidates, hidden units, latent dimensions (VaeNet pads them). */
export interface VaeDims {
  readonly nc: number;
  readonly hidden: number;
  readonly latent: number;
}

/** A batch of training rows: histories as candidate positions, an input mask and the noise. */
export interface VaeTrainBatch {
  readonly indptr: Int32Array;
  /** Candidate positions (0 <= j < nc), each row ascending and without repeats. */
  readonly items: Int32Array;
  /** 1 = the history entry is kept by dropout (same length as items). */
  readonly keep: Uint8Array;
  /** Scale of a kept input entry: 1 / (1 - dropout). */
  readonly keepScale: number;
  /** rows x latent standard normal draws (row-major, unpadded). */
  readonly eps: Float32Array;
}

/**
 * The network in one kernel arena: parameters (one block, so one Adam call updates them all),
 * gradients and Adam moments when `training`, and the activations of `rows` users.
 */
export class VaeNet {
  readonly hp: number;
  readonly lp: number;
  readonly ns: number;
  readonly rows: number;
  readonly size: number;
  /** Offsets (floats) of the parameter blocks inside `params`. */
  readonly off: { wEnc: number; bEnc: number; wQ: number; bQ: number; wD: number; bD: number; wOut: number; bOut: number };
  readonly params: Float32Array;
  readonly grads: Float32Array;
  private readonly adamM: Float32Array;
  private readonly adamV: Float32Array;
  private readonly arena = new NnArena();
  private readonly act: { a1: Float32Array; q: Float32Array; z: Float32Array; d1: Float32Array; logits: Float32Array; gd1: Float32Array; gz: Float32Array; gq: Float32Array; ga1: Float32Array };

  constructor(
    readonly dims: VaeDims,
    rows: number,
    training: boolean,
  ) {
    const hp = ceil(dims.hidden, 8);
    const lp = ceil(dims.latent, 8);
    const ns = ceil(Math.max(1, dims.nc), 8);
    this.hp = hp;
    this.lp = lp;
    this.ns = ns;
    this.rows = ceil(Math.max(1, rows), 4);
    const R = this.rows;
    let at = 0;
    const block = (n: number): number => {
      const o = at;
      at += ceil(n, 16);
      return o;
    };
    this.off = {
      wEnc: block(dims.nc * hp),
      bEnc: block(hp),
      wQ: block(hp * 2 * lp),
      bQ: block(2 * lp),
      wD: block(lp * hp),
      bD: block(hp),
      wOut: block(hp * ns),
      bOut: block(ns),
    };
    this.size = at;
    const A = this.arena;
    const hP = A.take(at);
    const hG = training ? A.take(at) : -1;
    const hM = training ? A.take(at) : -1;
    const hV = training ? A.take(at) : -1;
    const h = {
      a1: A.take(R * hp),
      q: A.take(R * 2 * lp),
      z: A.take(R * lp),
      d1: A.take(R * hp),
      logits: A.take(R * ns),
      gd1: training ? A.take(R * hp) : -1,
      gz: training ? A.take(R * lp) : -1,
      gq: training ? A.take(R * 2 * lp) : -1,
      ga1: training ? A.take(R * hp) : -1,
    };
    A.build(`multvae: ${dims.nc} candidates x ${dims.hidden} hidden`);
    const v = (k: number): Float32Array => (k >= 0 ? A.view(k) : new Float32Array(0));
    this.params = A.view(hP);
    this.grads = v(hG);
    this.adamM = v(hM);
    this.adamV = v(hV);
    this.act = { a1: v(h.a1), q: v(h.q), z: v(h.z), d1: v(h.d1), logits: v(h.logits), gd1: v(h.gd1), gz: v(h.gz), gq: v(h.gq), ga1: v(h.ga1) };
  }

  /** Glorot-uniform weights (the padding stays zero), zero biases. */
  init(rng: Rng): void {
    const { hidden: h, latent: l, nc } = this.dims;
    const { hp, lp, ns, off } = this;
    const P = this.params;
    P.fill(0);
    const glorot = (o: number, rowsN: number, cols: number, ld: number, fanIn: number, fanOut: number, colOf: (c: number) => number): void => {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      for (let r = 0; r < rowsN; r++) for (let c = 0; c < cols; c++) P[o + r * ld + colOf(c)] = a * (2 * rng.next() - 1);
    };
    const id = (c: number): number => c;
    glorot(off.wEnc, nc, h, hp, nc, h, id);
    glorot(off.wQ, h, 2 * l, 2 * lp, h, 2 * l, (c) => (c < l ? c : lp + c - l));
    glorot(off.wD, l, h, hp, l, h, id);
    glorot(off.wOut, h, nc, ns, h, nc, id);
  }

  private mat(x: Float32Array, ld: number): Mat {
    return { data: x, ld };
  }

  /**
   * Encoder for `r` rows: a1 = tanh(b + s_b Σ_kept W_enc[j]) with s_b = 1/sqrt(|h_b|) (times
   * `keepScale` for kept entries when `keep` is given), then q = a1 W_q + b_q (μ | log σ²).
   * Rows past r stay exactly zero in every buffer. Each layer is: its product, then its finish.
   */
  private encodeInput(r: number, indptr: Int32Array, items: Int32Array, keep: Uint8Array | null, keepScale: number): void {
    const { hp, off } = this;
    const a1 = this.act.a1;
    const P = this.params;
    const h = this.dims.hidden;
    a1.fill(0);
    for (let b = 0; b < r; b++) {
      const lo = indptr[b]!;
      const hi = indptr[b + 1]!;
      const row = b * hp;
      const n = hi - lo;
      if (n > 0) {
        const s = 1 / Math.sqrt(n);
        for (let k = lo; k < hi; k++) {
          if (keep && keep[k] === 0) continue;
          const w = Math.fround(keep ? s * keepScale : s);
          const src = off.wEnc + items[k]! * hp;
          for (let c = 0; c < h; c++) a1[row + c]! += w * P[src + c]!;
        }
      }
      for (let c = 0; c < h; c++) a1[row + c] = Math.tanh(a1[row + c]! + P[off.bEnc + c]!);
    }
  }

  /** The products of the forward pass: q = a1 W_q, d1 = z W_d, logits = d1 W_out. */
  private forwardProduct(layer: 'q' | 'd1' | 'logits'): ProductArgs {
    const { hp, lp, ns, off, rows } = this;
    const { a1, q, z, d1, logits } = this.act;
    const P = this.params;
    if (layer === 'q') return ['nn', this.mat(a1, hp), this.mat(P.subarray(off.wQ), 2 * lp), this.mat(q, 2 * lp), rows, 2 * lp, hp];
    if (layer === 'd1') return ['nn', this.mat(z, lp), this.mat(P.subarray(off.wD), hp), this.mat(d1, hp), rows, hp, lp];
    return ['nn', this.mat(d1, hp), this.mat(P.subarray(off.wOut), ns), this.mat(logits, ns), rows, ns, hp];
  }

  private run(args: ProductArgs): void {
    const [op, A, B, C, m, n, k] = args;
    this.arena[op](A, B, C, m, n, k);
  }

  private runAsync(args: ProductArgs, pool: WorkerPool | null): Promise<void> {
    const [op, A, B, C, m, n, k] = args;
    return this.arena.product(op, A, B, C, m, n, k, false, pool);
  }

  private finishQ(r: number): void {
    const { lp, off } = this;
    const q = this.act.q;
    const P = this.params;
    const l = this.dims.latent;
    for (let b = 0; b < r; b++) {
      const row = b * 2 * lp;
      for (let c = 0; c < l; c++) {
        q[row + c]! += P[off.bQ + c]!;
        q[row + lp + c]! += P[off.bQ + lp + c]!;
      }
    }
    q.fill(0, r * 2 * lp);
  }

  private finishD1(r: number): void {
    const { hp, off } = this;
    const d1 = this.act.d1;
    const P = this.params;
    const h = this.dims.hidden;
    for (let b = 0; b < r; b++) for (let c = 0; c < h; c++) d1[b * hp + c] = Math.tanh(d1[b * hp + c]! + P[off.bD + c]!);
    d1.fill(0, r * hp);
  }

  private finishLogits(r: number): void {
    const { ns, off } = this;
    const logits = this.act.logits;
    const P = this.params;
    const nc = this.dims.nc;
    for (let b = 0; b < r; b++) for (let j = 0; j < nc; j++) logits[b * ns + j]! += P[off.bOut + j]!;
  }

  private encode(r: number, indptr: Int32Array, items: Int32Array): void {
    this.encodeInput(r, indptr, items, null, 1);
    this.run(this.forwardProduct('q'));
    this.finishQ(r);
  }

  /** Decoder for `r` rows of act.z: d1 = tanh(z W_d + b_d), logits = d1 W_out + b_out. */
  private decodeZ(r: number): void {
    this.run(this.forwardProduct('d1'));
    this.finishD1(r);
    this.run(this.forwardProduct('logits'));
    this.finishLogits(r);
  }

  /** Scores of up to `rows` histories (candidate positions): logits into out[b * ns + j]. */
  scoreHistories(r: number, indptr: Int32Array, items: Int32Array): Float32Array {
    this.encode(r, indptr, items);
    this.latentFromMu(r);
    this.decodeZ(r);
    return this.act.logits;
  }

  /** μ of up to `rows` histories, r x latent (a copy). */
  encodeMu(r: number, indptr: Int32Array, items: Int32Array): Float32Array {
    this.encode(r, indptr, items);
    const l = this.dims.latent;
    const out = new Float32Array(r * l);
    for (let b = 0; b < r; b++) out.set(this.act.q.subarray(b * 2 * this.lp, b * 2 * this.lp + l), b * l);
    return out;
  }

  /** Logits of up to `rows` latent vectors (r x latent, row-major). */
  decodeLatent(r: number, latent: Float32Array): Float32Array {
    const { lp } = this;
    const l = this.dims.latent;
    const z = this.act.z;
    z.fill(0);
    for (let b = 0; b < r; b++) for (let c = 0; c < l; c++) z[b * lp + c] = latent[b * l + c]!;
    this.decodeZ(r);
    return this.act.logits;
  }

  private latentFromMu(r: number): void {
    const { lp } = this;
    const { q, z } = this.act;
    const l = this.dims.latent;
    z.fill(0);
    for (let b = 0; b < r; b++) for (let c = 0; c < l; c++) z[b * lp + c] = q[b * 2 * lp + c]!;
  }

  /**
   * Loss of a training batch (sum over its rows of -Σ x log π + β KL, divided by the rows, plus
   * the l2 term) and its gradient into `grads`. Returns the loss in float64.
   */
  async lossAndGrad(batch: VaeTrainBatch, beta: number, l2: number, pool: WorkerPool | null = null): Promise<number> {
    const { hp, lp, ns, off, rows } = this;
    const { nc, latent: l, hidden: h } = this.dims;
    const r = batch.indptr.length - 1;
    if (r > rows) throw new RangeError(`multvae: batch of ${r} rows over the ${rows} of the network`);
    const P = this.params;
    const G = this.grads;
    const { a1, q, z, d1, logits, gd1, gz, gq, ga1 } = this.act;
    this.encodeInput(r, batch.indptr, batch.items, batch.keep, batch.keepScale);
    await this.runAsync(this.forwardProduct('q'), pool);
    this.finishQ(r);
    // reparameterisation
    z.fill(0);
    for (let b = 0; b < r; b++) {
      for (let c = 0; c < l; c++) {
        const mu = q[b * 2 * lp + c]!;
        const lv = q[b * 2 * lp + lp + c]!;
        z[b * lp + c] = mu + batch.eps[b * l + c]! * Math.exp(0.5 * lv);
      }
    }
    await this.runAsync(this.forwardProduct('d1'), pool);
    this.finishD1(r);
    await this.runAsync(this.forwardProduct('logits'), pool);
    this.finishLogits(r);
    // multinomial log-likelihood; logits become their gradient (softmax · n_b - x) / r
    let loss = 0;
    const inv = 1 / r;
    for (let b = 0; b < r; b++) {
      const row = b * ns;
      let mx = -Infinity;
      for (let j = 0; j < nc; j++) if (logits[row + j]! > mx) mx = logits[row + j]!;
      const lo = batch.indptr[b]!;
      const hi = batch.indptr[b + 1]!;
      let hsum = 0;
      for (let k = lo; k < hi; k++) hsum += logits[row + batch.items[k]!]!;
      // logits become exp(logit - max), then the gradient
      let se = 0;
      for (let j = 0; j < nc; j++) {
        const e = Math.exp(logits[row + j]! - mx);
        logits[row + j] = e;
        se += e;
      }
      const n = hi - lo;
      loss += n * (mx + Math.log(se)) - hsum;
      const scale = (n * inv) / se;
      for (let j = 0; j < nc; j++) logits[row + j]! *= scale;
      for (let k = lo; k < hi; k++) logits[row + batch.items[k]!]! -= inv;
    }
    logits.fill(0, r * ns);
    // output layer
    await this.arena.product('tn', this.mat(d1, hp), this.mat(logits, ns), this.mat(G.subarray(off.wOut), ns), hp, ns, rows, false, pool);
    columnSums(logits, r, ns, G, off.bOut);
    await this.arena.product('nt', this.mat(logits, ns), this.mat(P.subarray(off.wOut), ns), this.mat(gd1, hp), rows, hp, ns, false, pool);
    for (let b = 0; b < r; b++) for (let c = 0; c < h; c++) gd1[b * hp + c]! *= 1 - d1[b * hp + c]! * d1[b * hp + c]!;
    gd1.fill(0, r * hp);
    // decoder hidden layer
    await this.arena.product('tn', this.mat(z, lp), this.mat(gd1, hp), this.mat(G.subarray(off.wD), hp), lp, hp, rows, false, pool);
    columnSums(gd1, r, hp, G, off.bD);
    await this.arena.product('nt', this.mat(gd1, hp), this.mat(P.subarray(off.wD), hp), this.mat(gz, lp), rows, lp, hp, false, pool);
    // Gaussian layer: gradient of the reconstruction through z, plus β KL
    let kl = 0;
    gq.fill(0);
    for (let b = 0; b < r; b++) {
      for (let c = 0; c < l; c++) {
        const mu = q[b * 2 * lp + c]!;
        const lv = q[b * 2 * lp + lp + c]!;
        const e = Math.exp(lv);
        kl += 0.5 * (-lv + e + mu * mu - 1);
        const g = gz[b * lp + c]!;
        gq[b * 2 * lp + c] = g + beta * mu * inv;
        gq[b * 2 * lp + lp + c] = g * batch.eps[b * l + c]! * 0.5 * Math.exp(0.5 * lv) + beta * 0.5 * (e - 1) * inv;
      }
    }
    loss += beta * kl;
    await this.arena.product('tn', this.mat(a1, hp), this.mat(gq, 2 * lp), this.mat(G.subarray(off.wQ), 2 * lp), hp, 2 * lp, rows, false, pool);
    columnSums(gq, r, 2 * lp, G, off.bQ);
    await this.arena.product('nt', this.mat(gq, 2 * lp), this.mat(P.subarray(off.wQ), 2 * lp), this.mat(ga1, hp), rows, hp, 2 * lp, false, pool);
    for (let b = 0; b < r; b++) for (let c = 0; c < h; c++) ga1[b * hp + c]! *= 1 - a1[b * hp + c]! * a1[b * hp + c]!;
    ga1.fill(0, r * hp);
    // sparse input layer
    G.fill(0, off.wEnc, off.wEnc + nc * hp);
    for (let b = 0; b < r; b++) {
      const lo = batch.indptr[b]!;
      const hi = batch.indptr[b + 1]!;
      if (hi === lo) continue;
      const s = 1 / Math.sqrt(hi - lo);
      const w = Math.fround(s * batch.keepScale);
      for (let k = lo; k < hi; k++) {
        if (batch.keep[k] === 0) continue;
        const dst = off.wEnc + batch.items[k]! * hp;
        for (let c = 0; c < h; c++) G[dst + c]! += w * ga1[b * hp + c]!;
      }
    }
    columnSums(ga1, r, hp, G, off.bEnc);
    loss *= inv;
    if (l2 > 0) {
      let sq = 0;
      for (const [o, n] of this.weightBlocks()) {
        for (let k = o; k < o + n; k++) {
          sq += P[k]! * P[k]!;
          G[k]! += 2 * l2 * P[k]!;
        }
      }
      loss += l2 * sq;
    }
    return loss;
  }

  /** [offset, length] of each weight matrix (the padding is zero, so it adds nothing). */
  private weightBlocks(): [number, number][] {
    const { hp, lp, ns, off } = this;
    return [
      [off.wEnc, this.dims.nc * hp],
      [off.wQ, hp * 2 * lp],
      [off.wD, lp * hp],
      [off.wOut, hp * ns],
    ];
  }

  /** One Adam step on the gradient in `grads` (t: the step number, from 1). */
  adamStep(t: number, lr: number): void {
    const o: AdamOptions = { lr, ...ADAM };
    this.arena.adam(this.params, this.grads, this.adamM, this.adamV, this.size, t, o);
  }
}

/** out[o + c] = Σ_{b < r} x[b * ld + c] for c < ld, rows summed in order. */
function columnSums(x: Float32Array, r: number, ld: number, out: Float32Array, o: number): void {
  out.fill(0, o, o + ld);
  for (let b = 0; b < r; b++) for (let c = 0; c < ld; c++) out[o + c]! += x[b * ld + c]!;
}

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
