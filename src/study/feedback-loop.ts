/**
 * `personae study feedback-loop`: do personalised models, without a guardrail, narrow what people
 * see and polarise the groups over rounds of feedback, and does calibration hold coverage at a
 * small accuracy cost? It runs `personae simulate` (src/sim/feedback.ts: the world, the position
 * and consumption model and every metric are defined there) on the default world with
 * `split:51/49,bridge:0.15` and seed = --seed, 5 rounds (3 with --quick), the default arms, and
 * computes the verdict below from round 1 and the last round.
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';
import { jensenShannon } from '../data/categories.js';
import { DEFAULT_ARMS, DEFAULT_ROUNDS, LIST_LENGTH, METRICS, simulate, simulationJson, simulationTable, type SimulationResult } from '../sim/feedback.js';
import { fmt, markdownTable, paired } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

/** Largest relative ndcg@10 cost (last round, guarded arm against its twin) the guardrail may have. */
export const FEEDBACK_COST_LIMIT = 0.1;
const QUICK_ROUNDS = 3;
const POLARISATION_RESAMPLES = 200;

export type LoopRole = 'global' | 'personalised' | 'guarded';

export interface Interval {
  mean: number;
  ci95: [number, number];
}

/** What the verdict reads of one arm. */
export interface LoopArm {
  name: string;
  role: LoopRole;
  /** A guarded arm's unguarded twin (the same model without the reranker). */
  twin?: string;
  /** Per simulated user (same order in every arm): taste coverage in round 1 and in the last round. */
  coverageFirst: readonly (number | null)[];
  coverageLast: readonly (number | null)[];
  /** Per simulated user: ndcg@10 against the planted preferences in the last round. */
  ndcgLast: readonly (number | null)[];
  /** Polarisation of the last round minus round 1, with its bootstrap interval. */
  polarisationChange: Interval;
}

export interface LoopVerdict {
  verdict: Verdict;
  reason: string;
  checks: { narrowing: boolean; polarising: boolean; guardrail: boolean };
  arms: Record<string, { coverageChange?: Interval; narrows?: boolean; polarises?: boolean }>;
  guardrail: { arm: string; twin: string; coverageChange: Interval; coverageVsTwin: Interval; ndcgCost: number; ndcgVsTwin: Interval } | null;
}

function mean(values: readonly (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const v of values) if (v !== null && Number.isFinite(v)) (s += v), n++;
  return n > 0 ? s / n : Number.NaN;
}

const iv = (x: Interval, digits = 3): string => `${x.mean >= 0 ? '+' : ''}${fmt(x.mean, digits)} [${fmt(x.ci95[0], digits)}, ${fmt(x.ci95[1], digits)}]`;

/**
 * The verdict, fixed before the runs. The unguarded personalised arms are the arms of role
 * 'personalised' (every arm but global popularity and the reranked ones).
 * (1) narrowing: every unguarded personalised arm's taste coverage falls from round 1 to the last
 *     round (paired interval over users of last - first entirely below 0);
 * (2) polarising: every unguarded personalised arm's polarisation rises from round 1 to the last
 *     round (bootstrap interval of last - first entirely above 0);
 * (3) guardrail: the guarded arm (calibrated) does not narrow (the interval of its coverage change
 *     is not entirely below 0), its last-round coverage is above its twin's (paired interval above
 *     0), and its last-round ndcg@10 costs less than FEEDBACK_COST_LIMIT (10%) of the twin's,
 *     relative (the cost is stated with its paired interval).
 * holds when (1), (2) and (3) all hold; does-not-hold when none does; mixed otherwise.
 */
