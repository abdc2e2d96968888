/**
 * `personae study memory`: which memory of a user should a recommender score with? PRIME (arXiv
 * 2507.04607) claims that abstract preference summaries (semantic memory) beat replaying specific
 * past interactions (episodic memory), and that recency-based recall beats similarity-based
 * retrieval. Here one scorer (a fitted `din`: a candidate attends over the vectors of a memory)
 * scores every test user from five memories of the same budget N (vectors kept per user):
 *
 * - summaries: the history clustered into min(N, |H|) personas (the persona model's clustering,
 *   on the scorer's item embeddings), each kept as its centroid with weight log |C_k|, so that a
 *   summary attends like its items would if they all sat at the centroid;
 * - recency: the last N items (by training time);
 * - similarity: for each candidate, the N history items most similar to it (cosine of the
 *   embeddings; DIN-style retrieval);
 * - random: N items drawn at random (seeded per user);
 * - whole: the whole history (no budget: the same at every N).
 *
 * Verdict rule (fixed before any run): ndcg@20, paired per user with a 95% bootstrap interval,
 * at each N in {5, 10, 20, 50}. Summaries vs episodic: summaries minus the better (by mean) of
 * recency and similarity at that N. Recency vs similarity: recency minus similarity. A half holds
 * when its difference's interval is above 0 at 3 or more of the 4 budgets, does not hold when it
 * is below 0 at 3 or more, and is mixed otherwise; the study holds when both halves hold, does
 * not hold when both do not, and is mixed otherwise. minorityRecall@20 is reported beside it.
 */
import { rowOf } from '../data/csr.js';
import { evaluateLists } from '../eval/evaluate.js';
import type { PairedResult } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { TopKSelector } from '../math/topk.js';
import { DinModel } from '../models/din.js';
import type { ModelParams } from '../models/model.js';
import { historyScale } from '../models/din-train.js';
import { clusterHistory } from '../models/personas-cluster.js';
import { fitModel, fmt, markdownTable, paired, studyData } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const K = 20;
export const MEMORY_BUDGETS = [5, 10, 20, 50] as const;
export const MEMORIES = ['summaries', 'recency', 'similarity', 'random', 'whole'] as const;
export type MemoryName = (typeof MEMORIES)[number];
/** Lloyd rounds of the summaries' clustering. */
const CLUSTER_ITERS = 5;

/** Per-user values of one metric: memory -> one array per budget (MEMORY_BUDGETS order). */
export type MemoryValues = Record<MemoryName, (number | null)[][]>;

export interface HalfVerdict {
  verdict: Verdict;
  /** Per budget: the paired difference and whether its interval is above / below 0. */
  points: { n: number; against: string; mean: number; ci95: [number, number]; above: boolean; below: boolean }[];
}

function half(diffs: { n: number; against: string; r: PairedResult }[]): HalfVerdict {
  const points = diffs.map(({ n, against, r }) => ({ n, against, mean: r.mean, ci95: r.ci95, above: r.ci95[0] > 0, below: r.ci95[1] < 0 }));
  const need = Math.ceil((3 / 4) * points.length);
  const above = points.filter((p) => p.above).length;
  const below = points.filter((p) => p.below).length;
  return { verdict: above >= need ? 'holds' : below >= need ? 'does-not-hold' : 'mixed', points };
}

function mean(xs: readonly (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) if (x !== null) (s += x), n++;
  return n > 0 ? s / n : NaN;
}

