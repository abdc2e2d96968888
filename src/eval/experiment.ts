/**
 * One evaluation run as a library call: split (or a given split), then per model: tune on the
 * validation split only (optional), fit on full TRAIN, rank every test user, compute the metrics
 * with bootstrap intervals, and compare models pairwise. The CLI and `npm start` are thin shells
 * around `runExperiment`; its result is the JSON contract of PROTOCOL.md.
 *
 * Models are specs (`personas`, `personas:k=1`, `ease:lambda=200`; registry.ts parseModelSpec):
 * each spec is one row named by its text. Its inline parameters are fixed: `--tune` searches the
 * model's grid for the other keys (grid entries merged under the fixed values, repeats dropped).
 *
 * Seeds: with `seeds` = n > 1, each model is refitted with the seeds root, root + 1, ...,
 * root + n - 1 (the model's random stream is `new Rng(seed).derive('model', model)`, so seed
 * root + i fits exactly as a single run with `--seed root+i` would). The split, the tuning and the
 * bootstrap stay on the root seed; the row's `metrics`, per-user values, slices and comparisons
 * are those of the root seed's fit, and `seeds` adds each metric's mean, sd, min and max over
 * the n fits.
 */
import { performance } from 'node:perf_hooks';
import { validationSplit, type Split } from '../data/split.js';
import { Rng } from '../math/rng.js';
import { hasPersonas, type ModelParams, type Recommender } from '../models/model.js';
import { createModel, modelSpec, paramsKey, parseModelSpecs, type ParsedModelSpec } from '../models/registry.js';
import { buildReranker, parseRerankSpec, rerankUsesCategories } from '../rank/index.js';
import type { FidelityReport } from '../explain/fidelity.js';
import { compareModels, type PairedComparison } from './evaluate.js';
import { WorkerPool } from '../math/pool.js';
import { rankAndEvaluate, type RankedEvaluation } from './rank-parallel.js';
import type { FoldSpread, MetricSummary } from './stats.js';
import type { ListReranker } from '../rank/pipeline.js';
import { sliceEvaluation, type Slices } from './slices.js';
import { personaDiagnostics, type PersonaDiagnostics } from './persona-diagnostics.js';

export interface ExperimentOptions {
  /** Model specs: `name` or `name:key=value[:key=value...]`; each is one row named by its text. */
  models: readonly string[];
  ks: readonly number[];
  seed: number;
  tune: boolean;
  threads: number;
  /**
   * Parameters per registered model given by the user (override defaults; skip tuning of those
   * keys); they apply to every spec of that model, and a spec's inline values win over them.
   */
  params?: Readonly<Record<string, ModelParams>>;
  /** Fits per model, with the seeds seed, seed + 1, ... (default 1: the root seed only). */
  seeds?: number;
  /** A --rerank spec (`none`, `calibrated:0.5`, ...), bound to each model once it is fitted. */
  rerank?: string;
  /** Progress of long steps: the CLI draws bars, the server reports job status. */
  onProgress?: (event: ExperimentProgress) => void;
  /** Users the counterfactual explanation fidelity checks (a seeded sample; default 100, 0 = all). */
  fidelityUsers?: number;
  /** Called with each row's model once fitted on full TRAIN with the root seed (e.g. to save its artifact); `name` is the spec. */
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

/** One metric over the seeds' fits: `perSeed[i]` is the mean over users of the fit with seed `values[i]`. */
export interface SeedSummary {
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator). */
  sd: number;
  min: number;
  max: number;
  perSeed: number[];
}

export interface SeedSpread {
  /** The seeds of the fits: the root seed first, then root + 1, ... */
  values: number[];
  /** Every metric with a value for each seed (category metrics are absent on data without categories). */
  metrics: Record<string, SeedSummary>;
}

export interface ModelResult {
  /** The spec as given, e.g. "personas:k=1": the row's name in every output. */
  name: string;
  /** The registered model the spec names, e.g. "personas". */
  model: string;
  /** The full resolved parameters of the fit (defaults, --param, inline, tuned). */
  params: ModelParams;
  /** Did the row's list use item categories (the model's fit, or a reranker in the categories' taste space)? */
  usesCategories: boolean;
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
  /** With more than one seed: each metric's spread over the fits. */
  seeds?: SeedSpread;
  /** Models with a `details()` capability (e.g. the router's routing table). */
  details?: Record<string, unknown>;
  /** `evaluate --folds k`: each metric over the k folds (src/eval/folds.ts); the other fields are the first fold's. */
  folds?: FoldSpread;
}

