/**
 * A Gaussian (Laplace) posterior over the mixture weights w of a new user's taste, under a
 * Bradley-Terry / logistic likelihood (Bradley and Terry 1952): each observation says "the utility
 * difference offset + w . d is positive" (y = 1) or negative (y = 0), with weight c:
 *
 *   p(y = 1 | w) = sigma(offset + w . d),   prior w ~ N(mu0, diag(prior variances)).
 *
 * The MAP is found by Newton's method (the log posterior is concave) and the covariance is the
 * inverse Hessian at the MAP: the Laplace approximation (MacKay 1992). The dimension is the number
 * of basis directions (tens), so every step is a small dense solve.
 */
import { cholesky, choleskyInverse, choleskySubstitute } from '../math/cholesky.js';

export interface Observation {
  readonly d: Float64Array;
  readonly offset: number;
  readonly y: 0 | 1;
  readonly c: number;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Choice of one item out of a catalogue (a multinomial / softmax likelihood, as the persona model
 * is trained with): logit_j = offset_j + w . x_j over n items; `x` is n x dim row-major.
 */
export interface ChoiceSet {
  readonly n: number;
  readonly x: Float64Array;
  readonly offset: Float64Array;
  /**
   * For a large set: a uniform sample of its rows (a choice set of those rows) that stands for it
   * in the softmax: the normaliser is the sample's times n / sample.n and the moments are the
   * sample's (a self-normalised estimate), so a Newton step costs the sample's size, not the
   * set's. Chosen rows are rows of the whole set and may lie outside the sample.
   */
  readonly estimate?: ChoiceSet;
}

/**
 * The softmax a posterior uses for a choice set: over its `estimate` when it has one (p over the
 * estimate's rows, log Z scaled by n / estimate.n), else over every row (`choiceSoftmax`).
 */
export function estimatedSoftmax(cs: ChoiceSet, w: Float64Array): { p: Float64Array; logZ: number } {
  if (!cs.estimate) return choiceSoftmax(cs, w);
  const r = choiceSoftmax(cs.estimate, w);
  return { p: r.p, logZ: r.logZ + Math.log(cs.n / cs.estimate.n) };
}

/** The softmax probabilities p of a choice set at weights w (w.length = its dim), and the log normaliser log Z. */
export function choiceSoftmax(cs: ChoiceSet, w: Float64Array): { p: Float64Array; logZ: number } {
  const n = w.length;
  const p = new Float64Array(cs.n);
  let max = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < cs.n; r++) {
    let s = cs.offset[r]!;
    for (let m = 0; m < n; m++) s += w[m]! * cs.x[r * n + m]!;
    p[r] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let r = 0; r < cs.n; r++) z += p[r] = Math.exp(p[r]! - max);
  for (let r = 0; r < cs.n; r++) p[r] = p[r]! / z;
  return { p, logZ: max + Math.log(z) };
}

export class LaplacePosterior {
  /** Items observed as chosen from `choiceSet` (row indices), with weights. */
  readonly choices: { index: number; c: number }[] = [];
  choiceSet: ChoiceSet | null = null;
  readonly dim: number;
  readonly mu0: Float64Array;
  /** Prior precision (diagonal). */
  readonly prec0: Float64Array;
  readonly observations: Observation[] = [];
  /** MAP of w. */
  mean: Float64Array;
  /** Inverse Hessian at the MAP, row-major dim x dim. */
  cov: Float64Array;
  /** Newton iterations of the last refit (for tests and diagnostics). */
  iterations = 0;
  /** The last softmax computed (softmax()), with the choice set and the weights it is for. */
  private lastSoftmax: { cs: ChoiceSet; w: Float64Array; p: Float64Array; logZ: number } | null = null;

  constructor(mu0: Float64Array, priorVariance: Float64Array | number) {
    this.dim = mu0.length;
    this.mu0 = Float64Array.from(mu0);
    this.prec0 = new Float64Array(this.dim);
    for (let m = 0; m < this.dim; m++) {
      const v = typeof priorVariance === 'number' ? priorVariance : priorVariance[m]!;
      if (!(v > 0)) throw new RangeError(`LaplacePosterior: prior variance must be positive, got ${v}`);
      this.prec0[m] = 1 / v;
    }
    this.mean = Float64Array.from(mu0);
    this.cov = new Float64Array(this.dim * this.dim);
    for (let m = 0; m < this.dim; m++) this.cov[m * this.dim + m] = 1 / this.prec0[m]!;
  }

  /** Adds an observation and refits. */
  observe(obs: Observation | readonly Observation[]): void {
    for (const o of Array.isArray(obs) ? (obs as readonly Observation[]) : [obs as Observation]) {
      if (o.d.length !== this.dim) throw new RangeError(`LaplacePosterior: observation has ${o.d.length} dims, expected ${this.dim}`);
      this.observations.push(o);
    }
    this.refit();
  }