/** The study's rule (module comment) applied to per-user ndcg@20 values. */
export function memoryVerdict(ndcg: MemoryValues, budgets: readonly number[], seed: number): { verdict: Verdict; reason: string; summaries: HalfVerdict; recency: HalfVerdict } {
  const sumDiffs = budgets.map((n, t) => {
    const rec = ndcg.recency[t]!;
    const sim = ndcg.similarity[t]!;
    const bestEpisodic = mean(rec) >= mean(sim) ? 'recency' : 'similarity';
    return { n, against: bestEpisodic, r: paired(ndcg.summaries[t]!, bestEpisodic === 'recency' ? rec : sim, seed) };
  });
  const recDiffs = budgets.map((n, t) => ({ n, against: 'similarity', r: paired(ndcg.recency[t]!, ndcg.similarity[t]!, seed) }));
  const summaries = half(sumDiffs);
  const recency = half(recDiffs);
  const verdict: Verdict = summaries.verdict === 'holds' && recency.verdict === 'holds' ? 'holds' : summaries.verdict === 'does-not-hold' && recency.verdict === 'does-not-hold' ? 'does-not-hold' : 'mixed';
  const list = (h: HalfVerdict, what: string): string =>
    h.points.map((p) => `N=${p.n} ${fmt(p.mean, 4)} [${fmt(p.ci95[0], 4)}, ${fmt(p.ci95[1], 4)}]${what === 'summaries' ? ` vs ${p.against}` : ''}`).join('; ');
  const reason =
    `summaries vs episodic (ndcg@${K}, summaries minus the better of recency and similarity): ${summaries.verdict} (${list(summaries, 'summaries')}). ` +
    `recency vs similarity (recency minus similarity): ${recency.verdict} (${list(recency, 'recency')}). ` +
    `A half holds when its interval is above 0 at ${Math.ceil((3 / 4) * budgets.length)} or more of the ${budgets.length} budgets, does not hold when below 0 as often.`;
  return { verdict, reason, summaries, recency };
}

/** Summaries of a history (time-ordered behaviours) at budget n: centroids, their log sizes. */
export function summariesOf(W: Float32Array, d: number, hist: Int32Array, n: number): { vecs: Float32Array; logWeight: Float64Array } {
  if (hist.length <= n) {
    const vecs = new Float32Array(hist.length * d);
    hist.forEach((j, h) => vecs.set(W.subarray(j * d, (j + 1) * d), h * d));
    return { vecs, logWeight: new Float64Array(hist.length) };
  }
  const assign = new Int32Array(hist.length);
  const k = clusterHistory(W, d, hist, n, 1, CLUSTER_ITERS, assign);
  const acc = new Float64Array(k * d);
  const cnt = new Float64Array(k);
  hist.forEach((j, h) => {
    const q = assign[h]!;
    cnt[q]!++;
    for (let x = 0; x < d; x++) acc[q * d + x] += W[j * d + x]!;
  });
  const vecs = new Float32Array(k * d);
  for (let q = 0; q < k; q++) for (let x = 0; x < d; x++) vecs[q * d + x] = acc[q * d + x]! / cnt[q]!;
  return { vecs, logWeight: Float64Array.from(cnt, (c) => Math.log(c)) };
}

