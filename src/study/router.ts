/**
 * `personae study router`: does routing each user cluster to its own specialist beat one general
 * model (Avengers-Pro reports +7% accuracy over the best single model, or the same accuracy at 27%
 * lower cost)? On the `split:51/49` world (or --data), we compare the global model (pop), each
 * candidate fitted on everyone (pop, itemknn, ials; the best of them by test ndcg@20 is "the best
 * single model", an oracle choice that favours the baseline), the router at best accuracy
 * (tolerance 0) and the router at near-equal accuracy and lower cost (tolerance 0.05: each cluster
 * takes the cheapest candidate within 5% of its best validation ndcg). Costs are measured CPU
 * seconds of fitting (the router's includes its clustering and validation fits) and CPU
 * milliseconds of scoring per test user; they depend on the machine, ndcg@20 does not.
 */
import type { MetricSummary } from '../eval/stats.js';
import type { Recommender } from '../models/model.js';
import { ClusterRouter, cpuSeconds, type RouteEntry } from '../models/router.js';
import { fitModel, fmt, fmtCi, markdownTable, paired, scoreModel, studyData } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const AT = 20;
export const ROUTER_CANDIDATES = 'pop,itemknn,ials';
export const ROUTER_CLUSTERS = 4;
/** The cost/accuracy router's relative tolerance. */
export const ROUTER_TOLERANCE = 0.05;

export interface RouterArm {
  name: string;
  role: 'global' | 'single' | 'router-best' | 'router-cheap';
  /** Per test user ndcg@20. */
  ndcg: (number | null)[];
  fitSeconds: number;
  scoreMsPerUser: number;
}

export interface RouterVerdict {
  verdict: Verdict;
  reason: string;
  bestSingle: string;
  checks: { routerBeatsBestSingle: boolean; cheapMatchesBestSingle: boolean; cheapIsCheaper: boolean };
}

/**
 * The verdict, fixed before the run. The best single model is the single-model arm with the
 * highest mean ndcg@20. (1) accuracy: router at best accuracy minus the best single model, paired
 * interval above 0. (2) cost: the cost/accuracy router is not worse than the best single model by
 * more than the tolerance (paired interval's lower bound above -tolerance x the best single mean)
 * **and** scores a user in less CPU time than the best single model (measured). holds when both
 * hold, does-not-hold when neither does, mixed otherwise.
 */
export function routerVerdict(arms: readonly RouterArm[], seed: number, tolerance = ROUTER_TOLERANCE): RouterVerdict {
  const mean = (a: RouterArm): number => {
    let s = 0;
    let n = 0;
    for (const v of a.ndcg) if (v !== null) (s += v), n++;
    return n > 0 ? s / n : 0;
  };
  const singles = arms.filter((a) => a.role === 'single' || a.role === 'global');
  const best = singles.reduce((b, a) => (mean(a) > mean(b) ? a : b), singles[0]!);
  const rBest = arms.find((a) => a.role === 'router-best')!;
  const rCheap = arms.find((a) => a.role === 'router-cheap')!;
  const gain = paired(rBest.ndcg, best.ndcg, seed);
  const cheapGain = paired(rCheap.ndcg, best.ndcg, seed);
  const routerBeatsBestSingle = gain.ci95[0] > 0;
  const cheapMatchesBestSingle = cheapGain.ci95[0] > -tolerance * mean(best);
  const cheapIsCheaper = rCheap.scoreMsPerUser < best.scoreMsPerUser;
  const costHolds = cheapMatchesBestSingle && cheapIsCheaper;
  const verdict: Verdict = routerBeatsBestSingle && costHolds ? 'holds' : !routerBeatsBestSingle && !costHolds ? 'does-not-hold' : 'mixed';
  const rel = (x: number): string => `${x >= 0 ? '+' : ''}${((100 * x) / Math.max(1e-12, mean(best))).toFixed(1)}%`;
  const reason = [
    `best single model by ndcg@${AT}: ${best.name} (${fmt(mean(best))})`,
    `router at best accuracy minus it: ${fmt(gain.mean)} [${fmt(gain.ci95[0])}, ${fmt(gain.ci95[1])}] (${rel(gain.mean)}) -> ${routerBeatsBestSingle ? 'more accurate' : 'not more accurate'}`,
    `router at tolerance ${tolerance} minus it: ${fmt(cheapGain.mean)} [${fmt(cheapGain.ci95[0])}, ${fmt(cheapGain.ci95[1])}] (${rel(cheapGain.mean)}) -> ${cheapMatchesBestSingle ? 'within the tolerance' : 'worse than the tolerance allows'}; scoring ${fmt(rCheap.scoreMsPerUser, 3)} vs ${fmt(best.scoreMsPerUser, 3)} CPU ms per user -> ${cheapIsCheaper ? 'cheaper' : 'not cheaper'} (measured on this machine)`,
  ];
  return { verdict, reason: reason.join('; ') + '.', bestSingle: best.name, checks: { routerBeatsBestSingle, cheapMatchesBestSingle, cheapIsCheaper } };
}

