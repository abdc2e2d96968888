/**
 * Persona-based metrics and per-group slices (PRODUCT.md P7, PROTOCOL.md "Persona-based variants").
 *
 * Per user, from the persona set that scores them (their own, or the fold-in of their history):
 * each history item and each list item belongs to its arg-max-attention persona; the user's
 * personas are those owning at least one history item (a persona owning none is not a taste of
 * the history); shares = the fraction of the history each owns.
 * - personaCoverage@K: share of the user's personas that own at least one item of the top K;
 * - personaCkl@K, personaTdd@K: ckl and tdd of PROTOCOL.md with "category" read as "persona".
 *
 * Slices (means over the users in each group, every per-user metric):
 * - `personas=1` / `personas=2+`: effective personas = round(exp(entropy of the shares)), so a user
 *   whose second persona owns 5% of the history counts as 1 (persona models only);
 * - `activity=cold|medium|heavy`: TRAIN positives (the history the model sees) < 20, 20-100,
 *   > 100. 20 is where the persona model's adaptive K (one persona per 10 items) reaches two
 *   personas; 100 is about the median history on ml-latest-small (a rough "heavy" half).
 */
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { explanationFidelity, type FidelityOptions, type FidelityReport } from '../explain/fidelity.js';
import { hasPersonas, personasFor, type HasPersonas, type Recommender } from '../models/model.js';
import { assignmentShares, effectiveCount, personaAssignment, personaSetSize } from '../models/persona-assignment.js';
import { calibrationKL, jensenShannon } from '../data/categories.js';
import { formatNumber } from './report/format.js';
import { summarise, type MetricSummary } from './stats.js';

export const ACTIVITY_COLD_BELOW = 20;
export const ACTIVITY_HEAVY_ABOVE = 100;

export type Slices = Record<string, Record<string, number | null>>;

/** Per-user persona metrics, keyed `${name}@${k}`. */
export const PERSONA_METRICS = ['personaCoverage', 'personaCkl', 'personaTdd'] as const;

export function activityBand(trainPositives: number): 'cold' | 'medium' | 'heavy' {
  if (trainPositives < ACTIVITY_COLD_BELOW) return 'cold';
  return trainPositives > ACTIVITY_HEAVY_ABOVE ? 'heavy' : 'medium';
}

export interface PersonaListMetrics {
  /** Effective personas per test user (split.testUsers order). */
  effective: Int32Array;
  perUser: Record<string, (number | null)[]>;
}

/** personaCoverage, personaCkl and personaTdd at each K, per test user. */
export function personaListMetrics(model: HasPersonas, split: Split, lists: readonly Int32Array[], ks: readonly number[]): PersonaListMetrics {
  const perUser: Record<string, (number | null)[]> = {};
  for (const k of ks) for (const m of PERSONA_METRICS) perUser[`${m}@${k}`] = [];
  const effective = new Int32Array(split.testUsers.length);
  split.testUsers.forEach((u, idx) => {
    const history = rowOf(split.history, u);
    const list = lists[idx]!;
    const personas = personasFor(model, u, history);
    const n = history.length > 0 ? personaSetSize(model, personas, history[0]!) : 0;
    const p = assignmentShares(personaAssignment(model, personas, history, history), n);
    effective[idx] = Math.round(effectiveCount(p));
    const listAssign = personaAssignment(model, personas, list, history);
    let owned = 0;
    for (let q = 0; q < n; q++) if (p[q]! > 0) owned++;
    for (const k of ks) {
      if (owned === 0) {
        for (const m of PERSONA_METRICS) perUser[`${m}@${k}`]!.push(null);
        continue;
      }
      const top = listAssign.subarray(0, Math.min(k, listAssign.length));
      const q = assignmentShares(top, n);
      let present = 0;
      for (let g = 0; g < n; g++) if (p[g]! > 0 && q[g]! > 0) present++;
      perUser[`personaCoverage@${k}`]!.push(present / owned);
      perUser[`personaCkl@${k}`]!.push(calibrationKL(p, q, n));
      perUser[`personaTdd@${k}`]!.push(top.length === 0 ? 1 : jensenShannon(p, q, n));
    }
  });
  return { effective, perUser };
}

/** Users of each slice, as masks over split.testUsers. */
export function sliceMasks(split: Split, effective: Int32Array | null): Record<string, Uint8Array> {
  const n = split.testUsers.length;
  const masks: Record<string, Uint8Array> = {};
  const mask = (name: string): Uint8Array => (masks[name] ??= new Uint8Array(n));
  if (effective) {
    mask('personas=1');
    mask('personas=2+');
    effective.forEach((e, idx) => (mask(e >= 2 ? 'personas=2+' : 'personas=1')[idx] = 1));
  }
  for (const band of ['cold', 'medium', 'heavy']) mask(`activity=${band}`);
  split.testUsers.forEach((u, idx) => (mask(`activity=${activityBand(rowOf(split.history, u).length)}`)[idx] = 1));
  return masks;
}

