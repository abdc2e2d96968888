/**
 * Counterfactual explanation fidelity (docs/protocol.md, "Counterfactual explanation fidelity"):
 * does removing the history items of the persona an explanation names really cost the item its
 * place, more than removing as many other items?
 *
 * For each test user whose persona set (`personasFor`) has 2+ personas owning history items
 * (`historyMembers`), the top `topN` items of their list are explained by the arg-max of their
 * persona weights; an explanation is withheld when the weights cannot name one persona
 * (`withheldByWeights`, the rule the service uses). `explainedShare` is the share of top-N items
 * whose explanation is given. For each explained item i with explaining persona q (n = its member
 * count in the history H), three reduced histories are scored as a user unknown to the model
 * (index -1: `scoreBatch` folds the history in, exactly as for held-out users):
 * - explaining: H minus q's members;
 * - control (random): H minus n items drawn uniformly from the other personas' members (seeded per
 *   user and persona); items whose other personas own fewer than n items have no matched control:
 *   they are left out of every number and reported apart (`unmatchedItems`, `unmatched`: the
 *   explaining removal alone);
 * - similar: H minus the n history items most similar to i, by cosine of their TRAIN user sets
 *   (|U_i ∩ U_j| / sqrt(|U_i| |U_j|), ties by item index): model-agnostic, and the items an
 *   item-item recommender would lean on.
 * The rank of i is its 1-based rank among the candidates not in H (ties by `itemRanks`) under the
 * fold-in of H, then of each reduced history; rank drop = reduced rank - full rank (positive =
 * falls). `leftTopKShare` is the share of the items in the top N under the full fold-in that leave
 * it. `ratioToRandom` = explaining mean rank drop / max(1, control mean rank drop), likewise
 * `ratioToSimilar`. Work is capped at `maxUsers` users, a seeded sample of the eligible users; the
 * explained share is over all eligible users. Deterministic, single-threaded.
 */
import { rowOf, sortedHas } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { Rng } from '../math/rng.js';
import { historyMembers, personasFor, personaWeightsOf, singleUserBatch, type HasPersonas, type Recommender } from '../models/model.js';
import { argmax, personaSetSize } from '../models/persona-assignment.js';
import { withheldByWeights, type WeightRule } from './withhold.js';

export interface FidelityOptions {
  /** Top items per user that are explained and checked (default 10). */
  topN?: number;
  /** At most this many users get the counterfactual (a seeded sample; default 100, 0 = all). */
  maxUsers?: number;
  /** Seed of the user sample and of the random control (default 42). */
  seed?: number;
  /** The weight rule of withheld explanations (default: src/explain/withhold.ts). */
  rule?: WeightRule;
}

export const DEFAULT_FIDELITY_USERS = 100;
/**
 * Ratios divide by at least one rank: a control that moves the item by less than one place on
 * average (or raises it: removing other tastes often focuses the fold-in on the item's) counts as
 * one place, so the ratio stays defined and is not inflated by a near-zero denominator.
 */
export const RATIO_FLOOR = 1;

/** The effect of one kind of removal on the explained items. */
export interface RemovalEffect {
  /** Mean number of history items removed. */
  meanRemoved: number;
  /** Share of items whose score falls (scores of two fold-ins of one model). */
  scoreDropShare: number;
  meanScoreDrop: number;
  /** Share of items whose rank falls. */
  rankDropShare: number;
  /** Mean and median of (rank after removal) - (rank with the full history); positive = falls. */
  meanRankDrop: number;
  medianRankDrop: number;
  /** Share of the items in the top N (full history) that leave it. */
  leftTopKShare: number;
}

/** The explaining persona's removal (flat fields) against two controls. */
export interface FidelityReport extends RemovalEffect {
  method: 'counterfactual';
  topN: number;
  /** Test users with 2+ personas owning history items. */
  eligibleUsers: number;
  /** Eligible users that got the counterfactual (at most maxUsers). */
  users: number;
  /** Test users with exactly one persona owning history items. */
  singlePersonaUsers: number;
  /** Top-N items of the eligible users, and the share of them whose explanation is given. */
  listItems: number;
  explainedShare: number;
  /** Explained items measured (checked users). */
  items: number;
  /** Explained items without a matched control: the other personas own fewer items than the explaining one. */
  unmatchedItems: number;
  /** The explaining persona's removal on those items (not in the numbers above). */
  unmatched: { meanRemoved: number; meanRankDrop: number; medianRankDrop: number; leftTopKShare: number };
  /** Removing as many random items of the user's other personas. */
  control: RemovalEffect;
  /** Removing as many of the history items most similar to the recommended one. */
  similar: RemovalEffect;
  /** Explaining mean rank drop / the control's, the denominator floored at RATIO_FLOOR (one rank). */
  ratioToRandom: number;
  ratioToSimilar: number;
  similarity: 'train-user-cosine';
}

