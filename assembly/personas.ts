// Hot loops of the persona model's training and scoring (src/models/personas-train.ts,
// src/math/persona-kernels.ts), f64x2 SIMD over float32 item rows. Compiled by
// scripts/build-wasm.mjs into build/wasm/personas.wasm.
//
// Every function reproduces, bit for bit, the float64 arithmetic of the plain loops it replaces:
// a dot product keeps four partial sums s0..s3 over x mod 4 (s0, s1 in one f64x2, s2, s3 in
// another), adds the tail (d mod 4) to s0 in order and returns s0 + s1 + (s2 + s3); products of a
// float32 and a float64 are float64 products; an update of a float32 row is rounded once, after
// the float64 add. Pointers are byte offsets into the (shared, imported) memory; rows of the item
// matrices are d floats apart (no padding). Nothing here depends on the calling thread.

// dot(row of float32 at q, row of float64 at p), d values
@inline
function dotF32F64(q: usize, p: usize, d: i32): f64 {
  let a = f64x2.splat(0);
  let b = f64x2.splat(0);
  const d4 = d & ~3;
  let x = 0;
  for (; x < d4; x += 4) {
    const v = v128.load(q + (<usize>x << 2));
    a = f64x2.add(a, f64x2.mul(f64x2.promote_low_f32x4(v), v128.load(p + (<usize>x << 3))));
    b = f64x2.add(b, f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), v128.load(p + (<usize>x << 3), 16)));
  }
  // the tail goes to s0 one product at a time, as in the plain loop
  let s0 = f64x2.extract_lane(a, 0);
  for (; x < d; x++) s0 += <f64>load<f32>(q + (<usize>x << 2)) * load<f64>(p + (<usize>x << 3));
  return s0 + f64x2.extract_lane(a, 1) + (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1));
}

// z[c * K + q] = Q_{list[c]} . P_q for c in [0, len) and the components q with on[q] != 0
// (P: K rows of d float64; on: K bytes; z: float64, stride K; list: int32). Two components at a
// time share one pass over Q_j (each keeps its own partial sums, so each dot is dotF32F64's).
export function zRows(Q: usize, d: i32, P: usize, K: i32, on: usize, list: usize, len: i32, z: usize): void {
  const rowQ = <usize>d << 2;
  const rowP = <usize>d << 3;
  for (let c = 0; c < len; c++) {
    const qo = Q + <usize>load<i32>(list + (<usize>c << 2)) * rowQ;
    const zo = z + ((<usize>c * <usize>K) << 3);
    let q = 0;
    while (true) {
      while (q < K && load<u8>(on + <usize>q) == 0) q++;
      if (q >= K) break;
      let r = q + 1;
      while (r < K && load<u8>(on + <usize>r) == 0) r++;
      if (r >= K) {
        store<f64>(zo + (<usize>q << 3), dotF32F64(qo, P + <usize>q * rowP, d));
        break;
      }
      dot2(qo, P + <usize>q * rowP, P + <usize>r * rowP, d, zo + (<usize>q << 3), zo + (<usize>r << 3));
      q = r + 1;
    }
  }
}

