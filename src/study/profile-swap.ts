/**
 * `personae study profile-swap`: which profile errors hurt most? Each test user's history is
 * replaced by another user's, the one at similarity rank r (cosine of the binary training rows;
 * r = 1 is the most similar other user), or a random user's; a single-vector model (iALS) folds
 * the wrong profile in and ranks. We chart the harm against the user's own test items (ndcg@20
 * lost) and own taste mix (ckl@20 gained), relative to the user's own profile folded in the same
 * way. The product claim under test: near-identical profiles do the most damage. A near twin's
 * list is close to the user's own, so the harm may well be smallest there; the verdict says what
 * the numbers say.
 */
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { evaluateLists } from '../eval/evaluate.js';
import { summarise } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { ListPipeline } from '../rank/pipeline.js';
import type { Recommender } from '../models/model.js';
import { fitModel, fmt, markdownTable, paired, STUDY_RESAMPLES, studyData } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const K = 20;
const RANKS = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000];

/** For each test user: training users ordered by cosine similarity of the binary train rows (most similar first, self excluded). */
function similarityOrder(split: Split, maxRank: number): Int32Array[] {
  const { userItems, itemUsers, nUsers } = split.train;
  const overlap = new Float64Array(nUsers);
  const touched: number[] = [];
  const len = (u: number): number => userItems.indptr[u + 1]! - userItems.indptr[u]!;
  const out: Int32Array[] = [];
  const all: number[] = [];
  for (let v = 0; v < nUsers; v++) if (len(v) > 0) all.push(v);
  for (const u of split.testUsers) {
    const hist = rowOf(split.history, u);
    for (const i of hist) {
      for (let e = itemUsers.indptr[i]!; e < itemUsers.indptr[i + 1]!; e++) {
        const v = itemUsers.indices[e]!;
        if (overlap[v] === 0) touched.push(v);
        overlap[v]! += 1;
      }
    }
    const h = Math.max(1, hist.length);
    const sim = (v: number): number => (overlap[v]! === 0 ? 0 : overlap[v]! / Math.sqrt(h * len(v)));
    // candidates: every training user but u; users with no overlap follow in index order
    const scored = touched.filter((v) => v !== u).sort((a, b) => sim(b) - sim(a) || a - b);
    const order = scored.slice(0, maxRank);
    if (order.length < maxRank) {
      for (const v of all) {
        if (order.length >= maxRank) break;
        if (v !== u && overlap[v] === 0) order.push(v);
      }
    }
    out.push(Int32Array.from(order));
    for (const v of touched) overlap[v] = 0;
    touched.length = 0;
  }
  return out;
}

/** Top-K lists when test user b is scored from `profiles[b]` as an unknown user (fold-in). */
function rankWithProfiles(model: Recommender, split: Split, profiles: readonly Int32Array[], k: number): Int32Array[] {
  const nItems = split.train.nItems;
  const batchSize = 128;
  const pipeline = new ListPipeline({ k });
  const { candidates, itemRanks } = split.train;
  const lists: Int32Array[] = [];
  const scores = new Float32Array(batchSize * nItems);
  for (let start = 0; start < profiles.length; start += batchSize) {
    const end = Math.min(profiles.length, start + batchSize);
    const indptr = new Int32Array(end - start + 1);
    for (let b = start; b < end; b++) indptr[b - start + 1] = indptr[b - start]! + profiles[b]!.length;
    const items = new Int32Array(indptr[end - start]!);
    for (let b = start; b < end; b++) items.set(profiles[b]!, indptr[b - start]!);
    model.scoreBatch({ users: new Int32Array(end - start).fill(-1), indptr, items }, scores);
    for (let b = start; b < end; b++) {
      const row = scores.subarray((b - start) * nItems, (b - start + 1) * nItems);
      // the system believes the profile: its items count as seen and are not recommended
      lists.push(pipeline.select(row, { candidates, itemRanks, exclude: profiles[b]! }, { user: -1, history: profiles[b]! }).list);
    }
  }
  return lists;
}

