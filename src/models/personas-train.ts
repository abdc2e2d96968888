/**
 * Hot loops of the `personas` model (src/models/personas.ts, docs/personas.md): the scores of a
 * persona set, the per-user gradient of the mixture-of-multinomials likelihood with held-out
 * targets, and the worker entries `gradChunk` and `clusterChunk` (the clustering itself is in
 * personas-cluster.ts). Everything works on flat typed arrays
 * (SharedArrayBuffer views when threads > 1).
 *
 * Notation: d = dimension; W = item context vectors, Q = item target vectors (item j at [j*d ..]),
 * B = item biases. A user's history is cut into K clusters C_k; persona k is
 * p_k = |C_k|^-alpha sum_{j in C_k} W_j; z_k(i) = Q_i . p_k + B_i; the score is
 * s(i) = log sum_k pi_k softmax_i(z_k(i)), pi_k = |C_k|^gamma / sum.
 */
import { heldOut, touch, type ItemTrainState } from './item-train.js';
import { clusterHistory } from './personas-cluster.js';
import type { RowRead } from './component-logits.js';
import { mixtureTerms, sumExpShift } from '../math/exp-rows.js';
import { candidateDots, chunkKernel, clusterInArena, type ChunkKernel, type PersonaArena } from '../math/persona-kernels.js';

/** Everything a gradient call reads or writes; typed arrays are shared between threads. */
export interface TrainState extends ItemTrainState {
  /** Each history item's cluster (parallel to hidx) and the clusters (personas) per user in the current epoch. */
  readonly assign: Int32Array;
  readonly ku: Int32Array;
  /**
   * The sparse neighbour term (empty when off): row j lists the items i that keep j among their
   * top neighbours, with sim(i, j); persona k adds beta * sum_{j in C_k} sim(i, j) to z_k(i).
   */
  readonly sPtr: Int32Array;
  readonly sIdx: Int32Array;
  readonly sVal: Float32Array;
  readonly beta: number;
  /** Q and the gQ buffers (views of the arena: st.Q, st.gQ) and each chunk's kernel scratch. */
  readonly arena: PersonaArena;
}

export interface StepParams {
  readonly alpha: number;
  readonly gamma: number;
  /** Share of a user's history held out as targets each epoch (the rest is the input). */
  readonly holdout: number;
  /** Seed of this epoch's hold-out draws (each user derives its own stream). */
  readonly seed: number;
  /** Negatives whose summed gradient weight is below this get no backward pass. */
  readonly skipEps: number;
  /**
   * Weight lambda of the whole-history component (users with 2+ personas): the mixture is
   * lambda softmax(z_all) + (1 - lambda) sum_k pi_k softmax(z_k), z_all from all kept items.
   */
  readonly whole: number;
}

// per-thread scratch, grown on demand: the neighbour accumulator, per-component vectors (userGrad
// reuses them for every user instead of allocating)
let accBuf = new Float64Array(0);
let comp: Float64Array[] = [];

/** Mixture weights pi_k = count_k^gamma / sum over clusters with count > 0 (0 for empty clusters). */
export function mixWeights(count: ArrayLike<number>, k: number, gamma: number): Float64Array {
  return mixWeightsInto(count, k, gamma, new Float64Array(k));
}

/** `mixWeights` written into w[0 .. k). */
function mixWeightsInto(count: ArrayLike<number>, k: number, gamma: number, w: Float64Array): Float64Array {
  w.fill(0, 0, k);
  let s = 0;
  for (let q = 0; q < k; q++) if (count[q]! > 0) s += w[q] = Math.pow(count[q]!, gamma);
  if (s > 0) for (let q = 0; q < k; q++) w[q] = w[q]! / s;
  return w;
}

let zAll = new Float64Array(0);
/** `scoreMixture`'s column of one component's logits (for the SIMD sum of exp). */
let column = new Float64Array(0);
/** `mixtureOrder`'s candidates that get their exact score. */
let exactBuf = new Int32Array(0);

/**
 * Q_c . p_q over the candidates (layout c * k + q) for the components whose logits are not
 * `known`; the known components' entries are left for the caller to fill. With every component
 * unknown this is `candidateDots` itself; otherwise only the unknown rows go through the kernel
 * (each dot the same arithmetic, so the values do not depend on which rows were known).
 */
