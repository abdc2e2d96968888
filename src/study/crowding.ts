/**
 * `personae study crowding`: does accuracy-ranked output crowd out the minority tastes of a
 * history? Steck ("Calibrated Recommendations", RecSys 2018) showed that accuracy-optimal lists
 * over-represent a user's dominant interest; AMP-CF (Barkan et al. 2020) argued that attending
 * over several user vectors keeps minority tastes in the list. We measure, at K = 20:
 * dominantShare (share of the list in the history's dominant category over that share in the
 * history: 1 = proportional, > 1 = crowding), minorityRecall and ckl (Steck's miscalibration)
 * for pop, bpr, ease and personas, and for bpr and personas reranked by `calibrated:0.5`.
 */
import { DataError } from '../errors.js';
import type { MetricSummary } from '../eval/stats.js';
import type { Recommender } from '../models/model.js';
import { fitModel, fmt, fmtCi, markdownTable, paired, rerankerFor, scoreModel, studyData, type ListScores } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const K = 20;
const LAMBDA = 0.5;
/** Calibration's accuracy cost counts as "small" below this relative ndcg@20 loss. */
export const MAX_CALIBRATION_COST = 0.1;

export interface CrowdingRow {
  name: string;
  metrics: Record<string, MetricSummary>;
}

export interface CrowdingInputs {
  /** bpr's per-user dominantShare@20, personas' and the calibrated bpr's (same users, same order). */
  bpr: ListScores['perUser'];
  personas: ListScores['perUser'];
  bprCalibrated: ListScores['perUser'];
  seed: number;
}

export interface CrowdingVerdict {
  verdict: Verdict;
  reason: string;
  checks: { bprCrowds: boolean; personasCloser: boolean; calibrationRestores: boolean };
}

const mean = (v: readonly (number | null)[]): number => {
  let s = 0;
  let n = 0;
  for (const x of v) if (x !== null && Number.isFinite(x)) (s += x), n++;
  return n ? s / n : Number.NaN;
};

/** The verdict from per-user values: thresholds and intervals are stated in the reason. */
export function crowdingVerdict(x: CrowdingInputs): CrowdingVerdict {
  const ds = `dominantShare@${K}`;
  const ndcg = `ndcg@${K}`;
  const ckl = `ckl@${K}`;
  const bprDs = paired(x.bpr[ds]!, x.bpr[ds]!.map((v) => (v === null ? null : 1)), x.seed);
  const bprCrowds = bprDs.n > 0 && bprDs.ci95[0] > 0;
  const mb = mean(x.bpr[ds]!);
  const mp = mean(x.personas[ds]!);
  const diff = paired(x.bpr[ds]!, x.personas[ds]!, x.seed);
  // closer to 1, and the paired interval of bpr - personas excludes 0 in the right direction
  const personasCloser = Math.abs(mp - 1) < Math.abs(mb - 1) && (mb >= 1 ? diff.ci95[0] > 0 : diff.ci95[1] < 0);
  const cklDiff = paired(x.bprCalibrated[ckl]!, x.bpr[ckl]!, x.seed);
  const nb = mean(x.bpr[ndcg]!);
  const nc = mean(x.bprCalibrated[ndcg]!);
  const cost = nb > 0 ? (nb - nc) / nb : 0;
  const calibrationRestores = cklDiff.ci95[1] < 0 && cost < MAX_CALIBRATION_COST;
  const parts = [
    `bpr dominantShare@${K} = ${fmt(mb)} (95% CI of mean - 1: [${fmt(bprDs.ci95[0])}, ${fmt(bprDs.ci95[1])}]; crowding needs it above 0: ${bprCrowds ? 'yes' : 'no'})`,
    `personas ${fmt(mp)} is ${personasCloser ? '' : 'not '}significantly closer to 1 (paired bpr - personas: ${fmt(diff.mean)} [${fmt(diff.ci95[0])}, ${fmt(diff.ci95[1])}])`,
    `calibrated:${LAMBDA} on bpr changes ckl@${K} by ${fmt(cklDiff.mean)} [${fmt(cklDiff.ci95[0])}, ${fmt(cklDiff.ci95[1])}] at a relative ndcg@${K} cost of ${fmt(100 * cost, 1)}% (small = below ${100 * MAX_CALIBRATION_COST}%): ${calibrationRestores ? 'restores' : 'does not restore'} proportions cheaply`,
  ];
  const verdict: Verdict = bprCrowds && personasCloser && calibrationRestores ? 'holds' : !bprCrowds ? 'does-not-hold' : 'mixed';
  return { verdict, reason: parts.join('; ') + '.', checks: { bprCrowds, personasCloser, calibrationRestores } };
}

