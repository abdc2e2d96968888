/**
 * `itemknn`: item-based k-nearest neighbours on binary data. sim(i, j) = c_ij / (sqrt(n_i n_j) +
 * shrink), with c_ij the number of users who liked both and n_i the item's popularity (cosine when
 * shrink = 0). Each item keeps its `k` most similar items (ties: lower item index first); the kept
 * neighbours form a sparse item x item matrix W (CSR, Float32 values, row i = i's neighbours).
 * With `neighbourhood: 'target'` (the default) the candidate's own neighbourhood decides:
 * score(u, i) = sum of sim(i, j) over the history items j among i's k neighbours, the usual
 * item-kNN of Sarwar et al. (2001) and of the reproducibility study of Ferrari Dacrema et al.
 * (2019). With 'history' each history item j spreads to its own k neighbours instead:
 * score(u, i) = sum over j of W[j, i]. On ml-latest-small's validation split 'target' is better
 * for every k and shrink we tried (e.g. k = 100, shrink 50: ndcg@20 0.136 vs 0.121).
 *
 * The build never materialises an item x item dense matrix: each item row accumulates co-occurrence
 * counts through itemUsers -> userItems into a dense scratch row, then selects its top k. Rows are
 * independent, so with threads > 1 and enough work they are built in fixed chunks on a WorkerPool;
 * chunks are concatenated in order, so W does not depend on the thread count.
 */
import { z } from 'zod';
import { WorkerPool, splitRange, toShared } from '../math/pool.js';
import { runEpochs } from './model.js';
import type { FitContext, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const ItemKnnConfig = z
  .object({
    /** Neighbours kept per item. */
    k: z.number().int().min(1).default(100),
    /** Added to the cosine denominator: damps similarities supported by few co-occurrences. */
    shrink: z.number().min(0).default(0),
    /** Whose k neighbours count: the candidate's ('target') or each history item's ('history'). */
    neighbourhood: z.enum(['target', 'history']).default('target'),
  })
  .strict();
export type ItemKnnConfig = z.infer<typeof ItemKnnConfig>;

/** Fixed number of row chunks a parallel build is cut into (load balance; not thread-dependent). */
const CHUNKS = 16;

interface RowsResult {
  counts: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * Neighbour rows [lo, hi) of W: for each item, counts of co-occurring items, cosine, top k by
 * (similarity desc, item asc), stored sorted by item ascending. Exported for the worker pool.
 */
export function knnRows(
  uiPtr: Int32Array,
  uiIdx: Int32Array,
  iuPtr: Int32Array,
  iuIdx: Int32Array,
  nItems: number,
  lo: number,
  hi: number,
  k: number,
  shrink: number,
): RowsResult {
  const count = new Int32Array(nItems);
  const touched = new Int32Array(nItems);
  const norm = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) norm[i] = Math.sqrt(iuPtr[i + 1]! - iuPtr[i]!);
  const simOf = new Float64Array(nItems);
  const counts = new Int32Array(hi - lo);
  let idx = new Int32Array(Math.max(16, (hi - lo) * Math.min(k, 64)));
  let val = new Float32Array(idx.length);
  let nnz = 0;
  for (let i = lo; i < hi; i++) {
    let nt = 0;
    for (let p = iuPtr[i]!; p < iuPtr[i + 1]!; p++) {
      const u = iuIdx[p]!;
      for (let q = uiPtr[u]!; q < uiPtr[u + 1]!; q++) {
        const j = uiIdx[q]!;
        if (count[j] === 0) touched[nt++] = j;
        count[j]!++;
      }
    }
    // similarities of the touched items (the item itself excluded)
    let m = 0;
    const ni = norm[i]!;
    for (let t = 0; t < nt; t++) {
      const j = touched[t]!;
      const c = count[j]!;
      count[j] = 0;
      if (j === i) continue;
      const s = c / (ni * norm[j]! + shrink);
      touched[m++] = j;
      simOf[j] = s;
    }
    // keep the best k by (sim desc, item asc): a strict order, so quickselect needs no tie pass
    const size = m <= k ? m : (selectBest(touched, m, k, simOf), k);
    const kept = touched;
    if (nnz + size > idx.length) {
      const cap = Math.max(idx.length * 2, nnz + size);
      const ni2 = new Int32Array(cap);
      ni2.set(idx.subarray(0, nnz));
      idx = ni2;
      const nv = new Float32Array(cap);
      nv.set(val.subarray(0, nnz));
      val = nv;
    }
    // stored by item ascending (the CSR convention)
    const row = idx.subarray(nnz, nnz + size);
    row.set(kept.subarray(0, size));
    row.sort();
    for (let t = 0; t < size; t++) val[nnz + t] = simOf[row[t]!]!;
    nnz += size;
    counts[i - lo] = size;
  }
  return { counts, indices: idx.slice(0, nnz), values: val.slice(0, nnz) };
}

/**
 * Reorders items[0 .. n) so that its first k are the best k by (sim desc, item asc) (quickselect,
 * median-of-three pivots; the order is strict, so ties cannot degrade it).
 */
function selectBest(items: Int32Array, n: number, k: number, sim: Float64Array): void {
  let lo = 0;
  let hi = n - 1;
  const kth = k - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three by the order, moved to `mid`
    if (better(items[mid]!, items[lo]!, sim)) swap(items, mid, lo);
    if (better(items[hi]!, items[lo]!, sim)) swap(items, hi, lo);
    if (better(items[hi]!, items[mid]!, sim)) swap(items, hi, mid);
    const pivot = items[mid]!;
    const ps = sim[pivot]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      for (;;) {
        const a = items[i]!;
        const sa = sim[a]!;
        if (sa > ps || (sa === ps && a < pivot)) i++;
        else break;
      }
      for (;;) {
        const b = items[j]!;
        const sb = sim[b]!;
        if (sb < ps || (sb === ps && b > pivot)) j--;
        else break;
      }
      if (i <= j) {
        swap(items, i, j);
        i++;
        j--;
      }
    }
    if (kth <= j) hi = j;
    else if (kth >= i) lo = i;
    else return;
  }
}