function unknownDots(Q: Float32Array, P: Float32Array, base: number, k: number, d: number, cand: Int32Array, known: readonly (Float64Array | null)[] | null): Float64Array {
  const rows: number[] = [];
  for (let q = 0; q < k; q++) if (!known || !known[q]) rows.push(q);
  if (rows.length === k) return candidateDots(Q, P, base, k, d, cand);
  const nC = cand.length;
  if (zAll.length < nC * k) zAll = new Float64Array(nC * k);
  if (rows.length === 0) return zAll;
  const packed = new Float32Array(rows.length * d);
  rows.forEach((q, r) => packed.set(P.subarray(base + q * d, base + (q + 1) * d), r * d));
  const z = candidateDots(Q, packed, 0, rows.length, d, cand);
  const kk = rows.length;
  for (let c = 0; c < nC; c++) for (let r = 0; r < kk; r++) zAll[c * k + rows[r]!] = z[c * kk + r]!;
  return zAll;
}

/**
 * Scores of a persona set (k rows of P from `base`) for every item: candidates get
 * log sum_k pi_k softmax_i(Q_i . p_k + B_i) (an exact softmax over the candidates not marked in
 * `excl`, the user's history, as in training), the others -Infinity. `pi` (length k) defaults to
 * equal weights. Returns each persona's log normaliser. `logits`, when given, holds component q's
 * logits z(c) over the candidates where the caller has them (component-logits.ts), used instead of
 * computing them, and receives the logits computed here (`keep`, with their log normaliser over
 * all candidates when there are no exclusions, else NaN). `read`: 'history-order' when the caller
 * reads only how the candidates' scores order against the history's (`mixtureOrder`), 'none' when
 * it wants only the normalisers (`out` is then not written).
 */
export function scoreMixture(
  Q: Float32Array, B: Float32Array, P: Float32Array, base: number, k: number, d: number, cand: Int32Array, out: Float32Array, pi: ArrayLike<number> | null,
  extra: Float32Array | null = null, nItems = 0, excl: Uint8Array | null = null,
  logits: { known: readonly (Float64Array | null)[]; keep(q: number, z: Float64Array, lse: number): void } | null = null,
  read: RowRead = 'all',
): Float64Array {
  const nC = cand.length;
  const lse = new Float64Array(k);
  if (read !== 'none') out.fill(-Infinity);
  else if (k === 0) return lse;
  if (k === 0) {
    for (let c = 0; c < nC; c++) out[cand[c]!] = B[cand[c]!]!;
    return lse;
  }
  const zBuf = unknownDots(Q, P, base, k, d, cand, logits ? logits.known : null);
  for (let q = 0; q < k; q++) {
    let m = -Infinity;
    const known = logits ? logits.known[q] : null;
    for (let c = 0; c < nC; c++) {
      const j = cand[c]!;
      const z = (zBuf[c * k + q] = known ? known[c]! : zBuf[c * k + q]! + B[j]! + (extra ? extra[q * nItems + j]! : 0));
      if (z > m) m = z;
    }
    let sum = 0;
    if (Number.isFinite(m)) {
      // the same sum by the SIMD exp rows: an excluded candidate's logit as -Infinity adds exp(-Infinity) = +0 to a sum >= +0
      if (column.length < nC) column = new Float64Array(nC);
      const col = column.subarray(0, nC);
      for (let c = 0; c < nC; c++) col[c] = excl && excl[cand[c]!] ? -Infinity : zBuf[c * k + q]!;
      sum = sumExpShift(col, m);
    } else for (let c = 0; c < nC; c++) if (!excl || !excl[cand[c]!]) sum += Math.exp(zBuf[c * k + q]! - m);
    if (sum === 0) for (let c = 0; c < nC; c++) sum += Math.exp(zBuf[c * k + q]! - m);
    lse[q] = m + Math.log(sum);
    if (logits && !known) {
      const zq = new Float64Array(nC);
      for (let c = 0; c < nC; c++) zq[c] = zBuf[c * k + q]!;
      logits.keep(q, zq, excl ? Number.NaN : lse[q]!);
    }
  }
  if (read === 'none') return lse;
  const logPi = new Float64Array(k);
  for (let q = 0; q < k; q++) logPi[q] = pi ? Math.log(pi[q]!) : -Math.log(k);
  if (read === 'history-order' && excl && k > 1) mixtureOrder(zBuf, lse, logPi, k, cand, excl, out);
  else for (let c = 0; c < nC; c++) out[cand[c]!] = mixtureAt(zBuf, lse, logPi, k, c);
  return lse;
}

