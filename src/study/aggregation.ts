/**
 * `personae study aggregation`: the aggregation dilemma, one level down. On a population of two
 * opposed groups plus bridging users who hold both sides (the `split:51/49,bridge:0.15` world: what
 * one group loves on the contested items the other dislikes; a bridging user's dominant persona
 * takes one side, their minority persona the other), a global model under-serves the 49%, and one
 * vector or one static cluster per user under-serves the bridging users on their minority side,
 * while personas serve all three groups. We measure hit@10 per group, and per bridging user hit@10
 * and the share of the list's hits on each side, for a global popularity model, per-cluster
 * popularity models (k-means on the unit-length iALS user vectors, k = 2..8), two one-vector models
 * (iALS and the persona model with one persona, `personas` with k = 1), and personas; each with and
 * without calibration (`calibrated:0.5`; one scoring pass per model gives both lists). The persona
 * fits use a sampled training softmax (`AGGREGATION_PERSONA_PARAMS`). The verdict is `bridgingVerdict` (src/study/bridging.ts);
 * the two-group verdict of the plain 51/49 claim (`aggregationVerdict`) is reported beside it.
 *
 * The world's seed is the study's --seed (default 42, the default world), so other seeds replicate
 * the study on other worlds. On a user's dataset there are no planted groups: the two groups are the
 * 2-means clusters of the unit-length iALS user vectors (the larger one plays the majority), and
 * bridging users and item sides are proxies (`proxySides`), said so in the output.
 */
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { summarise } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import type { ModelArtifact, ModelParams, Recommender, UserBatch } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { fitModel, fmt, markdownTable, paired, rerankerFor, scoreModelMany, STUDY_RESAMPLES, studyData, subset, type ListScores } from './common.js';
import { kmeans, nearestCentroid } from '../math/kmeans.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';
import { bridgingVerdict, GROUP_BRIDGE, plantedSides, proxySides, sideHits, type BridgeRole, type BridgeRow, type SideHits, type TestSides } from './bridging.js';

/** The world of the study: the default world with two opposed groups and 15% bridging users. */
export const AGGREGATION_POPULATION = 'split:51/49,bridge:0.15';

/**
 * The persona fits' training softmax: sampled (the model's 500 shared negatives per batch, logQ
 * correction) instead of the exact softmax over the 2,000 candidates that the default world would
 * get. It cuts the two persona fits, most of the study's CPU time, about threefold; on the default
 * world (seed 42) the plain persona rows' hit@10 per group moves by at most 0.006 (calibrated rows
 * by up to 0.023, on the 395 bridging users) and the verdict is the same (docs/studies.md). Both
 * persona rows (personas, personas:k=1) use it; the JSON says so (`results.personaParams`).
 */
export const AGGREGATION_PERSONA_PARAMS: ModelParams = { fullSoftmax: 0 };
const K = 10;
const LAMBDA = 0.5;
const KS = [2, 3, 4, 5, 6, 7, 8];
/** A group is served well by a model when its hit@10 is at least this share of the best any model reaches for it. */
export const SERVED_WELL = 0.8;

/** Popularity counted inside each user's cluster (a per-cluster "global" model). */
class ClusterPop implements Recommender {
  readonly name: string;
  readonly params: ModelParams;
  private scores: Float32Array[] = [];
  private nItems = 0;
  constructor(
    private readonly userCluster: Int32Array,
    private readonly k: number,
    private readonly clusterOf: (history: Int32Array) => number,
  ) {
    this.name = `clusters-pop:${k}`;
    this.params = { k };
  }
  async fit(train: TrainSet): Promise<void> {
    this.nItems = train.nItems;
    this.scores = Array.from({ length: this.k }, () => new Float32Array(train.nItems));
    const ui = train.userItems;
    for (let u = 0; u < train.nUsers; u++) {
      const c = this.userCluster[u]!;
      if (c < 0) continue;
      const s = this.scores[c]!;
      for (let e = ui.indptr[u]!; e < ui.indptr[u + 1]!; e++) s[ui.indices[e]!]! += 1;
    }
    // ties inside a cluster go to the globally more popular item
    for (const s of this.scores) for (let i = 0; i < s.length; i++) s[i]! += train.itemPopularity[i]! * 1e-6;
  }
  scoreBatch(batch: UserBatch, out: Float32Array): void {
    for (let b = 0; b < batch.users.length; b++) {
      const u = batch.users[b]!;
      let c = u >= 0 ? this.userCluster[u]! : -1;
      if (c < 0) c = this.clusterOf(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!));
      out.set(this.scores[c]!, b * this.nItems);
    }
  }
  toArtifact(): ModelArtifact {
    return { kind: 'clusters-pop', version: 1, config: this.params, arrays: {} };
  }
}

