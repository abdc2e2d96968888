/**
 * `sparse-ease`: EASE (Steck 2019) with each item's regression restricted to its nearest
 * neighbours, so that memory grows with items x neighbours instead of items^2 and there is no
 * n^3 inverse: the model for catalogues past `ease.maxItems`.
 *
 * EASE's weights solve, column by column, min ||X_j - X_{-j} b||^2 + lambda ||b||^2 over all other
 * items: b = (G_{-j,-j} + lambda I)^-1 G_{-j,j} with G = X^T X. Here column j regresses on N(j),
 * its `neighbours` most similar items by item-kNN cosine with `shrink` (the candidate-selection
 * step of fsSLIM, Ning and Karypis 2011, "SLIM: Sparse Linear Methods for Top-N Recommender
 * Systems"), and the ridge system is solved in closed form on that k x k block (Cholesky):
 *
 *   b_j = (G_{N(j),N(j)} + lambda I)^-1 G_{N(j),j},   score(u, i) = sum over history items a in N(i) of b_i[a].
 *
 * j is never in N(j), so EASE's zero diagonal holds by construction. The Gram entries come from a
 * sparse co-occurrence table that keeps, for every item, its `pool` most similar items with their
 * exact co-occurrence counts (built like itemknn: per item, counts through itemUsers -> userItems,
 * top `pool` kept); G_ab for two neighbours is read from a's row or b's row, and is 0 when neither
 * kept the other (the sparsification that makes it approximate, in the spirit of SANSA, Spisak et
 * al. 2023, which sparsifies EASE's inverse instead). G_{N(j),j} is exact: N(j) is taken from j's
 * own row. With neighbours >= candidates - 1 and pool >= neighbours this is EASE exactly.
 *
 * Memory: the table (items x pool) and the weights (items x neighbours); time: the co-occurrence
 * pass of itemknn plus items x neighbours^3 / 3 for the solves, which run in fixed item chunks on
 * a WorkerPool when threads > 1 (each column's solve is independent, so the weights never depend
 * on the thread count).
 */