/** The mixture score log sum_q pi_q softmax_q of candidate c (the terms of `scoreMixture`). */
function mixtureAt(zBuf: Float64Array, lse: Float64Array, logPi: Float64Array, k: number, c: number): number {
  let m = -Infinity;
  for (let q = 0; q < k; q++) m = Math.max(m, zBuf[c * k + q]! - lse[q]! + logPi[q]!);
  // one component: the log-sum-exp below is m + log(exp(0)) = m exactly
  if (k === 1 && Number.isFinite(m)) return m;
  let sum = 0;
  for (let q = 0; q < k; q++) sum += Math.exp(zBuf[c * k + q]! - lse[q]! + logPi[q]! - m);
  return m + Math.log(sum);
}

/**
 * `scoreMixture`'s row for a reader of how each candidate's score orders against the history
 * items' scores only (src/confidence `profileFit`): the history items (marked in `excl`) and every
 * candidate whose score could equal or cross one of theirs get their exact score; any other
 * candidate gets fround(m), m the largest of its terms. Its score m + log(sum) lies in
 * [m, m + log k] (the largest term is exp(0) = 1 and the others at most 1), so when no history
 * score lies in that interval fround(m) has the same history scores below, equal to and above it
 * as the exact score, without the candidate's k exponentials and logarithm.
 */
function mixtureOrder(zBuf: Float64Array, lse: Float64Array, logPi: Float64Array, k: number, cand: Int32Array, excl: Uint8Array, out: Float32Array): void {
  const nC = cand.length;
  const hs: number[] = [];
  for (let c = 0; c < nC; c++) {
    if (!excl[cand[c]!]) continue;
    out[cand[c]!] = mixtureAt(zBuf, lse, logPi, k, c);
    if (Number.isFinite(out[cand[c]!]!)) hs.push(out[cand[c]!]!);
  }
  const sorted = Float64Array.from(hs).sort();
  const logK = Math.log(k);
  // mixtureAt's maxima and sums of exp by the SIMD exp rows (bit for bit, the same q order)
  const terms = mixtureTerms(zBuf, k, lse, logPi, nC);
  const ms = terms.maxima;
  if (exactBuf.length < nC) exactBuf = new Int32Array(nC);
  let ne = 0;
  for (let c = 0; c < nC; c++) {
    if (excl[cand[c]!]) continue;
    const m = ms[c]!;
    if (Number.isFinite(m)) {
      // bounds of the float32 score, with a margin far above the rounding of the log-sum
      const lo = Math.fround(m);
      const hi = Math.fround(m + logK + 1e-9 * (1 + Math.abs(m)));
      let a = 0;
      let b = sorted.length;
      while (a < b) {
        const mid = (a + b) >> 1;
        if (sorted[mid]! < lo) a = mid + 1;
        else b = mid;
      }
      if (a === sorted.length || sorted[a]! > hi) {
        out[cand[c]!] = lo;
        continue;
      }
    }
    exactBuf[ne++] = c;
  }
  const sums = terms.sums(exactBuf, ne);
  for (let x = 0; x < ne; x++) {
    const c = exactBuf[x]!;
    const m = ms[c]!;
    out[cand[c]!] = k === 1 && Number.isFinite(m) ? m : m + Math.log(sums[x]!);
  }
}

/**
 * Loss and item gradients of one user for one epoch: the history is split at random into input
 * (kept) and targets (held out, share `holdout`, at least one of each); each cluster's kept items
 * make its persona; the targets are scored by the mixture over the personas with kept items
 * (pi from the full cluster sizes), against the targets plus the batch's negatives (the user's
 * history removed), with the logQ correction. Gradients go to the chunk's buffers. Returns the loss.
 */