export interface GroupRow {
  name: string;
  calibrated: boolean;
  /** Per test user hit@10 (test-user order). */
  hits: (number | null)[];
}

export interface AggregationVerdict {
  verdict: Verdict;
  reason: string;
  served: Record<string, { A: number | null; B: number | null; servesA: boolean; servesB: boolean }>;
  checks: { globalUnderservesMinority: boolean; minorityDisadvantaged: boolean; personasServesBoth: boolean; clustersBeatGlobal: boolean; calibrationHelpsClusters: boolean; singleVectorServesBoth: boolean };
}

/**
 * The verdict from per-user hit@10 and the group of each test user (0 = majority A, 1 = minority B).
 * `global` is the popularity row, `personas` the persona row, `clusters` the per-cluster rows.
 */
export function aggregationVerdict(rows: readonly GroupRow[], group: Int8Array, seed: number): AggregationVerdict {
  const inA = (pos: number): boolean => group[pos] === 0;
  const inB = (pos: number): boolean => group[pos] === 1;
  const m = (v: (number | null)[], keep: (p: number) => boolean): number | null => summarise(subset(v, keep), seed, 1).mean;
  const bestA = Math.max(...rows.map((r) => m(r.hits, inA) ?? 0));
  const bestB = Math.max(...rows.map((r) => m(r.hits, inB) ?? 0));
  const served: AggregationVerdict['served'] = {};
  for (const r of rows) {
    const a = m(r.hits, inA);
    const b = m(r.hits, inB);
    served[r.calibrated ? `${r.name} + calibrated` : r.name] = { A: a, B: b, servesA: a !== null && a >= SERVED_WELL * bestA, servesB: b !== null && b >= SERVED_WELL * bestB };
  }
  const find = (name: string): GroupRow => rows.find((r) => r.name === name && !r.calibrated)!;
  const pop = find('pop');
  const personas = find('personas');
  // the global model under-serves B: B is not served well, and personas beats it on B (paired interval)
  const popVsPersonasB = paired(subset(personas.hits, inB), subset(pop.hits, inB), seed);
  const globalUnderservesMinority = !served.pop!.servesB && popVsPersonasB.ci95[0] > 0;
  const personasServesBoth = served.personas!.servesA && served.personas!.servesB;
  const clusterRows = rows.filter((r) => r.name.startsWith('clusters-pop:') && !r.calibrated);
  const bestCluster = clusterRows.reduce((best, r) => ((m(r.hits, inB) ?? 0) > (m(best.hits, inB) ?? 0) ? r : best), clusterRows[0]!);
  const clusterVsPopB = paired(subset(bestCluster.hits, inB), subset(pop.hits, inB), seed);
  const clustersBeatGlobal = clusterVsPopB.ci95[0] > 0;
  const calCluster = rows.find((r) => r.name === bestCluster.name && r.calibrated);
  const calDiff = calCluster ? paired(calCluster.hits, bestCluster.hits, seed) : null;
  const calibrationHelpsClusters = calDiff !== null && calDiff.ci95[0] > 0;
  // is B worse off than A under the global model? (difference of the two group means, normal interval from the bootstrap intervals)
  const sa = summarise(subset(pop.hits, inA), seed, STUDY_RESAMPLES);
  const sb = summarise(subset(pop.hits, inB), seed, STUDY_RESAMPLES);
  const se = (x: typeof sa): number => (x.ci95 ? (x.ci95[1] - x.ci95[0]) / 3.92 : 0);
  const gap = (sa.mean ?? 0) - (sb.mean ?? 0);
  const gapHalf = 1.96 * Math.sqrt(se(sa) ** 2 + se(sb) ** 2);
  const minorityDisadvantaged = gap - gapHalf > 0;
  const mf = rows.find((r) => !r.calibrated && (r.name === 'ials' || r.name === 'bpr'));
  const mfServesBoth = mf ? served[mf.name]!.servesA && served[mf.name]!.servesB : false;
  const checks = { globalUnderservesMinority, minorityDisadvantaged, personasServesBoth, clustersBeatGlobal, calibrationHelpsClusters, singleVectorServesBoth: mfServesBoth };
  const reason = [
    `"served well" = a group's hit@${K} at least ${SERVED_WELL} x the best any model reaches for that group (A ${fmt(bestA)}, B ${fmt(bestB)})`,
    `global pop: A ${fmt(served.pop!.A)}, B ${fmt(served.pop!.B)}; personas beats it on B by ${fmt(popVsPersonasB.mean)} [${fmt(popVsPersonasB.ci95[0])}, ${fmt(popVsPersonasB.ci95[1])}] -> the global model ${globalUnderservesMinority ? 'leaves' : 'does not leave'} group B poorly served`,
    `personas: A ${fmt(served.personas!.A)}, B ${fmt(served.personas!.B)} -> ${personasServesBoth ? 'serves both groups' : 'does not serve both groups well'}`,
    `best per-cluster model on B (${bestCluster.name}) vs pop on B: ${fmt(clusterVsPopB.mean)} [${fmt(clusterVsPopB.ci95[0])}, ${fmt(clusterVsPopB.ci95[1])}] (${clustersBeatGlobal ? 'better' : 'not clearly better'})`,
    `global pop, group A minus group B: ${fmt(gap)} [${fmt(gap - gapHalf)}, ${fmt(gap + gapHalf)}] -> ${minorityDisadvantaged ? 'the 49% are served worse than the 51%' : 'the 49% are not served worse than the 51% (the global model fails everyone alike: the cost of one non-personal ranking, not a majority bias)'}`,
    mf ? `single-vector ${mf.name}: A ${fmt(served[mf.name]!.A)}, B ${fmt(served[mf.name]!.B)} (${mfServesBoth ? 'also serves both groups' : 'does not serve both groups'})` : 'no single-vector row',
    calDiff ? `calibration on ${bestCluster.name} changes hit@${K} by ${fmt(calDiff.mean)} [${fmt(calDiff.ci95[0])}, ${fmt(calDiff.ci95[1])}] (${calibrationHelpsClusters ? 'a guardrail that helps' : 'no measurable help as a guardrail on hit@10'})` : 'no calibrated cluster row',
  ];
  const verdict: Verdict =
    globalUnderservesMinority && minorityDisadvantaged && personasServesBoth && clustersBeatGlobal ? 'holds' : !globalUnderservesMinority && !personasServesBoth ? 'does-not-hold' : 'mixed';
  return { verdict, reason: reason.join('; ') + '.', served, checks };
}