// dotF32F64(q, p0, d) into o0 and dotF32F64(q, p1, d) into o1, one pass over q
@inline
function dot2(q: usize, p0: usize, p1: usize, d: i32, o0: usize, o1: usize): void {
  let a0 = f64x2.splat(0);
  let b0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let b1 = f64x2.splat(0);
  const d4 = d & ~3;
  let x = 0;
  for (; x < d4; x += 4) {
    const v = v128.load(q + (<usize>x << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
    const xp = <usize>x << 3;
    a0 = f64x2.add(a0, f64x2.mul(lo, v128.load(p0 + xp)));
    b0 = f64x2.add(b0, f64x2.mul(hi, v128.load(p0 + xp, 16)));
    a1 = f64x2.add(a1, f64x2.mul(lo, v128.load(p1 + xp)));
    b1 = f64x2.add(b1, f64x2.mul(hi, v128.load(p1 + xp, 16)));
  }
  let s0 = f64x2.extract_lane(a0, 0);
  let t0 = f64x2.extract_lane(a1, 0);
  for (; x < d; x++) {
    const w = <f64>load<f32>(q + (<usize>x << 2));
    s0 += w * load<f64>(p0 + (<usize>x << 3));
    t0 += w * load<f64>(p1 + (<usize>x << 3));
  }
  store<f64>(o0, s0 + f64x2.extract_lane(a0, 1) + (f64x2.extract_lane(b0, 0) + f64x2.extract_lane(b0, 1)));
  store<f64>(o1, t0 + f64x2.extract_lane(a1, 1) + (f64x2.extract_lane(b1, 0) + f64x2.extract_lane(b1, 1)));
}

// The backward pass over the list entries idx[0 .. n): for entry c (item j = list[c]) and each
// component q with g = coef[c * K + q] != 0: gP_q += g Q_j (float64) and gQ_j = f32(gQ_j + g P_q),
// in that order per q, entries in order.
export function backRows(Q: usize, gQ: usize, d: i32, P: usize, gP: usize, K: i32, list: usize, coef: usize, idx: usize, n: i32): void {
  const rowQ = <usize>d << 2;
  const rowP = <usize>d << 3;
  const d4 = d & ~3;
  for (let t = 0; t < n; t++) {
    const c = load<i32>(idx + (<usize>t << 2));
    const off = <usize>load<i32>(list + (<usize>c << 2)) * rowQ;
    const qo = Q + off;
    const go = gQ + off;
    const co = coef + ((<usize>c * <usize>K) << 3);
    for (let q = 0; q < K; q++) {
      const g = load<f64>(co + (<usize>q << 3));
      if (g == 0) continue;
      const gv = f64x2.splat(g);
      const po = P + <usize>q * rowP;
      const gpo = gP + <usize>q * rowP;
      let x = 0;
      for (; x < d4; x += 4) {
        const xq = <usize>x << 2;
        const xp = <usize>x << 3;
        const v = v128.load(qo + xq);
        const gp0 = f64x2.add(v128.load(gpo + xp), f64x2.mul(gv, f64x2.promote_low_f32x4(v)));
        const gp1 = f64x2.add(v128.load(gpo + xp, 16), f64x2.mul(gv, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))));
        v128.store(gpo + xp, gp0);
        v128.store(gpo + xp, gp1, 16);
        const w = v128.load(go + xq);
        const lo = f32x4.demote_f64x2_zero(f64x2.add(f64x2.promote_low_f32x4(w), f64x2.mul(gv, v128.load(po + xp))));
        const hi = f32x4.demote_f64x2_zero(f64x2.add(f64x2.promote_low_f32x4(i32x4.shuffle(w, w, 2, 3, 0, 1)), f64x2.mul(gv, v128.load(po + xp, 16))));
        v128.store(go + xq, i32x4.shuffle(lo, hi, 0, 1, 4, 5));
      }
      for (; x < d; x++) {
        const xq = <usize>x << 2;
        const xp = <usize>x << 3;
        store<f64>(gpo + xp, load<f64>(gpo + xp) + g * <f64>load<f32>(qo + xq));
        store<f32>(go + xq, <f32>(<f64>load<f32>(go + xq) + g * load<f64>(po + xp)));
      }
    }
  }
}

// The end of the module's static data: kernel regions start above it.
export function heapBase(): usize {
  return __heap_base;
}