export interface ExperimentResult {
  models: ModelResult[];
  comparisons: PairedComparison[];
}

/** The metric tuning maximises: ndcg at the largest cut-off. */
export function tuningMetric(ks: readonly number[]): string {
  return `ndcg@${Math.max(...ks)}`;
}

/** The seeds of `n` fits from the root seed: root, root + 1, ..., root + n - 1. */
export function seedValues(root: number, n: number): number[] {
  return Array.from({ length: Math.max(1, n) }, (_, i) => root + i);
}

/**
 * Fits a row's model. The random stream depends on the seed and the registered model name, not
 * on the spec text: a twin such as `personas:k=1` starts from the same random numbers as
 * `personas`, so the two rows differ only by their parameters.
 */
async function fitModel(spec: ParsedModelSpec, params: ModelParams, split: Split, opts: ExperimentOptions, stage: 'tune' | 'fit', seed = opts.seed): Promise<Recommender> {
  const model = createModel(spec.model, params);
  await model.fit(split.train, {
    rng: new Rng(seed).derive('model', spec.model),
    threads: opts.threads,
    onProgress: (e) => opts.onProgress?.({ model: seed === opts.seed ? spec.spec : `${spec.spec} seed ${seed}`, stage, done: e.done, total: e.total, detail: e.loss === undefined ? e.stage : `${e.stage} loss ${e.loss.toPrecision(4)}` }),
  });
  return model;
}

/**
 * The tuning candidates of a spec: each grid entry with the given (fixed) parameters on top, so
 * a grid value of a fixed key is overridden; candidates equal to an earlier one are dropped.
 * `personas:k=1` is tuned with the grid of `personas`; `ease:lambda=200` has one candidate.
 */
export function tuningCandidates(grid: readonly ModelParams[], given: ModelParams): ModelParams[] {
  const seen = new Set<string>();
  const out: ModelParams[] = [];
  for (const entry of grid) {
    const params = { ...entry, ...given };
    const key = paramsKey(params);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(params);
  }
  return out;
}

/** Ranking and per-user metrics of the test users, over the row's worker threads (src/eval/rank-parallel.ts). */
function rank(model: Recommender, split: Split, opts: ExperimentOptions, pool: WorkerPool | null, reranker: ListReranker | null, onProgress?: (done: number, total: number) => void): Promise<RankedEvaluation> {
  const rerank = reranker ? (opts.rerank ?? 'none') : 'none';
  return rankAndEvaluate(model, split, { k: Math.max(...opts.ks), ks: opts.ks, seed: opts.seed, rerank, reranker, pool, ...(onProgress ? { onProgress } : {}) });
}

/** Tries the candidates on the validation split; returns the best parameters and the trials. */
async function tune(spec: ParsedModelSpec, candidates: readonly ModelParams[], validation: Split, opts: ExperimentOptions, pool: WorkerPool | null): Promise<{ best: ModelParams; trials: TuningTrial[] }> {
  const metric = tuningMetric(opts.ks);
  const trials: TuningTrial[] = [];
  let best: ModelParams = candidates[0]!;
  let bestValue = -Infinity;
  for (let g = 0; g < candidates.length; g++) {
    const params = candidates[g]!;
    const model = await fitModel(spec, params, validation, opts, 'tune');
    // tuning scores the model's own order: the reranker's trade-off is a separate choice
    const value = (await rank(model, validation, opts, pool, null)).evaluation.metrics[metric]?.mean ?? -Infinity;
    trials.push({ params, metric, value });
    opts.onProgress?.({ model: spec.spec, stage: 'tune', done: g + 1, total: candidates.length, detail: `${JSON.stringify(params)} ${metric}=${value.toFixed(4)}` });
    if (value > bestValue) {
      bestValue = value;
      best = params;
    }
  }
  return { best, trials };
}

