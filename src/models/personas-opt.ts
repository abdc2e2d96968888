/**
 * The optimiser pieces of the `personas` model: a sparse (lazy) Adam over the item rows a batch
 * touched, the popularity-skewed negative sampler of the sampled softmax, and the sparse
 * neighbour lists of the optional item-item term.
 */
import { sharedFloat32 } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { knnRows } from './itemknn.js';
import type { TrainSet } from './model.js';
import type { TrainState } from './personas-train.js';

/** The parts of a training state the optimiser reads (shared by `personas` and `din`). */
export type AdamState = Pick<TrainState, 'd' | 'nItems' | 'W' | 'Q' | 'B' | 'gW' | 'gQ' | 'gB' | 'touched' | 'marks' | 'nTouched'>;

const B1 = 0.9;
const B2 = 0.999;

/**
 * Adam on the rows of W, Q and B that the batch's chunks touched (targets, sampled negatives,
 * kept history items); untouched rows and their moments stay as they are (lazy Adam). Each row
 * keeps its own step count for the bias correction. Chunk gradients are summed in chunk order and
 * zeroed, so the result never depends on which thread ran a chunk. Cost: touched rows x d.
 */
export class ItemAdam {
  private readonly mW: Float32Array;
  private readonly vW: Float32Array;
  private readonly mQ: Float32Array;
  private readonly vQ: Float32Array;
  private readonly mB: Float32Array;
  private readonly vB: Float32Array;
  private readonly steps: Int32Array;
  private readonly union: Int32Array;
  private readonly inUnion: Uint8Array;

  constructor(
    private readonly st: AdamState,
    private readonly learnBias: boolean,
  ) {
    const n = st.nItems * st.d;
    this.mW = new Float32Array(n);
    this.vW = new Float32Array(n);
    this.mQ = new Float32Array(n);
    this.vQ = new Float32Array(n);
    this.mB = new Float32Array(st.nItems);
    this.vB = new Float32Array(st.nItems);
    this.steps = new Int32Array(st.nItems);
    this.union = new Int32Array(st.nItems);
    this.inUnion = new Uint8Array(st.nItems);
  }

  /** One step over the rows touched by chunks [0, chunks); L2 weight `l2` on those rows. */
  step(chunks: number, lr: number, l2: number): void {
    const { st, union, inUnion } = this;
    const d = st.d;
    let m = 0;
    for (let c = 0; c < chunks; c++) {
      const t = st.touched[c]!;
      const mk = st.marks[c]!;
      for (let r = 0; r < st.nTouched[c]!; r++) {
        const j = t[r]!;
        mk[j] = 0;
        if (!inUnion[j]) {
          inUnion[j] = 1;
          union[m++] = j;
        }
      }
      st.nTouched[c] = 0;
    }
    for (let r = 0; r < m; r++) {
      const j = union[r]!;
      inUnion[j] = 0;
      const t = ++this.steps[j]!;
      const c1 = 1 / (1 - Math.pow(B1, t));
      const c2 = 1 / (1 - Math.pow(B2, t));
      this.row(st.W, st.gW, this.mW, this.vW, j * d, d, chunks, lr, l2, c1, c2);
      this.row(st.Q, st.gQ, this.mQ, this.vQ, j * d, d, chunks, lr, l2, c1, c2);
      let g = 0;
      for (let c = 0; c < chunks; c++) {
        g += st.gB[c]![j]!;
        st.gB[c]![j] = 0;
      }
      if (!this.learnBias) continue;
      const mb = (this.mB[j] = B1 * this.mB[j]! + (1 - B1) * g);
      const vb = (this.vB[j] = B2 * this.vB[j]! + (1 - B2) * g * g);
      st.B[j] = st.B[j]! - (lr * mb * c1) / (Math.sqrt(vb * c2) + 1e-8);
    }
  }