export function userGrad(st: TrainState, prm: StepParams, u: number, chunk: number): number {
  const { d } = st;
  const h0 = st.hptr[u]!;
  const n = st.hptr[u + 1]! - h0;
  const k = st.ku[u]!;
  if (n < 2 || k === 0) return 0;
  // roles (1 = target, 0 = input) and the list: targets first, then the pool minus the whole history
  const { roles: roleBuf, list: listBuf, logw: logwBuf, nt, len } = heldOut(st, u, prm.seed, prm.holdout);
  // personas from the kept items of each cluster
  if (comp.length === 0 || comp[0]!.length < k + 1) comp = Array.from({ length: 6 }, () => new Float64Array(2 * (k + 1)));
  const size = comp[0]!;
  const kept = comp[1]!;
  const present = comp[2]!;
  const pi0 = comp[3]!;
  const pi = comp[4]!;
  const scale = comp[5]!;
  size.fill(0, 0, k);
  kept.fill(0, 0, k);
  for (let h = 0; h < n; h++) {
    const q = st.assign[h0 + h]!;
    size[q]!++;
    if (!roleBuf[h]) kept[q]!++;
  }
  for (let q = 0; q < k; q++) present[q] = kept[q]! > 0 ? size[q]! : 0;
  mixWeightsInto(present, k, prm.gamma, pi0);
  // component k (when present) is the whole-history persona over all kept items
  const whole = prm.whole > 0 && k > 1;
  const K = whole ? k + 1 : k;
  pi.fill(0, 0, K);
  scale.fill(0, 0, K);
  for (let q = 0; q < k; q++) pi[q] = whole ? (1 - prm.whole) * pi0[q]! : pi0[q]!;
  let nKept = 0;
  for (let q = 0; q < k; q++) {
    scale[q] = kept[q]! > 0 ? Math.pow(kept[q]!, -prm.alpha) : 0;
    nKept += kept[q]!;
  }
  if (whole) {
    pi[k] = prm.whole;
    scale[k] = Math.pow(nKept, -prm.alpha);
  }
  // the components: P_q = scale_q x the sum of the W rows of cluster q's kept items (kernel)
  const kern = chunkKernel(st.arena, chunk);
  kern.items.set(st.hidx.subarray(h0, h0 + n));
  kern.groups.set(st.assign.subarray(h0, h0 + n));
  kern.roles.set(roleBuf.subarray(0, n));
  kern.scale.set(scale.subarray(0, K));
  const ks = kern.s;
  const wholeOn = whole ? 1 : 0;
  kern.g.buildP(st.arena.W, d, ks.items, ks.roles, ks.groups, n, k, wholeOn, ks.scale, ks.P);
  // the dot products Q_j . P_q of the list (kernel), then the biases, log weights and neighbour
  // term, and each component's log normaliser (kernel without the neighbour term)
  const zBuf = kern.z;
  kern.list.set(listBuf.subarray(0, len));
  for (let q = 0; q < K; q++) kern.on[q] = pi[q] === 0 ? 0 : 1;
  kern.k.zRows(st.arena.Q, d, ks.P, K, ks.on, ks.list, len, ks.z);
  const lse = kern.lse;
  lse.fill(0, 0, K);
  const nb = st.beta !== 0 && st.sIdx.length > 0;
  if (nb) neighbourLogits(st, kern, roleBuf, listBuf, logwBuf, h0, n, k, K, len, pi, scale);
  else {
    kern.logw.set(logwBuf.subarray(0, len));
    kern.g.logitRows(st.arena.B, ks.list, ks.logw, len, K, ks.on, ks.z, ks.mx, ks.sums);
    for (let q = 0; q < K; q++) if (pi[q] !== 0) lse[q] = kern.mx[q]! + Math.log(kern.sums[q]!);
  }
  // responsibilities of the targets (kept in zBuf's target rows after use), R_q = their sums
  const R = kern.R;
  R.fill(0, 0, K);
  const resp = kern.resp;
  resp.fill(0, 0, nt * K);
  let loss = 0;
  for (let c = 0; c < nt; c++) {
    let m = -Infinity;
    for (let q = 0; q < K; q++) if (pi[q]! > 0) m = Math.max(m, zBuf[c * K + q]! - lse[q]! + Math.log(pi[q]!));
    let sum = 0;
    for (let q = 0; q < K; q++) if (pi[q]! > 0) sum += resp[c * K + q] = Math.exp(zBuf[c * K + q]! - lse[q]! + Math.log(pi[q]!) - m);
    loss -= m + Math.log(sum);
    for (let q = 0; q < K; q++) R[q] += resp[c * K + q] = resp[c * K + q]! / sum;
  }
  // dL/dz_q(j) = R_q softmax_q(j) - [j target] r_jq (kernel: the targets and the negatives whose
  // summed weight is at least skipEps are kept); the kept entries go to the kernel's backward
  // pass (gP_q += g Q_j, gQ_j += g P_q, entries in list order)
  kern.gP.fill(0, 0, K * d);
  const gB = st.gB[chunk]!;
  const nIdx = kern.g.coefRows(ks.z, K, ks.on, ks.lse, ks.R, ks.resp, nt, len, prm.skipEps, ks.coef, ks.idx, ks.tots);
  for (let t = 0; t < nIdx; t++) {
    const j = listBuf[kern.idx[t]!]!;
    touch(st, chunk, j);
    gB[j] = gB[j]! + kern.tots[t]!;
  }
  kern.k.backRows(st.arena.Q, st.arena.gQ[chunk]!, d, ks.P, ks.gP, K, ks.list, ks.coef, ks.idx, nIdx);
  // back to the kept items: dp_q / dW_j = |kept_q|^-alpha (kernel: gW_j += scale_q gP_q, then the whole component's)
  for (let h = 0; h < n; h++) if (!roleBuf[h]) touch(st, chunk, st.hidx[h0 + h]!);
  kern.g.backW(st.arena.gW[chunk]!, d, ks.items, ks.roles, ks.groups, n, k, wholeOn, ks.scale, ks.gP);
  return loss;
}