/** Mean, sample sd, min and max of each metric over the seeds' fits (keys with a value for every seed). */
export function seedSpread(values: number[], perSeed: readonly Record<string, MetricSummary>[]): SeedSpread {
  const metrics: Record<string, SeedSummary> = {};
  for (const key of Object.keys(perSeed[0] ?? {})) {
    const xs = perSeed.map((m) => m[key]?.mean);
    if (!xs.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) continue;
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
    metrics[key] = { mean, sd, min: Math.min(...xs), max: Math.max(...xs), perSeed: xs };
  }
  return { values, metrics };
}

export async function runExperiment(split: Split, opts: ExperimentOptions): Promise<ExperimentResult> {
  const results: ModelResult[] = [];
  let validation: Split | null = null;
  const rerankSpec = parseRerankSpec(opts.rerank ?? 'none');
  const specs = parseModelSpecs(opts.models);
  const givenOf = (s: ParsedModelSpec): ModelParams => ({ ...opts.params?.[s.model], ...s.fixed });
  const seeds = seedValues(opts.seed, opts.seeds ?? 1);
  // fail fast, before any fitting: bad specs and parameters, and rerankers a model cannot serve
  for (const s of specs) buildReranker(rerankSpec, split, createModel(s.model, givenOf(s)));
  for (const spec of specs) {
    // the row's ranking threads: tuning trials, the fit and extra seeds share them; closed with the row
    const pool = opts.threads > 1 ? new WorkerPool(opts.threads) : null;
    try {
      const given = givenOf(spec);
      let params: ModelParams = given;
      let tuning: ModelResult['tuning'];
      const candidates = opts.tune ? tuningCandidates(modelSpec(spec.model).tuningGrid, given) : [];
      // one candidate (every grid key fixed) leaves nothing to choose: no tuning fits
      if (candidates.length > 1) {
        validation ??= validationSplit(split);
        const t0 = performance.now();
        const { best, trials } = await tune(spec, candidates, validation, opts, pool);
        params = best;
        tuning = { metric: tuningMetric(opts.ks), trials, seconds: (performance.now() - t0) / 1000 };
      } else if (candidates.length === 1) {
        params = candidates[0]!;
      }
      const t0 = performance.now();
      const model = await fitModel(spec, params, split, opts, 'fit');
      const fitSeconds = (performance.now() - t0) / 1000;
      opts.onFitted?.(spec.spec, model);
      const t1 = performance.now();
      const reranker = buildReranker(rerankSpec, split, model);
      const { lists, evaluation } = await rank(model, split, opts, pool, reranker, (done, total) => opts.onProgress?.({ model: spec.spec, stage: 'rank', done, total }));
      const sliced = sliceEvaluation(model, split, lists, evaluation, opts.ks, opts.seed, opts.fidelityUsers === undefined ? {} : { maxUsers: opts.fidelityUsers });
      const diagnostics = hasPersonas(model) ? personaDiagnostics(model, split, lists, opts.ks) : undefined;
      const evalSeconds = (performance.now() - t1) / 1000;
      let spread: SeedSpread | undefined;
      if (seeds.length > 1) {
        const perSeed = [evaluation.metrics];
        for (const seed of seeds.slice(1)) {
          const again = await fitModel(spec, params, split, opts, 'fit', seed);
          perSeed.push((await rank(again, split, opts, pool, buildReranker(rerankSpec, split, again))).evaluation.metrics);
        }
        spread = seedSpread(seeds, perSeed);
      }
      results.push({
        name: spec.spec,
        model: spec.model,
        params: model.params,
        usesCategories: (model.usesCategories?.(split.train) ?? false) || rerankUsesCategories(rerankSpec, split),
        fitSeconds,
        evalSeconds,
        ...(tuning ? { tuning } : {}),
        metrics: { ...evaluation.metrics, ...sliced.metrics },
        perUser: { ...evaluation.perUser, ...sliced.perUser },
        slices: sliced.slices,
        ...(sliced.explanationFidelity ? { explanationFidelity: sliced.explanationFidelity } : {}),
        ...(diagnostics ? { personaDiagnostics: diagnostics } : {}),
        ...(spread ? { seeds: spread } : {}),
        ...(model.details ? { details: model.details() } : {}),
      });
    } finally {
      await pool?.close();
    }
  }
  const compared = opts.ks.flatMap((k) => [`ndcg@${k}`, `recall@${k}`, `ckl@${k}`, `tdd@${k}`, `minorityRecall@${k}`]);
  return { models: results, comparisons: compareModels(results, compared, opts.seed) };
}
