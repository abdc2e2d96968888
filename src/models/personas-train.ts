/**
 * Hot loops of the `personas` model (src/models/personas.ts): scoring one user's personas against
 * the candidates, the per-user multinomial (full softmax) gradient with the attention-entropy
 * terms, the in-place Adam step on a user's personas, and the deterministic persona split
 * (spherical k-means on the user's own item vectors). Everything works on flat typed arrays; the
 * gradient kernel is also a worker entry point (`gradChunk`), called with SharedArrayBuffer views.
 *
 * Notation: d = dimension, P = personas (row-major, persona p at P[p*d ..]), pptr[u]..pptr[u+1] =
 * the personas of user u, V = item vectors (item j at V[j*d ..]), B = item biases.
 * z_k = p_k . v_j, a = softmax(z / tau), s(u, j) = B_j + sum_k a_k z_k (= B_j + v_j . sum_k a_k p_k).
 */

/** Everything a gradient call reads or writes; typed arrays are shared between threads. */
export interface TrainState {
  readonly d: number;
  readonly nItems: number;
  readonly V: Float32Array;
  readonly B: Float32Array;
  readonly P: Float32Array;
  /** Adam moments of the personas (same layout as P). */
  readonly mP: Float32Array;
  readonly vP: Float32Array;
  readonly pptr: Int32Array;
  /** The users' histories (CSR over users, item indices). */
  readonly hptr: Int32Array;
  readonly hidx: Int32Array;
  readonly cand: Int32Array;
  /** item -> position in `cand`, -1 when not a candidate. */
  readonly candPos: Int32Array;
  /**
   * The negatives of the current batch (distinct items) and their log importance weights
   * log(count / (N q)); the full softmax is `cand` with weights 0. Items in the user's history are
   * skipped (they enter as positives).
   */
  pool: Int32Array;
  poolLogW: Float32Array;
  /** One item-gradient buffer per chunk (nItems * d) and one bias-gradient buffer (nItems). */
  readonly gV: readonly Float32Array[];
  readonly gB: readonly Float32Array[];
}

export interface StepParams {
  readonly tau: number;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  /** Adam step number of the users (1-based, for bias correction). */
  readonly t: number;
  readonly l2User: number;
  /** Pulls each persona toward the mean of the user's personas (unneeded personas collapse). */
  readonly l2Group: number;
  /** Weight of the attention entropy on positives (minimised: sharp attention). */
  readonly entPos: number;
  /** Weight of the softmax-weighted attention entropy on negatives (maximised: diffuse attention). */
  readonly entNeg: number;
  /** true: each user's loss is divided by |H_u| (every user weighs the same). */
  readonly userMean: boolean;
  /** Each user's loss is multiplied by |H_u|^-userPow (0: plain sum; ignored with userMean). */
  readonly userPow?: number;
  /** Items with |H_u| * softmax prob below this get no gradient (they carry almost none). */
  readonly skipEps: number;
  /** false: only the personas learn (fold-in). */
  readonly updateItems: boolean;
  /** Train users with k > 1 with the mixture-of-multinomials loss instead of the attention score. */
  readonly mixture?: boolean;
  /** Adam steps per user per visit (the last one also yields the item gradients). */
  readonly userSteps?: number;
}

// per-thread scratch, grown on demand
let zBuf = new Float64Array(0);
let aBuf = new Float64Array(0);
let sBuf = new Float64Array(0);
let gPBuf = new Float64Array(0);
let listBuf = new Int32Array(0);
let logwBuf = new Float64Array(0);
let mark = new Uint8Array(0);

