// e^x for the kernels (assembly/persona-grad.ts, assembly/exp-rows.ts): V8's Math.exp bit for bit,
// one value at a time (`exp`) or two lanes at a time (`exp2`). Imported, not an entry of
// scripts/build-wasm.mjs (which compiles the files directly in assembly/).

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

// |x| at least this (high word 0x3fd62e43, just above ln2 / 2): reduced by k ln 2 with k != 0
const MID_BITS: u64 = 0x3fd62e4300000000;
// |x| below 2^-28: e^x = 1 + x
const TINY_BITS: u64 = 0x3e30000000000000;
// |x| at least 708 (high word 0x40862000), NaN, or x == 1: the lane pair goes to the scalar exp.
// Below it |k| <= 1021, so 2^k is a normal number and the result y 2^k one multiplication (the
// scalar's common branch); above it are fdlibm's overflow, underflow and subnormal-result steps.
const BIG_BITS: u64 = 0x4086200000000000;

// e^x of both lanes of v, each Math.exp's bit for bit.
@inline
export function exp2(v: v128): v128 {
  const ax = f64x2.abs(v);
  const big = f64x2.splat(reinterpret<f64>(BIG_BITS));
  const rare = v128.or(v128.not(f64x2.lt(ax, big)), f64x2.eq(v, f64x2.splat(1.0)));
  if (v128.any_true(rare)) {
    return f64x2.replace_lane(f64x2.splat(exp(f64x2.extract_lane(v, 0))), 1, exp(f64x2.extract_lane(v, 1)));
  }
  const mid = f64x2.ge(ax, f64x2.splat(reinterpret<f64>(MID_BITS)));
  const tiny = f64x2.lt(ax, f64x2.splat(reinterpret<f64>(TINY_BITS)));
  // k = (int)(x / ln2 +- 0.5) where |x| > ln2 / 2 (for |x| < 1.5 ln2 that is the scalar's +-1 with
  // the same hi and lo: +-1 times LN2_HI and LN2_LO is exact), else 0 (hi = x, lo = 0)
  const half = v128.or(f64x2.splat(0.5), v128.and(v, f64x2.splat(-0.0)));
  const kf = v128.and(mid, f64x2.trunc(f64x2.add(f64x2.mul(f64x2.splat(INV_LN2), v), half)));
  const hi = f64x2.sub(v, f64x2.mul(kf, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(kf, f64x2.splat(LN2_LO));
  const x = f64x2.sub(hi, lo);
  const t = f64x2.mul(x, x);
  let p = f64x2.add(f64x2.splat(E4), f64x2.mul(t, f64x2.splat(E5)));
  p = f64x2.add(f64x2.splat(E3), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(E2), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(E1), f64x2.mul(t, p));
  const c = f64x2.sub(x, f64x2.mul(t, p));
  // k == 0: 1 - ((x c) / (c - 2) - x) = 1 - ((0 - q) - x) with q = x c / (2 - c) (the negations are
  // exact and q != 0 for |x| >= 2^-28), the k != 0 formula with lo = 0, hi = x
  const q = f64x2.div(f64x2.mul(x, c), f64x2.sub(f64x2.splat(2.0), c));
  const y = f64x2.sub(f64x2.splat(1.0), f64x2.sub(f64x2.sub(lo, q), hi));
  // 2^k: exponent field k + 1023
  const ki = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(kf));
  const scale = i64x2.shl(i64x2.add(ki, i64x2.splat(1023)), 52);
  return v128.bitselect(f64x2.add(f64x2.splat(1.0), v), f64x2.mul(y, scale), tiny);
}