// Lazy Adam over rows: for each row j = rows[r] and x in [0, d): g = sum over the `chunks`
// gradient buffers (their byte offsets: `chunks` int32 at G) whose bit is set in the row's mask
// masks[r] (one byte per row; the other buffers' rows are zero), in order, each zeroed;
// g += l2 X; M = b1 M + ob1 g; V = b2 V + ob2 g g (float64, stored float32); X -= lr M c1 /
// (sqrt(V c2) + 1e-8) with the row's bias corrections c1[r], c2[r], using the float64 M and V.
export function adamRows(X: usize, G: usize, chunks: i32, M: usize, V: usize, d: i32, rows: usize, masks: usize, n: i32, c1s: usize, c2s: usize, lr: f64, l2: f64, b1: f64, ob1: f64, b2: f64, ob2: f64): void {
  const rowB = <usize>d << 2;
  const d4 = d & ~3;
  const vl2 = f64x2.splat(l2);
  const vb1 = f64x2.splat(b1);
  const vob1 = f64x2.splat(ob1);
  const vb2 = f64x2.splat(b2);
  const vob2 = f64x2.splat(ob2);
  const vlr = f64x2.splat(lr);
  const eps = f64x2.splat(1e-8);
  const zero = f32x4.splat(0);
  for (let r = 0; r < n; r++) {
    const off = <usize>load<i32>(rows + (<usize>r << 2)) * rowB;
    const mask = <i32>load<u8>(masks + <usize>r);
    const c1 = f64x2.splat(load<f64>(c1s + (<usize>r << 3)));
    const c2 = f64x2.splat(load<f64>(c2s + (<usize>r << 3)));
    let x = 0;
    for (; x < d4; x += 4) {
      const xb = off + (<usize>x << 2);
      let glo = f64x2.splat(0);
      let ghi = f64x2.splat(0);
      for (let c = 0; c < chunks; c++) {
        if (((mask >> c) & 1) == 0) continue;
        const gp = <usize>load<i32>(G + (<usize>c << 2)) + xb;
        const w = v128.load(gp);
        glo = f64x2.add(glo, f64x2.promote_low_f32x4(w));
        ghi = f64x2.add(ghi, f64x2.promote_low_f32x4(i32x4.shuffle(w, w, 2, 3, 0, 1)));
        v128.store(gp, zero);
      }
      const xv = v128.load(X + xb);
      const xlo = f64x2.promote_low_f32x4(xv);
      const xhi = f64x2.promote_low_f32x4(i32x4.shuffle(xv, xv, 2, 3, 0, 1));
      glo = f64x2.add(glo, f64x2.mul(vl2, xlo));
      ghi = f64x2.add(ghi, f64x2.mul(vl2, xhi));
      const mv = v128.load(M + xb);
      const mlo = f64x2.add(f64x2.mul(vb1, f64x2.promote_low_f32x4(mv)), f64x2.mul(vob1, glo));
      const mhi = f64x2.add(f64x2.mul(vb1, f64x2.promote_low_f32x4(i32x4.shuffle(mv, mv, 2, 3, 0, 1))), f64x2.mul(vob1, ghi));
      v128.store(M + xb, i32x4.shuffle(f32x4.demote_f64x2_zero(mlo), f32x4.demote_f64x2_zero(mhi), 0, 1, 4, 5));
      const vv = v128.load(V + xb);
      const vlo = f64x2.add(f64x2.mul(vb2, f64x2.promote_low_f32x4(vv)), f64x2.mul(f64x2.mul(vob2, glo), glo));
      const vhi = f64x2.add(f64x2.mul(vb2, f64x2.promote_low_f32x4(i32x4.shuffle(vv, vv, 2, 3, 0, 1))), f64x2.mul(f64x2.mul(vob2, ghi), ghi));
      v128.store(V + xb, i32x4.shuffle(f32x4.demote_f64x2_zero(vlo), f32x4.demote_f64x2_zero(vhi), 0, 1, 4, 5));
      const nlo = f64x2.sub(xlo, f64x2.div(f64x2.mul(f64x2.mul(vlr, mlo), c1), f64x2.add(f64x2.sqrt(f64x2.mul(vlo, c2)), eps)));
      const nhi = f64x2.sub(xhi, f64x2.div(f64x2.mul(f64x2.mul(vlr, mhi), c1), f64x2.add(f64x2.sqrt(f64x2.mul(vhi, c2)), eps)));
      v128.store(X + xb, i32x4.shuffle(f32x4.demote_f64x2_zero(nlo), f32x4.demote_f64x2_zero(nhi), 0, 1, 4, 5));
    }
    const sc1 = f64x2.extract_lane(c1, 0);
    const sc2 = f64x2.extract_lane(c2, 0);
    for (; x < d; x++) {
      const xb = off + (<usize>x << 2);
      let g: f64 = 0;
      for (let c = 0; c < chunks; c++) {
        if (((mask >> c) & 1) == 0) continue;
        const gp = <usize>load<i32>(G + (<usize>c << 2)) + xb;
        g += <f64>load<f32>(gp);
        store<f32>(gp, 0);
      }
      const xs = <f64>load<f32>(X + xb);
      g += l2 * xs;
      const m = b1 * <f64>load<f32>(M + xb) + ob1 * g;
      store<f32>(M + xb, <f32>m);
      const v = b2 * <f64>load<f32>(V + xb) + ob2 * g * g;
      store<f32>(V + xb, <f32>v);
      store<f32>(X + xb, <f32>(xs - (lr * m * sc1) / (Math.sqrt(v * sc2) + 1e-8)));
    }
  }
}

