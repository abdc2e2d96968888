/**
 * Full-ranking evaluation: every test user is scored against every candidate item in batches, a
 * bounded heap keeps the top K (the user x item matrix is never built), and PROTOCOL.md's metrics
 * are computed per user, then summarised with seeded bootstrap intervals.
 */
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import type { Recommender } from '../models/model.js';
import { ListPipeline, type ListReranker } from '../rank/pipeline.js';
import { coverage, evaluateUser, metricKeys } from './metrics.js';
import { pairedDifference, summarise, type MetricSummary, type PairedResult } from './stats.js';

export interface RankOptions {
  k: number;
  batchSize?: number;
  reranker?: ListReranker | null;
  onProgress?: (done: number, total: number) => void;
  /**
   * Called with each test user's position in `split.testUsers`, their scores (a view into the
   * batch buffer, valid only during the call) and final list, e.g. to keep per-item probabilities.
   */
  onList?: (index: number, scores: Float32Array, list: Int32Array) => void;
}

/** Top-k lists (best first) for the split's test users, in `split.testUsers` order. */
export function rankTestUsers(model: Recommender, split: Split, opts: RankOptions): Int32Array[] {
  const { k } = opts;
  const batchSize = opts.batchSize ?? 128;
  const users = split.testUsers;
  const nItems = split.train.nItems;
  const pipeline = new ListPipeline({ k, reranker: opts.reranker ?? null });
  const { candidates, itemRanks } = split.train;
  const scores = new Float32Array(Math.min(batchSize, users.length) * nItems);
  const lists: Int32Array[] = [];
  for (let start = 0; start < users.length; start += batchSize) {
    const end = Math.min(users.length, start + batchSize);
    const indptr = new Int32Array(end - start + 1);
    for (let b = start; b < end; b++) indptr[b - start + 1] = indptr[b - start]! + rowOf(split.history, users[b]!).length;
    const items = new Int32Array(indptr[end - start]!);
    for (let b = start; b < end; b++) items.set(rowOf(split.history, users[b]!), indptr[b - start]!);
    model.scoreBatch({ users: split.testUserModelIndex.subarray(start, end), indptr, items }, scores);
    for (let b = start; b < end; b++) {
      const row = scores.subarray((b - start) * nItems, (b - start + 1) * nItems);
      const history = rowOf(split.history, users[b]!);
      const { list } = pipeline.select(row, { candidates, itemRanks, exclude: history }, { user: users[b]!, history });
      lists.push(list);
      opts.onList?.(b, row, list);
    }
    opts.onProgress?.(end, users.length);
  }
  return lists;
}

export interface ListEvaluation {
  metrics: Record<string, MetricSummary>;
  /** Per-user values, in `split.testUsers` order (null where a metric is undefined for a user). */
  perUser: Record<string, (number | null)[]>;
}

/** PROTOCOL.md metrics at each K for the given top-max(K) lists, with bootstrap intervals. */
export function evaluateLists(split: Split, lists: readonly Int32Array[], ks: readonly number[], seed: number): ListEvaluation {
  const perUser: Record<string, (number | null)[]> = {};
  for (const k of ks) for (const key of metricKeys(k)) perUser[key] = [];
  split.testUsers.forEach((u, idx) => {
    const input = { list: lists[idx]!, test: rowOf(split.test, u), train: rowOf(split.history, u) };
    for (const k of ks) {
      const values = evaluateUser(input, { k, categories: split.log.categories, itemPopularity: split.train.itemPopularity });
      for (const [key, v] of Object.entries(values)) perUser[key]!.push(v);
    }
  });
  return summariseEvaluation(split, lists, perUser, ks, seed);
}

/**
 * The summaries of per-user values (in `split.testUsers` order, as `evaluateLists` or
 * src/eval/rank-parallel.ts collects them): each metric's mean with a bootstrap interval, and the
 * catalogue coverage of the lists at each K.
 */
export function summariseEvaluation(split: Split, lists: readonly Int32Array[], perUser: Record<string, (number | null)[]>, ks: readonly number[], seed: number): ListEvaluation {
  const metrics: Record<string, MetricSummary> = {};
  for (const [key, values] of Object.entries(perUser)) metrics[key] = summarise(values, seed);
  for (const k of ks) {
    metrics[`coverage@${k}`] = { mean: coverage(lists, k, split.train.candidates.length), ci95: null, n: lists.length };
  }
  return { metrics, perUser };
}

/** Model a against model b on one metric: mean(a - b) over users with both values, and its tests. */
export interface PairedComparison extends PairedResult {
  a: string;
  b: string;
  metric: string;
}

/** Paired differences of every pair of models on the given metrics (same users, same split). */
export function compareModels(
  results: readonly { name: string; perUser: Record<string, (number | null)[]> }[],
  metricNames: readonly string[],
  seed: number,
): PairedComparison[] {
  const out: PairedComparison[] = [];
  for (let i = 0; i < results.length; i++) {
    for (let j = i + 1; j < results.length; j++) {
      const a = results[i]!;
      const b = results[j]!;
      for (const metric of metricNames) {
        const va = a.perUser[metric];
        const vb = b.perUser[metric];
        if (!va || !vb) continue;
        const d = pairedDifference(va, vb, { seed, resamples: 1000 });
        if (d.n === 0) continue;
        out.push({ a: a.name, b: b.name, metric, mean: d.mean, ci95: d.ci95, pValue: d.pValue, wilcoxonPValue: d.wilcoxonPValue, n: d.n });
      }
    }
  }
  return out;
}
