/**
 * `personae study dims`: embedding size vs popularity bias. "Toward a better understanding of
 * dimensional collapse / the dimension of embeddings" (arXiv 2305.13597) argued that too-small
 * embeddings cannot represent niche directions and push ranked lists toward popular items. We fit
 * iALS with d in {4, 8, ..., 256} and report ndcg@20, coverage@20 (distinct items over all lists /
 * candidates) and arp@20 (mean train popularity of the listed items). On large training sets the
 * largest sizes are trimmed to keep the study short; the output says so.
 */
import type { MetricSummary } from '../eval/stats.js';
import { fitModel, fmt, fmtCi, markdownTable, paired, scoreModel, studyData } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const K = 20;
const DIMS = [4, 8, 16, 32, 64, 128, 256];
const QUICK_DIMS = [4, 16, 64];
/** Above this many training positives, d = 256 is dropped (and d = 128 above 4x as many). */
const TRIM_POSITIVES = 1_000_000;

export interface DimsPoint {
  d: number;
  arp: (number | null)[];
  ndcg: (number | null)[];
  coverage: number;
}

export interface DimsVerdict {
  verdict: Verdict;
  reason: string;
  checks: { smallMorePopular: boolean; smallLessCoverage: boolean };
}

/** Smallest d vs largest d: arp@20 higher (paired interval above 0) and coverage@20 lower. */
export function dimsVerdict(points: readonly DimsPoint[], seed: number): DimsVerdict {
  const small = points[0]!;
  const large = points[points.length - 1]!;
  const arp = paired(small.arp, large.arp, seed);
  const smallMorePopular = arp.ci95[0] > 0;
  const smallLessCoverage = small.coverage < large.coverage;
  const reason =
    `arp@${K} at d=${small.d} minus d=${large.d}: ${fmt(arp.mean, 1)} [${fmt(arp.ci95[0], 1)}, ${fmt(arp.ci95[1], 1)}] (${smallMorePopular ? 'small embeddings list more popular items' : 'small embeddings do not list measurably more popular items'}); ` +
    `coverage@${K} ${fmt(small.coverage)} at d=${small.d} vs ${fmt(large.coverage)} at d=${large.d}`;
  const verdict: Verdict = smallMorePopular && smallLessCoverage ? 'holds' : arp.ci95[1] < 0 && !smallLessCoverage ? 'does-not-hold' : 'mixed';
  return { verdict, reason: reason + '.', checks: { smallMorePopular, smallLessCoverage } };
}

export const dimsStudy: Study = {
  name: 'dims',
  claim: `Too-small embeddings push lists toward popular items (arXiv 2305.13597): as d shrinks, arp@${K} rises and coverage@${K} falls.`,
  async run(ctx: StudyContext) {
    const data = studyData(ctx);
    const { split } = data;
    let dims = ctx.quick ? QUICK_DIMS : DIMS;
    let trimmed = '';
    const positives = split.stats.trainPositives;
    if (positives > 4 * TRIM_POSITIVES) dims = dims.filter((d) => d <= 64);
    else if (positives > TRIM_POSITIVES) dims = dims.filter((d) => d <= 128);
    if (dims.length < (ctx.quick ? QUICK_DIMS : DIMS).length) trimmed = ` (trimmed to d <= ${Math.max(...dims)}: ${positives} training positives)`;
    const ks = [K];
    const points: DimsPoint[] = [];
    const rows: { d: number; metrics: Record<string, MetricSummary>; fitSeconds: number }[] = [];
    for (const d of dims) {
      ctx.onProgress?.('dims', points.length, dims.length, `d=${d}`);
      const t0 = performance.now();
      const model = await fitModel('ials', split, ctx, { factors: d }, `ials-d${d}`);
      const fitSeconds = (performance.now() - t0) / 1000;
      const s = scoreModel(model, split, ks, ctx.seed);
      points.push({ d, arp: s.perUser[`arp@${K}`]!, ndcg: s.perUser[`ndcg@${K}`]!, coverage: s.metrics[`coverage@${K}`]!.mean ?? 0 });
      rows.push({ d, metrics: s.metrics, fitSeconds });
    }
    ctx.onProgress?.('dims', dims.length, dims.length);
    const v = dimsVerdict(points, ctx.seed);
    const keys = [`ndcg@${K}`, `coverage@${K}`, `arp@${K}`, `ckl@${K}`];
    const table = markdownTable(
      ['d', ...keys],
      rows.map((r) => [String(r.d), ...keys.map((k) => fmtCi(r.metrics[k], k.startsWith('arp') ? 1 : 3))]),
    );
    const line = (key: string): StudyChart => ({
      title: `iALS: ${key} vs embedding size d`,
      kind: 'line',
      x: dims,
      xLabel: 'd',
      yLabel: key,
      series: [{ name: 'ials', y: rows.map((r) => r.metrics[key]?.mean ?? null), ci: rows.map((r) => r.metrics[key]?.ci95 ?? null) }],
    });
    return {
      study: 'dims',
      claim: dimsStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason + trimmed,
      data: data.label + trimmed,
      results: {
        k: K,
        model: 'ials',
        dims,
        trimmed: trimmed !== '',
        checks: v.checks,
        points: rows.map((r) => ({ d: r.d, fitSeconds: r.fitSeconds, ...Object.fromEntries(keys.map((k) => [k, r.metrics[k]])) })),
      },
      table,
      charts: [line(`ndcg@${K}`), line(`coverage@${K}`), line(`arp@${K}`)],
    };
  },
};
