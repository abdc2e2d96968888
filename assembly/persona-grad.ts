// The per-user row loops of the persona model's gradient (src/models/personas-train.ts userGrad,
// driven by src/math/persona-kernels.ts): building the components from the kept history items and
// sending the components' gradient back to those items' context rows. Compiled by
// scripts/build-wasm.mjs into build/wasm/persona-grad.wasm over the same shared memory as
// build/wasm/personas.wasm (the arena).
//
// Both reproduce the plain loops bit for bit: every element gets the same float64 operations in
// the same order (the SIMD lanes run over x, one element each); a float32 row is rounded once per
// update, after the float64 add. Pointers are byte offsets into the imported memory.

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

// e^x by the fdlibm algorithm (argument reduction by ln 2 in two parts, a degree-5 rational
// remainder, the power of two put in the exponent), the algorithm and constants V8's Math.exp
// uses, so the two agree bit for bit (tested against Math.exp).
export const LN2_HI: f64 = 6.93147180369123816490e-01;
export const LN2_LO: f64 = 1.90821492927058770002e-10;
export const INV_LN2: f64 = 1.44269504088896338700e+00;
export const E1: f64 = 1.66666666666666019037e-01;
export const E2: f64 = -2.77777777770155933842e-03;
export const E3: f64 = 6.61375632143793436117e-05;
export const E4: f64 = -1.65339022054652515390e-06;
export const E5: f64 = 4.13813679705723846039e-08;
const TWO_M1000: f64 = 9.33263618503218878990e-302;
const TWO_1023: f64 = 8.988465674311579539e307;

export function exp(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let hx = <u32>(bits >>> 32);
  const xsb = <i32>(hx >>> 31);
  hx &= 0x7fffffff;
  if (hx >= 0x40862e42) {
    if (hx >= 0x7ff00000) return ((hx & 0xfffff) | <u32>bits) != 0 ? x + x : xsb == 0 ? x : 0;
    if (x > 7.09782712893383973096e+02) return Infinity;
    if (x < -7.45133219101941108420e+02) return 0;
  }
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (hx > 0x3fd62e42) {
    if (hx < 0x3ff0a2b2) {
      if (x == 1) return 2.718281828459045;
      hi = xsb != 0 ? x + LN2_HI : x - LN2_HI;
      lo = xsb != 0 ? -LN2_LO : LN2_LO;
      k = 1 - xsb - xsb;
    } else {
      k = <i32>(INV_LN2 * x + (xsb != 0 ? -0.5 : 0.5));
      const t = <f64>k;
      hi = x - t * LN2_HI;
      lo = t * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1 + x;
  }
  const t = x * x;
  const c = x - t * (E1 + t * (E2 + t * (E3 + t * (E4 + t * E5))));
  if (k == 0) return 1 - ((x * c) / (c - 2.0) - x);
  const y = 1 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * TWO_1023;
    return y * reinterpret<f64>(<u64>(<u32>(0x3ff00000 + (k << 20))) << 32);
  }
  return y * reinterpret<f64>(<u64>(<u32>(0x3ff00000 + ((k + 1000) << 20))) << 32) * TWO_M1000;
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
    let sum: f64 = 0;
    for (let c = 0; c < len; c++) sum += exp(load<f64>(z + ((<usize>c * <usize>K + <usize>q) << 3)) - m);
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
    for (let q = 0; q < K; q++) {
      const qo = <usize>q << 3;
      if (load<u8>(on + <usize>q) == 0) {
        store<f64>(coef + co + qo, 0);
        continue;
      }
      const sm = load<f64>(R + qo) * exp(load<f64>(z + co + qo) - load<f64>(lse + qo));
      mass += sm;
      const g = sm - (c < nt ? load<f64>(resp + co + qo) : 0);
      store<f64>(coef + co + qo, g);
      tot += g;
    }
    if (c >= nt && mass < skipEps) continue;
    store<i32>(idx + (<usize>n << 2), c);
    store<f64>(tots + (<usize>n << 3), tot);
    n++;
  }
  return n;
}