// out[i] = X_i . v for every item i (X_i = W_{items[i]} / |W_{items[i]}|, its float64 entries
// w * inv[i]; v: d float64), plain left-to-right sums, two items side by side (one per lane)
function rowSims(W: usize, rowW: usize, items: usize, inv: usize, n: i32, v: usize, d: i32, out: usize): void {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    const b = W + <usize>load<i32>(items + (<usize>i << 2), 4) * rowW;
    const ia = load<f64>(inv + (<usize>i << 3));
    const ib = load<f64>(inv + (<usize>i << 3), 8);
    let s = f64x2.splat(0);
    for (let x = 0; x < d; x++) {
      const w = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(a + (<usize>x << 2)) * ia), 1, <f64>load<f32>(b + (<usize>x << 2)) * ib);
      s = f64x2.add(s, f64x2.mul(w, f64x2.splat(load<f64>(v + (<usize>x << 3)))));
    }
    v128.store(out + (<usize>i << 3), s);
  }
  if (i < n) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    const ia = load<f64>(inv + (<usize>i << 3));
    let s: f64 = 0;
    for (let x = 0; x < d; x++) s += (<f64>load<f32>(a + (<usize>x << 2)) * ia) * load<f64>(v + (<usize>x << 3));
    store<f64>(out + (<usize>i << 3), s);
  }
}

