/**
 * How a history becomes personas in the `personas` model (src/models/personas.ts,
 * docs/personas.md): the history is clustered by the direction of its items' context vectors W_j
 * (`clusterHistory`), persona k is p_k = |C_k|^-alpha sum_{j in C_k} W_j (`personasOf`), and each
 * history item belongs to the persona it has the largest cosine with (`membersOf`). Also the
 * unrolled dot product the persona kernels share. Flat typed arrays throughout (item j at [j*d ..]).
 */

export function dot(a: Float32Array, ao: number, b: Float32Array | Float64Array, bo: number, d: number): number {
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
 * Clusters a history by the direction of its items' context vectors W_j into at most `k` clusters
 * (k-means on the unit sphere with centroids = direction of the summed raw vectors, so at
 * convergence every item sits with the persona p_k it has the largest cosine with). Seeding is
 * deterministic: the item closest to the history's summed direction, then farthest-point.
 * Clusters with fewer than `minItems` items are dropped (one per round) and their items move.
 * Writes each item's cluster (0..K-1, numbered by first appearance in `items`) to `assign`; returns K.
 */
export function clusterHistory(W: Float32Array, d: number, items: Int32Array, k: number, minItems: number, iters: number, assign: Int32Array): number {
  const n = items.length;
  k = Math.min(k, Math.floor(n / Math.max(1, minItems)));
  if (k <= 1 || n === 0) {
    assign.fill(0, 0, n);
    return n === 0 ? 0 : 1;
  }
  if (xBuf.length < n * d) xBuf = new Float64Array(Math.max(n * d, 2 * xBuf.length));
  if (simBuf.length < n) simBuf = new Float64Array(Math.max(n, 2 * simBuf.length));
  const X = xBuf;
  const rs = simBuf;
  const all = new Float64Array(d);
  if (nnBuf.length < n) nnBuf = new Float64Array(Math.max(n, 2 * nnBuf.length));
  squaredNorms(W, items, n, d, nnBuf);
  for (let i = 0; i < n; i++) {
    const wo = items[i]! * d;
    const nn = nnBuf[i]!;
    const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    for (let x = 0; x < d; x++) {
      X[i * d + x] = W[wo + x]! * inv;
      all[x] += W[wo + x]!;
    }
  }
  const C = new Float64Array(k * d);
  let best = 0;
  let bestV = -Infinity;
  rowSims(X, n, d, all, 0, rs);
  for (let i = 0; i < n; i++) {
    const s = rs[i]!;
    if (s > bestV) {
      bestV = s;
      best = i;
    }
  }
  const maxSim = new Float64Array(n).fill(-Infinity);
  for (let kk = 0; ; ) {
    for (let x = 0; x < d; x++) C[kk * d + x] = X[best * d + x]!;
    if (++kk === k) break;
    let farV = Infinity;
    rowSims(X, n, d, C, (kk - 1) * d, rs);
    for (let i = 0; i < n; i++) {
      const s = rs[i]!;
      if (s > maxSim[i]!) maxSim[i] = s;
      if (maxSim[i]! < farV) {
        farV = maxSim[i]!;
        best = i;
      }
    }
  }
  const count = new Int32Array(k);
  const alive = new Uint8Array(k).fill(1);
  if (assignSims.length < n * k) assignSims = new Float64Array(Math.max(n * k, 2 * assignSims.length));
  const sims = assignSims;
  const assignAll = (): boolean => {
    count.fill(0);
    let changed = false;
    allCentroidSims(X, n, C, k, d, sims);
    for (let i = 0; i < n; i++) {
      let bq = -1;
      let bs = -Infinity;
      for (let q = 0; q < k; q++) {
        if (!alive[q]) continue;
        const s = sims[i * k + q]!;
        if (s > bs) {
          bs = s;
          bq = q;
        }
      }
      if (assign[i] !== bq) changed = true;
      assign[i] = bq;
      count[bq]!++;
    }
    return changed;
  };
  assign.fill(-1, 0, n);
  let settled = false;
  for (let round = 0; round < iters; round++) {
    const changed = assignAll();
    let drop = -1;
    for (let q = 0; q < k; q++) if (alive[q] && count[q]! < minItems && (drop < 0 || count[q]! < count[drop]!)) drop = q;
    if (drop >= 0) {
      alive[drop] = 0;
      continue;
    }
    if (!changed && round > 0) {
      settled = true;
      break;
    }
    // centroid = direction of the summed raw vectors (the persona's direction)
    C.fill(0);
    for (let i = 0; i < n; i++) {
      const wo = items[i]! * d;
      for (let x = 0; x < d; x++) C[assign[i]! * d + x] += W[wo + x]!;
    }
    for (let q = 0; q < k; q++) {
      let nn = 0;
      for (let x = 0; x < d; x++) nn += C[q * d + x]! * C[q * d + x]!;
      const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
      for (let x = 0; x < d; x++) C[q * d + x] *= inv;
    }
  }
  // settled: the centroids and live clusters are those of the last assignment, which stands
  if (!settled) assignAll();
  // renumber the surviving clusters by first appearance
  const remap = new Int32Array(k).fill(-1);
  let K = 0;
  for (let i = 0; i < n; i++) {
    const q = assign[i]!;
    if (remap[q] === -1) remap[q] = K++;
    assign[i] = remap[q]!;
  }
  return K;
}

// per-thread scratch of clusterHistory (normalised rows, row similarities, squared norms, item x
// centroid similarities), grown on demand
let xBuf = new Float64Array(0);
let simBuf = new Float64Array(0);
let nnBuf = new Float64Array(0);
let assignSims = new Float64Array(0);

/** out[i] = sum_x W_j[x]^2 (j = items[i]), plain left-to-right sums, four items side by side. */
function squaredNorms(W: Float32Array, items: Int32Array, n: number, d: number, out: Float64Array): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = items[i]! * d;
    const b = items[i + 1]! * d;
    const c = items[i + 2]! * d;
    const e = items[i + 3]! * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let x = 0; x < d; x++) {
      s0 += W[a + x]! * W[a + x]!;
      s1 += W[b + x]! * W[b + x]!;
      s2 += W[c + x]! * W[c + x]!;
      s3 += W[e + x]! * W[e + x]!;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; i++) {
    const a = items[i]! * d;
    let s0 = 0;
    for (let x = 0; x < d; x++) s0 += W[a + x]! * W[a + x]!;
    out[i] = s0;
  }
}

