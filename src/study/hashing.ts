/**
 * `personae study hashing`: collision-free ID maps vs the hashing trick. Monolith (Liu et al.,
 * "Monolith: Real Time Recommendation System With Collisionless Embedding Table", 2022) reported
 * that hashing IDs into a fixed table costs model quality and argued for collisionless tables.
 * We simulate hashing by sending every user and every item through a seeded hash into a table of
 * f x (number of IDs) rows, f in 10%..100%, and merging colliding IDs' rows in the training set (a
 * bucket is the union of its IDs' histories); the model (iALS) is fitted on the buckets, every item
 * takes its bucket's score, and lists are scored on the original items. We report the collision
 * rates of head (the 20% most frequent) and tail IDs and the accuracy lost against the
 * collision-free run, overall and for head and tail users, with both sides hashed and with only
 * the users or only the items hashed. A hashed item shares its bucket's score: the bucket-mates of
 * the user's own history items inherit high scores, which is part of what a hashed system pays.
 */
import { columnCounts, csrFromPairs, rowOf, transpose } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { evaluateLists } from '../eval/evaluate.js';
import { summarise } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import type { Recommender } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { createModel } from '../models/registry.js';
import { ListPipeline } from '../rank/pipeline.js';
import { fmt, headMask, markdownTable, paired, STUDY_RESAMPLES, studyData, studyParams, subset, userActivity } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const K = 20;
const HEAD_SHARE = 0.2;
const FRACTIONS = [0.1, 0.2, 0.3, 0.5, 0.75, 1];
const QUICK_FRACTIONS = [0.2, 0.5, 1];
/** Head IDs "collide most" when their collision rate exceeds the tail's by more than this (absolute). */
export const COLLISION_MARGIN = 0.02;

/** A seeded hash of dense IDs 0..n-1 into a table of m buckets (one uniform draw per ID). */
export function hashIds(n: number, m: number, rng: Rng): Int32Array {
  const h = new Int32Array(n);
  for (let i = 0; i < n; i++) h[i] = rng.int(m);
  return h;
}

export interface CollisionStats {
  /** Share of IDs (among `ids`) whose bucket holds another ID of `ids`. */
  head: number;
  tail: number;
  all: number;
  /** Share of a bucket's training rows that belong to other IDs, mean over head / tail IDs. */
  headContamination: number;
  tailContamination: number;
  nHead: number;
  nTail: number;
}

/** Collision rates of the IDs in `ids` (with frequencies `freq`) under the bucket map `h`. */
export function collisionStats(ids: ArrayLike<number>, freq: ArrayLike<number>, h: Int32Array, m: number, head: Uint8Array): CollisionStats {
  const count = new Int32Array(m);
  const mass = new Float64Array(m);
  for (let j = 0; j < ids.length; j++) {
    const i = ids[j]!;
    count[h[i]!]!++;
    mass[h[i]!]! += freq[i]!;
  }
  const acc = { head: 0, tail: 0, hc: 0, tc: 0, nh: 0, nt: 0 };
  for (let j = 0; j < ids.length; j++) {
    const i = ids[j]!;
    const b = h[i]!;
    const collided = count[b]! > 1 ? 1 : 0;
    const contamination = mass[b]! > 0 ? (mass[b]! - freq[i]!) / mass[b]! : 0;
    if (head[i]) (acc.head += collided), (acc.hc += contamination), acc.nh++;
    else (acc.tail += collided), (acc.tc += contamination), acc.nt++;
  }
  return {
    head: acc.nh ? acc.head / acc.nh : 0,
    tail: acc.nt ? acc.tail / acc.nt : 0,
    all: ids.length ? (acc.head + acc.tail) / ids.length : 0,
    headContamination: acc.nh ? acc.hc / acc.nh : 0,
    tailContamination: acc.nt ? acc.tc / acc.nt : 0,
    nHead: acc.nh,
    nTail: acc.nt,
  };
}

/** The training set with users and items replaced by their buckets (colliding rows merged). */
function hashedTrainSet(train: TrainSet, hu: Int32Array, mu: number, hi: Int32Array, mi: number): TrainSet {
  const ui = train.userItems;
  const n = ui.indices.length;
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  for (let u = 0; u < train.nUsers; u++) {
    for (let e = ui.indptr[u]!; e < ui.indptr[u + 1]!; e++) {
      rows[e] = hu[u]!;
      cols[e] = hi[ui.indices[e]!]!;
    }
  }
  const userItems = csrFromPairs(mu, mi, rows, cols);
  const itemPopularity = columnCounts(userItems);
  const candidates: number[] = [];
  for (let b = 0; b < mi; b++) if (itemPopularity[b]! > 0) candidates.push(b);
  return {
    nUsers: mu,
    nItems: mi,
    userItems,
    itemUsers: transpose(userItems),
    itemPopularity,
    candidates: Int32Array.from(candidates),
    itemRanks: Int32Array.from({ length: mi }, (_, b) => b),
    categories: null,
  };
}

