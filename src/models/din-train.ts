/**
 * Hot loops of the `din` model (src/models/din.ts, docs/models.md#din): the attention of one
 * candidate over a set of behaviours, and the per-user loss and item gradients of the sampled
 * softmax over held-out targets and a batch's shared negatives. Flat typed arrays throughout
 * (SharedArrayBuffer views when threads > 1); `gradChunk` is the worker entry.
 *
 * Notation: d = dimension; W = the items' behaviour embeddings e_j (key and value), Q = the items'
 * target vectors, B = item biases, c and v = the attention unit's weights (d each). For a
 * candidate i and behaviours H:
 *
 *   a_ij = (c ⊙ e_i + v) . e_j        (the unit on the candidate, the behaviour and their product)
 *   w_ij = softmax_j(a_ij)            (one weight per behaviour)
 *   r_i  = |H|^(1-alpha) sum_j w_ij e_j   (the user as seen by candidate i)
 *   s(i) = Q_i . r_i + B_i
 */
import { heldOut, touch, type ItemTrainState } from './item-train.js';

/** Everything a gradient call reads or writes (histories: each row oldest first). */
export interface DinState extends ItemTrainState {
  /** The attention unit's product weights c and behaviour weights v (d each). */
  readonly att: Float32Array;
  /** Per chunk: the unit's gradient (2d). */
  readonly gAtt: readonly Float32Array[];
}

export interface DinStep {
  /** Share of a history held out as targets each epoch (at least one target, one behaviour). */
  readonly holdout: number;
  /** Seed of this epoch's hold-out draws (each user derives its own stream). */
  readonly seed: number;
  /** Only the last `recent` kept behaviours are attended over (0 = all). */
  readonly recent: number;
  /** Negatives whose gradient weight is below this get no backward pass. */
  readonly skipEps: number;
  /** r_i = |H|^(1-alpha) sum_j w_ij e_j. */
  readonly alpha: number;
}

/** The scale |H|^(1-alpha) of the attended sum (0 without behaviours). */
export function historyScale(n: number, alpha: number): number {
  return n > 0 ? Math.pow(n, 1 - alpha) : 0;
}

// per-thread scratch, grown on demand
let wBuf = new Float64Array(0);
let sBuf = new Float64Array(0);
let zBuf = new Float64Array(0);
let inBuf = new Int32Array(0);

function dot(a: Float32Array, ao: number, b: Float32Array | Float64Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let x = 0;
  for (; x + 1 < d; x += 2) {
    s0 += a[ao + x]! * b[bo + x]!;
    s1 += a[ao + x + 1]! * b[bo + x + 1]!;
  }
  if (x < d) s0 += a[ao + x]! * b[bo + x]!;
  return s0 + s1;
}

/** The attention query of item i: c ⊙ e_i + v, written into `out` (length d). */
export function queryOf(W: Float32Array, att: Float32Array, d: number, i: number, out: Float64Array): void {
  for (let x = 0; x < d; x++) out[x] = att[x]! * W[i * d + x]! + att[d + x]!;
}

/**
 * Attention of candidate `i` over behaviours `hist` (item indices): writes w_ij into `w` and the
 * per-behaviour values s_ij = Q_i . e_j into `s`; returns sum_j w_ij s_ij (the score minus B_i).
 * An empty `hist` returns 0.
 */
export function attend(W: Float32Array, Q: Float32Array, att: Float32Array, d: number, i: number, hist: ArrayLike<number>, n: number, w: Float64Array, s: Float64Array, wo = 0): number {
  if (n === 0) return 0;
  const q = new Float64Array(d);
  queryOf(W, att, d, i, q);
  let m = -Infinity;
  for (let h = 0; h < n; h++) {
    const j = hist[h]!;
    const a = dot(W, j * d, q, 0, d);
    w[wo + h] = a;
    if (a > m) m = a;
  }
  let sum = 0;
  for (let h = 0; h < n; h++) sum += w[wo + h] = Math.exp(w[wo + h]! - m);
  let z = 0;
  for (let h = 0; h < n; h++) {
    const j = hist[h]!;
    w[wo + h] = w[wo + h]! / sum;
    s[wo + h] = dot(Q, i * d, W, j * d, d);
    z += w[wo + h]! * s[wo + h]!;
  }
  return z;
}