  /** Adds "row `index` of the choice set was chosen" (weight c) and refits. */
  choose(index: number, c = 1): void {
    if (!this.choiceSet) throw new RangeError('LaplacePosterior: no choice set');
    if (!(index >= 0 && index < this.choiceSet.n)) throw new RangeError(`LaplacePosterior: choice ${index} out of range`);
    this.choices.push({ index, c });
    this.refit();
  }

  /**
   * Softmax probabilities of the choice set at w, and the log normaliser. The last one is kept:
   * Newton's method asks for the softmax at the same w up to three times (the line search's trial,
   * then the gradient and the log posterior there), and a catalogue pass is the costly part.
   */
  private softmax(w: Float64Array): { p: Float64Array; logZ: number } {
    const cs = this.choiceSet!;
    const last = this.lastSoftmax;
    if (last && last.cs === cs && sameValues(last.w, w)) return last;
    const r = estimatedSoftmax(cs, w);
    this.lastSoftmax = { cs, w: Float64Array.from(w), p: r.p, logZ: r.logZ };
    return r;
  }

  /** Newton's method from the current mean to the MAP, then the Laplace covariance. */
  refit(maxIter = 30, tol = 1e-6): void {
    const n = this.dim;
    const w = Float64Array.from(this.mean);
    const g = new Float64Array(n);
    const h = new Float64Array(n * n);
    let l: Float64Array | null = null;
    this.iterations = 0;
    for (let it = 0; it < maxIter; it++) {
      this.hessianAndGradient(w, g, h);
      l = cholesky(h, n);
      const step = Float64Array.from(g);
      choleskySubstitute(l, step, n);
      // damped Newton: halve the step until the log posterior does not decrease
      let t = 1;
      const f0 = this.logPosterior(w);
      const trial = new Float64Array(n);
      for (;;) {
        for (let m = 0; m < n; m++) trial[m] = w[m]! - t * step[m]!;
        if (this.logPosterior(trial) >= f0 - 1e-12 || t < 1e-6) break;
        t /= 2;
      }
      let delta = 0;
      for (let m = 0; m < n; m++) {
        delta = Math.max(delta, Math.abs(trial[m]! - w[m]!));
        w[m] = trial[m]!;
      }
      this.iterations = it + 1;
      if (delta < tol) break;
    }
    this.hessianAndGradient(w, g, h);
    l = cholesky(h, n);
    this.mean = w;
    this.cov = choleskyInverse(l, n);
  }

  /** log prior + log likelihood (up to a constant). */
  logPosterior(w: Float64Array): number {
    let f = 0;
    for (let m = 0; m < this.dim; m++) {
      const z = w[m]! - this.mu0[m]!;
      f -= 0.5 * this.prec0[m]! * z * z;
    }
    if (this.choices.length > 0) {
      const cs = this.choiceSet!;
      const { logZ } = this.softmax(w);
      for (const ch of this.choices) {
        let s = cs.offset[ch.index]!;
        for (let m = 0; m < this.dim; m++) s += w[m]! * cs.x[ch.index * this.dim + m]!;
        f += ch.c * (s - logZ);
      }
    }
    for (const o of this.observations) {
      const s = o.offset + dot(o.d, w);
      // log sigma(s) for y = 1, log sigma(-s) for y = 0, stably
      const x = o.y === 1 ? s : -s;
      f += o.c * (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
    }
    return f;
  }

  /** g = gradient of the negative log posterior, h = its Hessian, at w. */
  private hessianAndGradient(w: Float64Array, g: Float64Array, h: Float64Array): void {
    const n = this.dim;
    h.fill(0);
    for (let m = 0; m < n; m++) {
      g[m] = this.prec0[m]! * (w[m]! - this.mu0[m]!);
      h[m * n + m] = this.prec0[m]!;
    }
    if (this.choices.length > 0) {
      // d/dw -log softmax_j = E_p[x] - x_j; Hessian = (sum c) Cov_p[x]
      const cs = this.choiceSet!;
      const { p } = this.softmax(w);
      const ex = new Float64Array(n);
      const exx = new Float64Array(n * n);
      choiceMoments(cs.estimate ?? cs, n, p, ex, exx);
      let total = 0;
      for (const ch of this.choices) {
        total += ch.c;
        for (let i = 0; i < n; i++) g[i] = g[i]! + ch.c * (ex[i]! - cs.x[ch.index * n + i]!);
      }
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          const v = total * (exx[i * n + j]! - ex[i]! * ex[j]!);
          h[i * n + j] = h[i * n + j]! + v;
          if (j !== i) h[j * n + i] = h[j * n + i]! + v;
        }
      }
    }
    for (const o of this.observations) {
      const p = sigmoid(o.offset + dot(o.d, w));
      const r = o.c * (p - o.y);
      const q = o.c * p * (1 - p);
      for (let i = 0; i < n; i++) {
        g[i] = g[i]! + r * o.d[i]!;
        const qi = q * o.d[i]!;
        if (qi === 0) continue;
        for (let j = 0; j < n; j++) h[i * n + j] = h[i * n + j]! + qi * o.d[j]!;
      }
    }
  }

  /** Predictive mean and variance of offset + w . d under the posterior. */
  predict(d: Float64Array, offset = 0): { mean: number; variance: number } {
    const n = this.dim;
    let v = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += this.cov[i * n + j]! * d[j]!;
      v += d[i]! * s;
    }
    return { mean: offset + dot(d, this.mean), variance: Math.max(0, v) };
  }

  /** Sum of the posterior variances (a scalar spread). */
  trace(): number {
    let t = 0;
    for (let m = 0; m < this.dim; m++) t += this.cov[m * this.dim + m]!;
    return t;
  }
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Column-major copies (dim x n) of choice sets' x, for `choiceMoments`; a choice set is not modified once used. */
const columnsOf = new WeakMap<ChoiceSet, Float64Array>();

