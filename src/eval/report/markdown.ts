/** Markdown tables of an evaluation: one table per cut-off, means with 95% intervals. */
import type { EvaluationJson } from '../results.js';

const COLUMNS = ['recall', 'ndcg', 'hit', 'coverage', 'arp', 'ckl', 'tdd', 'minorityRecall', 'dominantShare'] as const;

export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(digits);
}

export function splitSummary(json: EvaluationJson): string {
  const d = json.dataset;
  return [
    `dataset ${d.name}: protocol ${json.protocol.name} (min rating ${json.protocol.minRating}), split ${d.splitHash}`,
    `train users ${d.trainUsers}, candidates ${d.candidates}, train positives ${d.trainPositives}, test users ${d.testUsers}, test positives ${d.testPositives} (${d.testNotCandidates} not candidates)`,
  ].join('\n');
}

export function markdownTables(json: EvaluationJson): string {
  const out: string[] = [];
  for (const k of json.protocol.k) {
    out.push(`### K = ${k}${json.protocol.rerank !== 'none' ? ` (rerank ${json.protocol.rerank})` : ''}`, '');
    out.push(`| model | ${COLUMNS.map((c) => `${c}@${k}`).join(' | ')} | fit s |`);
    out.push(`|---|${COLUMNS.map(() => '---:').join('|')}|---:|`);
    for (const m of json.models) {
      const cells = COLUMNS.map((c) => formatNumber(m.metrics[`${c}@${k}`]?.mean));
      out.push(`| ${m.name} | ${cells.join(' | ')} | ${m.fitSeconds.toFixed(2)} |`);
    }
    out.push('');
  }
  const best = json.models.length > 1 ? pairedLines(json) : [];
  if (best.length) out.push(...best, '');
  return out.join('\n');
}

/** Paired differences of the main metric at the largest K, as "a - b = x [lo, hi], p". */
function pairedLines(json: EvaluationJson): string[] {
  const k = Math.max(...json.protocol.k);
  const rows = json.comparisons.filter((c) => c.metric === `ndcg@${k}`);
  if (rows.length === 0) return [];
  return [
    `Paired differences of ndcg@${k} (bootstrap 95% interval, paired t-test p):`,
    '',
    ...rows.map((c) => `- ${c.a} - ${c.b}: ${formatNumber(c.mean)} [${formatNumber(c.ci95[0])}, ${formatNumber(c.ci95[1])}], p = ${c.pValue.toExponential(2)}`),
  ];
}
