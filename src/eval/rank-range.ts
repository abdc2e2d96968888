/**
 * The per-user work of an evaluation over a range of test users, the same in the main thread and
 * in a worker: score the users in batches, select each top-K list through the list pipeline, and
 * compute every user's PROTOCOL.md metric values at each cut-off. A range's lists and values
 * depend only on the model's scores, the split and the settings (a batch scores as each of its
 * users alone, test/model-contract.test.ts), so the caller can cut the users into ranges, hand
 * them to any number of threads and put the results back in user order: nothing is summed across
 * ranges here, and the summaries (src/eval/evaluate.ts) are computed afterwards in user order.
 *
 * A worker receives the split's arrays over shared memory (`EvalData`) and the model as its
 * artifact over shared memory (rebuilt with `modelFromArtifact`, which scores bit-identically to
 * the fitted model: the artifact round trip of test/model-contract.test.ts), both cached per
 * worker by an id so a run sends them once per worker.
 */
import type { ItemCategories } from '../data/categories.js';
import type { Csr } from '../data/csr.js';
import type { Split } from '../data/split.js';
import type { ModelArtifact, Recommender } from '../models/model.js';
import { modelFromArtifact } from '../models/registry.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { ListPipeline, type ListReranker } from '../rank/pipeline.js';
import { evaluateUser, metricKeys } from './metrics.js';

/** What ranking and the metrics read from a split: plain data (typed arrays may be shared). */
export interface EvalData {
  readonly nItems: number;
  readonly testUsers: Int32Array;
  readonly testUserModelIndex: Int32Array;
  readonly history: Csr;
  readonly test: Csr;
  readonly candidates: Int32Array;
  readonly itemRanks: Int32Array;
  readonly itemPopularity: Int32Array;
  readonly categories: ItemCategories | null;
}

/** The lists and metric values of users [start, end): `values` is user-major, `keys.length` per user. */
export interface RangeResult {
  readonly lists: Int32Array[];
  readonly values: (number | null)[];
}

/** The metric keys of a user's values, in order: every key of `metricKeys(k)` for each k of `ks`. */
export function valueKeys(ks: readonly number[]): string[] {
  return ks.flatMap((k) => metricKeys(k));
}

/** The split's arrays the ranking reads (views, no copy). */
export function evalDataOf(split: Split): EvalData {
  const csr = (m: Csr): Csr => ({ rows: m.rows, cols: m.cols, indptr: m.indptr, indices: m.indices });
  return {
    nItems: split.train.nItems,
    testUsers: split.testUsers,
    testUserModelIndex: split.testUserModelIndex,
    history: csr(split.history),
    test: csr(split.test),
    candidates: split.train.candidates,
    itemRanks: split.train.itemRanks,
    itemPopularity: split.train.itemPopularity,
    categories: split.log.categories,
  };
}

const rowOf = (m: Csr, r: number): Int32Array => m.indices.subarray(m.indptr[r]!, m.indptr[r + 1]!);

/** Users per scoreBatch call. */
export const SCORE_BATCH = 128;

/** Ranks and evaluates ranges of test users with one model and one list pipeline. */
export class RangeRanker {
  private readonly pipeline: ListPipeline;
  private readonly keys: string[];
  private scores: Float32Array | null = null;

  constructor(
    private readonly model: Recommender,
    private readonly data: EvalData,
    private readonly k: number,
    private readonly ks: readonly number[],
    reranker: ListReranker | null,
    private readonly batchSize = SCORE_BATCH,
  ) {
    this.pipeline = new ListPipeline({ k, reranker });
    this.keys = valueKeys(ks);
  }

  /** Users [start, end) of `data.testUsers`; `onList` sees each user's scores (valid during the call) and list. */
  run(start: number, end: number, onList?: (index: number, scores: Float32Array, list: Int32Array) => void): RangeResult {
    const { data, batchSize } = this;
    const { nItems, testUsers: users, candidates, itemRanks } = data;
    const lists: Int32Array[] = [];
    const values: (number | null)[] = [];
    const rows = Math.min(batchSize, end - start);
    if (!this.scores || this.scores.length < rows * nItems) this.scores = new Float32Array(rows * nItems);
    const scores = this.scores;
    for (let from = start; from < end; from += batchSize) {
      const to = Math.min(end, from + batchSize);
      const indptr = new Int32Array(to - from + 1);
      for (let b = from; b < to; b++) indptr[b - from + 1] = indptr[b - from]! + rowOf(data.history, users[b]!).length;
      const items = new Int32Array(indptr[to - from]!);
      for (let b = from; b < to; b++) items.set(rowOf(data.history, users[b]!), indptr[b - from]!);
      this.model.scoreBatch({ users: data.testUserModelIndex.subarray(from, to), indptr, items }, scores);
      for (let b = from; b < to; b++) {
        const row = scores.subarray((b - from) * nItems, (b - from + 1) * nItems);
        const history = rowOf(data.history, users[b]!);
        const { list } = this.pipeline.select(row, { candidates, itemRanks, exclude: history }, { user: users[b]!, history });
        lists.push(list);
        onList?.(b, row, list);
        const input = { list, test: rowOf(data.test, users[b]!), train: history };
        for (const k of this.ks) {
          const v = evaluateUser(input, { k, categories: data.categories, itemPopularity: data.itemPopularity });
          for (const key of metricKeys(k)) values.push(v[key] ?? null);
        }
      }
    }
    if (values.length !== lists.length * this.keys.length) throw new Error('rank-range: metric keys and values disagree');
    return { lists, values };
  }
}

/** What a worker needs for ranges of one model: ids for its caches, the data, the model and the settings. */
export interface RangeJob {
  /** Names `data` (the same id: the same arrays). */
  readonly dataId: string;
  readonly data: EvalData;
  /** Names the model and settings below. */
  readonly modelId: string;
  readonly artifact: ModelArtifact;
  readonly k: number;
  readonly ks: readonly number[];
  /** A --rerank spec (`none` for the model's own order). */
  readonly rerank: string;
}

// per worker: the last job's ranker (a run sends one model at a time)
let cached: { modelId: string; dataId: string; ranker: RangeRanker } | null = null;

/** Worker entry (src/math/pool.ts): the lists and metric values of users [start, end) of the job. */
export function rankRange(job: RangeJob, start: number, end: number): RangeResult {
  if (cached?.modelId !== job.modelId || cached.dataId !== job.dataId) {
    cached = null; // drop the previous model before building the next
    const model = modelFromArtifact(job.artifact);
    const reranker = buildReranker(parseRerankSpec(job.rerank), { log: { categories: job.data.categories } }, model);
    cached = { modelId: job.modelId, dataId: job.dataId, ranker: new RangeRanker(model, job.data, job.k, job.ks, reranker) };
  }
  return cached.ranker.run(start, end);
}
