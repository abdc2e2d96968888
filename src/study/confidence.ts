/**
 * `personae study confidence`: does the model know when it is unsure?
 * - selective accuracy: test users sorted by confidence, ndcg@20 over the most-confident x%;
 * - reliability of the per-item probabilities: an isotonic calibrator fitted on the validation
 *   split (a model fitted on validation-train, its lists scored on validation-test), then applied
 *   to the test lists of the model fitted on train; expected calibration error on test;
 * - profile swap: each test user's confidence with their own personas vs with their nearest
 *   twin's (the training user with the most similar history, by Jaccard);
 * - hedging: ndcg@20 of the plain vs the hedged list of the low-confidence users.
 */
import { rowOf } from '../data/csr.js';
import { validationSplit, type Split } from '../data/split.js';
import { ndcgAt } from '../eval/metrics.js';
import { bootstrapCI, pairedDifference } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { personasFor, type HasPersonas, type Recommender } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { select } from '../rank/pipeline.js';
import {
  calibrationPairs as outcomes,
  Calibrator,
  EQUAL_WEIGHTS,
  fitConfidenceWeights,
  reliability,
  reweighConfidence,
  scoredLists,
  userConfidence,
  type UserConfidence,
} from '../confidence/index.js';
import { fitOnboardingPersonas, onboardingWorld, round, studyData } from './common.js';
import type { Study, StudyContext, StudyJson, Verdict } from './types.js';

/** The training user (other than `u`) whose training row is most similar to `history` by Jaccard; -1 if none. */
export function nearestTwin(train: TrainSet, u: number, history: Int32Array): number {
  const overlap = new Map<number, number>();
  for (const i of history) {
    for (let p = train.itemUsers.indptr[i]!; p < train.itemUsers.indptr[i + 1]!; p++) {
      const v = train.itemUsers.indices[p]!;
      if (v !== u) overlap.set(v, (overlap.get(v) ?? 0) + 1);
    }
  }
  let best = -1;
  let bestJ = -1;
  for (const [v, c] of overlap) {
    const size = train.userItems.indptr[v + 1]! - train.userItems.indptr[v]!;
    const j = c / (history.length + size - c);
    if (j > bestJ || (j === bestJ && v < best)) {
      bestJ = j;
      best = v;
    }
  }
  return best;
}

/** `round`, with null for a missing or non-finite value. */
function roundOrNull(x: number | null, d = 4): number | null {
  return x === null || !Number.isFinite(x) ? null : round(x, d);
}