// sims[i kp + q] = X_i . C_q for every item i and centroid q < k (plain left-to-right sums over x,
// two or four centroids side by side: CT holds C transposed, d rows of kp = k rounded up to even
// float64, the padding column zero), then each item's best live centroid into assign (ties: lower
// q) and the clusters' sizes into count. Returns 1 if an assignment changed.
function assignAll(W: usize, d: i32, items: usize, n: i32, k: i32, inv: usize, C: usize, CT: usize, sims: usize, alive: usize, count: usize, assign: usize): i32 {
  const kp = (k + 1) & ~1;
  const rowW = <usize>d << 2;
  for (let q = 0; q < kp; q++) {
    for (let x = 0; x < d; x++) store<f64>(CT + ((<usize>x * <usize>kp + <usize>q) << 3), q < k ? load<f64>(C + ((<usize>q * <usize>d + <usize>x) << 3)) : 0);
  }
  for (let q = 0; q < k; q++) store<i32>(count + (<usize>q << 2), 0);
  let changed = 0;
  // two items side by side, then the last one alone (each sum on its own, as one at a time)
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    const b = W + <usize>load<i32>(items + (<usize>i << 2), 4) * rowW;
    const ia = load<f64>(inv + (<usize>i << 3));
    const ib = load<f64>(inv + (<usize>i << 3), 8);
    const so = sims + ((<usize>i * <usize>kp) << 3);
    const to = so + (<usize>kp << 3);
    let q = 0;
    for (; q + 3 < kp; q += 4) {
      let s0 = f64x2.splat(0);
      let s1 = f64x2.splat(0);
      let t0 = f64x2.splat(0);
      let t1 = f64x2.splat(0);
      for (let x = 0; x < d; x++) {
        const va = f64x2.splat(<f64>load<f32>(a + (<usize>x << 2)) * ia);
        const vb = f64x2.splat(<f64>load<f32>(b + (<usize>x << 2)) * ib);
        const co = CT + ((<usize>x * <usize>kp + <usize>q) << 3);
        const c0 = v128.load(co);
        const c1 = v128.load(co, 16);
        s0 = f64x2.add(s0, f64x2.mul(va, c0));
        s1 = f64x2.add(s1, f64x2.mul(va, c1));
        t0 = f64x2.add(t0, f64x2.mul(vb, c0));
        t1 = f64x2.add(t1, f64x2.mul(vb, c1));
      }
      v128.store(so + (<usize>q << 3), s0);
      v128.store(so + (<usize>q << 3), s1, 16);
      v128.store(to + (<usize>q << 3), t0);
      v128.store(to + (<usize>q << 3), t1, 16);
    }
    if (q < kp) {
      let s0 = f64x2.splat(0);
      let t0 = f64x2.splat(0);
      for (let x = 0; x < d; x++) {
        const c0 = v128.load(CT + ((<usize>x * <usize>kp + <usize>q) << 3));
        s0 = f64x2.add(s0, f64x2.mul(f64x2.splat(<f64>load<f32>(a + (<usize>x << 2)) * ia), c0));
        t0 = f64x2.add(t0, f64x2.mul(f64x2.splat(<f64>load<f32>(b + (<usize>x << 2)) * ib), c0));
      }
      v128.store(so + (<usize>q << 3), s0);
      v128.store(to + (<usize>q << 3), t0);
    }
  }
  for (; i < n; i++) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    const iv = load<f64>(inv + (<usize>i << 3));
    const so = sims + ((<usize>i * <usize>kp) << 3);
    for (let q = 0; q < kp; q += 2) {
      let s0 = f64x2.splat(0);
      for (let x = 0; x < d; x++) {
        const v = f64x2.splat(<f64>load<f32>(a + (<usize>x << 2)) * iv);
        s0 = f64x2.add(s0, f64x2.mul(v, v128.load(CT + ((<usize>x * <usize>kp + <usize>q) << 3))));
      }
      v128.store(so + (<usize>q << 3), s0);
    }
  }
  for (i = 0; i < n; i++) {
    const so = sims + ((<usize>i * <usize>kp) << 3);
    let bq = -1;
    let bs = -Infinity;
    for (let q = 0; q < k; q++) {
      if (load<i32>(alive + (<usize>q << 2)) == 0) continue;
      const s = load<f64>(so + (<usize>q << 3));
      if (s > bs) {
        bs = s;
        bq = q;
      }
    }
    const ap = assign + (<usize>i << 2);
    if (load<i32>(ap) != bq) changed = 1;
    store<i32>(ap, bq);
    if (bq >= 0) store<i32>(count + (<usize>bq << 2), load<i32>(count + (<usize>bq << 2)) + 1);
  }
  return changed;
}

// inv[i] = 1 / |W_{items[i]}| (0 for a zero row), each squared norm the plain left-to-right sum
// over x; four items side by side (one per lane of two f64x2 sums), then the rest one at a time.
function invNorms(W: usize, rowW: usize, items: usize, n: i32, d: i32, inv: usize): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    const b = W + <usize>load<i32>(items + (<usize>i << 2), 4) * rowW;
    const c = W + <usize>load<i32>(items + (<usize>i << 2), 8) * rowW;
    const e = W + <usize>load<i32>(items + (<usize>i << 2), 12) * rowW;
    let s0 = f64x2.splat(0);
    let s1 = f64x2.splat(0);
    for (let x = 0; x < d; x++) {
      const xo = <usize>x << 2;
      const v0 = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(a + xo)), 1, <f64>load<f32>(b + xo));
      const v1 = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(c + xo)), 1, <f64>load<f32>(e + xo));
      s0 = f64x2.add(s0, f64x2.mul(v0, v0));
      s1 = f64x2.add(s1, f64x2.mul(v1, v1));
    }
    const io = inv + (<usize>i << 3);
    const n0 = f64x2.extract_lane(s0, 0);
    const n1 = f64x2.extract_lane(s0, 1);
    const n2 = f64x2.extract_lane(s1, 0);
    const n3 = f64x2.extract_lane(s1, 1);
    store<f64>(io, n0 > 0 ? 1 / Math.sqrt(n0) : 0);
    store<f64>(io, n1 > 0 ? 1 / Math.sqrt(n1) : 0, 8);
    store<f64>(io, n2 > 0 ? 1 / Math.sqrt(n2) : 0, 16);
    store<f64>(io, n3 > 0 ? 1 / Math.sqrt(n3) : 0, 24);
  }
  for (; i < n; i++) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    let nn: f64 = 0;
    for (let x = 0; x < d; x++) {
      const w = <f64>load<f32>(a + (<usize>x << 2));
      nn += w * w;
    }
    store<f64>(inv + (<usize>i << 3), nn > 0 ? 1 / Math.sqrt(nn) : 0);
  }
}