export function feedbackVerdict(arms: readonly LoopArm[], seed: number, costLimit = FEEDBACK_COST_LIMIT): LoopVerdict {
  const out: LoopVerdict['arms'] = {};
  const reasons: string[] = [];
  const personal = arms.filter((a) => a.role === 'personalised');
  for (const a of arms) {
    const change = paired(a.coverageLast, a.coverageFirst, seed);
    const c: Interval = { mean: change.mean, ci95: change.ci95 };
    out[a.name] = { coverageChange: c, narrows: change.n > 0 && c.ci95[1] < 0, polarises: a.polarisationChange.ci95[0] > 0 };
  }
  const narrowing = personal.length > 0 && personal.every((a) => out[a.name]!.narrows);
  const polarising = personal.length > 0 && personal.every((a) => out[a.name]!.polarises);
  for (const a of personal) {
    const o = out[a.name]!;
    reasons.push(`${a.name}: coverage ${iv(o.coverageChange!)} (${o.narrows ? 'narrows' : 'does not narrow'}), polarisation ${iv(a.polarisationChange, 4)} (${o.polarises ? 'polarises' : 'does not polarise'})`);
  }
  const guarded = arms.find((a) => a.role === 'guarded' && a.twin !== undefined && arms.some((b) => b.name === a.twin));
  let guardrail = false;
  let g: LoopVerdict['guardrail'] = null;
  if (guarded) {
    const twin = arms.find((b) => b.name === guarded.twin)!;
    const own = out[guarded.name]!.coverageChange!;
    const vs = paired(guarded.coverageLast, twin.coverageLast, seed);
    const nd = paired(guarded.ndcgLast, twin.ndcgLast, seed);
    const twinNdcg = mean(twin.ndcgLast);
    const cost = twinNdcg > 0 ? -nd.mean / twinNdcg : Number.NaN;
    const holdsCoverage = !(own.ci95[1] < 0);
    const aboveTwin = vs.ci95[0] > 0;
    const cheap = Number.isFinite(cost) && cost < costLimit;
    guardrail = holdsCoverage && aboveTwin && cheap;
    g = { arm: guarded.name, twin: twin.name, coverageChange: own, coverageVsTwin: { mean: vs.mean, ci95: vs.ci95 }, ndcgCost: cost, ndcgVsTwin: { mean: nd.mean, ci95: nd.ci95 } };
    reasons.push(
      `guardrail ${guarded.name}: own coverage change ${iv(own)} (${holdsCoverage ? 'holds' : 'narrows'}), last-round coverage minus ${twin.name} ${iv(g.coverageVsTwin)} (${aboveTwin ? 'above' : 'not above'}), ` +
        `ndcg@${LIST_LENGTH} minus ${twin.name} ${iv(g.ndcgVsTwin)} = ${(100 * cost).toFixed(1)}% relative cost (${cheap ? 'under' : 'not under'} ${100 * costLimit}%)`,
    );
  } else {
    reasons.push('no guarded arm with its unguarded twin: the guardrail part cannot hold');
  }
  const parts = [narrowing, polarising, guardrail];
  const verdict: Verdict = parts.every(Boolean) ? 'holds' : parts.some(Boolean) ? 'mixed' : 'does-not-hold';
  const head = `narrowing ${narrowing ? 'holds' : 'does not hold'} for every unguarded personalised arm; polarising ${polarising ? 'holds' : 'does not hold'}; guardrail ${guardrail ? 'holds' : 'does not hold'}`;
  return { verdict, reason: `${head}. ${reasons.join('; ')}.`, checks: { narrowing, polarising, guardrail }, arms: out, guardrail: g };
}

/**
 * Bootstrap interval of polarisation(last) - polarisation(first): users are resampled within
 * group A and within group B, the same resample for both rounds (paired); percentile interval.
 */
export function polarisationChange(first: readonly Int32Array[], last: readonly Int32Array[], group: Int8Array, nItems: number, seed: number, resamples = POLARISATION_RESAMPLES, k = LIST_LENGTH): Interval {
  const members = [0, 1].map((g) => Array.from(group.keys()).filter((p) => group[p] === g));
  const js = (lists: readonly Int32Array[], picks: number[][]): number => {
    const e = [new Float64Array(nItems), new Float64Array(nItems)];
    for (let g = 0; g < 2; g++) {
      let total = 0;
      for (const p of picks[g]!) {
        const l = lists[p]!;
        for (let r = 0; r < Math.min(k, l.length); r++) e[g]![l[r]!] += 1;
        total += Math.min(k, l.length);
      }
      if (total > 0) for (let i = 0; i < nItems; i++) e[g]![i]! /= total;
    }
    return jensenShannon(e[0]!, e[1]!, nItems);
  };
  const point = js(last, members) - js(first, members);
  if (members[0]!.length === 0 || members[1]!.length === 0) return { mean: point, ci95: [point, point] };
  const rng = new Rng(seed).derive('polarisation-bootstrap');
  const diffs = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    const picks = members.map((m) => Array.from({ length: m.length }, () => m[rng.int(m.length)]!));
    diffs[b] = js(last, picks) - js(first, picks);
  }
  diffs.sort();
  const q = (x: number): number => diffs[Math.min(resamples - 1, Math.max(0, Math.floor(x * resamples)))]!;
  return { mean: point, ci95: [q(0.025), q(0.975)] };
}

