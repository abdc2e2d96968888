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