/**
 * out[i k + q] = sum_x X[i d + x] C[q d + x] for every row i < n and centroid q < k, plain
 * left-to-right sums; with k = 4, two rows at a time (eight sums side by side).
 */
function allCentroidSims(X: Float64Array, n: number, C: Float64Array, k: number, d: number, out: Float64Array): void {
  let i = 0;
  if (k === 4) {
    for (; i + 1 < n; i += 2) {
      const a = i * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let x = 0; x < d; x++) {
        const v = X[a + x]!;
        const w = X[a + d + x]!;
        const c0 = C[x]!;
        const c1 = C[d + x]!;
        const c2 = C[2 * d + x]!;
        const c3 = C[3 * d + x]!;
        s0 += v * c0;
        s1 += v * c1;
        s2 += v * c2;
        s3 += v * c3;
        t0 += w * c0;
        t1 += w * c1;
        t2 += w * c2;
        t3 += w * c3;
      }
      const o = i * 4;
      out[o] = s0;
      out[o + 1] = s1;
      out[o + 2] = s2;
      out[o + 3] = s3;
      out[o + 4] = t0;
      out[o + 5] = t1;
      out[o + 6] = t2;
      out[o + 7] = t3;
    }
  }
  for (; i < n; i++) centroidSims(X, i * d, C, k, d, out, i * k);
}