// Each of the k rows of d float64 at C times 1 / its norm (0 for a zero row), each squared norm
// the plain left-to-right sum over x; two rows side by side (one per lane), the last one alone.
function normalise(C: usize, k: i32, d: i32): void {
  const row = <usize>d << 3;
  let q = 0;
  for (; q + 1 < k; q += 2) {
    const a = C + <usize>q * row;
    const b = a + row;
    let s = f64x2.splat(0);
    for (let x = 0; x < d; x++) {
      const xo = <usize>x << 3;
      const v = f64x2.replace_lane(f64x2.splat(load<f64>(a + xo)), 1, load<f64>(b + xo));
      s = f64x2.add(s, f64x2.mul(v, v));
    }
    const na = f64x2.extract_lane(s, 0);
    const nb = f64x2.extract_lane(s, 1);
    const ia = na > 0 ? 1 / Math.sqrt(na) : 0;
    const ib = nb > 0 ? 1 / Math.sqrt(nb) : 0;
    for (let x = 0; x < d; x++) {
      const xo = <usize>x << 3;
      store<f64>(a + xo, load<f64>(a + xo) * ia);
      store<f64>(b + xo, load<f64>(b + xo) * ib);
    }
  }
  if (q < k) {
    const co = C + <usize>q * row;
    let nn: f64 = 0;
    for (let x = 0; x < d; x++) {
      const c = load<f64>(co + (<usize>x << 3));
      nn += c * c;
    }
    const iv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    for (let x = 0; x < d; x++) store<f64>(co + (<usize>x << 3), load<f64>(co + (<usize>x << 3)) * iv);
  }
}

