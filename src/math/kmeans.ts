/** Seeded k-means (k-means++ seeding, Arthur & Vassilvitskii 2007; then Lloyd's iterations). */
import type { Rng } from './rng.js';

export interface KMeansResult {
  /** Cluster of each point. */
  assign: Int32Array;
  /** k x dim, row-major. */
  centroids: Float64Array;
  /** Sum of squared distances to the assigned centroid. */
  inertia: number;
}

function dist2(x: ArrayLike<number>, xo: number, c: Float64Array, co: number, dim: number): number {
  let s = 0;
  for (let a = 0; a < dim; a++) {
    const d = x[xo + a]! - c[co + a]!;
    s += d * d;
  }
  return s;
}

/** Nearest centroid of one vector. */
export function nearestCentroid(v: ArrayLike<number>, centroids: Float64Array, dim: number): number {
  const k = centroids.length / dim;
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const d = dist2(v, 0, centroids, c * dim, dim);
    if (d < bestD) (bestD = d), (best = c);
  }
  return best;
}

/** Clusters the rows of `points` (n x dim). Deterministic for a given rng seed. */
export function kmeans(points: Float32Array | Float64Array, n: number, dim: number, k: number, rng: Rng, iterations = 30): KMeansResult {
  if (n === 0) return { assign: new Int32Array(0), centroids: new Float64Array(k * dim), inertia: 0 };
  k = Math.min(k, n);
  const centroids = new Float64Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let first = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let a = 0; a < dim; a++) centroids[c * dim + a] = points[first * dim + a]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = dist2(points, i * dim, centroids, c * dim, dim);
      if (d < nearest[i]!) nearest[i] = d;
      total += nearest[i]!;
    }
    // next seed with probability proportional to the squared distance to the nearest seed
    let r = rng.next() * total;
    first = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i]!;
      if (r <= 0) {
        first = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n);
  const counts = new Int32Array(k);
  let inertia = 0;
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = dist2(points, i * dim, centroids, c * dim, dim);
        if (d < bestD) (bestD = d), (best = c);
      }
      if (assign[i] !== best || it === 0) changed++;
      assign[i] = best;
      inertia += bestD;
    }
    if (changed === 0 && it > 0) break;
    centroids.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      counts[c]!++;
      for (let a = 0; a < dim; a++) centroids[c * dim + a]! += points[i * dim + a]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // an empty cluster takes a random point
        const i = rng.int(n);
        for (let a = 0; a < dim; a++) centroids[c * dim + a] = points[i * dim + a]!;
      } else for (let a = 0; a < dim; a++) centroids[c * dim + a]! /= counts[c]!;
    }
  }
  return { assign, centroids, inertia };
}
