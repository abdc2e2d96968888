// The per-user row loops of the persona model's gradient (src/models/personas-train.ts userGrad,
// driven by src/math/persona-kernels.ts): building the components from the kept history items and
// sending the components' gradient back to those items' context rows. Compiled by
// scripts/build-wasm.mjs into build/wasm/persona-grad.wasm over the same shared memory as
// build/wasm/personas.wasm (the arena).
//
// Both reproduce the plain loops bit for bit: every element gets the same float64 operations in
// the same order (the SIMD lanes run over x, one element each); a float32 row is rounded once per
// update, after the float64 add. Pointers are byte offsets into the imported memory.

import { exp, exp2 } from './lib/exp';

export { exp };

// P (K = k + whole rows of d float64) = for each kept history item h (roles[h] == 0), in order:
// P_{assign[h]} += W_{items[h]} and, with whole, P_k += W_{items[h]}; then P_q *= scale[q].
// items, assign: n int32; roles: n bytes; scale: K float64.
export function buildP(W: usize, d: i32, items: usize, roles: usize, assign: usize, n: i32, k: i32, whole: i32, scale: usize, P: usize): void {
  const K = k + whole;
  const rowW = <usize>d << 2;
  const rowP = <usize>d << 3;
  const d2 = d & ~1;
  memory.fill(P, 0, <usize>K * rowP);
  for (let h = 0; h < n; h++) {
    if (load<u8>(roles + <usize>h) != 0) continue;
    const wo = W + <usize>load<i32>(items + (<usize>h << 2)) * rowW;
    addRow(P + <usize>load<i32>(assign + (<usize>h << 2)) * rowP, wo, d, d2);
    if (whole != 0) addRow(P + <usize>k * rowP, wo, d, d2);
  }
  for (let q = 0; q < K; q++) {
    const po = P + <usize>q * rowP;
    const s = load<f64>(scale + (<usize>q << 3));
    const sv = f64x2.splat(s);
    let x = 0;
    for (; x < d2; x += 2) {
      const p = po + (<usize>x << 3);
      v128.store(p, f64x2.mul(v128.load(p), sv));
    }
    for (; x < d; x++) store<f64>(po + (<usize>x << 3), load<f64>(po + (<usize>x << 3)) * s);
  }
}

// p[x] += w[x] (float64 row p, float32 row w)
@inline
function addRow(p: usize, w: usize, d: i32, d2: i32): void {
  let x = 0;
  for (; x < d2; x += 2) {
    const a = p + (<usize>x << 3);
    v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(v128.load64_zero(w + (<usize>x << 2)))));
  }
  for (; x < d; x++) store<f64>(p + (<usize>x << 3), load<f64>(p + (<usize>x << 3)) + <f64>load<f32>(w + (<usize>x << 2)));
}

// For each kept history item h (roles[h] == 0), in order, j = items[h], q = assign[h]:
// gW_j = f32(gW_j + scale[q] gP_q) and then, with whole, gW_j = f32(gW_j + scale[k] gP_k).
export function backW(gW: usize, d: i32, items: usize, roles: usize, assign: usize, n: i32, k: i32, whole: i32, scale: usize, gP: usize): void {
  const rowW = <usize>d << 2;
  const rowP = <usize>d << 3;
  const d2 = d & ~1;
  const sk = load<f64>(scale + (<usize>k << 3));
  for (let h = 0; h < n; h++) {
    if (load<u8>(roles + <usize>h) != 0) continue;
    const go = gW + <usize>load<i32>(items + (<usize>h << 2)) * rowW;
    const q = load<i32>(assign + (<usize>h << 2));
    axpyRow(go, load<f64>(scale + (<usize>q << 3)), gP + <usize>q * rowP, d, d2);
    if (whole != 0) axpyRow(go, sk, gP + <usize>k * rowP, d, d2);
  }
}

// g[x] = f32(g[x] + s p[x]) (float32 row g, float64 row p)
@inline
function axpyRow(g: usize, s: f64, p: usize, d: i32, d2: i32): void {
  const sv = f64x2.splat(s);
  let x = 0;
  for (; x < d2; x += 2) {
    const a = g + (<usize>x << 2);
    const v = f64x2.add(f64x2.promote_low_f32x4(v128.load64_zero(a)), f64x2.mul(sv, v128.load(p + (<usize>x << 3))));
    v128.store64_lane(a, f32x4.demote_f64x2_zero(v), 0);
  }
  for (; x < d; x++) store<f32>(g + (<usize>x << 2), <f32>(<f64>load<f32>(g + (<usize>x << 2)) + s * load<f64>(p + (<usize>x << 3))));
}