/**
 * The logits of a user's list with the neighbour term (JS): z_q(j) += B_j + logw + beta scale_q
 * sum over q's kept items i of sim(j, i) (q = k: all kept items), and each component's lse.
 */
function neighbourLogits(st: TrainState, kern: ChunkKernel, roleBuf: Uint8Array, listBuf: Int32Array, logwBuf: Float64Array, h0: number, n: number, k: number, K: number, len: number, pi: Float64Array, scale: Float64Array): void {
  if (accBuf.length < st.nItems) accBuf = new Float64Array(st.nItems);
  const { B } = st;
  const zBuf = kern.z;
  for (let q = 0; q < K; q++) {
    if (pi[q] === 0) continue;
    const member = q === k ? -1 : q;
    scatterMembers(st, roleBuf, h0, n, member, 1);
    let m = -Infinity;
    for (let c = 0; c < len; c++) {
      const j = listBuf[c]!;
      const z = (zBuf[c * K + q] = zBuf[c * K + q]! + B[j]! + logwBuf[c]! + st.beta * scale[q]! * accBuf[j]!);
      if (z > m) m = z;
    }
    scatterMembers(st, roleBuf, h0, n, member, 0);
    let sum = 0;
    for (let c = 0; c < len; c++) sum += Math.exp(zBuf[c * K + q]! - m);
    kern.lse[q] = m + Math.log(sum);
  }
}

/** Adds (on = 1) the neighbour rows of persona q's kept items (q = -1: all kept items) into accBuf, or clears them (on = 0). */
function scatterMembers(st: TrainState, roleBuf: Uint8Array, h0: number, n: number, q: number, on: number): void {
  for (let h = 0; h < n; h++) {
    if (roleBuf[h] || (q >= 0 && st.assign[h0 + h] !== q)) continue;
    const j = st.hidx[h0 + h]!;
    for (let p = st.sPtr[j]!; p < st.sPtr[j + 1]!; p++) {
      const i = st.sIdx[p]!;
      accBuf[i] = on ? accBuf[i]! + st.sVal[p]! : 0;
    }
  }
}

/**
 * Worker entry: one chunk of a batch. Runs `userGrad` for `users` in order into the chunk's
 * buffers (which the caller has zeroed). The result depends only on the chunk, never on the thread.
 */
export function gradChunk(st: TrainState, prm: StepParams, users: Int32Array, chunk: number): number {
  let loss = 0;
  for (let b = 0; b < users.length; b++) loss += userGrad(st, prm, users[b]!, chunk);
  return loss;
}

/** Worker entry: clusters the histories of users [lo, hi) into st.assign / st.ku (see `clusterHistory`). */
export function clusterChunk(st: TrainState, lo: number, hi: number, kMax: number, perPersona: number, minItems: number, iters: number, slot = -1): void {
  for (let u = lo; u < hi; u++) {
    const h = st.hidx.subarray(st.hptr[u]!, st.hptr[u + 1]!);
    const ku = Math.max(1, Math.min(kMax, Math.floor(h.length / perPersona)));
    const a = st.assign.subarray(st.hptr[u]!, st.hptr[u + 1]!);
    // 2+ clusters run in the kernel (clustering slot `slot` of the arena) when the slot fits
    const k = Math.min(ku, Math.floor(h.length / Math.max(1, minItems)));
    const K = k >= 2 ? clusterInArena(st.arena, slot, h, k, minItems, iters, a) : -1;
    st.ku[u] = h.length === 0 ? 0 : K >= 0 ? K : clusterHistory(st.W, st.d, h, ku, minItems, iters, a);
  }
}