export const crowdingStudy: Study = {
  name: 'crowding',
  claim:
    `Accuracy-ranked lists over-represent the history's dominant taste (bpr's dominantShare@${K} > 1); persona attention keeps the list closer to the history's mix (personas' dominantShare@${K} closer to 1); ` +
    `calibration (calibrated:${LAMBDA}) restores proportions at a small accuracy cost (Steck 2018; AMP-CF, Barkan et al. 2020).`,
  async run(ctx: StudyContext) {
    const data = studyData(ctx);
    const { split } = data;
    if (!split.log.categories) throw new DataError('the crowding study needs item categories (give --categories FILE for csv/jsonl data)', { file: data.label });
    const ks = [10, K];
    const rows: (CrowdingRow & { perUser: ListScores['perUser'] })[] = [];
    const fitted = new Map<string, Recommender>();
    for (const name of ['pop', 'ease', 'bpr', 'personas']) {
      ctx.onProgress?.(`crowding: ${name}`, 0, 1);
      const model = await fitModel(name, split, ctx);
      fitted.set(name, model);
      const s = scoreModel(model, split, ks, ctx.seed);
      rows.push({ name, metrics: s.metrics, perUser: s.perUser });
      ctx.onProgress?.(`crowding: ${name}`, 1, 1);
    }
    for (const name of ['bpr', 'personas']) {
      const model = fitted.get(name)!;
      const s = scoreModel(model, split, ks, ctx.seed, rerankerFor(`calibrated:${LAMBDA}:categories`, split, model));
      rows.push({ name: `${name} + calibrated:${LAMBDA}`, metrics: s.metrics, perUser: s.perUser });
    }
    const byName = new Map(rows.map((r) => [r.name, r]));
    const v = crowdingVerdict({
      bpr: byName.get('bpr')!.perUser,
      personas: byName.get('personas')!.perUser,
      bprCalibrated: byName.get(`bpr + calibrated:${LAMBDA}`)!.perUser,
      seed: ctx.seed,
    });
    const keys = [`ndcg@${K}`, `dominantShare@${K}`, `minorityRecall@${K}`, `ckl@${K}`, `coverage@${K}`];
    const table = markdownTable(
      ['model', ...keys],
      rows.map((r) => [r.name, ...keys.map((k) => fmtCi(r.metrics[k]))]),
    );
    const charts: StudyChart[] = keys.slice(0, 4).map((k) => ({
      title: k === `dominantShare@${K}` ? `${k} (1 = the history's proportion)` : k,
      kind: 'bar',
      x: rows.map((r) => r.name),
      xLabel: 'model',
      yLabel: k,
      series: [{ name: k, y: rows.map((r) => r.metrics[k]?.mean ?? null), ci: rows.map((r) => r.metrics[k]?.ci95 ?? null) }],
    }));
    return {
      study: 'crowding',
      claim: crowdingStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: data.label,
      results: {
        k: K,
        lambda: LAMBDA,
        testUsers: split.testUsers.length,
        checks: v.checks,
        models: Object.fromEntries(rows.map((r) => [r.name, Object.fromEntries(keys.map((k) => [k, r.metrics[k]]))])),
      },
      table,
      charts,
    };
  },
};
