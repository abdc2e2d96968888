/** Markdown tables of an evaluation: one table per cut-off, means with 95% intervals. */
import type { EvaluationJson } from '../results.js';
import { formatNumber } from './format.js';

const COLUMNS = ['recall', 'ndcg', 'hit', 'coverage', 'arp', 'ckl', 'tdd', 'minorityRecall', 'dominantShare'] as const;

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
    out.push(`| model | ${COLUMNS.map((c) => `${c}@${k}`).join(' | ')} | categories | fit s |`);
    out.push(`|---|${COLUMNS.map(() => '---:').join('|')}|:---:|---:|`);
    for (const m of json.models) {
      const cells = COLUMNS.map((c) => formatNumber(m.metrics[`${c}@${k}`]?.mean));
      out.push(`| ${m.name} | ${cells.join(' | ')} | ${usesCategoriesCell(m.usesCategories)} | ${m.fitSeconds.toFixed(2)} |`);
    }
    out.push('');
  }
  const seeds = seedLines(json);
  if (seeds.length) out.push(...seeds, '');
  const folds = foldLines(json);
  if (folds.length) out.push(...folds, '');
  const best = json.models.length > 1 ? pairedLines(json) : [];
  if (best.length) out.push(...best, '');
  return out.join('\n');
}

/** The "categories" column: did the row use item categories ("-" for JSON written without the field). */
function usesCategoriesCell(v: boolean | undefined): string {
  return v === undefined ? '-' : v ? 'yes' : 'no';
}

const SEED_COLUMNS = ['ndcg', 'recall', 'minorityRecall', 'ckl', 'tdd', 'coverage'] as const;

/**
 * `evaluate --seeds n`: per model and metric at the largest K, the mean over the n fits, their sd,
 * min and max, beside the root seed's mean and 95% bootstrap interval over users.
 */
function seedLines(json: EvaluationJson): string[] {
  const rows = json.models.filter((m) => m.seeds);
  if (rows.length === 0) return [];
  const k = Math.max(...json.protocol.k);
  const values = rows[0]!.seeds!.values;
  const out = [
    `### Across ${values.length} seeds (${values.join(', ')}), K = ${k}`,
    '',
    '| model | metric | mean over seeds | sd | min | max | root seed [95% CI over users] |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const m of rows) {
    for (const c of SEED_COLUMNS) {
      const key = `${c}@${k}`;
      const s = m.seeds!.metrics[key];
      if (!s) continue;
      const root = m.metrics[key];
      const ci = root?.ci95 ? ` [${formatNumber(root.ci95[0])}, ${formatNumber(root.ci95[1])}]` : '';
      out.push(`| ${m.name} | ${key} | ${formatNumber(s.mean)} | ${formatNumber(s.sd)} | ${formatNumber(s.min)} | ${formatNumber(s.max)} | ${formatNumber(root?.mean)}${ci} |`);
    }
  }
  return out;
}

/**
 * `evaluate --folds k`: per model and metric at the largest K, the mean over the k folds, their sd,
 * the 95% t-interval over the folds and each fold's mean.
 */
function foldLines(json: EvaluationJson): string[] {
  const rows = json.models.filter((m) => m.folds);
  if (rows.length === 0) return [];
  const k = Math.max(...json.protocol.k);
  const out = [
    `### Across ${rows[0]!.folds!.k} folds (${json.protocol.name}, each user held out once), K = ${k}`,
    '',
    '| model | metric | mean over folds | sd | 95% t-interval | per fold |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const m of rows) {
    for (const c of SEED_COLUMNS) {
      const key = `${c}@${k}`;
      const s = m.folds!.metrics[key];
      if (!s) continue;
      out.push(`| ${m.name} | ${key} | ${formatNumber(s.mean)} | ${formatNumber(s.sd)} | [${formatNumber(s.ci95[0])}, ${formatNumber(s.ci95[1])}] | ${s.perFold.map((x) => formatNumber(x)).join(', ')} |`);
    }
  }
  return out;
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