function better(a: number, b: number, sim: Float64Array): boolean {
  const sa = sim[a]!;
  const sb = sim[b]!;
  return sa > sb || (sa === sb && a < b);
}

function swap(a: Int32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

export class ItemKnn implements Recommender {
  /**
   * Co-occurrence work (sum over users of n_u^2) below which the build stays on this thread: a pool
   * starts in ~0.1 s compiled (~0.5 s under tsx), and 5e7 is ~0.3 s of single-threaded work.
   */
  static parallelMinWork = 5e7;
  readonly name = 'itemknn';
  readonly params: ItemKnnConfig;
  private nItems = 0;
  /** W as CSR: row j holds j's kept neighbours i with sim(j, i). */
  private wPtr: Int32Array = new Int32Array(1);
  private wIdx: Int32Array = new Int32Array(0);
  private wVal: Float32Array = new Float32Array(0);
  /** The matrix scoring walks: row j lists the items i whose score j feeds (W or its transpose). */
  private sPtr: Int32Array = new Int32Array(1);
  private sIdx: Int32Array = new Int32Array(0);
  private sVal: Float32Array = new Float32Array(0);

  constructor(params: Partial<ItemKnnConfig> = {}) {
    this.params = ItemKnnConfig.parse(params);
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const { k, shrink } = this.params;
    const n = train.nItems;
    const ui = train.userItems;
    const iu = train.itemUsers;
    let work = 0;
    for (let u = 0; u < ui.rows; u++) work += (ui.indptr[u + 1]! - ui.indptr[u]!) ** 2;
    const useThreads = Math.min(ctx.threads, CHUNKS);
    const ranges = splitByWork(iu, ui, n, CHUNKS);
    let parts: RowsResult[] = [];
    if (useThreads > 1 && work >= ItemKnn.parallelMinWork) {
      if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('itemknn: fit aborted');
      const pool = new WorkerPool(useThreads);
      try {
        const args = [toShared(ui.indptr), toShared(ui.indices), toShared(iu.indptr), toShared(iu.indices)];
        let done = 0;
        parts = await Promise.all(
          ranges.map(async ([lo, hi]) => {
            const r = await pool.run<RowsResult>(import.meta.url, 'knnRows', [...args, n, lo, hi, k, shrink]);
            ctx.onProgress?.({ stage: 'itemknn', done: ++done, total: ranges.length });
            return r;
          }),
        );
      } finally {
        await pool.close();
      }
    } else {
      // the shared loop gives progress and abort between chunks
      await runEpochs(ctx, 'itemknn', ranges.length, (c) => {
        const [lo, hi] = ranges[c]!;
        parts.push(knnRows(ui.indptr, ui.indices, iu.indptr, iu.indices, n, lo, hi, k, shrink));
        return undefined;
      });
    }
    const ptr = new Int32Array(n + 1);
    let total = 0;
    for (const p of parts) total += p.indices.length;
    const idx = new Int32Array(total);
    const val = new Float32Array(total);
    let row = 0;
    let off = 0;
    for (const p of parts) {
      for (let r = 0; r < p.counts.length; r++, row++) ptr[row + 1] = ptr[row]! + p.counts[r]!;
      idx.set(p.indices, off);
      val.set(p.values, off);
      off += p.indices.length;
    }
    this.nItems = n;
    this.wPtr = ptr;
    this.wIdx = idx;
    this.wVal = val;
    this.buildScoring();
  }

  private buildScoring(): void {
    if (this.params.neighbourhood === 'history') {
      this.sPtr = this.wPtr;
      this.sIdx = this.wIdx;
      this.sVal = this.wVal;
      return;
    }
    // transpose W: row j of S holds (i, sim(i, j)) for every i that kept j; rows stay sorted by i
    const n = this.nItems;
    const ptr = this.wPtr;
    const idx = this.wIdx;
    const val = this.wVal;
    const sPtr = new Int32Array(n + 1);
    for (let p = 0; p < idx.length; p++) sPtr[idx[p]! + 1]!++;
    for (let j = 0; j < n; j++) sPtr[j + 1]! += sPtr[j]!;
    const next = sPtr.slice(0, n);
    const sIdx = new Int32Array(idx.length);
    const sVal = new Float32Array(idx.length);
    for (let i = 0; i < n; i++) {
      for (let p = ptr[i]!; p < ptr[i + 1]!; p++) {
        const q = next[idx[p]!]!++;
        sIdx[q] = i;
        sVal[q] = val[p]!;
      }
    }
    this.sPtr = sPtr;
    this.sIdx = sIdx;
    this.sVal = sVal;
  }

  /** sim(j, i) as kept in W (0 when i is not among j's k neighbours). */
  similarity(j: number, i: number): number {
    for (let p = this.wPtr[j]!; p < this.wPtr[j + 1]!; p++) if (this.wIdx[p] === i) return this.wVal[p]!;
    return 0;
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    const ptr = this.sPtr;
    const idx = this.sIdx;
    const val = this.sVal;
    for (let b = 0; b < batch.users.length; b++) {
      const base = b * n;
      out.fill(0, base, base + n);
      for (let h = batch.indptr[b]!; h < batch.indptr[b + 1]!; h++) {
        const j = batch.items[h]!;
        if (j < 0 || j >= n) continue;
        for (let p = ptr[j]!; p < ptr[j + 1]!; p++) out[base + idx[p]!]! += val[p]!;
      }
    }
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'itemknn',
      version: 2,
      config: { ...this.params },
      arrays: { indptr: this.wPtr, indices: this.wIdx, values: this.wVal },
    };
  }

  static fromArtifact(a: ModelArtifact): ItemKnn {
    // version 1 artifacts predate `neighbourhood` and scored through the history's neighbours
    const m = new ItemKnn({ ...(a.version === 1 ? { neighbourhood: 'history' as const } : {}), ...(a.config as Partial<ItemKnnConfig>) });
    m.wPtr = a.arrays.indptr as Int32Array;
    m.wIdx = a.arrays.indices as Int32Array;
    m.wVal = a.arrays.values as Float32Array;
    m.nItems = m.wPtr.length - 1;
    m.buildScoring();
    return m;
  }
}