/** out[i] = sum_x X[i d + x] v[vo + x] for the first n rows, plain left-to-right sums, four rows side by side. */
function rowSims(X: Float64Array, n: number, d: number, v: Float64Array, vo: number, out: Float64Array): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const o = i * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let x = 0; x < d; x++) {
      const c = v[vo + x]!;
      s0 += X[o + x]! * c;
      s1 += X[o + d + x]! * c;
      s2 += X[o + 2 * d + x]! * c;
      s3 += X[o + 3 * d + x]! * c;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; i++) {
    let s = 0;
    for (let x = 0; x < d; x++) s += X[i * d + x]! * v[vo + x]!;
    out[i] = s;
  }
}

/**
 * sims[so + q] = sum_x X[xo + x] C[q d + x] for the k rows of C, each a plain left-to-right sum;
 * four (or two) rows at a time so that their sums run side by side (same values as one at a time).
 */
function centroidSims(X: Float64Array, xo: number, C: Float64Array, k: number, d: number, sims: Float64Array, so: number): void {
  let q = 0;
  for (; q + 3 < k; q += 4) {
    const c0 = q * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let x = 0; x < d; x++) {
      const v = X[xo + x]!;
      s0 += v * C[c0 + x]!;
      s1 += v * C[c0 + d + x]!;
      s2 += v * C[c0 + 2 * d + x]!;
      s3 += v * C[c0 + 3 * d + x]!;
    }
    sims[so + q] = s0;
    sims[so + q + 1] = s1;
    sims[so + q + 2] = s2;
    sims[so + q + 3] = s3;
  }
  for (; q + 1 < k; q += 2) {
    const c0 = q * d;
    let s0 = 0;
    let s1 = 0;
    for (let x = 0; x < d; x++) {
      const v = X[xo + x]!;
      s0 += v * C[c0 + x]!;
      s1 += v * C[c0 + d + x]!;
    }
    sims[so + q] = s0;
    sims[so + q + 1] = s1;
  }
  for (; q < k; q++) {
    let s0 = 0;
    for (let x = 0; x < d; x++) s0 += X[xo + x]! * C[q * d + x]!;
    sims[so + q] = s0;
  }
}

/** Persona vectors of a clustered history: p_k = |C_k|^-alpha sum_{j in C_k} W_j (K x d). */
export function personasOf(W: Float32Array, d: number, items: Int32Array, assign: Int32Array, k: number, alpha: number): Float32Array {
  const acc = new Float64Array(k * d);
  const cnt = new Float64Array(k);
  for (let i = 0; i < items.length; i++) {
    const q = assign[i]!;
    cnt[q]!++;
    const wo = items[i]! * d;
    for (let x = 0; x < d; x++) acc[q * d + x] += W[wo + x]!;
  }
  const out = new Float32Array(k * d);
  for (let q = 0; q < k; q++) {
    const s = cnt[q]! > 0 ? Math.pow(cnt[q]!, -alpha) : 0;
    for (let x = 0; x < d; x++) out[q * d + x] = acc[q * d + x]! * s;
  }
  return out;
}

/** Each history item's persona: the persona with the largest cosine to W_j (ties: lower index). */
export function membersOf(W: Float32Array, d: number, items: Int32Array, P: Float32Array, k: number): Int32Array {
  const out = new Int32Array(items.length);
  const norm = new Float64Array(k);
  for (let q = 0; q < k; q++) norm[q] = Math.sqrt(dot(P, q * d, P, q * d, d)) || 1;
  for (let i = 0; i < items.length; i++) {
    let bq = 0;
    let bs = -Infinity;
    for (let q = 0; q < k; q++) {
      const s = dot(W, items[i]! * d, P, q * d, d) / norm[q]!;
      if (s > bs) {
        bs = s;
        bq = q;
      }
    }
    out[i] = bq;
  }
  return out;
}
