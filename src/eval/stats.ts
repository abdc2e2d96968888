/**
 * Statistics over per-user metric values (PROTOCOL.md "Statistics"): the mean with a seeded
 * percentile-bootstrap interval, and paired comparisons of two models on the same users.
 *
 * Missing values (null, undefined, NaN: e.g. minorityRecall for users with |M| = 0) are dropped;
 * paired statistics drop a user when either side is missing. Special functions (log-gamma,
 * regularized incomplete beta and gamma) are implemented here so p-values need no dependency.
 */
import { Rng } from '../math/rng.js';

export type MetricValues = ArrayLike<number | null | undefined>;

export interface BootstrapOptions {
  /** Number of bootstrap resamples (PROTOCOL: 1,000). */
  resamples?: number;
  /** Seed of the resampling stream; the same seed and values always give the same interval. */
  seed: number;
  /** Coverage of the interval, e.g. 0.95. */
  level?: number;
}

export interface BootstrapResult {
  mean: number;
  /** Percentile interval [lo, hi]; [NaN, NaN] without values. */
  ci: [number, number];
  /** Number of values used (after dropping missing ones). */
  n: number;
}

/** A metric's mean over users with its bootstrap interval, as reports and studies print it. */
export interface MetricSummary {
  mean: number | null;
  ci95: [number, number] | null;
  /** Users the mean is over (e.g. minorityRecall counts only users with a minority test item). */
  n: number;
}

/** A metric over the folds of `evaluate --folds k` (eval/folds.ts). */
export interface FoldSummary {
  /** Mean over the folds of the fold's mean over its test users. */
  mean: number;
  /** Sample sd of the fold means (n - 1 in the denominator). */
  sd: number;
  /** 95% Student-t interval over the fold means. */
  ci95: [number, number];
  perFold: number[];
}

export interface FoldSpread {
  /** The number of folds. */
  k: number;
  /** Every metric with a value in every fold. */
  metrics: Record<string, FoldSummary>;
}

export interface PairedResult {
  /** Mean of the per-user differences a - b. */
  mean: number;
  /** Paired percentile bootstrap (users resampled, both models keep the same users). */
  ci95: [number, number];
  /** Two-sided paired t-test p-value; NaN with fewer than 2 pairs. */
  pValue: number;
  /**
   * Two-sided Wilcoxon signed-rank p-value, normal approximation: zero differences are dropped
   * (Wilcoxon's method), tied |differences| get average ranks with the tie-corrected variance, no
   * continuity correction (= scipy.stats.wilcoxon(zero_method='wilcox', correction=False,
   * method='approx')). 1 when every difference is zero, NaN without pairs.
   */
  wilcoxonPValue: number;
  /** Number of users with both values present. */
  n: number;
}

function isPresent(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && !Number.isNaN(v);
}

/** The present values as a Float64Array. */
export function presentValues(values: MetricValues): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (isPresent(values[i])) n++;
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isPresent(v)) out[j++] = v;
  }
  return out;
}