/** Lists on the original items: each item takes its bucket's score; ties by the original item order. */
function rankHashed(model: Recommender, split: Split, hu: Int32Array | null, hi: Int32Array | null, mi: number): Int32Array[] {
  const nItems = split.train.nItems;
  const pipeline = new ListPipeline({ k: K });
  const { candidates, itemRanks } = split.train;
  const bucketScores = new Float32Array(mi);
  const itemScores = new Float32Array(nItems);
  const lists: Int32Array[] = [];
  split.testUsers.forEach((u, pos) => {
    const history = rowOf(split.history, u);
    const modelUser = split.testUserModelIndex[pos]!;
    const mapped = hi ? Int32Array.from(history, (i) => hi[i]!) : history;
    const user = modelUser < 0 ? -1 : hu ? hu[modelUser]! : modelUser;
    model.scoreBatch({ users: Int32Array.of(user), indptr: Int32Array.of(0, mapped.length), items: mapped }, hi ? bucketScores : itemScores);
    if (hi) for (let i = 0; i < nItems; i++) itemScores[i] = bucketScores[hi[i]!]!;
    lists.push(pipeline.select(itemScores, { candidates, itemRanks, exclude: history }, { user, history }).list);
  });
  return lists;
}

/** Per-user recall@K restricted to the test items in `mask` (null without such test items). */
function maskedRecall(split: Split, lists: readonly Int32Array[], mask: Uint8Array): (number | null)[] {
  return Array.from(split.testUsers, (u, pos) => {
    const test = rowOf(split.test, u).filter((i) => mask[i] === 1);
    if (test.length === 0) return null;
    const set = new Set(test);
    let hits = 0;
    const l = lists[pos]!;
    for (let r = 0; r < Math.min(K, l.length); r++) if (set.has(l[r]!)) hits++;
    return hits / Math.min(K, test.length);
  });
}

export interface HashingPoint {
  fraction: number;
  users: CollisionStats;
  items: CollisionStats;
  /** Per test user ndcg@K (same order as the collision-free run). */
  ndcg: (number | null)[];
}

export interface HashingVerdict {
  verdict: Verdict;
  reason: string;
  checks: { headCollidesMore: boolean; accuracyLost: boolean };
}

/** Verdict at the largest table (f = 1, the mildest hashing) and across all fractions. */
export function hashingVerdict(base: (number | null)[], points: readonly HashingPoint[], seed: number): HashingVerdict {
  const full = points.reduce((a, b) => (b.fraction > a.fraction ? b : a));
  const loss = paired(base, full.ndcg, seed);
  const accuracyLost = loss.ci95[0] > 0;
  // "collides most on the frequent IDs": the head's collision rate above the tail's, at every table size
  const headCollidesMore = points.every((p) => p.users.head - p.users.tail > COLLISION_MARGIN && p.items.head - p.items.tail > COLLISION_MARGIN);
  const gaps = points.map((p) => `f=${p.fraction}: users ${fmt(p.users.head, 2)}/${fmt(p.users.tail, 2)}, items ${fmt(p.items.head, 2)}/${fmt(p.items.tail, 2)}`).join('; ');
  const reason =
    `collision rate head/tail (${gaps}); the head ${headCollidesMore ? 'collides more than the tail (by more than ' : 'does not collide more than the tail (margin '}${COLLISION_MARGIN}) at every table size` +
    ` -- a uniform hash collides regardless of frequency; ` +
    `at a table as large as the ID count (f = ${full.fraction}) ndcg@${K} drops by ${fmt(loss.mean, 4)} [${fmt(loss.ci95[0], 4)}, ${fmt(loss.ci95[1], 4)}] vs collision-free IDs (${accuracyLost ? 'a real loss' : 'no measurable loss'})`;
  const verdict: Verdict = headCollidesMore && accuracyLost ? 'holds' : !headCollidesMore && !accuracyLost ? 'does-not-hold' : 'mixed';
  return { verdict, reason: reason + '.', checks: { headCollidesMore, accuracyLost } };
}

