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
// (P: K rows of d float64; on: K bytes; z: float64, stride K; list: int32).
export function zRows(Q: usize, d: i32, P: usize, K: i32, on: usize, list: usize, len: i32, z: usize): void {
  const rowQ = <usize>d << 2;
  const rowP = <usize>d << 3;
  for (let c = 0; c < len; c++) {
    const qo = Q + <usize>load<i32>(list + (<usize>c << 2)) * rowQ;
    const zo = z + ((<usize>c * <usize>K) << 3);
    for (let q = 0; q < K; q++) {
      if (load<u8>(on + <usize>q) == 0) continue;
      store<f64>(zo + (<usize>q << 3), dotF32F64(qo, P + <usize>q * rowP, d));
    }
  }
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
// gradient buffers (their byte offsets: `chunks` int32 at G) in order, each zeroed;
// g += l2 X; M = b1 M + ob1 g; V = b2 V + ob2 g g (float64, stored float32); X -= lr M c1 /
// (sqrt(V c2) + 1e-8) with the row's bias corrections c1[r], c2[r], using the float64 M and V.
export function adamRows(X: usize, G: usize, chunks: i32, M: usize, V: usize, d: i32, rows: usize, n: i32, c1s: usize, c2s: usize, lr: f64, l2: f64, b1: f64, ob1: f64, b2: f64, ob2: f64): void {
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
    const c1 = f64x2.splat(load<f64>(c1s + (<usize>r << 3)));
    const c2 = f64x2.splat(load<f64>(c2s + (<usize>r << 3)));
    let x = 0;
    for (; x < d4; x += 4) {
      const xb = off + (<usize>x << 2);
      let glo = f64x2.splat(0);
      let ghi = f64x2.splat(0);
      for (let c = 0; c < chunks; c++) {
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
