/**
 * The `multvae` network's memory and forward pass (the model is src/models/multvae.ts; its
 * training step, loss and gradient are in multvae-net.ts). One WebAssembly kernel arena
 * (src/math/nn-kernels.ts) holds the parameters, their gradients, the Adam moments and the
 * activations of one batch; hidden and latent sizes are padded to multiples of 8 and the
 * candidate count to a multiple of 8, and the padding stays exactly zero. The input layer is
 * sparse (a user's hidden pre-activation is the sum of the encoder rows of their history items);
 * the other layers are dense float32 products in the arena's SIMD kernels.
 */
import { NnArena, type Mat, type ProductOp } from '../math/nn-kernels.js';
import type { WorkerPool } from '../math/pool.js';
import type { Rng } from '../math/rng.js';

type ProductArgs = [ProductOp, Mat, Mat, Mat, number, number, number];

const ceil = (x: number, q: number): number => Math.ceil(x / q) * q;

/** The sizes of a network: candidates, hidden units, latent dimensions (VaeNet pads them). */
export interface VaeDims {
  readonly nc: number;
  readonly hidden: number;
  readonly latent: number;
}

/**
 * The network in one kernel arena: parameters (one block, so one Adam call updates them all),
 * gradients and Adam moments when `training`, and the activations of `rows` users.
 */
export class VaeForward {
  readonly hp: number;
  readonly lp: number;
  readonly ns: number;
  readonly rows: number;
  readonly size: number;
  /** Offsets (floats) of the parameter blocks inside `params`. */
  readonly off: { wEnc: number; bEnc: number; wQ: number; bQ: number; wD: number; bD: number; wOut: number; bOut: number };
  readonly params: Float32Array;
  readonly grads: Float32Array;
  protected readonly adamM: Float32Array;
  protected readonly adamV: Float32Array;
  protected readonly arena = new NnArena();
  protected readonly act: { a1: Float32Array; q: Float32Array; z: Float32Array; d1: Float32Array; logits: Float32Array; gd1: Float32Array; gz: Float32Array; gq: Float32Array; ga1: Float32Array };

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

  protected mat(x: Float32Array, ld: number): Mat {
    return { data: x, ld };
  }

  /**
   * Encoder for `r` rows: a1 = tanh(b + s_b Σ_kept W_enc[j]) with s_b = 1/sqrt(|h_b|) (times
   * `keepScale` for kept entries when `keep` is given), then q = a1 W_q + b_q (μ | log σ²).
   * Rows past r stay exactly zero in every buffer. Each layer is: its product, then its finish.
   */
  protected encodeInput(r: number, indptr: Int32Array, items: Int32Array, keep: Uint8Array | null, keepScale: number): void {
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
  protected forwardProduct(layer: 'q' | 'd1' | 'logits'): ProductArgs {
    const { hp, lp, ns, off, rows } = this;
    const { a1, q, z, d1, logits } = this.act;
    const P = this.params;
    if (layer === 'q') return ['nn', this.mat(a1, hp), this.mat(P.subarray(off.wQ), 2 * lp), this.mat(q, 2 * lp), rows, 2 * lp, hp];
    if (layer === 'd1') return ['nn', this.mat(z, lp), this.mat(P.subarray(off.wD), hp), this.mat(d1, hp), rows, hp, lp];
    return ['nn', this.mat(d1, hp), this.mat(P.subarray(off.wOut), ns), this.mat(logits, ns), rows, ns, hp];
  }

  protected run(args: ProductArgs): void {
    const [op, A, B, C, m, n, k] = args;
    this.arena[op](A, B, C, m, n, k);
  }

  protected runAsync(args: ProductArgs, pool: WorkerPool | null): Promise<void> {
    const [op, A, B, C, m, n, k] = args;
    return this.arena.product(op, A, B, C, m, n, k, false, pool);
  }

  protected finishQ(r: number): void {
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

  protected finishD1(r: number): void {
    const { hp, off } = this;
    const d1 = this.act.d1;
    const P = this.params;
    const h = this.dims.hidden;
    for (let b = 0; b < r; b++) for (let c = 0; c < h; c++) d1[b * hp + c] = Math.tanh(d1[b * hp + c]! + P[off.bD + c]!);
    d1.fill(0, r * hp);
  }

  protected finishLogits(r: number): void {
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

}