// The logits of a user's list and each component's normaliser: for every component q with
// on[q] != 0, z[c K + q] = z[c K + q] + B[list[c]] + logw[c] + 0 for c in [0, len) (the dot
// products already in z), mx[q] = their maximum and sums[q] = the sum over c of exp(z - mx[q]),
// in list order (the caller's lse[q] = mx[q] + log(sums[q])).
export function logitRows(B: usize, list: usize, logw: usize, len: i32, K: i32, on: usize, z: usize, mx: usize, sums: usize): void {
  for (let q = 0; q < K; q++) {
    if (load<u8>(on + <usize>q) == 0) continue;
    let m = -Infinity;
    for (let c = 0; c < len; c++) {
      const p = z + ((<usize>c * <usize>K + <usize>q) << 3);
      const v = load<f64>(p) + <f64>load<f32>(B + (<usize>load<i32>(list + (<usize>c << 2)) << 2)) + load<f64>(logw + (<usize>c << 3)) + 0;
      store<f64>(p, v);
      if (v > m) m = v;
    }
    // two entries at a time (exp2: each lane Math.exp's value), added one after the other in list order
    const mv = f64x2.splat(m);
    const step = <usize>K << 3;
    let sum: f64 = 0;
    let c = 0;
    for (; c + 1 < len; c += 2) {
      const p = z + ((<usize>c * <usize>K + <usize>q) << 3);
      const e = exp2(f64x2.sub(f64x2.replace_lane(f64x2.splat(load<f64>(p)), 1, load<f64>(p + step)), mv));
      sum += f64x2.extract_lane(e, 0);
      sum += f64x2.extract_lane(e, 1);
    }
    if (c < len) sum += exp(load<f64>(z + ((<usize>c * <usize>K + <usize>q) << 3)) - m);
    store<f64>(mx + (<usize>q << 3), m);
    store<f64>(sums + (<usize>q << 3), sum);
  }
}

// The backward coefficients of a user's list: for c in [0, len) and each component q,
// coef[c K + q] = g = R[q] exp(z - lse[q]) - (c < nt ? resp[c K + q] : 0) (0 when on[q] == 0);
// an entry is kept (idx[n] = c, tots[n] = the sum of its g over q, in q order) when it is a target
// (c < nt) or the sum of its R[q] exp(z - lse[q]) is at least skipEps. Returns the kept count n.
export function coefRows(z: usize, K: i32, on: usize, lse: usize, R: usize, resp: usize, nt: i32, len: i32, skipEps: f64, coef: usize, idx: usize, tots: usize): i32 {
  let n = 0;
  for (let c = 0; c < len; c++) {
    let tot: f64 = 0;
    let mass: f64 = 0;
    const co = (<usize>c * <usize>K) << 3;
    // components q and q + 1 share one exp2 (each lane Math.exp's value; an off component's lane is not read)
    let q = 0;
    for (; q + 1 < K; q += 2) {
      const qo = <usize>q << 3;
      const e = exp2(f64x2.sub(v128.load(z + co + qo), v128.load(lse + qo)));
      for (let l = 0; l < 2; l++) {
        const lo = qo + (<usize>l << 3);
        if (load<u8>(on + <usize>(q + l)) == 0) {
          store<f64>(coef + co + lo, 0);
          continue;
        }
        const sm = load<f64>(R + lo) * (l == 0 ? f64x2.extract_lane(e, 0) : f64x2.extract_lane(e, 1));
        mass += sm;
        const g = sm - (c < nt ? load<f64>(resp + co + lo) : 0);
        store<f64>(coef + co + lo, g);
        tot += g;
      }
    }
    if (q < K) {
      const qo = <usize>q << 3;
      if (load<u8>(on + <usize>q) == 0) store<f64>(coef + co + qo, 0);
      else {
        const sm = load<f64>(R + qo) * exp(load<f64>(z + co + qo) - load<f64>(lse + qo));
        mass += sm;
        const g = sm - (c < nt ? load<f64>(resp + co + qo) : 0);
        store<f64>(coef + co + qo, g);
        tot += g;
      }
    }
    if (c >= nt && mass < skipEps) continue;
    store<i32>(idx + (<usize>n << 2), c);
    store<f64>(tots + (<usize>n << 3), tot);
    n++;
  }
  return n;
}