/** Cuts item rows into `parts` contiguous ranges of similar co-occurrence work (deterministic). */
function splitByWork(iu: TrainSet['itemUsers'], ui: TrainSet['userItems'], n: number, parts: number): [number, number][] {
  if (parts <= 1 || n === 0) return splitRange(n, 1);
  // the work of row i: the summed lengths of its users' rows (plus the top-k selection)
  const cost = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    let c = 1;
    for (let p = iu.indptr[i]!; p < iu.indptr[i + 1]!; p++) {
      const u = iu.indices[p]!;
      c += ui.indptr[u + 1]! - ui.indptr[u]!;
    }
    cost[i + 1] = cost[i]! + c;
  }
  const total = cost[n]!;
  const out: [number, number][] = [];
  let lo = 0;
  for (let p = 1; p <= parts; p++) {
    const target = (total * p) / parts;
    let hi = lo;
    while (hi < n && cost[hi + 1]! <= target) hi++;
    if (p === parts) hi = n;
    if (hi > lo) out.push([lo, hi]);
    lo = hi;
  }
  return out;
}

export const itemKnnSpec: ModelSpec = {
  name: 'itemknn',
  description: 'item-based kNN, cosine on binary data, top-k neighbours per item',
  schema: ItemKnnConfig,
  create: (params) => new ItemKnn(params as Partial<ItemKnnConfig>),
  fromArtifact: (a) => ItemKnn.fromArtifact(a),
  tuningGrid: [20, 50, 100, 200, 400].flatMap((k) => [10, 50].map((shrink) => ({ k, shrink }))),
};
