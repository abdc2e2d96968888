/**
 * The scoring side of `din` (din.ts): a candidate attends over a memory of vectors in the
 * behaviour space. DinModel holds one DinScorer over its fitted arrays (built on first use, dropped
 * when it refits); the candidate x memory products run on the WebAssembly kernels of
 * src/math/nn-kernels.ts in blocks of behaviours with an online softmax, so memory stays
 * candidates x block.
 */
import { NnArena } from '../math/nn-kernels.js';
import { historyScale } from './din-train.js';

/** Behaviours per matrix product when scoring (the softmax runs online across blocks). */
const BLOCK = 128;

/** The scaling arena of the scorer: [Q; query vectors] x a block of behaviours, in float32. */
interface Scorer {
  readonly arena: NnArena;
  readonly M: Float32Array;
  readonly H: Float32Array;
  readonly C: Float32Array;
  readonly nPad: number;
  readonly dPad: number;
}

/** The fitted arrays the scorer reads (DinModel's; never modified here). */
export interface DinWeights {
  readonly nItems: number;
  readonly dim: number;
  readonly alpha: number;
  /** Behaviour embeddings e, target vectors Q (items x dim), biases B, the unit's weights [c; v]. */
  readonly W: Float32Array;
  readonly Q: Float32Array;
  readonly B: Float32Array;
  readonly att: Float32Array;
  /** The items the model ranks. */
  readonly cand: Int32Array;
}

export class DinScorer {
  private readonly nItems: number;
  private readonly dim: number;
  private readonly alpha: number;
  private readonly W: Float32Array;
  private readonly Q: Float32Array;
  private readonly B: Float32Array;
  private readonly att: Float32Array;
  private readonly cand: Int32Array;
  private scorer: Scorer | null = null;

  constructor(w: DinWeights) {
    this.nItems = w.nItems;
    this.dim = w.dim;
    this.alpha = w.alpha;
    this.W = w.W;
    this.Q = w.Q;
    this.B = w.B;
    this.att = w.att;
    this.cand = w.cand;
  }

  /**
   * The scorer over any memory of vectors in the behaviour space (rows of `vecs`, m x dim):
   * s(i) = scale x Q_i . sum_k w_ik m_k + B_i with w_ik = softmax_k(q_i . m_k + logWeight_k)
   * (logWeight null = 0: a memory vector that stands for n behaviours with equal logits gets
   * log n). Items' own behaviours are `DinModel.scoreBehaviours`; `study memory` also scores persona
   * summaries. The candidate x memory products run on the WebAssembly kernels in blocks with an
   * online softmax, so memory stays candidates x block. Non-candidates -Infinity; only B_i when m = 0.
   */
  scoreVectors(vecs: Float32Array, logWeight: Float64Array | null, scale: number, out: Float32Array): void {
    const n = this.nItems;
    const d = this.dim;
    const mem = vecs.length / d;
    out.fill(-Infinity, 0, n);
    if (mem === 0) {
      for (const j of this.cand) out[j] = this.B[j]!;
      return;
    }
    const nC = this.cand.length;
    const mx = new Float64Array(nC).fill(-Infinity);
    const sw = new Float64Array(nC);
    const sws = new Float64Array(nC);
    for (let b0 = 0; b0 < mem; b0 += BLOCK) {
      const nb = Math.min(BLOCK, mem - b0);
      const { C, nPad } = this.products(vecs, b0, nb, 2);
      for (let c = 0; c < nC; c++) {
        const so = c * BLOCK;
        const ao = (nPad + c) * BLOCK;
        let m = mx[c]!;
        for (let h = 0; h < nb; h++) {
          const a = C[ao + h]! + (logWeight ? logWeight[b0 + h]! : 0);
          if (a > m) m = a;
        }
        const rescale = Math.exp(mx[c]! - m);
        let a = sw[c]! * rescale;
        let s = sws[c]! * rescale;
        for (let h = 0; h < nb; h++) {
          const w = Math.exp(C[ao + h]! + (logWeight ? logWeight[b0 + h]! : 0) - m);
          a += w;
          s += w * C[so + h]!;
        }
        mx[c] = m;
        sw[c] = a;
        sws[c] = s;
      }
    }
    this.cand.forEach((i, c) => (out[i] = (scale * sws[c]!) / sw[c]! + this.B[i]!));
  }

