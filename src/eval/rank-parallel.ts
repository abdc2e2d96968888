/**
 * Ranking and per-user metrics of every test user over worker threads (src/eval/rank-range.ts).
 * The test users are cut into contiguous ranges; each worker rebuilds the fitted model from its
 * artifact over shared memory and returns each range's lists and metric values; the main thread
 * puts them back in user order and summarises them there (src/eval/evaluate.ts
 * `summariseEvaluation`), so metrics, per-user values, intervals and comparisons are the same for
 * any number of threads. Floats are never summed in thread order.
 *
 * Ranked in the calling thread instead: without a pool (one thread), and models whose artifact
 * names a model that does not ship with personae (one added with `registerModel` exists only in
 * the thread that registered it).
 */
import type { Split } from '../data/split.js';
import { toShared, type WorkerPool } from '../math/pool.js';
import type { ModelArtifact, Recommender } from '../models/model.js';
import { isBuiltInModel } from '../models/registry.js';
import type { ListReranker } from '../rank/pipeline.js';
import { summariseEvaluation, type ListEvaluation } from './evaluate.js';
import { evalDataOf, RangeRanker, valueKeys, type EvalData, type RangeJob, type RangeResult } from './rank-range.js';

export interface ParallelRankOptions {
  /** List length (the largest cut-off). */
  readonly k: number;
  readonly ks: readonly number[];
  /** Bootstrap seed of the summaries. */
  readonly seed: number;
  /** The --rerank spec `reranker` was built from (`none`: no reranker); workers rebuild it from this. */
  readonly rerank: string;
  readonly reranker: ListReranker | null;
  /** Worker threads; null ranks in the calling thread. */
  readonly pool: WorkerPool | null;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RankedEvaluation {
  /** Top-k lists in `split.testUsers` order. */
  readonly lists: Int32Array[];
  readonly evaluation: ListEvaluation;
}

const rangeUrl = new URL(import.meta.url.endsWith('.ts') ? './rank-range.ts' : './rank-range.js', import.meta.url).href;

// a split's arrays copied into shared memory once, for every model and trial ranked on it
const sharedData = new WeakMap<Split, { id: string; data: EvalData }>();
let nextId = 0;

function sharedDataOf(split: Split): { id: string; data: EvalData } {
  let s = sharedData.get(split);
  if (!s) {
    const d = evalDataOf(split);
    const csr = (m: EvalData['history']): EvalData['history'] => ({ rows: m.rows, cols: m.cols, indptr: toShared(m.indptr), indices: toShared(m.indices) });
    const cats = d.categories ? { names: d.categories.names, ptr: toShared(d.categories.ptr), idx: toShared(d.categories.idx) } : null;
    const data: EvalData = {
      nItems: d.nItems,
      testUsers: toShared(d.testUsers),
      testUserModelIndex: toShared(d.testUserModelIndex),
      history: csr(d.history),
      test: csr(d.test),
      candidates: toShared(d.candidates),
      itemRanks: toShared(d.itemRanks),
      itemPopularity: toShared(d.itemPopularity),
      categories: cats,
    };
    s = { id: `split${nextId++}`, data };
    sharedData.set(split, s);
  }
  return s;
}

/** Can a worker rebuild this artifact (its model and every nested model ship with personae)? */
export function sendable(a: ModelArtifact): boolean {
  if (!isBuiltInModel(a.kind)) return false;
  return Object.entries(a.config).every(([key, v]) => !key.endsWith('.kind') || (typeof v === 'string' && isBuiltInModel(v)));
}

/** The artifact with every array in shared memory (arrays already shared are not copied). */
function sharedArtifact(a: ModelArtifact): ModelArtifact {
  const arrays: Record<string, Float32Array | Int32Array> = {};
  for (const [name, arr] of Object.entries(a.arrays)) arrays[name] = toShared(arr);
  return { kind: a.kind, version: a.version, config: a.config, arrays };
}

/**
 * Users per range handed to a worker: about 16 ranges per thread, 128 to 256 users each (a model
 * scores a batch of users at a time), but at least 2 ranges per thread on small splits. The
 * results do not depend on it.
 */
export function rangeSize(users: number, threads: number): number {
  const t = Math.max(1, threads);
  const size = Math.max(128, Math.min(256, Math.ceil(users / (16 * t))));
  return Math.max(1, Math.min(size, Math.ceil(users / (2 * t))));
}

/** Lists and metrics of the split's test users (see the file comment). */
export async function rankAndEvaluate(model: Recommender, split: Split, opts: ParallelRankOptions): Promise<RankedEvaluation> {
  const total = split.testUsers.length;
  const artifact = opts.pool && total > 0 ? model.toArtifact() : null;
  const results: RangeResult[] = [];
  if (!opts.pool || !artifact || !sendable(artifact)) {
    const ranker = new RangeRanker(model, evalDataOf(split), opts.k, opts.ks, opts.reranker);
    const size = rangeSize(total, 1);
    for (let start = 0; start < total; start += size) {
      const end = Math.min(total, start + size);
      results.push(ranker.run(start, end));
      opts.onProgress?.(end, total);
    }
  } else {
    const { id, data } = sharedDataOf(split);
    const job: RangeJob = { dataId: id, data, modelId: `model${nextId++}`, artifact: sharedArtifact(artifact), k: opts.k, ks: opts.ks, rerank: opts.rerank };
    const size = rangeSize(total, opts.pool.size);
    const pending: { end: number; result: Promise<RangeResult> }[] = [];
    for (let start = 0; start < total; start += size) {
      const end = Math.min(total, start + size);
      const result = opts.pool.run<RangeResult>(rangeUrl, 'rankRange', [job, start, end]);
      result.catch(() => undefined); // awaited in order below; the first failure stops the run
      pending.push({ end, result });
    }
    for (const p of pending) {
      results.push(await p.result);
      opts.onProgress?.(p.end, total);
    }
  }
  // back in user order: one list and keys.length values per user
  const keys = valueKeys(opts.ks);
  const perUser: Record<string, (number | null)[]> = {};
  for (const key of keys) perUser[key] = [];
  const lists: Int32Array[] = [];
  for (const r of results) {
    r.lists.forEach((list, u) => {
      lists.push(list);
      keys.forEach((key, j) => perUser[key]!.push(r.values[u * keys.length + j] ?? null));
    });
  }
  return { lists, evaluation: summariseEvaluation(split, lists, perUser, opts.ks, opts.seed) };
}