export interface SwapPoint {
  rank: number | 'random';
  /** Per test user: own-profile ndcg minus swapped ndcg (harm), swapped ckl minus own ckl. */
  ndcgLoss: (number | null)[];
  cklGain: (number | null)[];
}

export interface SwapVerdict {
  verdict: Verdict;
  reason: string;
  mostHarmful: number | 'random';
}

/** Holds when the nearest profile (r = 1) harms accuracy more than a random one (paired interval); does not hold when it harms less. */
export function profileSwapVerdict(points: readonly SwapPoint[], seed: number): SwapVerdict {
  const near = points.find((p) => p.rank === 1)!;
  const rand = points.find((p) => p.rank === 'random')!;
  const d = paired(near.ndcgLoss, rand.ndcgLoss, seed);
  const c = paired(near.cklGain, rand.cklGain, seed);
  const means = points.map((p) => summarise(p.ndcgLoss, seed, 1).mean ?? -Infinity);
  const worst = points[means.indexOf(Math.max(...means))]!.rank;
  const accuracy = d.ci95[0] > 0 ? 'more' : d.ci95[1] < 0 ? 'less' : 'not measurably more or less';
  const calib = c.ci95[0] > 0 ? 'more' : c.ci95[1] < 0 ? 'less' : 'not measurably more or less';
  const verdict: Verdict = d.ci95[0] > 0 && c.ci95[1] >= 0 ? 'holds' : d.ci95[1] < 0 && c.ci95[0] <= 0 ? 'does-not-hold' : 'mixed';
  const reason =
    `the most similar profile (r = 1) costs ${accuracy} accuracy than a random one (ndcg@${K} loss r=1 minus random: ${fmt(d.mean)} [${fmt(d.ci95[0])}, ${fmt(d.ci95[1])}]) ` +
    `and ${calib} calibration (ckl@${K} gain r=1 minus random: ${fmt(c.mean)} [${fmt(c.ci95[0])}, ${fmt(c.ci95[1])}]); ` +
    `the largest mean ndcg@${K} loss is at ${worst === 'random' ? 'a random profile' : `rank ${worst}`}`;
  return { verdict, reason: reason + '.', mostHarmful: worst };
}