  /**
   * Similarity retrieval (the memory of `study memory` that keeps, for each candidate, the
   * behaviours most similar to it): for each budget ns[t], every candidate i attends over the
   * ns[t] behaviours of `hist` with the largest cosine between e_i and e_j (ties: the later
   * behaviour), scaled by |kept|^(1-alpha); scores go to outs[t] (non-candidates -Infinity).
   */
  scoreSimilar(hist: Int32Array, ns: readonly number[], outs: readonly Float32Array[]): void {
    const d = this.dim;
    const H = hist.length;
    if (H === 0) {
      for (const o of outs) this.scoreVectors(new Float32Array(0), null, 0, o);
      return;
    }
    const nC = this.cand.length;
    const vecs = new Float32Array(H * d);
    hist.forEach((j, h) => vecs.set(this.W.subarray(j * d, (j + 1) * d), h * d));
    // logit, value and cosine of every (candidate, behaviour) pair
    const logit = new Float32Array(nC * H);
    const value = new Float32Array(nC * H);
    const cos = new Float32Array(nC * H);
    const norm = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      let q = 0;
      for (let x = 0; x < d; x++) q += vecs[h * d + x]! * vecs[h * d + x]!;
      norm[h] = Math.sqrt(q) || 1;
    }
    for (let b0 = 0; b0 < H; b0 += BLOCK) {
      const nb = Math.min(BLOCK, H - b0);
      const { C, nPad } = this.products(vecs, b0, nb, 3);
      for (let c = 0; c < nC; c++) {
        for (let h = 0; h < nb; h++) {
          value[c * H + b0 + h] = C[c * BLOCK + h]!;
          logit[c * H + b0 + h] = C[(nPad + c) * BLOCK + h]!;
          cos[c * H + b0 + h] = C[(2 * nPad + c) * BLOCK + h]! / norm[b0 + h]!;
        }
      }
    }
    const top = Math.min(H, Math.max(...ns));
    // sort keys: (1 - cos) quantised, then the later behaviour first; exact in a float64
    let span = 1;
    while (span <= H) span *= 2;
    const keys = new Float64Array(H);
    for (const o of outs) o.fill(-Infinity, 0, this.nItems);
    for (let c = 0; c < nC; c++) {
      const i = this.cand[c]!;
      for (let h = 0; h < H; h++) keys[h] = Math.floor(Math.min(2, Math.max(0, 1 - cos[c * H + h]!)) * 2 ** 25) * span + (H - 1 - h);
      keys.sort();
      let m = -Infinity;
      let a = 0;
      let s = 0;
      let t = 0;
      for (let r = 0; r < top; r++) {
        const h = H - 1 - (keys[r]! % span);
        const z = logit[c * H + h]!;
        if (z > m) {
          const rescale = Math.exp(m - z);
          a *= rescale;
          s *= rescale;
          m = z;
        }
        const w = Math.exp(z - m);
        a += w;
        s += w * value[c * H + h]!;
        while (t < ns.length && Math.min(ns[t]!, H) === r + 1) {
          outs[t]![i] = (historyScale(r + 1, this.alpha) * s) / a + this.B[i]!;
          t++;
        }
      }
      // budgets beyond the history: the whole history
      for (; t < ns.length; t++) outs[t]![i] = (historyScale(top, this.alpha) * s) / a + this.B[i]!;
    }
  }

  /**
   * The products of the first `blocks` blocks of [Q; c ⊙ e + v; e / |e|] (candidates) with
   * memory rows b0 .. b0 + nb of `vecs`, on the WebAssembly kernels: block r's row c, column h
   * is at C[(r nPad + c) BLOCK + h].
   */
  private products(vecs: Float32Array, b0: number, nb: number, blocks: number): { C: Float32Array; nPad: number } {
    const sc = this.scorerOf();
    const { M, H, C, nPad, dPad } = sc;
    const d = this.dim;
    H.fill(0);
    for (let h = 0; h < nb; h++) for (let x = 0; x < d; x++) H[h * dPad + x] = vecs[(b0 + h) * d + x]!;
    sc.arena.nt({ data: M, ld: dPad }, { data: H, ld: dPad }, { data: C, ld: BLOCK }, blocks * nPad, nb + (nb & 1), dPad);
    return { C, nPad };
  }

  /**
   * The WebAssembly arena holding [Q; c ⊙ e + v; e / |e|] of the candidates (row c = candidate
   * c; rows padded to 4, d to 4), built on first use.
   */
  private scorerOf(): Scorer {
    if (this.scorer) return this.scorer;
    const d = this.dim;
    const nPad = Math.ceil(this.cand.length / 4) * 4;
    const dPad = Math.ceil(d / 4) * 4;
    const arena = new NnArena();
    const hM = arena.take(3 * nPad * dPad);
    const hH = arena.take(BLOCK * dPad);
    const hC = arena.take(3 * nPad * BLOCK);
    arena.build('din scorer');
    const M = arena.view(hM);
    this.cand.forEach((i, c) => {
      let nn = 0;
      for (let x = 0; x < d; x++) nn += this.W[i * d + x]! * this.W[i * d + x]!;
      const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
      for (let x = 0; x < d; x++) {
        M[c * dPad + x] = this.Q[i * d + x]!;
        M[(nPad + c) * dPad + x] = this.att[x]! * this.W[i * d + x]! + this.att[d + x]!;
        M[(2 * nPad + c) * dPad + x] = this.W[i * d + x]! * inv;
      }
    });
    this.scorer = { arena, M, H: arena.view(hH), C: arena.view(hC), nPad, dPad };
    return this.scorer;
  }
}