/** The parts of a split fidelity reads. */
export type FidelitySplit = Pick<Split, 'testUsers' | 'testUserModelIndex' | 'history' | 'train'>;

/** 1-based rank of `item` among the candidates not in `history`, by score then `itemRanks`. */
export function rankOf(item: number, scores: Float32Array, candidates: Int32Array, history: Int32Array, itemRanks: Int32Array): number {
  const s = scores[item]!;
  const tie = itemRanks[item]!;
  let rank = 1;
  for (const j of candidates) {
    if (j === item) continue;
    const sj = scores[j]!;
    if (sj > s || (sj === s && itemRanks[j]! < tie)) {
      if (!sortedHas(history, 0, history.length, j)) rank++;
    }
  }
  return rank;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

class EffectAcc {
  removed: number[] = [];
  scoreDrops: number[] = [];
  rankDrops: number[] = [];
  inTop = 0;
  left = 0;

  add(removed: number, scoreDrop: number, rankBefore: number, rankAfter: number, topN: number): void {
    this.removed.push(removed);
    this.scoreDrops.push(scoreDrop);
    this.rankDrops.push(rankAfter - rankBefore);
    if (rankBefore <= topN) {
      this.inTop++;
      if (rankAfter > topN) this.left++;
    }
  }

  report(): RemovalEffect {
    const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const share = (xs: number[]): number => (xs.length ? xs.filter((x) => x > 0).length / xs.length : 0);
    return {
      meanRemoved: mean(this.removed),
      scoreDropShare: share(this.scoreDrops),
      meanScoreDrop: mean(this.scoreDrops),
      rankDropShare: share(this.rankDrops),
      meanRankDrop: mean(this.rankDrops),
      medianRankDrop: median(this.rankDrops),
      leftTopKShare: this.inTop ? this.left / this.inTop : 0,
    };
  }
}

/** `history` without the items in `removed` (both sorted ascending or not; the result keeps history's order). */
function withoutItems(history: Int32Array, removed: Int32Array): Int32Array {
  const drop = new Set(removed);
  return history.filter((i) => !drop.has(i));
}

/**
 * The n items of `history` most similar to `item` by the cosine of their TRAIN user sets (ties:
 * lower item index first). `mark` is a scratch array of nUsers zeros, left zeroed.
 */
export function mostSimilar(train: FidelitySplit['train'], item: number, history: Int32Array, n: number, mark: Uint8Array): Int32Array {
  const { itemUsers } = train;
  const users = itemUsers.indices.subarray(itemUsers.indptr[item]!, itemUsers.indptr[item + 1]!);
  for (const u of users) mark[u] = 1;
  const sim = new Float64Array(history.length);
  history.forEach((j, r) => {
    const a = itemUsers.indptr[j]!;
    const b = itemUsers.indptr[j + 1]!;
    let common = 0;
    for (let e = a; e < b; e++) common += mark[itemUsers.indices[e]!]!;
    const denom = Math.sqrt(users.length * (b - a));
    sim[r] = denom > 0 ? common / denom : 0;
  });
  for (const u of users) mark[u] = 0;
  const order = Array.from(history.keys()).sort((x, y) => sim[y]! - sim[x]! || history[x]! - history[y]!);
  return Int32Array.from(order.slice(0, n), (r) => history[r]!);
}

/** n items drawn uniformly without replacement from `pool` (partial Fisher-Yates). */
function sample(pool: Int32Array, n: number, rng: Rng): Int32Array {
  const a = Int32Array.from(pool);
  for (let t = 0; t < n; t++) {
    const j = t + rng.int(a.length - t);
    const x = a[t]!;
    a[t] = a[j]!;
    a[j] = x;
  }
  return a.slice(0, n);
}

/** Counterfactual fidelity of the explanations of `lists` (one per split.testUsers entry, best first). */
export function explanationFidelity(
  model: HasPersonas & Pick<Recommender, 'scoreBatch'>,
  split: FidelitySplit,
  lists: readonly Int32Array[],
  opts: FidelityOptions = {},
): FidelityReport {
  const topN = opts.topN ?? 10;
  const maxUsers = opts.maxUsers ?? DEFAULT_FIDELITY_USERS;
  const seed = opts.seed ?? 42;
  const { candidates, itemRanks, nItems, nUsers } = split.train;

  // who is eligible, and the explained share over all of them
  interface Eligible {
    idx: number;
    personas: Float32Array;
    members: Int32Array;
    /** Explained top-N items with their explaining persona. */
    explained: { item: number; persona: number }[];
  }
  const eligible: Eligible[] = [];
  let single = 0;
  let listItems = 0;
  let explainedItems = 0;
  split.testUsers.forEach((u, idx) => {
    const history = rowOf(split.history, u);
    const list = (lists[idx] ?? new Int32Array(0)).subarray(0, topN);
    if (history.length === 0) return;
    const personas = personasFor(model, split.testUserModelIndex[idx]!, history);
    const k = personaSetSize(model, personas, history[0]!);
    if (k === 0) return;
    const members = historyMembers(model, personas, history);
    const owned = new Set(Array.from(members).filter((q) => q >= 0)).size;
    if (owned < 2) {
      if (owned === 1) single++;
      return;
    }
    const explained: Eligible['explained'] = [];
    for (const item of list) {
      const w = personaWeightsOf(model, personas, item, history);
      const q = argmax(w);
      listItems++;
      if (withheldByWeights(w, q, opts.rule) === null) {
        explainedItems++;
        explained.push({ item, persona: q });
      }
    }
    eligible.push({ idx, personas, members, explained });
  });

  let checked = eligible;
  if (maxUsers > 0 && eligible.length > maxUsers) {
    const order = new Rng(seed).derive('fidelity', 'users').shuffle(Int32Array.from(eligible.keys()));
    checked = Array.from(order.subarray(0, maxUsers))
      .sort((a, b) => a - b)
      .map((e) => eligible[e]!);
  }

  const explaining = new EffectAcc();
  const control = new EffectAcc();
  const similar = new EffectAcc();
  const unmatched = new EffectAcc();
  const mark = new Uint8Array(nUsers);
  const score = (history: Int32Array): Float32Array => {
    const out = new Float32Array(nItems);
    model.scoreBatch(singleUserBatch(-1, history), out);
    return out;
  };
  for (const user of checked) {
    if (user.explained.length === 0) continue;
    const u = split.testUsers[user.idx]!;
    const history = rowOf(split.history, u);
    const full = score(history);
    const byPersona = new Map<number, { removed: Int32Array; scores: Float32Array; random: Int32Array | null; randomScores: Float32Array | null }>();
    for (const { item, persona } of user.explained) {
      let e = byPersona.get(persona);
      if (!e) {
        const removed = history.filter((_, r) => user.members[r] === persona);
        const others = history.filter((_, r) => user.members[r] !== persona);
        const random = others.length >= removed.length ? sample(others, removed.length, new Rng(seed).derive('fidelity', 'random', u, persona)) : null;
        e = {
          removed,
          scores: removed.length > 0 ? score(withoutItems(history, removed)) : full,
          random,
          randomScores: random && random.length > 0 ? score(withoutItems(history, random)) : random ? full : null,
        };
        byPersona.set(persona, e);
      }
      const n = e.removed.length;
      const before = rankOf(item, full, candidates, history, itemRanks);
      const rankUnder = (s: Float32Array): number => (s === full ? before : rankOf(item, s, candidates, history, itemRanks));
      if (!e.random || !e.randomScores) {
        unmatched.add(n, full[item]! - e.scores[item]!, before, rankUnder(e.scores), topN);
        continue;
      }
      const sim = mostSimilar(split.train, item, history, n, mark);
      const simScores = n > 0 ? score(withoutItems(history, sim)) : full;
      explaining.add(n, full[item]! - e.scores[item]!, before, rankUnder(e.scores), topN);
      control.add(n, full[item]! - e.randomScores[item]!, before, rankUnder(e.randomScores), topN);
      similar.add(n, full[item]! - simScores[item]!, before, rankUnder(simScores), topN);
    }
  }
  const ex = explaining.report();
  const ctrl = control.report();
  const simr = similar.report();
  return {
    method: 'counterfactual',
    topN,
    eligibleUsers: eligible.length,
    users: checked.length,
    singlePersonaUsers: single,
    listItems,
    explainedShare: listItems > 0 ? explainedItems / listItems : 0,
    items: explaining.rankDrops.length,
    unmatchedItems: unmatched.rankDrops.length,
    unmatched: (({ meanRemoved, meanRankDrop, medianRankDrop, leftTopKShare }) => ({ meanRemoved, meanRankDrop, medianRankDrop, leftTopKShare }))(unmatched.report()),
    ...ex,
    control: ctrl,
    similar: simr,
    ratioToRandom: ex.meanRankDrop / Math.max(RATIO_FLOOR, ctrl.meanRankDrop),
    ratioToSimilar: ex.meanRankDrop / Math.max(RATIO_FLOOR, simr.meanRankDrop),
    similarity: 'train-user-cosine',
  };
}