// Spherical k-means of one history into at most k >= 2 clusters: clusterHistory of
// src/models/personas-cluster.ts (its seeding, Lloyd rounds, cluster drops and renumbering), the
// same float64 arithmetic in the same order. items: n int32 (rows of W); assign: n int32 out;
// S: scratch of n (3 + kp) + d (k + kp + 1) float64 and 2 k int32. Returns the number of clusters.
export function clusterRows(W: usize, d: i32, items: usize, n: i32, k: i32, minItems: i32, iters: i32, assign: usize, S: usize): i32 {
  const kp = (k + 1) & ~1;
  const rowW = <usize>d << 2;
  const nb = <usize>n << 3;
  const inv = S;
  const rs = inv + nb;
  const mx = rs + nb;
  const sims = mx + nb;
  const C = sims + nb * <usize>kp;
  const CT = C + ((<usize>k * <usize>d) << 3);
  const all = CT + ((<usize>d * <usize>kp) << 3);
  const count = all + (<usize>d << 3);
  const alive = count + (<usize>k << 2);
  invNorms(W, rowW, items, n, d, inv);
  // all = the sum of the rows, items in order (two elements at a time, each its own sum)
  memory.fill(all, 0, <usize>d << 3);
  const d2 = d & ~1;
  for (let i = 0; i < n; i++) {
    const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
    let x = 0;
    for (; x < d2; x += 2) {
      const p = all + (<usize>x << 3);
      v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v128.load64_zero(a + (<usize>x << 2)))));
    }
    for (; x < d; x++) store<f64>(all + (<usize>x << 3), load<f64>(all + (<usize>x << 3)) + <f64>load<f32>(a + (<usize>x << 2)));
  }
  // seeding: the item closest to the summed direction, then farthest-point
  let best = 0;
  let bestV = -Infinity;
  rowSims(W, rowW, items, inv, n, all, d, rs);
  for (let i = 0; i < n; i++) {
    const s = load<f64>(rs + (<usize>i << 3));
    if (s > bestV) {
      bestV = s;
      best = i;
    }
  }
  for (let i = 0; i < n; i++) store<f64>(mx + (<usize>i << 3), -Infinity);
  for (let kk = 0; ; ) {
    const b = W + <usize>load<i32>(items + (<usize>best << 2)) * rowW;
    const bi = load<f64>(inv + (<usize>best << 3));
    const co = C + ((<usize>kk * <usize>d) << 3);
    for (let x = 0; x < d; x++) store<f64>(co + (<usize>x << 3), <f64>load<f32>(b + (<usize>x << 2)) * bi);
    if (++kk == k) break;
    let farV = Infinity;
    rowSims(W, rowW, items, inv, n, co, d, rs);
    for (let i = 0; i < n; i++) {
      const s = load<f64>(rs + (<usize>i << 3));
      const mp = mx + (<usize>i << 3);
      if (s > load<f64>(mp)) store<f64>(mp, s);
      const m = load<f64>(mp);
      if (m < farV) {
        farV = m;
        best = i;
      }
    }
  }
  for (let q = 0; q < k; q++) store<i32>(alive + (<usize>q << 2), 1);
  for (let i = 0; i < n; i++) store<i32>(assign + (<usize>i << 2), -1);
  let settled = false;
  for (let round = 0; round < iters; round++) {
    const changed = assignAll(W, d, items, n, k, inv, C, CT, sims, alive, count, assign);
    let drop = -1;
    for (let q = 0; q < k; q++) {
      const c = load<i32>(count + (<usize>q << 2));
      if (load<i32>(alive + (<usize>q << 2)) != 0 && c < minItems && (drop < 0 || c < load<i32>(count + (<usize>drop << 2)))) drop = q;
    }
    if (drop >= 0) {
      store<i32>(alive + (<usize>drop << 2), 0);
      continue;
    }
    if (changed == 0 && round > 0) {
      settled = true;
      break;
    }
    // centroid = direction of the summed raw vectors (element-wise sums, items in order)
    memory.fill(C, 0, (<usize>k * <usize>d) << 3);
    for (let i = 0; i < n; i++) {
      const q = load<i32>(assign + (<usize>i << 2));
      if (q < 0) continue;
      const a = W + <usize>load<i32>(items + (<usize>i << 2)) * rowW;
      const co = C + ((<usize>q * <usize>d) << 3);
      let x = 0;
      for (; x < d2; x += 2) {
        const p = co + (<usize>x << 3);
        v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v128.load64_zero(a + (<usize>x << 2)))));
      }
      for (; x < d; x++) store<f64>(co + (<usize>x << 3), load<f64>(co + (<usize>x << 3)) + <f64>load<f32>(a + (<usize>x << 2)));
    }
    normalise(C, k, d);
  }
  // settled: the centroids and live clusters are those of the last assignment, which stands
  if (!settled) assignAll(W, d, items, n, k, inv, C, CT, sims, alive, count, assign);
  // renumber the surviving clusters by first appearance (count reused as the map)
  for (let q = 0; q < k; q++) store<i32>(count + (<usize>q << 2), -1);
  let K = 0;
  for (let i = 0; i < n; i++) {
    const ap = assign + (<usize>i << 2);
    const q = load<i32>(ap);
    if (q < 0) continue;
    const mp = count + (<usize>q << 2);
    if (load<i32>(mp) == -1) store<i32>(mp, K++);
    store<i32>(ap, load<i32>(mp));
  }
  return K;
}