export const hashingStudy: Study = {
  name: 'hashing',
  claim: 'Hashing IDs into a fixed table collides most on the frequent users and items and costs accuracy (Monolith, Liu et al. 2022); collision-free ID maps avoid it.',
  async run(ctx: StudyContext) {
    const data = studyData(ctx);
    const { split } = data;
    const train = split.train;
    const fractions = ctx.quick ? QUICK_FRACTIONS : FRACTIONS;
    const params = studyParams('ials', ctx);
    const fit = async (t: TrainSet, label: string): Promise<Recommender> => {
      const m = createModel('ials', params);
      await m.fit(t, { rng: new Rng(ctx.seed).derive('study-model', 'hashing', label), threads: ctx.threads });
      return m;
    };
    // head / tail: the 20% most active training users and the 20% most popular candidate items
    const activity = userActivity(split);
    const trainUsers = Int32Array.from({ length: train.nUsers }, (_, u) => u).filter((u) => activity[u]! > 0);
    const userHead = headMask(activity, trainUsers, HEAD_SHARE);
    const itemHead = headMask(train.itemPopularity, train.candidates, HEAD_SHARE);
    const itemTail = new Uint8Array(train.nItems);
    for (const i of train.candidates) itemTail[i] = itemHead[i] ? 0 : 1;
    ctx.onProgress?.('hashing: collision-free', 0, fractions.length + 1);
    const exact = await fit(train, 'exact');
    const exactLists = rankHashed(exact, split, null, null, train.nItems);
    const base = evaluateLists(split, exactLists, [K], ctx.seed).perUser[`ndcg@${K}`]!;
    const headUser = (pos: number): boolean => userHead[split.testUsers[pos]!] === 1;
    const tailUser = (pos: number): boolean => !headUser(pos);
    const points: HashingPoint[] = [];
    const rows: Record<string, unknown>[] = [];
    const recallRow = (lists: Int32Array[]) => ({
      headItems: summarise(maskedRecall(split, lists, itemHead), ctx.seed, STUDY_RESAMPLES).mean,
      tailItems: summarise(maskedRecall(split, lists, itemTail), ctx.seed, STUDY_RESAMPLES).mean,
    });
    const exactRecall = recallRow(exactLists);
    // one side hashed at a time (the other collision-free), to tell the two effects apart
    const oneSided: { fraction: number; usersOnly: number | null; itemsOnly: number | null }[] = [];
    const identity = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);
    for (const f of fractions) {
      ctx.onProgress?.('hashing: tables', points.length + 1, fractions.length + 1, `f=${f}`);
      const mu = Math.max(1, Math.round(f * trainUsers.length));
      const mi = Math.max(1, Math.round(f * train.candidates.length));
      const rng = new Rng(ctx.seed).derive('hashing', f);
      const hu = hashIds(train.nUsers, mu, rng.derive('users'));
      const hi = hashIds(train.nItems, mi, rng.derive('items'));
      const side: (typeof oneSided)[number] = { fraction: f, usersOnly: null, itemsOnly: null };
      for (const which of ['users', 'items'] as const) {
        const u = which === 'users' ? hu : identity(train.nUsers);
        const i = which === 'items' ? hi : identity(train.nItems);
        const nu = which === 'users' ? mu : train.nUsers;
        const ni = which === 'items' ? mi : train.nItems;
        const m1 = await fit(hashedTrainSet(train, u, nu, i, ni), `${which}-f=${f}`);
        const nd = evaluateLists(split, rankHashed(m1, split, u, i, ni), [K], ctx.seed).perUser[`ndcg@${K}`]!;
        side[which === 'users' ? 'usersOnly' : 'itemsOnly'] = summarise(nd, ctx.seed, 1).mean;
      }
      oneSided.push(side);
      const model = await fit(hashedTrainSet(train, hu, mu, hi, mi), `f=${f}`);
      const lists = rankHashed(model, split, hu, hi, mi);
      const ndcg = evaluateLists(split, lists, [K], ctx.seed).perUser[`ndcg@${K}`]!;
      const p: HashingPoint = {
        fraction: f,
        users: collisionStats(trainUsers, activity, hu, mu, userHead),
        items: collisionStats(train.candidates, train.itemPopularity, hi, mi, itemHead),
        ndcg,
      };
      points.push(p);
      const lossAll = paired(base, ndcg, ctx.seed);
      rows.push({
        fraction: f,
        userTable: mu,
        itemTable: mi,
        users: p.users,
        items: p.items,
        ndcg: summarise(ndcg, ctx.seed, STUDY_RESAMPLES),
        ndcgLoss: { mean: lossAll.mean, ci95: lossAll.ci95 },
        ndcgLossHeadUsers: paired(subset(base, headUser), subset(ndcg, headUser), ctx.seed).mean,
        ndcgLossTailUsers: paired(subset(base, tailUser), subset(ndcg, tailUser), ctx.seed).mean,
        recall: recallRow(lists),
        ndcgUsersHashedOnly: side.usersOnly,
        ndcgItemsHashedOnly: side.itemsOnly,
      });
    }
    const v = hashingVerdict(base, points, ctx.seed);
    const baseSummary = summarise(base, ctx.seed, STUDY_RESAMPLES);
    const num = (r: Record<string, unknown>, path: string): number | null => {
      let x: unknown = r;
      for (const k of path.split('.')) x = (x as Record<string, unknown>)?.[k];
      return typeof x === 'number' ? x : null;
    };
    const table =
      `collision-free: ndcg@${K} ${fmt(baseSummary.mean)} [${fmt(baseSummary.ci95?.[0])}, ${fmt(baseSummary.ci95?.[1])}], recall@${K} on head items ${fmt(exactRecall.headItems)}, on tail items ${fmt(exactRecall.tailItems)} ` +
      `(head = the ${HEAD_SHARE * 100}% most active users / most popular items)\n\n` +
      markdownTable(
        ['table / IDs', 'users colliding head / tail', 'items colliding head / tail', 'item contamination head / tail', `ndcg@${K} both hashed`, 'ndcg lost (95% CI)', 'lost head / tail users', 'recall head / tail items', `ndcg@${K} users only / items only`],
        rows.map((r) => [
          `${(num(r, 'fraction')! * 100).toFixed(0)}%`,
          `${fmt(num(r, 'users.head'), 2)} / ${fmt(num(r, 'users.tail'), 2)}`,
          `${fmt(num(r, 'items.head'), 2)} / ${fmt(num(r, 'items.tail'), 2)}`,
          `${fmt(num(r, 'items.headContamination'), 2)} / ${fmt(num(r, 'items.tailContamination'), 2)}`,
          fmt(num(r, 'ndcg.mean')),
          `${fmt(num(r, 'ndcgLoss.mean'), 4)} [${fmt((r.ndcgLoss as { ci95: number[] }).ci95[0], 4)}, ${fmt((r.ndcgLoss as { ci95: number[] }).ci95[1], 4)}]`,
          `${fmt(num(r, 'ndcgLossHeadUsers'), 4)} / ${fmt(num(r, 'ndcgLossTailUsers'), 4)}`,
          `${fmt(num(r, 'recall.headItems'))} / ${fmt(num(r, 'recall.tailItems'))}`,
          `${fmt(num(r, 'ndcgUsersHashedOnly'))} / ${fmt(num(r, 'ndcgItemsHashedOnly'))}`,
        ]),
      );
    const x = fractions.map((f) => f * 100);
    const charts: StudyChart[] = [
      {
        title: 'collision rate (share of IDs sharing their bucket) vs table size',
        kind: 'line',
        x,
        xLabel: 'table size, % of the ID count',
        yLabel: 'collision rate',
        series: [
          { name: 'head users', y: points.map((p) => p.users.head) },
          { name: 'tail users', y: points.map((p) => p.users.tail) },
          { name: 'head items', y: points.map((p) => p.items.head) },
          { name: 'tail items', y: points.map((p) => p.items.tail) },
        ],
      },
      {
        title: `accuracy: ndcg@${K} vs table size (flat line = collision-free)`,
        kind: 'line',
        x,
        xLabel: 'table size, % of the ID count',
        yLabel: `ndcg@${K}`,
        series: [
          { name: 'users and items hashed', y: rows.map((r) => num(r, 'ndcg.mean')), ci: rows.map((r) => (r.ndcg as { ci95: [number, number] | null }).ci95) },
          { name: 'users hashed only', y: oneSided.map((o) => o.usersOnly) },
          { name: 'items hashed only', y: oneSided.map((o) => o.itemsOnly) },
          { name: 'collision-free', y: fractions.map(() => baseSummary.mean) },
        ],
      },
      {
        title: `recall@${K} on head vs tail items vs table size`,
        kind: 'line',
        x,
        xLabel: 'table size, % of the ID count',
        yLabel: `recall@${K}`,
        series: [
          { name: 'head items (hashed)', y: rows.map((r) => num(r, 'recall.headItems')) },
          { name: 'tail items (hashed)', y: rows.map((r) => num(r, 'recall.tailItems')) },
          { name: 'head items (collision-free)', y: fractions.map(() => exactRecall.headItems) },
          { name: 'tail items (collision-free)', y: fractions.map(() => exactRecall.tailItems) },
        ],
      },
    ];
    return {
      study: 'hashing',
      claim: hashingStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: data.label,
      results: { k: K, model: 'ials', headShare: HEAD_SHARE, collisionMargin: COLLISION_MARGIN, collisionFree: { ndcg: baseSummary, recall: exactRecall }, checks: v.checks, tables: rows },
      table,
      charts,
    };
  },
};
