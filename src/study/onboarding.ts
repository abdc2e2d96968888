/**
 * `personae study onboarding`: how many questions does a new user need? Held-out users
 * (users-holdout) answer pairwise questions from their own folded-in history (they prefer the item
 * they interacted with, 'both' / 'neither' when both / neither are in it); after 0..20 answers their
 * onboarding recommendations are scored on their test items, for adaptive questions, random pool
 * pairs and the most popular pairs, next to the same users' full-history score.
 */
import { rowOf, sortedHas } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { evaluateLists, rankTestUsers } from '../eval/evaluate.js';
import { ndcgAt, recallAt } from '../eval/metrics.js';
import { bootstrapCI, pairedDifference } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import type { Recommender } from '../models/model.js';
import { createOnboarding, type Answer, type OnboardingOptions, type Question, type QuestionStrategy } from '../onboard/index.js';
import { fitOnboardingPersonas, onboardingWorld, round, studyData } from './common.js';
import type { Study, StudyChart, StudyContext, StudyJson, Verdict } from './types.js';

export const ONBOARDING_STRATEGIES: readonly QuestionStrategy[] = ['adaptive', 'random', 'popular'];

/** A simulated user's answer: they prefer what they interacted with. `history` ascending. */
export function simulatedAnswer(history: Int32Array, q: Question): Answer {
  const a = sortedHas(history, 0, history.length, q.a);
  const b = sortedHas(history, 0, history.length, q.b);
  return a && b ? 'both' : a ? 'a' : b ? 'b' : 'neither';
}

export interface OnboardingCurves {
  questions: number[];
  /** strategy -> metric -> per question count -> per user values (split.testUsers order). */
  perUser: Record<string, Record<string, number[][]>>;
  /** Milliseconds of each adaptive `next()` call. */
  nextMs: number[];
  /** Share of answers per kind, by strategy. */
  answerMix: Record<string, Record<Answer, number>>;
}

/** Runs the simulation for every test user of a users-holdout split. */
export function simulateOnboarding(
  model: Recommender,
  split: Split,
  opts: { maxQuestions?: number; k?: number; seed: number; session?: OnboardingOptions; onUser?: (done: number, total: number) => void },
): OnboardingCurves {
  const Q = opts.maxQuestions ?? 20;
  const k = opts.k ?? 20;
  const questions = Array.from({ length: Q + 1 }, (_, q) => q);
  const perUser: Record<string, Record<string, number[][]>> = {};
  const answerMix: Record<string, Record<Answer, number>> = {};
  const nextMs: number[] = [];
  for (const s of ONBOARDING_STRATEGIES) {
    perUser[s] = { [`ndcg@${k}`]: questions.map(() => []), [`recall@${k}`]: questions.map(() => []) };
    answerMix[s] = { a: 0, b: 0, both: 0, neither: 0 };
  }
  const root = new Rng(opts.seed);
  split.testUsers.forEach((u, idx) => {
    const history = rowOf(split.history, u);
    const test = rowOf(split.test, u);
    for (const strategy of ONBOARDING_STRATEGIES) {
      const session = createOnboarding(model, split.train, { ...opts.session, strategy, seed: root.derive('onboarding', strategy, u).nextU32() });
      const curves = perUser[strategy]!;
      for (let q = 0; q <= Q; q++) {
        const list = session.recommend(k);
        curves[`ndcg@${k}`]![q]!.push(ndcgAt(list, test, k) ?? 0);
        curves[`recall@${k}`]![q]!.push(recallAt(list, test, k) ?? 0);
        if (q === Q) break;
        const t0 = performance.now();
        const question = session.next();
        if (strategy === 'adaptive') nextMs.push(performance.now() - t0);
        if (!question) continue;
        const ans = simulatedAnswer(history, question);
        answerMix[strategy]![ans]++;
        session.answer(question, ans);
      }
    }
    opts.onUser?.(idx + 1, split.testUsers.length);
  });
  return { questions, perUser, nextMs, answerMix };
}