/** Mean of the present values; NaN when there are none. */
export function mean(values: MetricValues): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isPresent(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Quantile of ascending data with linear interpolation between order statistics (R type 7 / numpy default). */
function quantileSorted(sorted: Float64Array, prob: number): number {
  const h = (sorted.length - 1) * prob;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

const INV_2_32 = 1 / 4294967296;

/**
 * Percentile bootstrap interval of the mean over users: `resamples` times draw n users with
 * replacement (uniformly, from Rng(seed)), take the mean, report the (1-level)/2 and (1+level)/2 quantiles.
 */
export function bootstrapCI(values: MetricValues, options: BootstrapOptions): BootstrapResult {
  const { resamples = 1000, seed, level = 0.95 } = options;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrapCI: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrapCI: level must be in (0, 1), got ${level}`);
  const x = presentValues(values);
  const n = x.length;
  if (n === 0) return { mean: Number.NaN, ci: [Number.NaN, Number.NaN], n: 0 };
  const rng = new Rng(seed);
  const means = new Float64Array(resamples);
  // Unbiased index in [0, n) by Lemire's multiply-and-reject: u32 * n < 2^53 is exact in a double,
  // and it is ~2-3x faster than Rng.int (which pays a float modulo per draw); with 100k users x
  // 1,000 resamples that is the whole cost of the bootstrap.
  const rejectBelow = 4294967296 % n;
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      let idx: number;
      for (;;) {
        const m = rng.nextU32() * n;
        idx = Math.floor(m * INV_2_32);
        if (m - idx * 4294967296 >= rejectBelow) break;
      }
      sum += x[idx]!;
    }
    means[b] = sum / n;
  }
  means.sort();
  const alpha = 1 - level;
  return { mean: mean(x), ci: [quantileSorted(means, alpha / 2), quantileSorted(means, 1 - alpha / 2)], n };
}

/** Mean and bootstrap interval of per-user values (missing ones dropped); a null mean without values. */
export function summarise(values: MetricValues, seed: number, resamples = 1000): MetricSummary {
  const b = bootstrapCI(values, { seed, resamples });
  return b.n === 0 ? { mean: null, ci95: null, n: 0 } : { mean: b.mean, ci95: b.ci, n: b.n };
}

/** Paired comparison of two models' per-user values (same users, same order): a - b. */
export function pairedDifference(a: MetricValues, b: MetricValues, options: { resamples?: number; seed: number }): PairedResult {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: ${a.length} vs ${b.length} users`);
  const diffs: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (isPresent(x) && isPresent(y)) diffs.push(x - y);
  }
  const d = Float64Array.from(diffs);
  // Resampling the differences is resampling users with both models' values kept together.
  const boot = bootstrapCI(d, { resamples: options.resamples ?? 1000, seed: options.seed, level: 0.95 });
  return { mean: boot.mean, ci95: boot.ci, pValue: pairedTTestP(d), wilcoxonPValue: wilcoxonSignedRankP(d), n: d.length };
}

/** Two-sided one-sample t-test of mean(d) = 0 (the paired t-test on differences). */
export function pairedTTestP(d: Float64Array): number {
  const n = d.length;
  if (n < 2) return Number.NaN;
  const m = mean(d);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (d[i]! - m) * (d[i]! - m);
  const sd = Math.sqrt(ss / (n - 1));
  // No spread: identical differences are either all zero (no evidence) or a sure shift.
  if (sd === 0) return m === 0 ? 1 : 0;
  return studentTTwoSidedP(m / (sd / Math.sqrt(n)), n - 1);
}

/** Two-sided Wilcoxon signed-rank p-value by normal approximation (see PairedResult.wilcoxonPValue). */
export function wilcoxonSignedRankP(d: Float64Array): number {
  if (d.length === 0) return Number.NaN;
  const nz = Array.from(d).filter((v) => v !== 0);
  const n = nz.length;
  if (n === 0) return 1;
  nz.sort((u, v) => Math.abs(u) - Math.abs(v));
  let wPlus = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && Math.abs(nz[j + 1]!) === Math.abs(nz[i]!)) j++;
    const avgRank = (i + j + 2) / 2; // ranks are 1-based: positions i..j hold ranks i+1..j+1
    for (let e = i; e <= j; e++) if (nz[e]! > 0) wPlus += avgRank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const expected = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
  if (variance <= 0) return 1;
  return normalTwoSidedP((wPlus - expected) / Math.sqrt(variance));
}

// ---------------------------------------------------------------------------------------------
// Special functions (Numerical Recipes style; accurate to ~1e-12 or better in the ranges used).

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be positive, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

const MAX_ITER = 10000; // continued fractions need ~sqrt(max(a, b)) terms; df can be 1e5
const EPS = 1e-15;
const TINY = 1e-300;

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) return h;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The fraction converges fast below the mean of the beta distribution; use symmetry above it.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(|T| >= |t|) for Student's t with df degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** CDF of Student's t distribution. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * studentTTwoSidedP(t, df);
  return t > 0 ? 1 - tail : tail;
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    // Series for P(a, x).
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n <= MAX_ITER; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return 1 - front * sum;
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return front * h;
}

/** P(|Z| >= |z|) for a standard normal Z: erfc(|z|/√2) = Q(1/2, z²/2). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return regularizedGammaQ(0.5, (z * z) / 2);
}
