/**
 * One evaluation run as a library call: split (or a given split), then per model: tune on the
 * validation split only (optional), fit on full TRAIN, rank every test user, compute the metrics
 * with bootstrap intervals, and compare models pairwise. The CLI and `npm start` are thin shells
 * around `runExperiment`; its result is the JSON contract of PROTOCOL.md.
 */
import { performance } from 'node:perf_hooks';
import { validationSplit, type Split } from '../data/split.js';
import { Rng } from '../math/rng.js';
import { hasPersonas, type ModelParams, type Recommender } from '../models/model.js';
import { createModel, modelSpec } from '../models/registry.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import type { FidelityReport } from '../explain/fidelity.js';
import { compareModels, evaluateLists, rankTestUsers, type ListReranker, type MetricSummary, type PairedComparison } from './evaluate.js';
import { sliceEvaluation, type Slices } from './slices.js';
import { personaDiagnostics, type PersonaDiagnostics } from './persona-diagnostics.js';

export interface ExperimentOptions {
  models: readonly string[];
  ks: readonly number[];
  seed: number;
  tune: boolean;
  threads: number;
  /** Parameters per model given by the user (override defaults; skip tuning of those keys). */
  params?: Readonly<Record<string, ModelParams>>;
  /** A --rerank spec (`none`, `calibrated:0.5`, ...), bound to each model once it is fitted. */
  rerank?: string;
  /** Progress of long steps: the CLI draws bars, the server reports job status. */
  onProgress?: (event: ExperimentProgress) => void;
  /** Users the counterfactual explanation fidelity checks (a seeded sample; default 100, 0 = all). */
  fidelityUsers?: number;
  /** Called with each model once fitted on full TRAIN (e.g. to save its artifact). */
  onFitted?: (name: string, model: Recommender) => void;
}

export interface ExperimentProgress {
  model: string;
  stage: 'tune' | 'fit' | 'rank';
  done: number;
  total: number;
  detail?: string;
}

export interface TuningTrial {
  params: ModelParams;
  metric: string;
  value: number;
}

export interface ModelResult {
  name: string;
  params: ModelParams;
  fitSeconds: number;
  evalSeconds: number;
  tuning?: { metric: string; trials: TuningTrial[]; seconds: number };
  metrics: Record<string, MetricSummary>;
  perUser: Record<string, (number | null)[]>;
  /** Per-group means (activity for every model, effective personas for persona models). */
  slices?: Slices;
  /** Persona models: does removing the explaining persona's history items cost the item its rank (src/explain/fidelity.ts)? */
  explanationFidelity?: FidelityReport;
  /** Persona models: personas per user, their cosine, and persona-level calibration (src/eval/persona-diagnostics.ts). */
  personaDiagnostics?: PersonaDiagnostics;
}

export interface ExperimentResult {
  models: ModelResult[];
  comparisons: PairedComparison[];
}

/** The metric tuning maximises: ndcg at the largest cut-off. */
export function tuningMetric(ks: readonly number[]): string {
  return `ndcg@${Math.max(...ks)}`;
}

async function fitModel(name: string, params: ModelParams, split: Split, opts: ExperimentOptions, stage: 'tune' | 'fit'): Promise<Recommender> {
  const model = createModel(name, params);
  await model.fit(split.train, {
    rng: new Rng(opts.seed).derive('model', name),
    threads: opts.threads,
    onProgress: (e) => opts.onProgress?.({ model: name, stage, done: e.done, total: e.total, detail: e.loss === undefined ? e.stage : `${e.stage} loss ${e.loss.toPrecision(4)}` }),
  });
  return model;
}

function rank(model: Recommender, split: Split, opts: ExperimentOptions, reranker: ListReranker | null, onProgress?: (done: number, total: number) => void) {
  const k = Math.max(...opts.ks);
  return rankTestUsers(model, split, { k, reranker, ...(onProgress ? { onProgress } : {}) });
}