/**
 * Loss and gradients of one user for one epoch: the history is split at random into behaviours
 * (kept; the last `recent` of them when set) and targets (held out, share `holdout`); every target
 * and every shared negative (the user's history removed) is scored by attention over the
 * behaviours; the loss is the sampled softmax (logQ-corrected) of the targets over that list.
 * Gradients go to the chunk's buffers. Returns the loss.
 */
export function userGrad(st: DinState, prm: DinStep, u: number, chunk: number): number {
  const { d, W, Q, B, att } = st;
  const h0 = st.hptr[u]!;
  const n = st.hptr[u + 1]! - h0;
  if (n < 2) return 0;
  if (inBuf.length < n) inBuf = new Int32Array(n);
  // roles (1 = target, 0 = behaviour) and the list: targets first, then the pool minus the whole history
  const { roles: roleBuf, list: listBuf, logw: logwBuf, nt, len } = heldOut(st, u, prm.seed, prm.holdout);
  // behaviours: the kept items, oldest first, the last `recent` of them
  let nIn = 0;
  for (let h = 0; h < n; h++) if (!roleBuf[h]) inBuf[nIn++] = st.hidx[h0 + h]!;
  let from = 0;
  if (prm.recent > 0 && nIn > prm.recent) from = nIn - prm.recent;
  const hist = inBuf.subarray(from, nIn);
  const H = hist.length;
  if (zBuf.length < len) zBuf = new Float64Array(len);
  if (wBuf.length < len * H) {
    wBuf = new Float64Array(len * H);
    sBuf = new Float64Array(len * H);
  }
  // forward: every list entry's attention and score
  const f = historyScale(H, prm.alpha);
  let m = -Infinity;
  for (let c = 0; c < len; c++) {
    const i = listBuf[c]!;
    const z = (zBuf[c] = f * attend(W, Q, att, d, i, hist, H, wBuf, sBuf, c * H) + B[i]! + logwBuf[c]!);
    if (z > m) m = z;
  }
  let sum = 0;
  for (let c = 0; c < len; c++) sum += Math.exp(zBuf[c]! - m);
  const lse = m + Math.log(sum);
  let loss = 0;
  for (let c = 0; c < nt; c++) loss += lse - zBuf[c]!;
  // backward: dL/dz_c = nt softmax(z)_c - [c is a target]
  const gW = st.gW[chunk]!;
  const gQ = st.gQ[chunk]!;
  const gB = st.gB[chunk]!;
  const gAtt = st.gAtt[chunk]!;
  const q = new Float64Array(d);
  const r = new Float64Array(d);
  const dA = new Float64Array(d);
  for (let c = 0; c < len; c++) {
    const g = nt * Math.exp(zBuf[c]! - lse) - (c < nt ? 1 : 0);
    if (c >= nt && g < prm.skipEps) continue;
    const i = listBuf[c]!;
    touch(st, chunk, i);
    gB[i] = gB[i]! + g;
    if (H === 0) continue;
    queryOf(W, att, d, i, q);
    const zbar = (zBuf[c]! - B[i]! - logwBuf[c]!) / f;
    const gf = g * f;
    r.fill(0);
    dA.fill(0);
    const qo = i * d;
    for (let h = 0; h < H; h++) {
      const j = hist[h]!;
      const w = wBuf[c * H + h]!;
      const alpha = gf * w;
      const beta = gf * w * (sBuf[c * H + h]! - zbar);
      const jo = j * d;
      touch(st, chunk, j);
      for (let x = 0; x < d; x++) {
        const e = W[jo + x]!;
        r[x] += w * e;
        dA[x] += beta * e;
        gW[jo + x] = gW[jo + x]! + alpha * Q[qo + x]! + beta * q[x]!;
      }
    }
    for (let x = 0; x < d; x++) {
      gQ[qo + x] = gQ[qo + x]! + gf * r[x]!;
      // through the query c ⊙ e_i + v
      gW[qo + x] = gW[qo + x]! + att[x]! * dA[x]!;
      gAtt[x] = gAtt[x]! + W[qo + x]! * dA[x]!;
      gAtt[d + x] = gAtt[d + x]! + dA[x]!;
    }
  }
  return loss;
}

/**
 * Worker entry: one chunk of a batch. Runs `userGrad` for `users` in order into the chunk's
 * buffers (which the caller has zeroed). The result depends only on the chunk, never on the thread.
 */
export function gradChunk(st: DinState, prm: DinStep, users: Int32Array, chunk: number): number {
  let loss = 0;
  for (let b = 0; b < users.length; b++) loss += userGrad(st, prm, users[b]!, chunk);
  return loss;
}