import { z } from 'zod';
import { sortedIndex } from '../data/csr.js';
import { choleskySolve } from '../math/cholesky.js';
import { WorkerPool, splitRange, toShared } from '../math/pool.js';
import { ConfigError } from '../errors.js';
import { ItemKnn } from './itemknn.js';
import { runEpochs } from './model.js';
import type { FitContext, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const SparseEaseConfig = z
  .object({
    /** Ridge penalty of each item's regression (EASE's lambda). */
    lambda: z.number().positive().default(200),
    /** Regressors per item: its most similar items (item-kNN cosine with `shrink`). */
    neighbours: z.number().int().min(1).default(50),
    /** Co-occurrence entries kept per item for the Gram blocks (at least `neighbours`). */
    pool: z.number().int().min(1).default(400),
    /** Added to the cosine denominator when choosing neighbours. */
    shrink: z.number().min(0).default(10),
  })
  .strict();
export type SparseEaseConfig = z.infer<typeof SparseEaseConfig>;

/** Fixed number of item chunks the solves are cut into (not thread-dependent). */
const CHUNKS = 16;

const selfUrl = import.meta.url;

export interface SolvedRows {
  /** Per item of the chunk: how many regressors it has. */
  counts: Int32Array;
  /** The regressors (ascending per item) and their weights. */
  indices: Int32Array;
  values: Float32Array;
}

/**
 * The regressions of items [lo, hi): for each, its top `k` pool entries by similarity, the Gram
 * block from the co-occurrence table (ptr/idx/cnt, rows ascending by item) and the ridge solve.
 * `sim` holds each table entry's similarity (for choosing the neighbours). Exported for the pool.
 */
export function solveRows(ptr: Int32Array, idx: Int32Array, cnt: Float32Array, sim: Float32Array, lo: number, hi: number, k: number, lambda: number): SolvedRows {
  const counts = new Int32Array(hi - lo);
  const outIdx: number[] = [];
  const outVal: number[] = [];
  const a = new Float64Array(k * k);
  const g = new Float64Array(k);
  const order: number[] = [];
  for (let j = lo; j < hi; j++) {
    const r0 = ptr[j]!;
    const r1 = ptr[j + 1]!;
    order.length = 0;
    for (let p = r0; p < r1; p++) order.push(p);
    // the k most similar (ties: lower item first), then ascending by item
    order.sort((x, y) => sim[y]! - sim[x]! || idx[x]! - idx[y]!);
    const m = Math.min(k, order.length);
    const nb = order.slice(0, m).sort((x, y) => idx[x]! - idx[y]!);
    if (m === 0) continue;
    for (let s = 0; s < m; s++) {
      const as = idx[nb[s]!]!;
      g[s] = cnt[nb[s]!]!;
      a[s * m + s] = lookup(ptr, idx, cnt, as, as) + lambda;
      for (let t = 0; t < s; t++) {
        const at = idx[nb[t]!]!;
        const v = lookup(ptr, idx, cnt, as, at);
        a[s * m + t] = v;
        a[t * m + s] = v;
      }
    }
    choleskySolve(a, g, m, 1e-9); // a non-positive pivot (possible with the sparsified Gram block) is floored
    counts[j - lo] = m;
    for (let s = 0; s < m; s++) {
      outIdx.push(idx[nb[s]!]!);
      outVal.push(g[s]!);
    }
  }
  return { counts, indices: Int32Array.from(outIdx), values: Float32Array.from(outVal) };
}

/** G_ab from the table: a's row, else b's row, else 0 (the diagonal G_aa is stored on row a as -1 - count; see fit). */
function lookup(ptr: Int32Array, idx: Int32Array, cnt: Float32Array, a: number, b: number): number {
  if (a === b) return diag[a]!;
  let p = sortedIndex(idx, ptr[a]!, ptr[a + 1]!, b);
  if (p >= 0) return cnt[p]!;
  p = sortedIndex(idx, ptr[b]!, ptr[b + 1]!, a);
  return p >= 0 ? cnt[p]! : 0;
}

/** The item popularities (G's diagonal), set per thread before `solveRows` runs. */
let diag: Float32Array = new Float32Array(0);

/** Worker entry: sets the diagonal, then solves the chunk. */
export function solveChunk(ptr: Int32Array, idx: Int32Array, cnt: Float32Array, sim: Float32Array, popularity: Float32Array, lo: number, hi: number, k: number, lambda: number): SolvedRows {
  diag = popularity;
  return solveRows(ptr, idx, cnt, sim, lo, hi, k, lambda);
}

export class SparseEase implements Recommender {
  /** Below this many solve flops (items x neighbours^3 / 3) one thread is faster than a pool (tests lower it). */
  static parallelMinFlops = 2e8;
  readonly name = 'sparse-ease';
  readonly params: SparseEaseConfig;
  private nItems = 0;
  /** Weights by target item: row i lists N(i) ascending with b_i[a]. */
  private bPtr: Int32Array = new Int32Array(1);
  private bIdx: Int32Array = new Int32Array(0);
  private bVal: Float32Array = new Float32Array(0);
  /** The same weights by history item (the transpose), for scoring. */
  private sPtr: Int32Array = new Int32Array(1);
  private sIdx: Int32Array = new Int32Array(0);
  private sVal: Float32Array = new Float32Array(0);

  constructor(params: Partial<SparseEaseConfig> = {}) {
    this.params = SparseEaseConfig.parse(params);
    if (this.params.pool < this.params.neighbours) {
      throw new ConfigError(`sparse-ease: pool (${this.params.pool}) must be at least neighbours (${this.params.neighbours})`, 'sparse-ease.pool');
    }
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const { lambda, neighbours, pool, shrink } = this.params;
    const n = train.nItems;
    // the co-occurrence table: itemknn's top-`pool` rows (cosine with shrink), counts recovered
    const knn = new ItemKnn({ k: pool, shrink, neighbourhood: 'history' });
    await knn.fit(train, { ...ctx, onProgress: (e) => ctx.onProgress?.({ ...e, stage: 'sparse-ease co-occurrence' }) });
    const t = knn.toArtifact().arrays;
    const ptr = t.indptr as Int32Array;
    const idx = t.indices as Int32Array;
    const sim = t.values as Float32Array;
    const iu = train.itemUsers.indptr;
    const popularity = Float32Array.from({ length: n }, (_, a) => iu[a + 1]! - iu[a]!);
    const cnt = new Float32Array(idx.length);
    for (let a = 0; a < n; a++) {
      for (let p = ptr[a]!; p < ptr[a + 1]!; p++) {
        const b = idx[p]!;
        cnt[p] = Math.round(sim[p]! * (Math.sqrt(popularity[a]! * popularity[b]!) + shrink));
      }
    }
    const ranges = splitRange(n, CHUNKS);
    let flops = 0;
    for (let a = 0; a < n; a++) flops += Math.min(neighbours, ptr[a + 1]! - ptr[a]!) ** 3 / 3;
    const threads = Math.max(1, Math.min(ctx.threads, CHUNKS));
    const parts: SolvedRows[] = [];
    if (threads > 1 && flops >= SparseEase.parallelMinFlops) {
      if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('sparse-ease: fit aborted');
      const workers = new WorkerPool(threads);
      try {
        const args = [toShared(ptr), toShared(idx), toShared(cnt), toShared(sim), toShared(popularity)];
        let done = 0;
        parts.push(
          ...(await Promise.all(
            ranges.map(async ([lo, hi]) => {
              const r = await workers.run<SolvedRows>(selfUrl, 'solveChunk', [...args, lo, hi, neighbours, lambda]);
              ctx.onProgress?.({ stage: 'sparse-ease', done: ++done, total: ranges.length });
              return r;
            }),
          )),
        );
      } finally {
        await workers.close();
      }
    } else {
      await runEpochs(ctx, 'sparse-ease', ranges.length, (c) => {
        const [lo, hi] = ranges[c]!;
        parts.push(solveChunk(ptr, idx, cnt, sim, popularity, lo, hi, neighbours, lambda));
        return undefined;
      });
    }
    const bPtr = new Int32Array(n + 1);
    let total = 0;
    for (const p of parts) total += p.indices.length;
    const bIdx = new Int32Array(total);
    const bVal = new Float32Array(total);
    let row = 0;
    let off = 0;
    for (const p of parts) {
      for (let r = 0; r < p.counts.length; r++, row++) bPtr[row + 1] = bPtr[row]! + p.counts[r]!;
      bIdx.set(p.indices, off);
      bVal.set(p.values, off);
      off += p.indices.length;
    }
    this.set(n, bPtr, bIdx, bVal);
  }

  private set(n: number, bPtr: Int32Array, bIdx: Int32Array, bVal: Float32Array): void {
    this.nItems = n;
    this.bPtr = bPtr;
    this.bIdx = bIdx;
    this.bVal = bVal;
    // transpose: row a lists (i, b_i[a]) for every target i that regresses on a
    const sPtr = new Int32Array(n + 1);
    for (let p = 0; p < bIdx.length; p++) sPtr[bIdx[p]! + 1]!++;
    for (let a = 0; a < n; a++) sPtr[a + 1]! += sPtr[a]!;
    const next = sPtr.slice(0, n);
    const sIdx = new Int32Array(bIdx.length);
    const sVal = new Float32Array(bIdx.length);
    for (let i = 0; i < n; i++) {
      for (let p = bPtr[i]!; p < bPtr[i + 1]!; p++) {
        const q = next[bIdx[p]!]!++;
        sIdx[q] = i;
        sVal[q] = bVal[p]!;
      }
    }
    this.sPtr = sPtr;
    this.sIdx = sIdx;
    this.sVal = sVal;
  }

  /** b_i[a]: the weight history item a gives target i (0 when a is not among i's neighbours). */
  weight(a: number, i: number): number {
    if (i < 0 || i >= this.nItems) return 0;
    const p = sortedIndex(this.bIdx, this.bPtr[i]!, this.bPtr[i + 1]!, a);
    return p >= 0 ? this.bVal[p]! : 0;
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    const seen = new Int32Array(n).fill(-1);
    for (let b = 0; b < batch.users.length; b++) {
      const base = b * n;
      out.fill(0, base, base + n);
      for (let h = batch.indptr[b]!; h < batch.indptr[b + 1]!; h++) {
        const a = batch.items[h]!;
        // x_u is binary: a repeated history item counts once
        if (a < 0 || a >= n || seen[a] === b) continue;
        seen[a] = b;
        for (let p = this.sPtr[a]!; p < this.sPtr[a + 1]!; p++) out[base + this.sIdx[p]!]! += this.sVal[p]!;
      }
    }
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'sparse-ease',
      version: 1,
      config: { ...this.params },
      arrays: { indptr: this.bPtr, indices: this.bIdx, values: this.bVal },
    };
  }

  static fromArtifact(a: ModelArtifact): SparseEase {
    const m = new SparseEase(SparseEaseConfig.parse(a.config));
    const ptr = a.arrays.indptr as Int32Array;
    m.set(ptr.length - 1, ptr, a.arrays.indices as Int32Array, a.arrays.values as Float32Array);
    return m;
  }
}

export const sparseEaseSpec: ModelSpec = {
  name: 'sparse-ease',
  description: 'EASE restricted to each item\'s nearest neighbours (fsSLIM-style selection, closed-form ridge per item): memory items x neighbours, for catalogues past ease.maxItems',
  schema: SparseEaseConfig,
  create: (params) => new SparseEase(params as Partial<SparseEaseConfig>),
  fromArtifact: (a) => SparseEase.fromArtifact(a),
  tuningGrid: [100, 200, 400, 800].map((lambda) => ({ lambda })),
};