export const memoryStudy: Study = {
  name: 'memory',
  claim:
    'Abstract preference summaries beat replaying specific past interactions, and recency-based recall beats similarity-based retrieval (PRIME, arXiv 2507.04607): with one scorer and N vectors per user, persona summaries beat the last N or the N most similar items, and the last N beat the N most similar.',
  async run(ctx: StudyContext) {
    const data = studyData(ctx);
    const { split } = data;
    const params: ModelParams = ctx.quick ? { dim: 8, epochs: 2, negatives: 50 } : { epochs: 8, negatives: 100 };
    const model = await fitModel('din', split, ctx, params);
    if (!(model instanceof DinModel)) throw new Error('study memory: the scorer is not a din model');
    const budgets = [...MEMORY_BUDGETS];
    const d = model.dim;
    const W = model.embeddings();
    const { candidates, itemRanks, nItems } = split.train;
    const sel = new TopKSelector(K);
    const lists: Record<MemoryName, Int32Array[][]> = Object.fromEntries(MEMORIES.map((m) => [m, budgets.map(() => [] as Int32Array[])])) as Record<MemoryName, Int32Array[][]>;
    const row = new Float32Array(nItems);
    const simRows = budgets.map(() => new Float32Array(nItems));
    const users = split.testUsers;
    const top = (scores: Float32Array, exclude: Int32Array): Int32Array => {
      const out = new Int32Array(K);
      return out.slice(0, sel.select(scores, candidates, itemRanks, exclude, out));
    };
    for (let b = 0; b < users.length; b++) {
      if (b % 100 === 0) ctx.onProgress?.('memory', b, users.length);
      const u = users[b]!;
      const history = rowOf(split.history, u);
      const exclude = Int32Array.from(history).sort();
      const hist = model.behaviours(split.testUserModelIndex[b]!, history);
      const f = historyScale(hist.length, Number(model.params.alpha));
      model.scoreBehaviours(hist, row);
      const whole = top(row, exclude);
      model.scoreSimilar(hist, budgets, simRows);
      const shuffled = new Rng(ctx.seed).derive('memory', 'random', u).shuffle(Int32Array.from(hist));
      // a budget at or above the history's length gives every memory the same input at each such
      // budget (recency: the whole history itself): score it once and share the list
      let wide: { random: Int32Array; summaries: Int32Array } | null = null;
      budgets.forEach((n, t) => {
        lists.whole[t]!.push(whole);
        lists.similarity[t]!.push(top(simRows[t]!, exclude));
        if (hist.length <= n && wide) {
          lists.recency[t]!.push(whole);
          lists.random[t]!.push(wide.random);
          lists.summaries[t]!.push(wide.summaries);
          return;
        }
        let recency = whole;
        if (hist.length > n) {
          model.scoreBehaviours(hist.subarray(hist.length - n), row);
          recency = top(row, exclude);
        }
        lists.recency[t]!.push(recency);
        model.scoreBehaviours(shuffled.subarray(0, Math.min(n, shuffled.length)), row);
        const random = top(row, exclude);
        lists.random[t]!.push(random);
        const s = summariesOf(W, d, hist, n);
        model.scoreVectors(s.vecs, s.logWeight, f, row);
        const summaries = top(row, exclude);
        lists.summaries[t]!.push(summaries);
        if (hist.length <= n) wide = { random, summaries };
      });
    }
    ctx.onProgress?.('memory', users.length, users.length);
    const ndcgKey = `ndcg@${K}`;
    const minorityKey = `minorityRecall@${K}`;
    const ndcg = {} as MemoryValues;
    const minority = {} as MemoryValues;
    const summary: Record<string, { n: number; ndcg: [number, number, number] | null; minorityRecall: [number, number, number] | null }[]> = {};
    const triple = (s: { mean: number | null; ci95?: [number, number] | null } | undefined): [number, number, number] | null =>
      s && s.mean !== null && s.ci95 ? [s.mean, s.ci95[0], s.ci95[1]] : s && s.mean !== null ? [s.mean, s.mean, s.mean] : null;
    for (const m of MEMORIES) {
      ndcg[m] = [];
      minority[m] = [];
      summary[m] = [];
      budgets.forEach((n, t) => {
        // `whole` is the same lists at every budget: evaluate once
        const e = m === 'whole' && t > 0 ? null : evaluateLists(split, lists[m][t]!, [K], ctx.seed);
        const prev = summary[m]![0];
        ndcg[m].push(e ? e.perUser[ndcgKey]! : ndcg[m][0]!);
        minority[m].push(e ? e.perUser[minorityKey] ?? Array.from(users, (): number | null => null) : minority[m][0]!);
        summary[m]!.push(e ? { n, ndcg: triple(e.metrics[ndcgKey]), minorityRecall: triple(e.metrics[minorityKey]) } : { ...prev!, n });
      });
    }
    const v = memoryVerdict(ndcg, budgets, ctx.seed);
    const cell = (x: [number, number, number] | null): string => (x ? `${fmt(x[0])} [${fmt(x[1])}, ${fmt(x[2])}]` : 'n/a');
    const table = (key: 'ndcg' | 'minorityRecall'): string =>
      markdownTable(
        ['memory', ...budgets.map((n) => `N=${n}`)],
        MEMORIES.map((m) => [m, ...summary[m]!.map((p) => cell(p[key]))]),
      );
    const chart = (key: 'ndcg' | 'minorityRecall', label: string): StudyChart => ({
      title: `${label} vs memory budget N (one din scorer)`,
      kind: 'line',
      x: budgets,
      xLabel: 'N (vectors kept per user)',
      yLabel: label,
      series: MEMORIES.map((m) => ({ name: m, y: summary[m]!.map((p) => p[key]?.[0] ?? null), ci: summary[m]!.map((p): [number, number] | null => (p[key] ? [p[key]![1], p[key]![2]] : null)) })),
    });
    return {
      study: 'memory',
      claim: memoryStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: data.label,
      results: {
        k: K,
        scorer: { model: 'din', params },
        budgets,
        memories: summary,
        halves: { summariesVsEpisodic: v.summaries, recencyVsSimilarity: v.recency },
      },
      table: `ndcg@${K}\n\n${table('ndcg')}\n\nminorityRecall@${K}\n\n${table('minorityRecall')}`,
      charts: [chart('ndcg', ndcgKey), chart('minorityRecall', minorityKey)],
    };
  },
};