export const onboardingStudy: Study = {
  name: 'onboarding',
  claim:
    'After 10 adaptive pairwise questions a new user gets better recommendations (ndcg@20) than after 10 random or 10 popular-item pairs, recovering a large share of their full-history quality.',
  async run(ctx: StudyContext): Promise<Omit<StudyJson, 'manifest' | 'seconds' | 'seed'>> {
    const quick = ctx.quick ?? false;
    // users-holdout whatever --protocol says; the seed is the world's too, as in the confidence study
    const { split, label: dataLabel } = studyData({ ...ctx, protocol: 'users-holdout' }, onboardingWorld(ctx));
    const model = await fitOnboardingPersonas(split, ctx, 'personas');
    const k = 20;
    const ndcgKey = `ndcg@${k}`;
    const recallKey = `recall@${k}`;
    // the same users' full-history score: fold-in of their whole history
    const full = evaluateLists(split, rankTestUsers(model, split, { k }), [k], ctx.seed);
    const fullNdcg = full.metrics[ndcgKey]!.mean ?? 0;
    const fullRecall = full.metrics[recallKey]!.mean ?? 0;
    const maxQuestions = 20;
    const curves = simulateOnboarding(model, split, {
      maxQuestions,
      k,
      seed: ctx.seed,
      onUser: (d, t) => ctx.onProgress?.('simulated users', d, t),
    });
    const summary = (metric: string) => {
      const means: Record<string, number[]> = {};
      const ci: Record<string, [number, number][]> = {};
      for (const s of ONBOARDING_STRATEGIES) {
        const per = curves.perUser[s]![metric]!;
        const boots = per.map((v, q) => bootstrapCI(v, { seed: new Rng(ctx.seed).derive('ci', s, metric, q).nextU32(), resamples: 1000 }));
        means[s] = boots.map((b) => round(b.mean));
        ci[s] = boots.map((b) => [round(b.ci[0]), round(b.ci[1])]);
      }
      return { means, ci };
    };
    const nd = summary(ndcgKey);
    const rc = summary(recallKey);
    const at = 10;
    const adaptive10 = curves.perUser.adaptive![ndcgKey]![at]!;
    const vsRandom = pairedDifference(adaptive10, curves.perUser.random![ndcgKey]![at]!, { seed: ctx.seed });
    const vsPopular = pairedDifference(adaptive10, curves.perUser.popular![ndcgKey]![at]!, { seed: ctx.seed });
    const share = fullNdcg > 0 ? nd.means.adaptive![at]! / fullNdcg : null;
    const sortedMs = [...curves.nextMs].sort((a, b) => a - b);
    const msMean = sortedMs.reduce((a, b) => a + b, 0) / Math.max(1, sortedMs.length);
    const msP95 = sortedMs[Math.min(sortedMs.length - 1, Math.floor(0.95 * sortedMs.length))] ?? 0;
    const beatsR = vsRandom.ci95[0] > 0;
    const beatsP = vsPopular.ci95[0] > 0;
    const aheadR = vsRandom.mean > 0;
    const aheadP = vsPopular.mean > 0;
    let verdict: Verdict;
    if (beatsR && beatsP) verdict = 'holds';
    else if (aheadR && aheadP) verdict = 'mixed';
    else verdict = 'does-not-hold';
    const fmt = (x: number) => x.toFixed(4);
    const verdictReason =
      `at ${at} questions adaptive ndcg@20 ${fmt(nd.means.adaptive![at]!)} vs random ${fmt(nd.means.random![at]!)} ` +
      `(paired diff ${fmt(vsRandom.mean)}, 95% CI [${fmt(vsRandom.ci95[0])}, ${fmt(vsRandom.ci95[1])}]) and popular ${fmt(nd.means.popular![at]!)} ` +
      `(diff ${fmt(vsPopular.mean)}, CI [${fmt(vsPopular.ci95[0])}, ${fmt(vsPopular.ci95[1])}]); ` +
      `${verdict === 'holds' ? 'both intervals exclude 0' : verdict === 'mixed' ? 'ahead on both, but an interval includes 0' : 'adaptive is not ahead of both'}; ` +
      `it recovers ${share === null ? 'n/a' : `${Math.round(100 * share)}%`} of the full-history ndcg@20 ${fmt(fullNdcg)}`;
    const rows = [0, 1, 2, 3, 5, 10, 15, 20].filter((q) => q <= maxQuestions);
    const table = [
      `| questions | adaptive ndcg@20 | random ndcg@20 | popular ndcg@20 | adaptive recall@20 | random recall@20 | popular recall@20 |`,
      `|---:|---:|---:|---:|---:|---:|---:|`,
      ...rows.map(
        (q) =>
          `| ${q} | ${fmt(nd.means.adaptive![q]!)} | ${fmt(nd.means.random![q]!)} | ${fmt(nd.means.popular![q]!)} | ${fmt(rc.means.adaptive![q]!)} | ${fmt(rc.means.random![q]!)} | ${fmt(rc.means.popular![q]!)} |`,
      ),
      `| full history | ${fmt(fullNdcg)} | | | ${fmt(fullRecall)} | | |`,
      '',
      `next question: mean ${msMean.toFixed(2)} ms, p95 ${msP95.toFixed(2)} ms over ${sortedMs.length} calls (pool ${200}, ${split.testUsers.length} users)`,
    ].join('\n');
    const chart = (metric: string, s: { means: Record<string, number[]>; ci: Record<string, [number, number][]> }, fullValue: number): StudyChart => ({
      title: `${metric} after n questions (held-out users)`,
      kind: 'line',
      x: curves.questions,
      xLabel: 'questions answered',
      yLabel: metric,
      series: [
        ...ONBOARDING_STRATEGIES.map((st) => ({ name: st, y: s.means[st]!, ci: s.ci[st]! })),
        { name: 'full history', y: curves.questions.map(() => round(fullValue)) },
      ],
    });
    return {
      study: 'onboarding',
      claim: onboardingStudy.claim,
      verdict,
      verdictReason,
      data: dataLabel,
      results: {
        questions: curves.questions,
        [ndcgKey]: nd.means,
        [recallKey]: rc.means,
        intervals: { [ndcgKey]: nd.ci, [recallKey]: rc.ci },
        fullHistory: { [ndcgKey]: round(fullNdcg), [recallKey]: round(fullRecall), ci95: { [ndcgKey]: full.metrics[ndcgKey]!.ci95, [recallKey]: full.metrics[recallKey]!.ci95 } },
        shareOfFullHistoryAt10: share === null ? null : round(share),
        pairedAt10: {
          adaptiveMinusRandom: { mean: round(vsRandom.mean), ci95: [round(vsRandom.ci95[0]), round(vsRandom.ci95[1])], pValue: vsRandom.pValue },
          adaptiveMinusPopular: { mean: round(vsPopular.mean), ci95: [round(vsPopular.ci95[0]), round(vsPopular.ci95[1])], pValue: vsPopular.pValue },
        },
        answerMix: curves.answerMix,
        nextQuestionMs: { mean: round(msMean, 3), p95: round(msP95, 3), max: round(sortedMs[sortedMs.length - 1] ?? 0, 3), calls: sortedMs.length },
        users: split.testUsers.length,
        protocol: 'users-holdout',
      },
      table,
      charts: [chart(ndcgKey, nd, fullNdcg), chart(recallKey, rc, fullRecall)],
    };
  },
};