export const confidenceStudy: Study = {
  name: 'confidence',
  claim:
    'Per-user confidence ranks users by how well they are served (the 20% most-confident users score higher ndcg@20 than all users), and the validation-fitted per-item probabilities are calibrated on test (ECE < 0.05).',
  async run(ctx: StudyContext): Promise<Omit<StudyJson, 'manifest' | 'seconds' | 'seed'>> {
    const quick = ctx.quick ?? false;
    // these studies use the seed for the world too, and a smaller quick world than the other studies
    const { split, label: dataLabel } = studyData(ctx, onboardingWorld(ctx));
    const val = validationSplit(split);
    const fit = (s: Split, label: string): Promise<Recommender & HasPersonas> => fitOnboardingPersonas(s, ctx, label);
    const k = 20;
    // 1. calibrator on validation
    const valModel = await fit(val, 'validation');
    const valScored = scoredLists(valModel, val, k);
    const valOut = outcomes(val, valScored);
    const calibrator = Calibrator.fit(valOut.x, valOut.y);
    // 2. the model on train, its test lists
    const model = await fit(split, 'train');
    const scored = scoredLists(model, split, k, true);
    const testOut = outcomes(split, scored);
    const calibrated = Float64Array.from(testOut.x, (x) => calibrator.predict(x));
    const rel = reliability(calibrated, testOut.y, 10);
    const relVal = reliability(Float64Array.from(valOut.x, (x) => calibrator.predict(x)), valOut.y, 10);
    const rawRel = reliability(Float64Array.from(testOut.x, (x) => Math.exp(x)), testOut.y, 10);
    // 3. factor weights fitted on the validation users (top-20% ndcg@20), then applied on test
    const valConf: UserConfidence[] = [];
    const valNdcg: number[] = [];
    val.testUsers.forEach((u, b) => {
      const history = rowOf(val.history, u);
      valConf.push(userConfidence(valModel, val.train, { user: val.testUserModelIndex[b]!, history }));
      valNdcg.push(ndcgAt(valScored.lists[b]!, rowOf(val.test, u), k) ?? 0);
      ctx.onProgress?.('validation confidence', b + 1, val.testUsers.length);
    });
    const fitted = fitConfidenceWeights(valConf, valNdcg, 0.2);
    const weights = fitted.weights;
    // 4. confidence and ndcg per test user
    const users = split.testUsers;
    const conf: UserConfidence[] = [];
    const ndcg: number[] = [];
    users.forEach((u, b) => {
      const history = rowOf(split.history, u);
      conf.push(userConfidence(model, split.train, { user: split.testUserModelIndex[b]!, history }, { weights }));
      ndcg.push(ndcgAt(scored.lists[b]!, rowOf(split.test, u), k) ?? 0);
      ctx.onProgress?.('confidence', b + 1, users.length);
    });
    // the equal-weight confidence on test, for comparison
    const equal = conf.map((c) => reweighConfidence(c, EQUAL_WEIGHTS));
    const equalOrder = Array.from(users.keys()).sort((a, b) => equal[b]! - equal[a]! || a - b);
    const equalTop20 = equalOrder.slice(0, Math.max(1, Math.round(0.2 * equalOrder.length))).reduce((a, i) => a + ndcg[i]!, 0) / Math.max(1, Math.round(0.2 * equalOrder.length));
    const order = Array.from(users.keys()).sort((a, b) => conf[b]!.confidence - conf[a]!.confidence || a - b);
    const xs = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const allMean = ndcg.reduce((a, b) => a + b, 0) / Math.max(1, ndcg.length);
    const selective = xs.map((x) => {
      const n = Math.max(1, Math.round((x / 100) * order.length));
      const vals = order.slice(0, n).map((i) => ndcg[i]!);
      const boot = bootstrapCI(vals, { seed: new Rng(ctx.seed).derive('selective', x).nextU32(), resamples: 1000 });
      return { x, users: n, mean: boot.mean, ci: boot.ci };
    });
    const top20 = selective[1]!;
    // joint bootstrap of (top-20% mean - all mean): users resampled, the top 20% re-chosen in each sample
    const jointRng = new Rng(ctx.seed).derive('top20-joint');
    const diffs = new Float64Array(1000);
    for (let r = 0; r < diffs.length; r++) {
      const idx = Array.from({ length: users.length }, () => jointRng.int(users.length));
      idx.sort((a, b) => conf[b]!.confidence - conf[a]!.confidence || a - b);
      const n20 = Math.max(1, Math.round(0.2 * idx.length));
      let t = 0;
      let all = 0;
      for (let j = 0; j < idx.length; j++) {
        all += ndcg[idx[j]!]!;
        if (j < n20) t += ndcg[idx[j]!]!;
      }
      diffs[r] = t / n20 - all / idx.length;
    }
    diffs.sort();
    const jointCi: [number, number] = [diffs[24]!, diffs[974]!];
    // 4. profile swap: own personas vs the nearest twin's
    const own: number[] = [];
    const twin: number[] = [];
    users.forEach((u, b) => {
      const mu = split.testUserModelIndex[b]!;
      const history = rowOf(split.history, u);
      const t = nearestTwin(split.train, mu, history);
      if (t < 0 || model.personaCount(t) === 0) return;
      own.push(conf[b]!.confidence);
      twin.push(userConfidence(model, split.train, { vectors: model.personaVectors(t), k: model.personaCount(t), history }, { weights }).confidence);
    });
    const swap = pairedDifference(own, twin, { seed: ctx.seed });
    const ownHigher = own.filter((c, i) => c > twin[i]!).length;
    // 5. hedging for the least-confident 20% of the users
    const sortedConf = conf.map((c) => c.confidence).sort((a, b) => a - b);
    const threshold = sortedConf[Math.floor(0.2 * sortedConf.length)] ?? 0.5;
    const plain: number[] = [];
    const hedged: number[] = [];
    users.forEach((u, b) => {
      if (conf[b]!.confidence >= threshold) return;
      const history = rowOf(split.history, u);
      const personas = personasFor(model, split.testUserModelIndex[b]!, history);
      const { train } = split;
      const hedgeStage = { model, personas, confidence: conf[b]!, itemPopularity: train.itemPopularity, categories: train.categories, threshold };
      const h = select(scored.scores![b]!, { candidates: train.candidates, itemRanks: train.itemRanks, exclude: history }, { user: split.testUserModelIndex[b]!, history }, { k, hedge: hedgeStage });
      plain.push(ndcg[b]!);
      hedged.push(ndcgAt(h.list, rowOf(split.test, u), k) ?? 0);
    });
    const hedgeDiff = plain.length > 0 ? pairedDifference(hedged, plain, { seed: ctx.seed }) : null;
    // verdict
    const selectiveHolds = top20.mean > allMean && top20.ci[0] > allMean;
    const selectiveAhead = top20.mean > allMean;
    const eceHolds = rel.ece < 0.05;
    let verdict: Verdict;
    if (selectiveHolds && eceHolds) verdict = 'holds';
    else if ((selectiveAhead || selectiveHolds) && eceHolds) verdict = 'mixed';
    else if (selectiveHolds && !eceHolds) verdict = 'mixed';
    else verdict = 'does-not-hold';
    const f = (x: number, d = 4) => x.toFixed(d);
    const swapSentence =
      swap.n === 0
        ? 'no user had a twin'
        : swap.ci95[0] > 0
          ? `users get lower confidence with a near-twin's profile than with their own (own - twin ${f(swap.mean)}, 95% CI [${f(swap.ci95[0])}, ${f(swap.ci95[1])}], ${ownHigher}/${swap.n} users)`
          : `users do NOT reliably get lower confidence with a near-twin's profile (own - twin ${f(swap.mean)}, 95% CI [${f(swap.ci95[0])}, ${f(swap.ci95[1])}], ${ownHigher}/${swap.n} users)`;
    const verdictReason =
      `top 20% most-confident users ndcg@20 ${f(top20.mean)} (CI [${f(top20.ci[0])}, ${f(top20.ci[1])}]) vs all ${f(allMean)}, difference ${f(top20.mean - allMean)} (joint bootstrap CI [${f(jointCi[0])}, ${f(jointCi[1])}]) ` +
      `(factor weights fitted on validation: ${Object.entries(weights).map(([key, v]) => `${key} ${v}`).join(', ')}; equal weights give ${f(equalTop20)}); ` +
      `test ECE of the validation-fitted calibration ${f(rel.ece)} (${eceHolds ? '<' : '>='} 0.05); ${swapSentence}`;
    const table = [
      '| most-confident share | users | ndcg@20 | 95% CI |',
      '|---:|---:|---:|---|',
      ...selective.map((s) => `| ${s.x}% | ${s.users} | ${f(s.mean)} | [${f(s.ci[0])}, ${f(s.ci[1])}] |`),
      '',
      '| calibration bin | items | mean predicted | observed |',
      '|---|---:|---:|---:|',
      ...rel.bins.filter((b) => b.count > 0).map((b) => `| ${b.lo.toFixed(1)}-${b.hi.toFixed(1)} | ${b.count} | ${f(b.meanPredicted)} | ${f(b.observed)} |`),
      '',
      `ECE test ${f(rel.ece)} (validation ${f(relVal.ece)}; uncalibrated softmax probabilities ${f(rawRel.ece)})`,
      `profile swap: ${swapSentence}`,
      hedgeDiff
        ? `hedging (the ${plain.length} least-confident users, confidence below ${threshold.toFixed(3)}): ndcg@20 hedged ${f(hedged.reduce((a, b) => a + b, 0) / hedged.length)} vs plain ${f(plain.reduce((a, b) => a + b, 0) / plain.length)} (diff ${f(hedgeDiff.mean)}, CI [${f(hedgeDiff.ci95[0])}, ${f(hedgeDiff.ci95[1])}])`
        : `hedging: no user below confidence ${threshold}`,
    ].join('\n');
    const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
    return {
      study: 'confidence',
      claim: confidenceStudy.claim,
      verdict,
      verdictReason,
      data: dataLabel,
      results: {
        protocol: split.protocol,
        users: users.length,
        selectiveAccuracy: {
          metric: 'ndcg@20',
          coverage: xs,
          'ndcg@20': selective.map((s) => roundOrNull(s.mean)),
          ci95: selective.map((s) => [roundOrNull(s.ci[0]), roundOrNull(s.ci[1])]),
          all: roundOrNull(allMean),
          top20: roundOrNull(top20.mean),
          top20MinusAll: { mean: roundOrNull(top20.mean - allMean), ci95JointBootstrap: [roundOrNull(jointCi[0]), roundOrNull(jointCi[1])] },
        },
        calibration: {
          method: 'isotonic on the item log-probability, fitted on the validation split',
          eceTest: roundOrNull(rel.ece),
          eceValidation: roundOrNull(relVal.ece),
          eceUncalibrated: roundOrNull(rawRel.ece),
          items: testOut.x.length,
          bins: rel.bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, meanPredicted: roundOrNull(b.meanPredicted), observed: roundOrNull(b.observed) })),
          calibrator: { knots: calibrator.xs.length },
        },
        confidence: {
          weights,
          weightsFittedOn: 'validation users: the exponents in {0, 1, 2} maximising the top-20% mean ndcg@20',
          validationTop20: roundOrNull(fitted.topMean),
          equalWeightsTop20: roundOrNull(equalTop20),
          mean: roundOrNull(mean(conf.map((c) => c.confidence))),
          historyFactor: roundOrNull(mean(conf.map((c) => c.historyFactor))),
          ambiguity: roundOrNull(mean(conf.map((c) => c.ambiguity))),
          spread: roundOrNull(mean(conf.map((c) => c.spread))),
          fit: roundOrNull(mean(conf.map((c) => c.fit))),
          evidence: roundOrNull(mean(conf.map((c) => c.evidence))),
        },
        profileSwap: {
          users: swap.n,
          ownMean: roundOrNull(mean(own)),
          twinMean: roundOrNull(mean(twin)),
          ownMinusTwin: { mean: roundOrNull(swap.mean), ci95: [roundOrNull(swap.ci95[0]), roundOrNull(swap.ci95[1])], pValue: swap.pValue },
          ownHigherShare: swap.n > 0 ? roundOrNull(ownHigher / swap.n) : null,
          lowerWithTwin: swap.n > 0 && swap.ci95[0] > 0,
        },
        hedging: {
          threshold,
          users: plain.length,
          plain: roundOrNull(mean(plain)),
          hedged: roundOrNull(mean(hedged)),
          hedgedMinusPlain: hedgeDiff ? { mean: roundOrNull(hedgeDiff.mean), ci95: [roundOrNull(hedgeDiff.ci95[0]), roundOrNull(hedgeDiff.ci95[1])] } : null,
        },
      },
      table,
      charts: [
        {
          title: 'Selective accuracy: ndcg@20 of the most-confident x% of users',
          kind: 'line',
          x: xs,
          xLabel: 'most-confident share of users (%)',
          yLabel: 'ndcg@20',
          series: [
            { name: 'most confident x%', y: selective.map((s) => roundOrNull(s.mean)), ci: selective.map((s) => [roundOrNull(s.ci[0]) ?? 0, roundOrNull(s.ci[1]) ?? 0] as [number, number]) },
            { name: 'all users', y: xs.map(() => roundOrNull(allMean)) },
          ],
        },
        {
          title: `Reliability of the calibrated item probabilities on test (ECE ${f(rel.ece)})`,
          kind: 'line',
          x: rel.bins.map((b) => roundOrNull((b.lo + b.hi) / 2, 2) ?? 0),
          xLabel: 'predicted probability (bin centre)',
          yLabel: 'observed relevance rate',
          series: [
            { name: 'observed', y: rel.bins.map((b) => (b.count > 0 ? roundOrNull(b.observed) : null)) },
            { name: 'mean predicted', y: rel.bins.map((b) => (b.count > 0 ? roundOrNull(b.meanPredicted) : null)) },
            { name: 'perfect', y: rel.bins.map((b) => roundOrNull((b.lo + b.hi) / 2, 2)) },
          ],
        },
      ],
    };
  },
};
