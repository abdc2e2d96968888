/**
 * The taste basis of onboarding, learned once from all training users of a persona model: the
 * principal directions of every user's persona vectors (PCA of their covariance, Jacobi
 * eigen-decomposition). With p_bar the mean persona and e_m, lambda_m the m-th direction and
 * variance, the basis prototype m is the persona p_bar + sqrt(lambda_m) e_m; the model's own
 * `scorePersonas` scores it, and the direction row is its score minus the mean persona's score s0
 * (centred, so a per-row normaliser such as a log-softmax's log Z drops out). A new user's utility
 *
 *   u(i) = s0(i) + sum_m w_m dir_m(i),   w ~ N(0, I) a priori,
 *
 * is linear in the mixture weights (exactly so when a single persona's score is linear in it, as
 * for the persona model's logits; otherwise a finite-difference approximation). The question pool
 * is the `pool` most popular candidates: recognisable items a new user can answer about.
 */
import { ConfigError } from '../errors.js';
import type { HasPersonas, Recommender } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';

export interface OnboardingBasis {
  readonly nItems: number;
  /** Number of prototypes M. */
  readonly size: number;
  readonly dim: number;
  /** The mean persona p_bar of all training users. */
  readonly meanPersona: Float32Array;
  /** M x dim basis personas p_bar + sqrt(lambda_m) e_m. */
  readonly prototypes: Float32Array;
  /** Share of the persona variance along each direction. */
  readonly shares: Float64Array;
  /** s0 per item (-Infinity for non-candidates). */
  readonly base: Float64Array;
  /** M x nItems direction rows (0 for non-candidates), row-major. */
  readonly dirs: Float64Array;
  /** Question pool: item indices by popularity, most popular first. */
  readonly pool: Int32Array;
  readonly candidates: Int32Array;
  /** Mean number of training positives per training user (the expected history length). */
  readonly meanHistory: number;
  readonly itemRanks: Int32Array;
  readonly itemPopularity: Int32Array;
}

export interface BasisOptions {
  /** Basis directions (default 16). */
  size?: number;
  /** Pool of question items (default 200). */
  pool?: number;
  /** Kept for the cache key (the basis itself draws no random numbers). */
  seed?: number;
}

const cache = new WeakMap<object, Map<string, OnboardingBasis>>();

/** The basis of (model, train), computed once per model object and options (cached). */
export function onboardingBasis(model: Recommender & HasPersonas, train: TrainSet, opts: BasisOptions = {}): OnboardingBasis {
  const key = `${opts.size ?? 16}|${opts.pool ?? 200}|${opts.seed ?? 42}|${train.nItems}`;
  let byKey = cache.get(model);
  if (!byKey) cache.set(model, (byKey = new Map()));
  let b = byKey.get(key);
  if (!b) byKey.set(key, (b = buildBasis(model, train, opts)));
  return b;
}

export function asPersonaModel(model: Recommender): Recommender & HasPersonas {
  const p = model as Partial<HasPersonas>;
  if (typeof p.personaVectors !== 'function' || typeof p.scorePersonas !== 'function' || typeof p.personaCount !== 'function') {
    throw new ConfigError(`model "${model.name}" has no personas; onboarding needs the persona model (--model personas)`, 'onboarding');
  }
  return model as Recommender & HasPersonas;
}

