/**
 * The `multvae` network with its training step (src/models/multvae.ts is the model): the loss of
 * a batch (multinomial log-likelihood plus β KL plus the l2 term), its gradient by the backward
 * pass through the layers of multvae-forward.ts, and one Adam step over all parameters. With a
 * pool, the large products are shared with workers in fixed output blocks (same bits as one thread).
 */
import type { AdamOptions } from '../math/nn-kernels.js';
import type { WorkerPool } from '../math/pool.js';
import { VaeForward } from './multvae-forward.js';

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

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

/** The network of multvae-forward.ts plus the loss, its gradient into `grads` and the Adam step. */
export class VaeNet extends VaeForward {
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
