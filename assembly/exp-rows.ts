// Rows of exponentials for the serving side's softmax passes (src/math/exp-rows.ts): e^x two
// lanes at a time (f64x2, assembly/lib/exp.ts `exp2`) by the same fdlibm steps as `exp` (V8's Math.exp), so
// every value is Math.exp's bit for bit, and the sums and accumulations of the JS loops they
// replace, in the same order (the lanes compute two exponentials at once; the sums add them one
// after the other in index order). Compiled by scripts/build-wasm.mjs into build/wasm/exp-rows.wasm.
// Pointers are byte offsets into the imported memory.
import { exp, exp2 } from './lib/exp';

// out[i] = e^{x[i]} for i in [0, n) (float64 rows).
export function expRow(x: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 1 < n; i += 2) v128.store(out + (<usize>i << 3), exp2(v128.load(x + (<usize>i << 3))));
  if (i < n) store<f64>(out + (<usize>i << 3), exp(load<f64>(x + (<usize>i << 3))));
}

// The sum over i in [0, n) of e^{z[i] - m} (float64 row), in index order.
export function sumExpShift(z: usize, n: i32, m: f64): f64 {
  const mv = f64x2.splat(m);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const e = exp2(f64x2.sub(v128.load(z + (<usize>i << 3)), mv));
    sum += f64x2.extract_lane(e, 0);
    sum += f64x2.extract_lane(e, 1);
  }
  if (i < n) sum += exp(load<f64>(z + (<usize>i << 3)) - m);
  return sum;
}

// The sum over i in [0, n) with a finite row[i] of e^{row[i] - m} (float32 row), in index order.
export function sumExpShiftFinite32(row: usize, n: i32, m: f64): f64 {
  const mv = f64x2.splat(m);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const r = f64x2.promote_low_f32x4(v128.load64_zero(row + (<usize>i << 2)));
    // a non-finite entry is skipped; its lane gets 0 (no NaN or overflow in the lane)
    const fin = f64x2.lt(f64x2.abs(r), f64x2.splat(Infinity));
    const e = exp2(f64x2.sub(v128.and(r, fin), mv));
    if (f64x2.extract_lane(fin, 0) != 0) sum += f64x2.extract_lane(e, 0);
    if (f64x2.extract_lane(fin, 1) != 0) sum += f64x2.extract_lane(e, 1);
  }
  if (i < n) {
    const r = <f64>load<f32>(row + (<usize>i << 2));
    if (isFinite(r)) sum += exp(r - m);
  }
  return sum;
}

// acc[i] += c e^{row[i] - lse} for every i in [0, n) with a finite row[i] (float32 row, float64 acc).
export function addExpScaled32(acc: usize, row: usize, n: i32, lse: f64, c: f64): void {
  const lv = f64x2.splat(lse);
  const cv = f64x2.splat(c);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const r = f64x2.promote_low_f32x4(v128.load64_zero(row + (<usize>i << 2)));
    const fin = f64x2.lt(f64x2.abs(r), f64x2.splat(Infinity));
    if (!v128.any_true(fin)) continue;
    const e = exp2(f64x2.sub(v128.and(r, fin), lv));
    const a = acc + (<usize>i << 3);
    const old = v128.load(a);
    v128.store(a, v128.bitselect(f64x2.add(old, f64x2.mul(cv, e)), old, fin));
  }
  if (i < n) {
    const r = <f64>load<f32>(row + (<usize>i << 2));
    if (isFinite(r)) store<f64>(acc + (<usize>i << 3), load<f64>(acc + (<usize>i << 3)) + c * exp(r - lse));
  }
}

// The first byte past the module's static data (the caller's rows start after it).
export function heapBase(): usize {
  return __heap_base;
}

// The terms of a mixture score log sum_q exp(z[c K + q] - lse[q] + logPi[q]) (personas-train.ts
// `mixtureAt`): m[c] = the maximum over q (as Math.max: NaN if any term is NaN, +0 above -0) of
// the terms z[c K + q] - lse[q] + logPi[q], for c in [0, n).
export function mixtureMaxima(z: usize, K: i32, lse: usize, logPi: usize, n: i32, m: usize): void {
  const row = <usize>K << 3;
  let c = 0;
  for (; c + 1 < n; c += 2) {
    const a = z + <usize>c * row;
    let mv = f64x2.splat(-Infinity);
    for (let q = 0; q < K; q++) {
      const qo = <usize>q << 3;
      const v = f64x2.replace_lane(f64x2.splat(load<f64>(a + qo)), 1, load<f64>(a + row + qo));
      mv = f64x2.max(mv, f64x2.add(f64x2.sub(v, f64x2.splat(load<f64>(lse + qo))), f64x2.splat(load<f64>(logPi + qo))));
    }
    v128.store(m + (<usize>c << 3), mv);
  }
  if (c < n) {
    const a = z + <usize>c * row;
    let mx: f64 = -Infinity;
    for (let q = 0; q < K; q++) {
      const qo = <usize>q << 3;
      mx = max<f64>(mx, load<f64>(a + qo) - load<f64>(lse + qo) + load<f64>(logPi + qo));
    }
    store<f64>(m + (<usize>c << 3), mx);
  }
}

// sums[x] = the sum over q, in q order, of e^{z[c K + q] - lse[q] + logPi[q] - m[c]} for c =
// list[x], x in [0, n) (the lanes are two list entries, each summed in q order).
export function mixtureSums(z: usize, K: i32, lse: usize, logPi: usize, m: usize, list: usize, n: i32, sums: usize): void {
  const row = <usize>K << 3;
  let x = 0;
  for (; x + 1 < n; x += 2) {
    const c0 = <usize>load<i32>(list + (<usize>x << 2));
    const c1 = <usize>load<i32>(list + (<usize>x << 2) + 4);
    const a0 = z + c0 * row;
    const a1 = z + c1 * row;
    const mv = f64x2.replace_lane(f64x2.splat(load<f64>(m + (c0 << 3))), 1, load<f64>(m + (c1 << 3)));
    let s = f64x2.splat(0);
    for (let q = 0; q < K; q++) {
      const qo = <usize>q << 3;
      const v = f64x2.replace_lane(f64x2.splat(load<f64>(a0 + qo)), 1, load<f64>(a1 + qo));
      const t = f64x2.add(f64x2.sub(v, f64x2.splat(load<f64>(lse + qo))), f64x2.splat(load<f64>(logPi + qo)));
      s = f64x2.add(s, exp2(f64x2.sub(t, mv)));
    }
    v128.store(sums + (<usize>x << 3), s);
  }
  if (x < n) {
    const c = <usize>load<i32>(list + (<usize>x << 2));
    const a = z + c * row;
    const mc = load<f64>(m + (c << 3));
    let s: f64 = 0;
    for (let q = 0; q < K; q++) {
      const qo = <usize>q << 3;
      s += exp(load<f64>(a + qo) - load<f64>(lse + qo) + load<f64>(logPi + qo) - mc);
    }
    store<f64>(sums + (<usize>x << 3), s);
  }
}
