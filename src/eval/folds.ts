/**
 * Cross-validation (`evaluate --folds k`): the experiment runs once per fold (src/data/split.ts
 * makeFolds: users-holdout with each eligible user held out exactly once), and each metric is
 * summarised over the k fold means: their mean, sample sd, and a 95% Student-t interval
 * mean ± t(0.975, k - 1) · sd / √k. The folds share most of their training users, so the interval
 * is optimistic about a new sample of users (no unbiased estimator of the variance of k-fold
 * cross-validation exists: Bengio and Grandvalet, 2004); it shows the spread over held-out users.
 */
import type { Split } from '../data/split.js';
import type { FoldSpread, FoldSummary, MetricSummary } from './stats.js';
import { runExperiment, type ExperimentOptions, type ExperimentResult } from './experiment.js';
import { studentTCdf } from './stats.js';

export type { FoldSpread, FoldSummary } from './stats.js';

/** The p-quantile of Student's t with df degrees of freedom (bisection on the CDF; |error| < 1e-10). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return Number.NaN;
  if (p === 0.5) return 0;
  let lo = -1e3;
  let hi = 1e3;
  for (let it = 0; it < 200 && hi - lo > 1e-10; it++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean, sd and 95% t-interval of each metric over the folds' summaries. */
export function foldSpread(perFold: readonly Record<string, MetricSummary>[]): FoldSpread {
  const k = perFold.length;
  const metrics: Record<string, FoldSummary> = {};
  const t = k > 1 ? tQuantile(0.975, k - 1) : Number.NaN;
  for (const key of Object.keys(perFold[0] ?? {})) {
    const xs = perFold.map((m) => m[key]?.mean);
    if (!xs.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) continue;
    const mean = xs.reduce((a, b) => a + b, 0) / k;
    const sd = k > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (k - 1)) : 0;
    const half = k > 1 ? (t * sd) / Math.sqrt(k) : 0;
    metrics[key] = { mean, sd, ci95: [mean - half, mean + half], perFold: xs };
  }
  return { k, metrics };
}

/** Runs the experiment on every fold; the result is the first fold's, each model with `folds` added. */
export async function runFolds(splits: readonly Split[], opts: ExperimentOptions): Promise<{ result: ExperimentResult; perFold: ExperimentResult[] }> {
  const perFold: ExperimentResult[] = [];
  for (let f = 0; f < splits.length; f++) {
    const o: ExperimentOptions = { ...opts, ...(opts.onProgress ? { onProgress: (e) => opts.onProgress!({ ...e, model: `fold ${f + 1}/${splits.length} ${e.model}` }) } : {}) };
    if (f > 0) delete (o as { onFitted?: unknown }).onFitted;
    perFold.push(await runExperiment(splits[f]!, o));
  }
  const first = perFold[0]!;
  const models = first.models.map((m, i) => ({ ...m, folds: foldSpread(perFold.map((r) => r.models[i]!.metrics)) }));
  return { result: { ...first, models }, perFold };
}