function ensureScratch(nCand: number, k: number, d: number): void {
  if (zBuf.length < nCand * k) {
    zBuf = new Float64Array(nCand * k);
    aBuf = new Float64Array(nCand * k);
  }
  if (sBuf.length < nCand) {
    sBuf = new Float64Array(nCand);
  }
  if (gPBuf.length < k * d) gPBuf = new Float64Array(k * d);
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let x = 0;
  for (; x + 3 < d; x += 4) {
    s0 += a[ao + x]! * b[bo + x]!;
    s1 += a[ao + x + 1]! * b[bo + x + 1]!;
    s2 += a[ao + x + 2]! * b[bo + x + 2]!;
    s3 += a[ao + x + 3]! * b[bo + x + 3]!;
  }
  for (; x < d; x++) s0 += a[ao + x]! * b[bo + x]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * Forward pass of one user (personas P[base .. base + k*d)) over the candidates: fills zBuf/aBuf
 * (per candidate, k entries) and sBuf (full score incl. bias). Returns the max score.
 */
function forward(V: Float32Array, B: Float32Array, P: Float32Array, base: number, k: number, d: number, tau: number, cand: Int32Array): number {
  const nC = cand.length;
  let maxS = -Infinity;
  const invTau = 1 / tau;
  for (let c = 0; c < nC; c++) {
    const j = cand[c]!;
    const vo = j * d;
    let s: number;
    if (k === 1) {
      s = dot(P, base, V, vo, d);
      zBuf[c] = s;
      aBuf[c] = 1;
    } else {
      const o = c * k;
      let m = -Infinity;
      for (let q = 0; q < k; q++) {
        const z = dot(P, base + q * d, V, vo, d);
        zBuf[o + q] = z;
        if (z > m) m = z;
      }
      let sum = 0;
      for (let q = 0; q < k; q++) {
        const e = Math.exp((zBuf[o + q]! - m) * invTau);
        aBuf[o + q] = e;
        sum += e;
      }
      s = 0;
      const inv = 1 / sum;
      for (let q = 0; q < k; q++) {
        const a = aBuf[o + q]! * inv;
        aBuf[o + q] = a;
        s += a * zBuf[o + q]!;
      }
    }
    s += B[j]!;
    sBuf[c] = s;
    if (s > maxS) maxS = s;
  }
  return maxS;
}

/** Scores of one user's personas for every item: candidates get s(u, j), the others -Infinity. */
export function scoreUser(
  V: Float32Array,
  B: Float32Array,
  P: Float32Array,
  base: number,
  k: number,
  d: number,
  tau: number,
  cand: Int32Array,
  out: Float32Array,
  mix: { shares: ArrayLike<number>; gamma: number } | null = null,
): void {
  out.fill(-Infinity);
  if (k === 0) {
    for (let c = 0; c < cand.length; c++) out[cand[c]!] = B[cand[c]!]!;
    return;
  }
  ensureScratch(cand.length, k, d);
  forward(V, B, P, base, k, d, tau, cand);
  if (!mix) {
    for (let c = 0; c < cand.length; c++) out[cand[c]!] = sBuf[c]!;
    return;
  }
  // mixture of per-persona softmaxes: s = log sum_k w_k exp(z_k + b - lse_k),
  // w_k = share_k^gamma (share_k = mean attention of the user's history items on persona k)
  const nC = cand.length;
  const w = new Float64Array(k);
  let ws = 0;
  for (let q = 0; q < k; q++) ws += w[q] = Math.pow(Math.max(1e-6, mix.shares[q]!), mix.gamma);
  const lse = new Float64Array(k);
  for (let q = 0; q < k; q++) {
    let m = -Infinity;
    for (let c = 0; c < nC; c++) m = Math.max(m, zBuf[c * k + q]! + B[cand[c]!]!);
    let sum = 0;
    for (let c = 0; c < nC; c++) sum += Math.exp(zBuf[c * k + q]! + B[cand[c]!]! - m);
    lse[q] = m + Math.log(sum) - Math.log(w[q]! / ws);
  }
  for (let c = 0; c < nC; c++) {
    const b = B[cand[c]!]!;
    let m = -Infinity;
    for (let q = 0; q < k; q++) m = Math.max(m, zBuf[c * k + q]! + b - lse[q]!);
    let sum = 0;
    for (let q = 0; q < k; q++) sum += Math.exp(zBuf[c * k + q]! + b - lse[q]! - m);
    out[cand[c]!] = m + Math.log(sum);
  }
}

/** log sum_j exp(z_k(j) + b_j) over the candidates, per persona of P[base ..] (k rows). */
export function personaLse(V: Float32Array, B: Float32Array, P: Float32Array, base: number, k: number, d: number, cand: Int32Array): Float64Array {
  const lse = new Float64Array(k);
  const z = new Float64Array(cand.length);
  for (let q = 0; q < k; q++) {
    let m = -Infinity;
    for (let c = 0; c < cand.length; c++) {
      const j = cand[c]!;
      const v = (z[c] = dot(P, base + q * d, V, j * d, d) + B[j]!);
      if (v > m) m = v;
    }
    let sum = 0;
    for (let c = 0; c < cand.length; c++) sum += Math.exp(z[c]! - m);
    lse[q] = m + Math.log(sum);
  }
  return lse;
}

/** Share of a history on each persona: the mean attention of the history items. */
export function personaShares(V: Float32Array, P: Float32Array, base: number, k: number, d: number, tau: number, hist: Int32Array): Float64Array {
  const sh = new Float64Array(k);
  if (k === 0 || hist.length === 0) return sh;
  for (const j of hist) {
    const a = attentionOf(V, P, base, k, d, tau, j);
    for (let q = 0; q < k; q++) sh[q] += a[q]! / hist.length;
  }
  return sh;
}

/** The attention weights a_k(u, j) of one user's personas for item j. */
export function attentionOf(V: Float32Array, P: Float32Array, base: number, k: number, d: number, tau: number, j: number): Float32Array {
  const out = new Float32Array(k);
  if (k === 0) return out;
  const z = new Float64Array(k);
  let m = -Infinity;
  for (let q = 0; q < k; q++) {
    z[q] = dot(P, base + q * d, V, j * d, d);
    if (z[q]! > m) m = z[q]!;
  }
  let sum = 0;
  for (let q = 0; q < k; q++) sum += z[q] = Math.exp((z[q]! - m) / tau);
  for (let q = 0; q < k; q++) out[q] = z[q]! / sum;
  return out;
}

/**
 * Loss and gradient of one user; updates the user's personas in place (Adam) and, when
 * `prm.updateItems`, accumulates the item gradients into gV/gB. The softmax runs over the user's
 * positives and the pool (minus the positives), each pool item's logit shifted by its log
 * importance weight. Returns the user's loss.
 */
export function userStep(st: TrainState, prm: StepParams, u: number, gV: Float32Array | null, gB: Float32Array | null): number {
  const { d, V, B, P, candPos, pool, poolLogW } = st;
  const k = st.pptr[u + 1]! - st.pptr[u]!;
  const h0 = st.hptr[u]!;
  const h1 = st.hptr[u + 1]!;
  if (k === 0 || h1 === h0) return 0;
  const base = st.pptr[u]! * d;
  if (mark.length < st.nItems) mark = new Uint8Array(st.nItems);
  const cap = h1 - h0 + pool.length;
  if (listBuf.length < cap) {
    listBuf = new Int32Array(cap);
    logwBuf = new Float64Array(cap);
  }
  // the list: positives first, then the pool's other items
  let n = 0;
  for (let h = h0; h < h1; h++) {
    const j = st.hidx[h]!;
    if (candPos[j]! < 0 || mark[j]) continue;
    mark[j] = 1;
    listBuf[n] = j;
    logwBuf[n] = 0;
    n++;
  }
  if (n === 0) return 0;
  let len = n;
  for (let c = 0; c < pool.length; c++) {
    const j = pool[c]!;
    if (mark[j]) continue;
    listBuf[len] = j;
    logwBuf[len] = poolLogW[c]!;
    len++;
  }
  for (let c = 0; c < n; c++) mark[listBuf[c]!] = 0;
  const list = listBuf.subarray(0, len);
  ensureScratch(len, k, d);
  const tau = prm.tau;
  const invTau = 1 / tau;
  forward(V, B, P, base, k, d, tau, list);
  let maxT = -Infinity;
  for (let c = 0; c < len; c++) {
    const t = sBuf[c]! + logwBuf[c]!;
    if (t > maxT) maxT = t;
  }
  let sumExp = 0;
  let sumPos = 0;
  for (let c = 0; c < len; c++) sumExp += Math.exp(sBuf[c]! + logwBuf[c]! - maxT);
  for (let c = 0; c < n; c++) sumPos += sBuf[c]!;
  const lse = maxT + Math.log(sumExp);
  const w = prm.userMean ? 1 / n : prm.userPow ? Math.pow(n, -prm.userPow) : 1;
  let loss = w * (n * lse - sumPos);
  const gP = gPBuf;
  gP.fill(0, 0, k * d);
  const entPos = k > 1 ? prm.entPos * w : 0;
  const entNeg = k > 1 ? prm.entNeg * w * n : 0;
  const skip = prm.skipEps;
  const coef = new Float64Array(k);
  if (prm.mixture && k > 1) {
    loss = mixtureGrad(st, list, n, len, k, base, w, skip, gP, gV, gB);
  } else for (let c = 0; c < len; c++) {
    const pi = Math.exp(sBuf[c]! + logwBuf[c]! - lse);
    const pos = c < n ? 1 : 0;
    if (!pos && n * pi < skip) continue;
    const g = w * (n * pi - pos);
    const j = list[c]!;
    const vo = j * d;
    if (gB) gB[j] = gB[j]! + g;
    if (k === 1) {
      coef[0] = g;
    } else {
      const o = c * k;
      const sAtt = sBuf[c]! - B[j]!;
      let ent = 0;
      if (entPos !== 0 || entNeg !== 0) {
        for (let q = 0; q < k; q++) {
          const a = aBuf[o + q]!;
          if (a > 0) ent -= a * Math.log(a);
        }
      }
      // d entropy / d z_q = -(1/tau) a_q (log a_q + H)
      const eW = pos ? entPos : -entNeg * pi;
      for (let q = 0; q < k; q++) {
        const a = aBuf[o + q]!;
        let cq = g * a * (1 + (zBuf[o + q]! - sAtt) * invTau);
        if (eW !== 0 && a > 0) cq += eW * -invTau * a * (Math.log(a) + ent);
        coef[q] = cq;
      }
      if (pos && entPos !== 0) loss += entPos * ent;
      else if (!pos && entNeg !== 0) loss -= entNeg * pi * ent;
    }
    for (let q = 0; q < k; q++) {
      const cq = coef[q]!;
      const po = base + q * d;
      const go = q * d;
      for (let x = 0; x < d; x++) gP[go + x] += cq * V[vo + x]!;
      if (gV) for (let x = 0; x < d; x++) gV[vo + x] = gV[vo + x]! + cq * P[po + x]!;
    }
  }
  return finishUser(st, prm, base, k, gP, loss);
}

/**
 * The mixture-of-multinomials loss of one user with k > 1 personas (uniform mixture weights):
 * -sum_{i in H} log (1/k) sum_q softmax_i(z_q + b), each persona's softmax over the list (with the
 * pool's log weights). With r_iq the responsibilities and R_q = sum_i r_iq,
 * dL/dz_jq = R_q softmax_q(j) - [j in H] r_jq. Fills gP (and gV/gB); returns the loss.
 */
function mixtureGrad(
  st: TrainState, list: Int32Array, n: number, len: number, k: number, base: number, w: number, skip: number,
  gP: Float64Array, gV: Float32Array | null, gB: Float32Array | null,
): number {
  const { d, V, B, P } = st;
  const lse = new Float64Array(k);
  for (let q = 0; q < k; q++) {
    let m = -Infinity;
    for (let c = 0; c < len; c++) m = Math.max(m, zBuf[c * k + q]! + B[list[c]!]! + logwBuf[c]!);
    let sum = 0;
    for (let c = 0; c < len; c++) sum += Math.exp(zBuf[c * k + q]! + B[list[c]!]! + logwBuf[c]! - m);
    lse[q] = m + Math.log(sum);
  }
  // responsibilities of the positives (stored in aBuf, which the mixture does not otherwise use)
  const R = new Float64Array(k);
  let loss = 0;
  const logK = Math.log(k);
  for (let c = 0; c < n; c++) {
    const b = B[list[c]!]!;
    let m = -Infinity;
    for (let q = 0; q < k; q++) m = Math.max(m, zBuf[c * k + q]! + b - lse[q]!);
    let sum = 0;
    for (let q = 0; q < k; q++) sum += aBuf[c * k + q] = Math.exp(zBuf[c * k + q]! + b - lse[q]! - m);
    loss -= w * (m + Math.log(sum) - logK);
    for (let q = 0; q < k; q++) R[q] += aBuf[c * k + q] = aBuf[c * k + q]! / sum;
  }
  const coef = new Float64Array(k);
  for (let c = 0; c < len; c++) {
    const j = list[c]!;
    const b = B[j]! + logwBuf[c]!;
    let tot = 0;
    for (let q = 0; q < k; q++) {
      const g = R[q]! * Math.exp(zBuf[c * k + q]! + b - lse[q]!) - (c < n ? aBuf[c * k + q]! : 0);
      coef[q] = w * g;
      tot += coef[q]!;
    }
    if (c >= n && tot < skip) continue;
    const vo = j * d;
    if (gB) gB[j] = gB[j]! + tot;
    for (let q = 0; q < k; q++) {
      const cq = coef[q]!;
      const po = base + q * d;
      const go = q * d;
      for (let x = 0; x < d; x++) gP[go + x] += cq * V[vo + x]!;
      if (gV) for (let x = 0; x < d; x++) gV[vo + x] = gV[vo + x]! + cq * P[po + x]!;
    }
  }
  return loss;
}

function finishUser(st: TrainState, prm: StepParams, base: number, k: number, gP: Float64Array, loss: number): number {
  const { d, P } = st;
  // regularisers: L2 on personas, and a pull toward the user's persona mean
  // L2 per persona is divided by k: k identical personas cost what the single vector did
  const l2 = prm.l2User / k;
  const lg = k > 1 ? prm.l2Group : 0;
  for (let x = 0; x < d; x++) {
    let mean = 0;
    if (lg !== 0) {
      for (let q = 0; q < k; q++) mean += P[base + q * d + x]!;
      mean /= k;
    }
    for (let q = 0; q < k; q++) {
      const p = P[base + q * d + x]!;
      gP[q * d + x] += 2 * l2 * p + 2 * lg * (p - mean);
      loss += l2 * p * p + lg * (p - mean) * (p - mean);
    }
  }
  // Adam on the user's personas
  const { lr, beta1, beta2, t } = prm;
  const c1 = 1 / (1 - Math.pow(beta1, t));
  const c2 = 1 / (1 - Math.pow(beta2, t));
  for (let x = 0; x < k * d; x++) {
    const g = gP[x]!;
    const m = (st.mP[base + x] = beta1 * st.mP[base + x]! + (1 - beta1) * g);
    const v = (st.vP[base + x] = beta2 * st.vP[base + x]! + (1 - beta2) * g * g);
    P[base + x] = P[base + x]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
  }
  return loss;
}

/**
 * Worker entry: one chunk of a batch. Zeroes the chunk's item-gradient buffers, then runs
 * `userStep` for `users` in order. The result depends only on the chunk, never on the thread.
 */
export function gradChunk(st: TrainState, prm: StepParams, users: Int32Array, chunk: number): number {
  const gV = prm.updateItems ? st.gV[chunk]! : null;
  const gB = prm.updateItems ? st.gB[chunk]! : null;
  gV?.fill(0);
  gB?.fill(0);
  let loss = 0;
  const extra = Math.max(0, (prm.userSteps ?? 1) - 1);
  for (let b = 0; b < users.length; b++) {
    // extra persona-only steps first, then the step that also yields the item gradients
    for (let r = 0; r < extra; r++) userStep(st, prm, users[b]!, null, null);
    loss += userStep(st, prm, users[b]!, gV, gB);
  }
  return loss;
}

/**
 * Splits a user's single vector `p` into up to `k` personas: spherical k-means (10 Lloyd rounds)
 * on the normalised vectors of the user's items, seeded deterministically (first centre = the item
 * closest to p, then farthest-point). Clusters with fewer than `minItems` items are dropped and
 * their items re-assigned; persona q = p + scale |p| unit(c_q - c_all), where c are mean item
 * vectors (a step from the single vector toward the cluster). Returns the
 * personas (kept * d) and their count (>= 1).
 */
export function splitPersonas(p: Float32Array, items: Int32Array, V: Float32Array, d: number, k: number, minItems: number, scale = 1): Float32Array {
  const n = items.length;
  k = Math.min(k, Math.floor(n / Math.max(1, minItems)));
  if (k <= 1 || n === 0) return Float32Array.from(p);
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const vo = items[i]! * d;
    let nn = 0;
    for (let x = 0; x < d; x++) nn += V[vo + x]! * V[vo + x]!;
    const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    for (let x = 0; x < d; x++) X[i * d + x] = V[vo + x]! * inv;
  }
  const C = new Float64Array(k * d);
  // farthest-point seeding
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let x = 0; x < d; x++) s += X[i * d + x]! * p[x]!;
    if (s > bestV) {
      bestV = s;
      best = i;
    }
  }
  const maxSim = new Float64Array(n).fill(-Infinity);
  let kk = 0;
  for (;;) {
    for (let x = 0; x < d; x++) C[kk * d + x] = X[best * d + x]!;
    kk++;
    if (kk === k) break;
    let far = -1;
    let farV = Infinity;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let x = 0; x < d; x++) s += X[i * d + x]! * C[(kk - 1) * d + x]!;
      if (s > maxSim[i]!) maxSim[i] = s;
      if (maxSim[i]! < farV) {
        farV = maxSim[i]!;
        far = i;
      }
    }
    best = far;
  }
  const assign = new Int32Array(n);
  const count = new Int32Array(k);
  const alive = new Uint8Array(k).fill(1);
  const assignAll = (): void => {
    count.fill(0);
    for (let i = 0; i < n; i++) {
      let bq = -1;
      let bs = -Infinity;
      for (let q = 0; q < k; q++) {
        if (!alive[q]) continue;
        let s = 0;
        for (let x = 0; x < d; x++) s += X[i * d + x]! * C[q * d + x]!;
        if (s > bs) {
          bs = s;
          bq = q;
        }
      }
      assign[i] = bq;
      count[bq]!++;
    }
  };
  for (let round = 0; round < 12; round++) {
    assignAll();
    // drop the smallest undersized cluster (one per round, so its items can move)
    let drop = -1;
    for (let q = 0; q < k; q++) if (alive[q] && count[q]! < minItems && (drop < 0 || count[q]! < count[drop]!)) drop = q;
    if (drop >= 0) {
      alive[drop] = 0;
      continue;
    }
    // update (spherical: normalised mean)
    C.fill(0);
    for (let i = 0; i < n; i++) for (let x = 0; x < d; x++) C[assign[i]! * d + x] += X[i * d + x]!;
    for (let q = 0; q < k; q++) {
      if (!alive[q]) continue;
      let nn = 0;
      for (let x = 0; x < d; x++) nn += C[q * d + x]! * C[q * d + x]!;
      const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
      for (let x = 0; x < d; x++) C[q * d + x] *= inv;
    }
  }
  assignAll();
  const kept: number[] = [];
  for (let q = 0; q < k; q++) if (alive[q] && count[q]! >= minItems) kept.push(q);
  if (kept.length <= 1) return Float32Array.from(p);
  // persona q = p + scale |p| unit(c_q - c_all), c = mean (raw) item vectors: a small step from the
  // user's single vector toward each cluster; training separates them where the data supports it
  const M = new Float64Array(k * d);
  const all = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const vo = items[i]! * d;
    for (let x = 0; x < d; x++) {
      M[assign[i]! * d + x] += V[vo + x]!;
      all[x] += V[vo + x]!;
    }
  }
  let pn = 0;
  for (let x = 0; x < d; x++) {
    all[x] /= n;
    pn += p[x]! * p[x]!;
  }
  pn = Math.sqrt(pn);
  const out = new Float32Array(kept.length * d);
  const off = new Float64Array(d);
  kept.forEach((q, r) => {
    let on = 0;
    for (let x = 0; x < d; x++) {
      off[x] = M[q * d + x]! / count[q]! - all[x]!;
      on += off[x]! * off[x]!;
    }
    const f = on > 0 ? (scale * pn) / Math.sqrt(on) : 0;
    for (let x = 0; x < d; x++) out[r * d + x] = p[x]! + f * off[x]!;
  });
  return out;
}