  private row(X: Float32Array, G: readonly Float32Array[], M: Float32Array, V: Float32Array, o: number, d: number, chunks: number, lr: number, l2: number, c1: number, c2: number): void {
    for (let x = o; x < o + d; x++) {
      let g = 0;
      for (let c = 0; c < chunks; c++) {
        g += G[c]![x]!;
        G[c]![x] = 0;
      }
      g += l2 * X[x]!;
      const m = (M[x] = B1 * M[x]! + (1 - B1) * g);
      const v = (V[x] = B2 * V[x]! + (1 - B2) * g * g);
      X[x] = X[x]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
    }
  }
}

/** Draws a batch's shared negatives with replacement, q(j) ~ popularity^power; distinct items with log(count / (N q)). */
export class NegativeSampler {
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

  /** `n` draws from `rng`; returns the distinct items and their log weights. */
  draw(n: number, rng: Rng): { items: Int32Array; logW: Float32Array } {
    const { cdf, count } = this;
    const drawn: number[] = [];
    const last = cdf.length - 1;
    for (let s = 0; s < n; s++) {
      const r = rng.next() * cdf[last]!;
      let lo = 0;
      let hi = last;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > r) hi = mid;
        else lo = mid + 1;
      }
      if (count[lo]!++ === 0) drawn.push(lo);
    }
    drawn.sort((a, b) => a - b);
    const items = new Int32Array(drawn.length);
    const logW = new Float32Array(drawn.length);
    drawn.forEach((c, m) => {
      items[m] = this.cand[c]!;
      logW[m] = Math.log(count[c]! / (n * this.q[c]!));
      count[c] = 0;
    });
    return { items, logW };
  }
}

/**
 * Each item's top-`k` item-kNN neighbours (cosine with `shrink`, `knnRows` of itemknn.ts),
 * transposed: row j lists the items i that keep j among their neighbours, with sim(i, j).
 * Items x k entries, never items^2.
 */
export function neighbourRows(train: TrainSet, k: number, shrink: number): { ptr: Int32Array; idx: Int32Array; val: Float32Array } {
  const n = train.nItems;
  const ui = train.userItems;
  const iu = train.itemUsers;
  const r = knnRows(ui.indptr, ui.indices, iu.indptr, iu.indices, n, 0, n, k, shrink);
  const rowPtr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) rowPtr[i + 1] = rowPtr[i]! + r.counts[i]!;
  const ptr = new Int32Array(n + 1);
  for (const j of r.indices) ptr[j + 1]!++;
  for (let j = 0; j < n; j++) ptr[j + 1]! += ptr[j]!;
  const next = ptr.slice(0, n);
  const idx = new Int32Array(r.indices.length);
  const val = new Float32Array(r.indices.length);
  for (let i = 0; i < n; i++) {
    for (let p = rowPtr[i]!; p < rowPtr[i + 1]!; p++) {
      const q = next[r.indices[p]!]!++;
      idx[q] = i;
      val[q] = r.values[p]!;
    }
  }
  return { ptr, idx, val };
}

/**
 * Starting item vectors in shared memory: W and Q normal(0, initStd) for the candidates (seeded
 * from `rng`, candidate order), B the centred log popularity when `itemBias` (else 0).
 */
export function initItemVectors(train: TrainSet, cand: Int32Array, d: number, initStd: number, itemBias: boolean, rng: Rng): { W: Float32Array; Q: Float32Array; B: Float32Array } {
  const nItems = train.nItems;
  const W = sharedFloat32(nItems * d);
  const Q = sharedFloat32(nItems * d);
  const B = sharedFloat32(nItems);
  let meanLog = 0;
  for (const j of cand) meanLog += Math.log(train.itemPopularity[j]! + 1);
  meanLog /= Math.max(1, cand.length);
  for (const j of cand) {
    for (let x = 0; x < d; x++) W[j * d + x] = initStd * rng.normal();
    for (let x = 0; x < d; x++) Q[j * d + x] = initStd * rng.normal();
    if (itemBias) B[j] = Math.log(train.itemPopularity[j]! + 1) - meanLog;
  }
  return { W, Q, B };
}