function meanOf(s: MetricSummary | undefined): number | null {
  return s?.mean ?? null;
}

export const routerStudy: Study = {
  name: 'router',
  claim:
    `Routing each user cluster to its best specialist beats the best single model on ndcg@${AT}, or matches it at a lower cost (Avengers-Pro: +7% accuracy, or equal accuracy at 27% lower cost).`,
  async run(ctx: StudyContext) {
    const data = studyData(ctx, { population: 'split:51/49', seed: ctx.seed });
    const { split } = data;
    const arms: RouterArm[] = [];
    const summaries: Record<string, MetricSummary> = {};
    const measure = async (name: string, role: RouterArm['role'], make: () => Promise<Recommender>): Promise<Recommender> => {
      ctx.onProgress?.(`router study: ${name}`, arms.length, 6);
      const t0 = cpuSeconds();
      const model = await make();
      const fitSeconds = cpuSeconds() - t0;
      const t1 = cpuSeconds();
      const s = scoreModel(model, split, [AT], ctx.seed);
      const scoreMsPerUser = ((cpuSeconds() - t1) * 1000) / Math.max(1, split.testUsers.length);
      arms.push({ name, role, ndcg: s.perUser[`ndcg@${AT}`]!, fitSeconds, scoreMsPerUser });
      summaries[name] = s.metrics[`ndcg@${AT}`]!;
      return model;
    };
    for (const name of ROUTER_CANDIDATES.split(',')) await measure(name, name === 'pop' ? 'global' : 'single', () => fitModel(name, split, ctx));
    const routerParams = { candidates: ROUTER_CANDIDATES, clusters: ROUTER_CLUSTERS, scope: 'both' } as const;
    const best = (await measure('router (best accuracy)', 'router-best', () => fitModel('router', split, ctx, { ...routerParams, tolerance: 0 }, 'router'))) as ClusterRouter;
    const cheap = (await measure(`router (tolerance ${ROUTER_TOLERANCE})`, 'router-cheap', () => fitModel('router', split, ctx, { ...routerParams, tolerance: ROUTER_TOLERANCE }, 'router'))) as ClusterRouter;
    const v = routerVerdict(arms, ctx.seed);
    const table1 = markdownTable(
      ['model', `ndcg@${AT}`, 'fit CPU s', 'scoring CPU ms / user'],
      arms.map((a) => [a.name, fmtCi(summaries[a.name]), fmt(a.fitSeconds, 1), fmt(a.scoreMsPerUser, 3)]),
    );
    const routeRows = (label: string, routes: RouteEntry[]): string[][] =>
      routes.map((r) => [label, String(r.cluster), String(r.users), r.chosen, r.best, r.scores.map((s) => `${s.candidate} ${fmt(s.ndcg)}`).join(', ')]);
    const table2 = markdownTable(['router', 'cluster', 'users', 'routed to', 'best on validation', 'validation ndcg@20 per candidate'], [
      ...routeRows('best accuracy', best.routingTable()),
      ...routeRows(`tolerance ${ROUTER_TOLERANCE}`, cheap.routingTable()),
    ]);
    const charts: StudyChart[] = [
      {
        title: `ndcg@${AT} per model (95% intervals)`,
        kind: 'bar',
        x: arms.map((a) => a.name),
        xLabel: 'model',
        yLabel: `ndcg@${AT}`,
        series: [{ name: `ndcg@${AT}`, y: arms.map((a) => meanOf(summaries[a.name])), ci: arms.map((a) => summaries[a.name]?.ci95 ?? null) }],
      },
      {
        title: 'cost: fit CPU seconds and scoring CPU ms per user (this machine)',
        kind: 'bar',
        x: arms.map((a) => a.name),
        xLabel: 'model',
        yLabel: 'CPU',
        series: [
          { name: 'fit s', y: arms.map((a) => a.fitSeconds) },
          { name: 'scoring ms / user', y: arms.map((a) => a.scoreMsPerUser) },
        ],
      },
    ];
    return {
      study: 'router',
      claim: routerStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: data.label,
      results: {
        at: AT,
        candidates: ROUTER_CANDIDATES,
        clusters: ROUTER_CLUSTERS,
        tolerance: ROUTER_TOLERANCE,
        bestSingle: v.bestSingle,
        checks: v.checks,
        arms: arms.map((a) => ({ name: a.name, role: a.role, ndcg: summaries[a.name], fitSeconds: a.fitSeconds, scoreMsPerUser: a.scoreMsPerUser })),
        routing: { bestAccuracy: best.routingTable(), costAccuracy: cheap.routingTable() },
      },
      table: `${table1}\n\n${table2}`,
      charts,
    };
  },
};
