/**
 * The JSON document of an evaluation (PROTOCOL.md "Command-line contract"). Field names are a
 * contract read by scripts outside the project: add fields, never rename them.
 */
import { arch, cpus, platform } from 'node:os';
import type { Split, SplitStats } from '../data/split.js';
import type { PairedComparison } from './evaluate.js';
import type { MetricSummary } from './stats.js';
import type { ExperimentResult, ModelResult } from './experiment.js';
import type { FidelityReport } from '../explain/fidelity.js';
import type { PersonaDiagnostics } from './persona-diagnostics.js';
import { VERSION } from '../version.js';

export interface EvaluationJson {
  /** The split's statistics (data/split.ts `SplitStats`; these fields, listed, are the contract) plus the log's. */
  dataset: { name: string; path?: string } & Pick<
    SplitStats,
    'trainUsers' | 'candidates' | 'trainPositives' | 'testUsers' | 'testPositives' | 'testNotCandidates' | 'positives' | 'splitHash' | 'trainPairsSha256' | 'testPairsSha256'
  > & { hasCategories: boolean; skippedRows: number };
  /** `evaluatedOn`: 'test', or 'validation' for `evaluate --on validation` (TRAIN only). */
  protocol: { name: string; minRating: number; k: number[]; seed: number; rerank: string; evaluatedOn?: 'test' | 'validation' };
  models: {
    /** The spec as given (`personas:k=1`); for a plain spec, the model name. */
    name: string;
    /** The registered model the spec names (`personas`). */
    model: string;
    params: ModelResult['params'];
    /** Did the row use item categories (the model's fit, or a reranker on the categories)? */
    usesCategories: boolean;
    fitSeconds: number;
    evalSeconds: number;
    tuning?: ModelResult['tuning'];
    metrics: Record<string, MetricSummary>;
    /** Attached by `evaluate` for persona models (src/explain/fidelity.ts, src/eval/persona-diagnostics.ts). */
    explanationFidelity?: FidelityReport;
    personaDiagnostics?: PersonaDiagnostics;
    /** `evaluate --seeds n`, n > 1: each metric over the n fits (`metrics` is the root seed's fit). */
    seeds?: ModelResult['seeds'];
    /** `evaluate --folds k`: each metric's mean, sd, 95% t-interval and per-fold values over the k folds. */
    folds?: ModelResult['folds'];
  }[];
  /** `evaluate --folds k`: the folds' splits (`dataset`, `metrics` and `comparisons` are the first fold's). */
  folds?: { k: number; protocol: string; splits: FoldSplitJson[] };
  comparisons: PairedComparison[];
  manifest: { personae: string; node: string; seed: number; startedAt: string; threads: number; platform: string; cpu: string };
}

export interface FoldSplitJson {
  /** 1-based. */
  fold: number;
  splitHash: string;
  trainUsers: number;
  trainPositives: number;
  testUsers: number;
  testPositives: number;
  testPairsSha256: string;
}

export function foldSplitJson(split: Split, fold: number): FoldSplitJson {
  const s = split.stats;
  return { fold, splitHash: s.splitHash, trainUsers: s.trainUsers, trainPositives: s.trainPositives, testUsers: s.testUsers, testPositives: s.testPositives, testPairsSha256: s.testPairsSha256 };
}

export function buildResultsJson(
  split: Split,
  experiment: ExperimentResult,
  meta: { path?: string; ks: number[]; seed: number; startedAt: Date; threads: number; rerank: string; evaluatedOn?: 'test' | 'validation' },
): EvaluationJson {
  return {
    dataset: {
      name: split.log.name,
      ...(meta.path !== undefined ? { path: meta.path } : {}),
      trainUsers: split.stats.trainUsers,
      candidates: split.stats.candidates,
      trainPositives: split.stats.trainPositives,
      testUsers: split.stats.testUsers,
      testPositives: split.stats.testPositives,
      testNotCandidates: split.stats.testNotCandidates,
      positives: split.stats.positives,
      splitHash: split.stats.splitHash,
      trainPairsSha256: split.stats.trainPairsSha256,
      testPairsSha256: split.stats.testPairsSha256,
      hasCategories: split.log.categories !== null,
      skippedRows: split.log.skipped.count,
    },
    protocol: { name: split.protocol, minRating: split.minRating, k: meta.ks, seed: meta.seed, rerank: meta.rerank, evaluatedOn: meta.evaluatedOn ?? 'test' },
    models: experiment.models.map((m) => ({
      name: m.name,
      model: m.model,
      params: m.params,
      usesCategories: m.usesCategories,
      fitSeconds: m.fitSeconds,
      evalSeconds: m.evalSeconds,
      ...(m.tuning ? { tuning: m.tuning } : {}),
      metrics: m.metrics,
      ...(m.seeds ? { seeds: m.seeds } : {}),
      ...(m.folds ? { folds: m.folds } : {}),
    })),
    comparisons: experiment.comparisons,
    manifest: {
      personae: VERSION,
      node: process.version,
      seed: meta.seed,
      startedAt: meta.startedAt.toISOString(),
      threads: meta.threads,
      platform: `${platform()}-${arch()}`,
      cpu: cpus()[0]?.model ?? 'unknown',
    },
  };
}

/** Per-user values as CSV: one row per (model, user), one column per metric. */
export function perUserCsv(split: Split, experiment: ExperimentResult): string {
  const keys = Object.keys(experiment.models[0]?.perUser ?? {});
  const lines = [['model', 'user', ...keys].join(',')];
  for (const m of experiment.models) {
    split.testUsers.forEach((u, idx) => {
      const values = keys.map((k) => {
        const v = m.perUser[k]![idx];
        return v === null || v === undefined ? '' : String(v);
      });
      lines.push([m.name, csvField(split.log.users.id(u)), ...values].join(','));
    });
  }
  return `${lines.join('\n')}\n`;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