/** The column-major copy of a choice set's x that `choiceMoments` reads, made on first use (or ahead of it, to keep it off a request). */
export function choiceColumns(cs: ChoiceSet, dim: number): Float64Array {
  const N = cs.n;
  let cols = columnsOf.get(cs);
  if (!cols || cols.length !== N * dim) {
    cols = new Float64Array(N * dim);
    for (let r = 0; r < N; r++) for (let m = 0; m < dim; m++) cols[m * N + r] = cs.x[r * dim + m]!;
    columnsOf.set(cs, cols);
  }
  return cols;
}

/**
 * The first two moments of x under the softmax p of a choice set, skipping rows with p < 1e-12:
 * ex[i] = sum_r p_r x_ri and, for j <= i, exx[i * dim + j] = sum_r (p_r x_ri) x_rj (ex and exx
 * start at 0). Every sum runs over the rows in order with the same products as a row-by-row
 * accumulation, so the values are bit for bit those of
 *
 *   for r: for i: { xi = p_r x_ri; ex[i] += xi; for j <= i: exx[i][j] += xi x_rj }
 *
 * but each entry is summed in a register over a column instead of read and written per row.
 */
export function choiceMoments(cs: ChoiceSet, dim: number, p: Float64Array, ex: Float64Array, exx: Float64Array): void {
  const N = cs.n;
  const cols = choiceColumns(cs, dim);
  // the rows that count (p_r < 1e-12 is skipped, as the row-by-row sum did), gathered when some do not
  let R = 0;
  const keep = new Int32Array(N);
  for (let r = 0; r < N; r++) if (!(p[r]! < 1e-12)) keep[R++] = r;
  let x = cols;
  let pr = p;
  if (R < N) {
    x = new Float64Array(R * dim);
    pr = new Float64Array(R);
    for (let t = 0; t < R; t++) pr[t] = p[keep[t]!]!;
    for (let m = 0; m < dim; m++) for (let t = 0; t < R; t++) x[m * R + t] = cols[m * N + keep[t]!]!;
  }
  const y = new Float64Array(R);
  for (let i = 0; i < dim; i++) {
    const xi = i * R;
    let s = 0;
    for (let t = 0; t < R; t++) s += y[t] = pr[t]! * x[xi + t]!;
    ex[i] = s;
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      const x0 = j * R;
      const x1 = x0 + R;
      const x2 = x1 + R;
      const x3 = x2 + R;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let t = 0; t < R; t++) {
        const v = y[t]!;
        a0 += v * x[x0 + t]!;
        a1 += v * x[x1 + t]!;
        a2 += v * x[x2 + t]!;
        a3 += v * x[x3 + t]!;
      }
      exx[i * dim + j] = a0;
      exx[i * dim + j + 1] = a1;
      exx[i * dim + j + 2] = a2;
      exx[i * dim + j + 3] = a3;
    }
    for (; j <= i; j++) {
      const xj = j * R;
      let a = 0;
      for (let t = 0; t < R; t++) a += y[t]! * x[xj + t]!;
      exx[i * dim + j] = a;
    }
  }
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function entropyBits(p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

const PROBIT_SCALE = Math.sqrt(Math.PI / 8);
const BALD_C = Math.sqrt((Math.PI * Math.LN2) / 2);

/**
 * Expected information (bits) about w from observing a binary preference whose logit is
 * Gaussian(mean, variance): BALD (Houlsby, Huszar, Ghahramani and Lengyel 2011), with the
 * logistic approximated by the probit sigma(x) ~ Phi(x sqrt(pi/8)). It is large when the predicted
 * preference is near 50/50 AND the uncertainty comes from w (large variance), small when the pair
 * is a coin flip even for a known w.
 */
export function bald(mean: number, variance: number): number {
  const m = mean * PROBIT_SCALE;
  const v = variance * PROBIT_SCALE * PROBIT_SCALE;
  const pBar = normalCdf(m / Math.sqrt(1 + v));
  const expected = (BALD_C / Math.sqrt(v + BALD_C * BALD_C)) * Math.exp(-(m * m) / (2 * (v + BALD_C * BALD_C)));
  return Math.max(0, entropyBits(pBar) - expected);
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