/** Mean of every per-user metric within each slice (null where no user has a value), plus `users`. */
export function sliceMeans(perUser: Record<string, (number | null)[]>, masks: Record<string, Uint8Array>): Slices {
  const out: Slices = {};
  for (const [name, m] of Object.entries(masks)) {
    const row: Record<string, number | null> = { users: m.reduce((a, b) => a + b, 0) };
    for (const [key, values] of Object.entries(perUser)) {
      let sum = 0;
      let count = 0;
      values.forEach((v, idx) => {
        if (m[idx] && v !== null && v !== undefined) {
          sum += v;
          count++;
        }
      });
      row[key] = count > 0 ? sum / count : null;
    }
    out[name] = row;
  }
  return out;
}

export interface SliceEvaluation {
  /** Extra metrics (persona models): personaCoverage@K etc., with bootstrap intervals. */
  metrics: Record<string, MetricSummary>;
  perUser: Record<string, (number | null)[]>;
  slices: Slices;
  explanationFidelity?: FidelityReport;
}

/** Persona metrics and fidelity (persona models) and slices (every model) of a ranked split. */
export function sliceEvaluation(
  model: Recommender,
  split: Split,
  lists: readonly Int32Array[],
  base: { perUser: Record<string, (number | null)[]> },
  ks: readonly number[],
  seed: number,
  fidelityOptions: FidelityOptions = {},
): SliceEvaluation {
  const metrics: Record<string, MetricSummary> = {};
  let perUser: Record<string, (number | null)[]> = {};
  let effective: Int32Array | null = null;
  let fidelity: FidelityReport | undefined;
  if (hasPersonas(model)) {
    const pm = personaListMetrics(model, split, lists, ks);
    perUser = pm.perUser;
    effective = pm.effective;
    for (const [key, values] of Object.entries(perUser)) metrics[key] = summarise(values, seed);
    fidelity = explanationFidelity(model, split, lists, { seed, ...fidelityOptions });
  } else {
    // the same per-user columns for every model (per-user CSV rows share one header)
    for (const k of ks) for (const m of PERSONA_METRICS) perUser[`${m}@${k}`] = new Array<number | null>(split.testUsers.length).fill(null);
  }
  const slices = sliceMeans({ ...base.perUser, ...perUser }, sliceMasks(split, effective));
  return { metrics, perUser, slices, ...(fidelity ? { explanationFidelity: fidelity } : {}) };
}

const SLICE_COLUMNS = ['ndcg', 'recall', 'ckl', 'minorityRecall', 'personaCoverage'] as const;

/** A short Markdown table of a model's slices at cut-off k. */
export function slicesMarkdown(model: string, slices: Slices, k: number): string {
  const cols = SLICE_COLUMNS.filter((c) => Object.values(slices).some((row) => row[`${c}@${k}`] !== undefined));
  const lines = [`Slices of ${model} (K = ${k}):`, '', `| slice | users | ${cols.map((c) => `${c}@${k}`).join(' | ')} |`, `|---|---:|${cols.map(() => '---:').join('|')}|`];
  for (const [name, row] of Object.entries(slices)) {
    lines.push(`| ${name} | ${row.users ?? 0} | ${cols.map((c) => formatNumber(row[`${c}@${k}`])).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** One line of fidelity numbers for the console. */
export function fidelityLine(model: string, f: FidelityReport): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const ratio = (x: number): string => `${x.toFixed(1)}x`;
  return (
    `Explanation fidelity of ${model} (counterfactual, top ${f.topN}): ${pct(f.explainedShare)} of ${f.listItems} top-${f.topN} items of ${f.eligibleUsers} users with 2+ personas are explained; ` +
    `over ${f.items} explained items of ${f.users} users, removing the explaining persona's ${f.meanRemoved.toFixed(1)} items drops the rank by ${f.meanRankDrop.toFixed(1)} (median ${f.medianRankDrop}, ${pct(f.leftTopKShare)} leave the top ${f.topN}); ` +
    `as many random items of other personas: ${f.control.meanRankDrop.toFixed(1)} (median ${f.control.medianRankDrop}, ${pct(f.control.leftTopKShare)}); ` +
    `the most similar items: ${f.similar.meanRankDrop.toFixed(1)} (median ${f.similar.medianRankDrop}, ${pct(f.similar.leftTopKShare)}); ` +
    `ratio to random ${ratio(f.ratioToRandom)}, to similar ${ratio(f.ratioToSimilar)}`
  );
}