function score(model: Recommender, split: Split, opts: ExperimentOptions) {
  return evaluateLists(split, rank(model, split, opts, null), opts.ks, opts.seed);
}

/** Tries the model's grid on the validation split; returns the best parameters and the trials. */
async function tune(name: string, given: ModelParams, validation: Split, opts: ExperimentOptions): Promise<{ best: ModelParams; trials: TuningTrial[] }> {
  const metric = tuningMetric(opts.ks);
  const grid = modelSpec(name).tuningGrid;
  const trials: TuningTrial[] = [];
  let best: ModelParams = given;
  let bestValue = -Infinity;
  for (let g = 0; g < grid.length; g++) {
    const params = { ...grid[g], ...given };
    const model = await fitModel(name, params, validation, opts, 'tune');
    // tuning scores the model's own order: the reranker's trade-off is a separate choice
    const value = score(model, validation, opts).metrics[metric]?.mean ?? -Infinity;
    trials.push({ params, metric, value });
    opts.onProgress?.({ model: name, stage: 'tune', done: g + 1, total: grid.length, detail: `${JSON.stringify(params)} ${metric}=${value.toFixed(4)}` });
    if (value > bestValue) {
      bestValue = value;
      best = params;
    }
  }
  return { best, trials };
}

export async function runExperiment(split: Split, opts: ExperimentOptions): Promise<ExperimentResult> {
  const results: ModelResult[] = [];
  let validation: Split | null = null;
  const rerankSpec = parseRerankSpec(opts.rerank ?? 'none');
  // fail fast, before any fitting: unknown names, and rerankers a model cannot serve
  for (const name of opts.models) buildReranker(rerankSpec, split, createModel(name, opts.params?.[name] ?? {}));
  for (const name of opts.models) {
    const given = opts.params?.[name] ?? {};
    let params: ModelParams = given;
    let tuning: ModelResult['tuning'];
    if (opts.tune && modelSpec(name).tuningGrid.length > 0) {
      validation ??= validationSplit(split);
      const t0 = performance.now();
      const { best, trials } = await tune(name, given, validation, opts);
      params = best;
      tuning = { metric: tuningMetric(opts.ks), trials, seconds: (performance.now() - t0) / 1000 };
    }
    const t0 = performance.now();
    const model = await fitModel(name, params, split, opts, 'fit');
    const fitSeconds = (performance.now() - t0) / 1000;
    opts.onFitted?.(name, model);
    const t1 = performance.now();
    const lists = rank(model, split, opts, buildReranker(rerankSpec, split, model), (done, total) => opts.onProgress?.({ model: name, stage: 'rank', done, total }));
    const evaluation = evaluateLists(split, lists, opts.ks, opts.seed);
    const sliced = sliceEvaluation(model, split, lists, evaluation, opts.ks, opts.seed, opts.fidelityUsers === undefined ? {} : { maxUsers: opts.fidelityUsers });
    const diagnostics = hasPersonas(model) ? personaDiagnostics(model, split, lists, opts.ks) : undefined;
    const evalSeconds = (performance.now() - t1) / 1000;
    results.push({
      name,
      params: model.params,
      fitSeconds,
      evalSeconds,
      ...(tuning ? { tuning } : {}),
      metrics: { ...evaluation.metrics, ...sliced.metrics },
      perUser: { ...evaluation.perUser, ...sliced.perUser },
      slices: sliced.slices,
      ...(sliced.explanationFidelity ? { explanationFidelity: sliced.explanationFidelity } : {}),
      ...(diagnostics ? { personaDiagnostics: diagnostics } : {}),
    });
  }
  const compared = opts.ks.flatMap((k) => [`ndcg@${k}`, `recall@${k}`, `ckl@${k}`, `tdd@${k}`, `minorityRecall@${k}`]);
  return { models: results, comparisons: compareModels(results, compared, opts.seed) };
}