export function buildBasis(model: Recommender & HasPersonas, train: TrainSet, opts: BasisOptions = {}): OnboardingBasis {
  // every training user's personas, one row each
  const rows: Float32Array[] = [];
  for (let u = 0; u < train.nUsers; u++) if (model.personaCount(u) > 0) rows.push(model.personaVectors(u));
  if (rows.length === 0) throw new ConfigError('the model has no training personas to learn an onboarding basis from', 'onboarding');
  const dim = rows[0]!.length / model.personaCount(firstUserWithPersonas(model, train));
  let total = 0;
  const mean = new Float64Array(dim);
  for (const r of rows) {
    total += r.length / dim;
    for (let k = 0; k < r.length; k++) mean[k % dim] = mean[k % dim]! + r[k]!;
  }
  for (let j = 0; j < dim; j++) mean[j] = mean[j]! / total;
  const cov = new Float64Array(dim * dim);
  for (const r of rows) {
    for (let off = 0; off < r.length; off += dim) {
      for (let i = 0; i < dim; i++) {
        const xi = r[off + i]! - mean[i]!;
        for (let j = 0; j <= i; j++) cov[i * dim + j] = cov[i * dim + j]! + xi * (r[off + j]! - mean[j]!);
      }
    }
  }
  for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) cov[j * dim + i] = cov[i * dim + j] = cov[i * dim + j]! / Math.max(1, total - 1);
  const { values, vectors } = symmetricEigen(cov, dim);
  const size = Math.max(1, Math.min(opts.size ?? 16, dim));
  const nItems = train.nItems;
  // s0 = scores of the mean persona; direction m = scores at mean + sqrt(lambda_m) e_m, minus s0
  const probe = new Float32Array(dim);
  const row = new Float32Array(nItems);
  probe.set(Float32Array.from(mean));
  model.scorePersonas(probe, row);
  const base = new Float64Array(nItems).fill(Number.NEGATIVE_INFINITY);
  for (const i of train.candidates) if (Number.isFinite(row[i]!)) base[i] = row[i]!;
  const dirs = new Float64Array(size * nItems);
  const prototypes = new Float32Array(size * dim);
  const shares = new Float64Array(size);
  let totalVar = 0;
  for (let j = 0; j < dim; j++) totalVar += Math.max(0, values[j]!);
  for (let m = 0; m < size; m++) {
    const s = Math.sqrt(Math.max(0, values[m]!));
    shares[m] = totalVar > 0 ? Math.max(0, values[m]!) / totalVar : 0;
    for (let j = 0; j < dim; j++) {
      probe[j] = mean[j]! + s * vectors[j * dim + m]!;
      prototypes[m * dim + j] = probe[j]!;
    }
    model.scorePersonas(probe, row);
    // the per-row normaliser (e.g. a log-softmax's log Z) is a constant shift: centre on the candidates
    let c = 0;
    let n = 0;
    for (const i of train.candidates) {
      if (!Number.isFinite(base[i]!)) continue;
      c += row[i]! - base[i]!;
      n++;
    }
    c /= Math.max(1, n);
    for (const i of train.candidates) if (Number.isFinite(base[i]!)) dirs[m * nItems + i] = row[i]! - base[i]! - c;
  }
  const byPop = Array.from(train.candidates).filter((i) => Number.isFinite(base[i]!));
  byPop.sort((a, b) => train.itemPopularity[b]! - train.itemPopularity[a]! || train.itemRanks[a]! - train.itemRanks[b]!);
  const pool = Int32Array.from(byPop.slice(0, Math.max(2, opts.pool ?? 200)));
  return {
    nItems,
    size,
    dim,
    meanPersona: Float32Array.from(mean),
    prototypes,
    shares,
    base,
    dirs,
    pool,
    candidates: train.candidates,
    meanHistory: train.userItems.indices.length / Math.max(1, rows.length),
    itemRanks: train.itemRanks,
    itemPopularity: train.itemPopularity,
  };
}

/**
 * Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations: eigenvalues
 * descending, eigenvectors as the columns of `vectors` (row-major, vectors[i * n + m]).
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i * n + j]! * A[i * n + j]!;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => A[y * n + y]! - A[x * n + x]! || x - y);
  const values = Float64Array.from(order, (i) => A[i * n + i]!);
  const vectors = new Float64Array(n * n);
  for (let m = 0; m < n; m++) {
    const src = order[m]!;
    // sign convention: the largest-magnitude component positive (deterministic)
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(V[i * n + src]!) > Math.abs(V[big * n + src]!)) big = i;
    const sign = V[big * n + src]! < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + m] = sign * V[i * n + src]!;
  }
  return { values, vectors };
}

function firstUserWithPersonas(model: HasPersonas, train: TrainSet): number {
  for (let u = 0; u < train.nUsers; u++) if (model.personaCount(u) > 0) return u;
  return -1;
}