export const profileSwapStudy: Study = {
  name: 'profile-swap',
  claim: `The most harmful profile errors come from near-identical profiles: serving a user with the most similar other user's history hurts accuracy (ndcg@${K}) and calibration (ckl@${K}) more than a less similar or random one.`,
  async run(ctx: StudyContext) {
    const data = studyData(ctx);
    const { split } = data;
    const nTrainUsers = split.stats.trainUsers;
    const ranks = RANKS.filter((r) => r < nTrainUsers - 1);
    ctx.onProgress?.('profile-swap: ials', 0, 1);
    const model = await fitModel('ials', split, ctx);
    ctx.onProgress?.('profile-swap: similarity', 0, 1);
    const orders = similarityOrder(split, Math.max(...ranks));
    const own = split.testUsers.length ? Array.from(split.testUsers, (u) => rowOf(split.history, u)) : [];
    const ownEval = evaluateLists(split, rankWithProfiles(model, split, own, K), [K], ctx.seed);
    const ownNdcg = ownEval.perUser[`ndcg@${K}`]!;
    const ownCkl = ownEval.perUser[`ckl@${K}`]!;
    const rng = new Rng(ctx.seed).derive('profile-swap-random');
    const trainUsers: number[] = [];
    for (let v = 0; v < split.train.nUsers; v++) if (rowOf(split.train.userItems, v).length > 0) trainUsers.push(v);
    const randomOther = Array.from(split.testUsers, (u) => {
      for (;;) {
        const v = trainUsers[rng.int(trainUsers.length)]!;
        if (v !== u || trainUsers.length === 1) return v;
      }
    });
    const points: SwapPoint[] = [];
    const meanSim: (number | null)[] = [];
    const settings: (number | 'random')[] = [...ranks, 'random'];
    for (const r of settings) {
      ctx.onProgress?.('profile-swap: ranks', points.length, settings.length);
      const others = Array.from(split.testUsers, (_, pos) => (r === 'random' ? randomOther[pos]! : (orders[pos]![r - 1] ?? randomOther[pos]!)));
      const profiles = others.map((v) => rowOf(split.train.userItems, v));
      // similarity of the swapped profile to the user's own (cosine of binary rows)
      let simSum = 0;
      split.testUsers.forEach((u, pos) => {
        const a = own[pos]!;
        const b = profiles[pos]!;
        const set = new Set(a);
        let o = 0;
        for (const i of b) if (set.has(i)) o++;
        simSum += a.length && b.length ? o / Math.sqrt(a.length * b.length) : 0;
      });
      meanSim.push(split.testUsers.length ? simSum / split.testUsers.length : null);
      const e = evaluateLists(split, rankWithProfiles(model, split, profiles, K), [K], ctx.seed);
      const nd = e.perUser[`ndcg@${K}`]!;
      const ck = e.perUser[`ckl@${K}`]!;
      points.push({
        rank: r,
        ndcgLoss: nd.map((v, i) => (v === null || ownNdcg[i] === null ? null : ownNdcg[i]! - v)),
        cklGain: ck.map((v, i) => (v === null || ownCkl[i] === null ? null : v - ownCkl[i]!)),
      });
    }
    const v = profileSwapVerdict(points, ctx.seed);
    const ownN = summarise(ownNdcg, ctx.seed, STUDY_RESAMPLES);
    const ownC = summarise(ownCkl, ctx.seed, STUDY_RESAMPLES);
    const rows = points.map((p, j) => ({ rank: p.rank, similarity: meanSim[j]!, ndcgLoss: summarise(p.ndcgLoss, ctx.seed, STUDY_RESAMPLES), cklGain: summarise(p.cklGain, ctx.seed, STUDY_RESAMPLES) }));
    const ci = (s: { mean: number | null; ci95: [number, number] | null }): string => (s.mean === null ? 'n/a' : `${fmt(s.mean)} [${fmt(s.ci95![0])}, ${fmt(s.ci95![1])}]`);
    const table =
      `own profile (folded in): ndcg@${K} ${ci(ownN)}, ckl@${K} ${ci(ownC)}\n\n` +
      markdownTable(
        ['similarity rank of the swapped profile', 'mean cosine to own profile', `ndcg@${K} lost`, `ckl@${K} gained`],
        rows.map((r) => [String(r.rank), fmt(r.similarity), ci(r.ndcgLoss), ci(r.cklGain)]),
      );
    const x = rows.map((r) => String(r.rank));
    const charts: StudyChart[] = [
      {
        title: `harm to accuracy: ndcg@${K} lost vs similarity rank of the swapped profile`,
        kind: 'line',
        x,
        xLabel: 'similarity rank r (1 = most similar other user)',
        yLabel: `ndcg@${K} lost`,
        series: [{ name: 'ials', y: rows.map((r) => r.ndcgLoss.mean), ci: rows.map((r) => r.ndcgLoss.ci95) }],
      },
      {
        title: `harm to calibration: ckl@${K} gained vs similarity rank`,
        kind: 'line',
        x,
        xLabel: 'similarity rank r (1 = most similar other user)',
        yLabel: `ckl@${K} gained`,
        series: [{ name: 'ials', y: rows.map((r) => r.cklGain.mean), ci: rows.map((r) => r.cklGain.ci95) }],
      },
    ];
    return {
      study: 'profile-swap',
      claim: profileSwapStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: data.label,
      results: { k: K, model: 'ials', own: { [`ndcg@${K}`]: ownN, [`ckl@${K}`]: ownC }, mostHarmful: v.mostHarmful, ranks: rows },
      table,
      charts,
    };
  },
};