/** The roles of the arms: pop without a reranker is global, a reranked arm is guarded. */
export function loopArms(res: SimulationResult, seed: number): LoopArm[] {
  const last = res.rounds - 1;
  return res.arms.map((a, j) => {
    const t = res.traces[j]!;
    const role: LoopRole = a.rerank ? 'guarded' : a.model === 'pop' ? 'global' : 'personalised';
    const twinName = a.rerank ? a.name.slice(0, a.name.indexOf('+')) : undefined;
    return {
      name: a.name,
      role,
      ...(twinName !== undefined ? { twin: twinName } : {}),
      coverageFirst: t.coverage[0]!,
      coverageLast: t.coverage[last]!,
      ndcgLast: t.ndcg[last]!,
      polarisationChange: polarisationChange(t.lists[0]!, t.lists[last]!, res.group, res.nItems, seed),
    };
  });
}

/** One line chart per metric over rounds, one series per arm. */
export function loopCharts(res: Pick<SimulationResult, 'arms' | 'rounds'>): StudyChart[] {
  const x = Array.from({ length: res.rounds }, (_, r) => r + 1);
  return METRICS.map(({ key, label }) => ({
    title: `${label} over rounds`,
    kind: 'line' as const,
    x,
    xLabel: 'round',
    yLabel: label,
    series: res.arms.map((a) => ({ name: a.name, y: a.rounds.map((r) => (Number.isFinite(r[key]) ? r[key] : null)) })),
  }));
}

export const feedbackLoopStudy: Study = {
  name: 'feedback-loop',
  claim:
    'Without a guardrail, personalised models narrow the tastes each user is shown (taste coverage) and polarise the two groups\' exposure over rounds of feedback; ' +
    `calibration holds coverage at an accuracy cost under ${100 * FEEDBACK_COST_LIMIT}% (ndcg@${LIST_LENGTH} against the planted preferences).`,
  async run(ctx: StudyContext) {
    if (ctx.log) throw new ConfigError('feedback-loop simulates users on a planted world; it has no --data mode (their tastes must be known)', '--data');
    const rounds = ctx.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
    const res = await simulate({ seed: ctx.seed, rounds, arms: DEFAULT_ARMS, quick: ctx.quick ?? false, threads: ctx.threads, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) });
    const arms = loopArms(res, ctx.seed);
    const v = feedbackVerdict(arms, ctx.seed);
    const verdictTable = markdownTable(
      ['arm', 'role', `coverage, round ${rounds} - round 1`, `polarisation, round ${rounds} - round 1`, `ndcg@${LIST_LENGTH} round ${rounds}`],
      arms.map((a) => [
        a.name,
        a.role,
        iv(v.arms[a.name]!.coverageChange!),
        iv(a.polarisationChange, 4),
        fmt(mean(a.ndcgLast)),
      ]),
    );
    return {
      study: 'feedback-loop',
      claim: feedbackLoopStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: res.world,
      results: {
        ...simulationJson(res),
        costLimit: FEEDBACK_COST_LIMIT,
        checks: v.checks,
        changes: Object.fromEntries(arms.map((a) => [a.name, { role: a.role, coverage: v.arms[a.name]!.coverageChange, polarisation: a.polarisationChange, narrows: v.arms[a.name]!.narrows, polarises: v.arms[a.name]!.polarises }])),
        guardrail: v.guardrail,
      },
      table: `${simulationTable(res)}\n\n### change from round 1 to round ${rounds} (95% intervals)\n\n${verdictTable}`,
      charts: loopCharts(res),
    };
  },
};