/**
 * Unit-length copy of a vector: clusters follow taste directions, not activity (raw iALS norms grow
 * with activity, and 2-means on them splits off a handful of heavy users).
 */
function normalized(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n > 0 ? v.map((x) => x / n) : Float32Array.from(v);
}

/** ials user vectors (unit length) of the training users with rows. */
function userVectors(model: Recommender, split: Split): { vectors: Float32Array; dim: number; users: Int32Array } {
  const art = model.toArtifact();
  const uf = art.arrays.userFactors as Float32Array;
  const dim = Number(art.config.factors);
  const users: number[] = [];
  for (let u = 0; u < split.train.nUsers; u++) if (rowOf(split.train.userItems, u).length > 0) users.push(u);
  const vectors = new Float32Array(users.length * dim);
  users.forEach((u, j) => vectors.set(normalized(uf.subarray(u * dim, (u + 1) * dim)), j * dim));
  return { vectors, dim, users: Int32Array.from(users) };
}

export const aggregationStudy: Study = {
  name: 'aggregation',
  claim:
    `A global model under-serves the 49% of a 51/49 population; one vector or one static cluster per user recreates the problem one level down, under-serving users who hold both sides on their minority side (hit@${K}); ` +
    'personas serve both groups and the bridging users.',
  async run(ctx: StudyContext) {
    const data = studyData(ctx, { population: AGGREGATION_POPULATION, seed: ctx.seed });
    const { split } = data;
    const ks = [K];
    ctx.onProgress?.('aggregation: ials', 0, 1);
    const ials = await fitModel('ials', split, ctx);
    const { vectors, dim, users } = userVectors(ials, split);
    const foldInRaw = (ials as unknown as { foldIn(items: Int32Array): Float32Array }).foldIn.bind(ials);
    const foldIn = (items: Int32Array): Float32Array => normalized(foldInRaw(items));
    // the group of each test user: 0 = A, 1 = B, 2 = bridging
    let group: Int8Array = new Int8Array(split.testUsers.length).fill(-1);
    let groupsNote: string;
    let sides: TestSides;
    if (data.truth) {
      split.testUsers.forEach((u, pos) => (group[pos] = data.truth!.userGroup[u]!));
      sides = plantedSides(split, data.truth);
      // what the global model sees: among the 100 most popular training items, how many are contested, and for whom
      const top = Array.from(split.train.candidates).sort((a, b) => split.train.itemPopularity[b]! - split.train.itemPopularity[a]! || a - b).slice(0, 100);
      const lovedA = top.filter((i) => data.truth!.itemPolarity[i] === 1).length;
      const lovedB = top.filter((i) => data.truth!.itemPolarity[i] === -1).length;
      groupsNote = `planted groups A (51%), B (49%) and 15% bridging users; the 100 most popular training items hold ${lovedA} items loved by A and ${lovedB} loved by B`;
    } else {
      const km = kmeans(vectors, users.length, dim, 2, new Rng(ctx.seed).derive('aggregation-groups'));
      const sizes = [0, 0];
      for (const c of km.assign) sizes[c]!++;
      const major = sizes[0]! >= sizes[1]! ? 0 : 1;
      const userGroup = new Int8Array(split.train.nUsers).fill(-1);
      users.forEach((u, j) => (userGroup[u] = km.assign[j] === major ? 0 : 1));
      split.testUsers.forEach((u, pos) => {
        const g = userGroup[u]!;
        group[pos] = g >= 0 ? g : nearestCentroid(foldIn(rowOf(split.history, u)), km.centroids, dim) === major ? 0 : 1;
      });
      const proxy = proxySides(split, userGroup, group);
      group = proxy.group;
      sides = proxy.sides;
      groupsNote =
        `no planted groups in the data: A/B are the 2-means clusters of the unit-length iALS user vectors (${Math.max(...sizes)} / ${Math.min(...sizes)} users); ` +
        `proxy sides: an item's side is the cluster consuming it at least 2x more per member, and a test user bridges when each side holds at least 30% of their sided history items`;
    }
    const models: { name: string; role: BridgeRole; model: Recommender }[] = [];
    models.push({ name: 'pop', role: 'global', model: await fitModel('pop', split, ctx) });
    for (const k of KS) {
      const km = kmeans(vectors, users.length, dim, k, new Rng(ctx.seed).derive('aggregation-kmeans', k));
      const userCluster = new Int32Array(split.train.nUsers).fill(-1);
      users.forEach((u, j) => (userCluster[u] = km.assign[j]!));
      const m = new ClusterPop(userCluster, k, (h) => nearestCentroid(foldIn(h), km.centroids, dim));
      await m.fit(split.train);
      models.push({ name: m.name, role: 'cluster', model: m });
    }
    models.push({ name: 'ials', role: 'one-vector', model: ials });
    ctx.onProgress?.('aggregation: personas:k=1', 0, 1);
    models.push({ name: 'personas:k=1', role: 'one-vector', model: await fitModel('personas', split, ctx, { ...AGGREGATION_PERSONA_PARAMS, k: 1 }, 'personas:k=1') });
    ctx.onProgress?.('aggregation: personas', 0, 1);
    models.push({ name: 'personas', role: 'personas', model: await fitModel('personas', split, ctx, AGGREGATION_PERSONA_PARAMS) });
    const rows: GroupRow[] = [];
    const bridgeRows: BridgeRow[] = [];
    const side: Record<string, SideHits> = {};
    for (const { name, role, model } of models) {
      ctx.onProgress?.('aggregation: rank', rows.length, models.length * 2);
      // one scoring pass gives the plain and the calibrated lists
      const [plain, cal] = scoreModelMany(model, split, ks, ctx.seed, [null, rerankerFor(`calibrated:${LAMBDA}:categories`, split, model)]) as [ListScores, ListScores];
      rows.push({ name, calibrated: false, hits: plain.perUser[`hit@${K}`]! });
      side[name] = sideHits(split, sides, plain.lists, K);
      bridgeRows.push({ name, role, hits: plain.perUser[`hit@${K}`]!, minorityHits: side[name]!.minorityHit });
      rows.push({ name, calibrated: true, hits: cal.perUser[`hit@${K}`]! });
      const calSide = sideHits(split, sides, cal.lists, K);
      side[`${name} + calibrated`] = calSide;
    }
    const v = bridgingVerdict(bridgeRows, group, ctx.seed, K);
    const twoGroup = aggregationVerdict(rows, group, ctx.seed);
    const inGroup = (g: number) => (p: number): boolean => group[p] === g;
    const inBridge = inGroup(GROUP_BRIDGE);
    const stats = rows.map((r) => {
      const sh = side[r.calibrated ? `${r.name} + calibrated` : r.name]!;
      return {
        model: r.name,
        calibrated: r.calibrated,
        all: summarise(r.hits, ctx.seed, STUDY_RESAMPLES),
        A: summarise(subset(r.hits, inGroup(0)), ctx.seed, STUDY_RESAMPLES),
        B: summarise(subset(r.hits, inGroup(1)), ctx.seed, STUDY_RESAMPLES),
        bridging: summarise(subset(r.hits, inBridge), ctx.seed, STUDY_RESAMPLES),
        bridgingMinority: summarise(subset(sh.minorityHit, inBridge), ctx.seed, STUDY_RESAMPLES),
        bridgingMajority: summarise(subset(sh.majorityHit, inBridge), ctx.seed, STUDY_RESAMPLES),
        minorityHitShare: summarise(subset(sh.minorityHitShare, inBridge), ctx.seed, STUDY_RESAMPLES),
        minorityHeldOutShare: summarise(subset(sh.minorityHeldOutShare, inBridge), ctx.seed, STUDY_RESAMPLES),
      };
    });
    const label = (s: { model: string; calibrated: boolean }): string => (s.calibrated ? `${s.model} + calibrated:${LAMBDA}` : s.model);
    const ci = (s: { mean: number | null; ci95: [number, number] | null }): string => (s.mean === null ? 'n/a' : s.ci95 ? `${fmt(s.mean)} [${fmt(s.ci95[0])}, ${fmt(s.ci95[1])}]` : fmt(s.mean));
    const table = markdownTable(
      ['model', `hit@${K} A (majority)`, `hit@${K} B (minority)`, `hit@${K} bridging`, 'bridging, minority side', 'bridging, majority side', 'minority share of hits / of held-out'],
      stats.map((s) => [
        label(s),
        ci(s.A),
        ci(s.B),
        ci(s.bridging),
        ci(s.bridgingMinority),
        fmt(s.bridgingMajority.mean),
        `${fmt(s.minorityHitShare.mean)} / ${fmt(s.minorityHeldOutShare.mean)}`,
      ]),
    );
    const n = (g: number): number => group.filter((x) => x === g).length;
    const plainStats = stats.filter((s) => !s.calibrated);
    const charts: StudyChart[] = [
      {
        title: `hit@${K} per group, without calibration (bridging minority side = hit@${K} on the held-out items of a bridging user's minority side)`,
        kind: 'bar',
        x: plainStats.map((s) => s.model),
        xLabel: 'model',
        yLabel: `hit@${K}`,
        series: (['A', 'B', 'bridging', 'bridgingMinority'] as const).map((g) => ({
          name: g === 'bridgingMinority' ? 'bridging, minority side' : g === 'bridging' ? 'bridging users' : `group ${g}`,
          y: plainStats.map((s) => s[g].mean),
          ci: plainStats.map((s) => s[g].ci95),
        })),
      },
      {
        title: "bridging users: share of the list's hits on their minority side, against the share of their held-out items there",
        kind: 'bar',
        x: plainStats.map((s) => s.model),
        xLabel: 'model',
        yLabel: 'minority-side share',
        series: [
          { name: 'share of hits', y: plainStats.map((s) => s.minorityHitShare.mean), ci: plainStats.map((s) => s.minorityHitShare.ci95) },
          { name: 'share of held-out items', y: plainStats.map((s) => s.minorityHeldOutShare.mean) },
        ],
      },
      {
        title: `per-cluster popularity: hit@${K} of each group vs k (k = 1 is the global model)`,
        kind: 'line',
        x: [1, ...KS],
        xLabel: 'clusters k',
        yLabel: `hit@${K}`,
        series: (['A', 'B', 'bridgingMinority'] as const).flatMap((g) =>
          [false, true].map((cal) => ({
            name: `${g === 'bridgingMinority' ? 'bridging, minority side' : `group ${g}`}${cal ? ' + calibrated' : ''}`,
            y: ['pop', ...KS.map((k) => `clusters-pop:${k}`)].map((nm) => stats.find((t) => t.model === nm && t.calibrated === cal)![g].mean),
          })),
        ),
      },
    ];
    // per bridging user: planted mix and the share of each model's hits on the minority side
    const bridgingUsers = Array.from(split.testUsers)
      .map((u, pos) => ({ u, pos }))
      .filter(({ pos }) => group[pos] === GROUP_BRIDGE)
      .map(({ u, pos }) => ({
        user: split.log.users.id(u),
        minoritySide: sides.minoritySide[pos] === 0 ? 'A' : 'B',
        plantedMinorityShare: sides.minorityShare[pos],
        heldOutMinorityShare: side.pop!.minorityHeldOutShare[pos],
        minorityHitShare: Object.fromEntries(models.map(({ name }) => [name, side[name]!.minorityHitShare[pos]])),
      }));
    return {
      study: 'aggregation',
      claim: aggregationStudy.claim,
      verdict: v.verdict,
      verdictReason: `${groupsNote}; ${v.reason} Two-group claim (no bridging users): ${twoGroup.verdict}: ${twoGroup.reason}`,
      data: data.label,
      results: {
        k: K,
        lambda: LAMBDA,
        servedWellThreshold: SERVED_WELL,
        personaParams: AGGREGATION_PERSONA_PARAMS,
        groups: groupsNote,
        testUsers: { A: n(0), B: n(1), bridging: n(GROUP_BRIDGE) },
        checks: v.checks,
        verdictTable: v.table,
        twoGroup: { verdict: twoGroup.verdict, reason: twoGroup.reason, checks: twoGroup.checks },
        models: stats,
        bridgingUsers,
      },
      table,
      charts,
    };
  },
};
