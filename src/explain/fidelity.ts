/**
 * Explanation fidelity: does the persona named in an explanation actually carry the item? For each
 * recommended item of a user with two or more personas, the explaining persona (arg-max attention)
 * is removed and the user is re-scored with the remaining personas, whose attention renormalises
 * by itself (the softmax over the remaining rows). We report how often the item's score drops,
 * how far it falls in the user's full ranking of candidates (history excluded, ties by item id),
 * and how often it would leave the top K.
 *
 * Note: with attention scoring (s = b + sum_k a_k z_k) the score drop is guaranteed: the arg-max
 * attention persona has the largest dot product z*, so s = b + a* z* + (1 - a*) (s_rest - b) >=
 * s_rest. There the share of drops checks consistency, and the rank drop is the informative
 * number, compared with a control that removes the least-weighted persona instead. The persona
 * model's default mixture score (equal weights) has the same property for its explaining persona,
 * the most responsible one (`personaWeights`, docs/personas.md). Every persona subset is scored by
 * the model's own `scorePersonas` (with the user's history), so parts of the score that do not
 * depend on the personas (an item-item term) are identical in both and cancel.
 */
import { rowOf, sortedHas } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { personasFor, personaWeightsOf, type HasPersonas } from '../models/model.js';
import { argmax, personaSetSize } from '../rank/tastes.js';

export interface FidelityReport {
  /** Users with >= 2 personas whose lists were checked. */
  users: number;
  /** Users skipped because they have a single persona (nothing to remove it in favour of). */
  singlePersonaUsers: number;
  /** Recommended items checked. */
  items: number;
  /** Share of items whose score drops when their explaining persona is removed (acceptance: >= 0.9). */
  scoreDropShare: number;
  meanScoreDrop: number;
  /** Share of items whose rank falls (scale-free: valid even when a persona subset scores on another scale). */
  rankDropShare: number;
  /** Mean and median of (rank without the persona) - (rank with all personas); positive = falls. */
  meanRankDrop: number;
  medianRankDrop: number;
  /** Share of items in the model's own top K (K = list length) that leave it. */
  leftTopKShare: number;
  /** The same numbers when the least-weighted persona (by the explanation weights) is removed instead (a placebo). */
  control: { scoreDropShare: number; rankDropShare: number; meanRankDrop: number; medianRankDrop: number; leftTopKShare: number };
}

/** 1-based rank of `item` among the candidates not in `history`, by score then `itemRanks`. */
function rankOf(item: number, scores: Float32Array, candidates: Int32Array, history: Int32Array, itemRanks: Int32Array): number {
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

function without(personas: Float32Array, k: number, q: number): Float32Array {
  const d = personas.length / k;
  const out = new Float32Array(personas.length - d);
  out.set(personas.subarray(0, q * d), 0);
  out.set(personas.subarray((q + 1) * d), q * d);
  return out;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Fidelity of the explanations of `lists` (one per split.testUsers entry, best first). */
export function explanationFidelity(model: HasPersonas, split: Split, lists: readonly Int32Array[]): FidelityReport {
  const { candidates, itemRanks, nItems } = split.train;
  const full = new Float32Array(nItems);
  const reduced: Float32Array[] = [];
  let users = 0;
  let single = 0;
  const drops: number[] = [];
  const rankDrops: number[] = [];
  const ctrlDrops: number[] = [];
  const ctrlRankDrops: number[] = [];
  let left = 0;
  let ctrlLeft = 0;
  let inTop = 0;
  split.testUsers.forEach((u, idx) => {
    const list = lists[idx]!;
    const history = rowOf(split.history, u);
    if (list.length === 0 || history.length === 0) return;
    const personas = personasFor(model, u, history);
    const k = personaSetSize(model, personas, list[0]!);
    if (k < 2) {
      if (k === 1) single++;
      return;
    }
    users++;
    model.scorePersonas(personas, full, history);
    // scores without persona q, computed once per removed persona
    const cache = new Map<number, Float32Array>();
    const scoresWithout = (q: number): Float32Array => {
      let s = cache.get(q);
      if (!s) {
        s = reduced[cache.size] ??= new Float32Array(nItems);
        model.scorePersonas(without(personas, k, q), s, history);
        cache.set(q, s);
      }
      return s;
    };
    const K = list.length;
    for (const item of list) {
      const att = personaWeightsOf(model, personas, item, history);
      const top = argmax(att);
      let low = 0;
      for (let q = 1; q < k; q++) if (att[q]! < att[low]!) low = q;
      const rank = rankOf(item, full, candidates, history, itemRanks);
      const sTop = scoresWithout(top);
      drops.push(full[item]! - sTop[item]!);
      const newRank = rankOf(item, sTop, candidates, history, itemRanks);
      rankDrops.push(newRank - rank);
      const sLow = scoresWithout(low);
      ctrlDrops.push(full[item]! - sLow[item]!);
      const ctrlRank = rankOf(item, sLow, candidates, history, itemRanks);
      ctrlRankDrops.push(ctrlRank - rank);
      if (rank <= K) {
        inTop++;
        if (newRank > K) left++;
        if (ctrlRank > K) ctrlLeft++;
      }
    }
  });
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const share = (xs: number[]): number => (xs.length ? xs.filter((x) => x > 0).length / xs.length : 0);
  return {
    users,
    singlePersonaUsers: single,
    items: drops.length,
    scoreDropShare: share(drops),
    meanScoreDrop: mean(drops),
    rankDropShare: share(rankDrops),
    meanRankDrop: mean(rankDrops),
    medianRankDrop: median(rankDrops),
    leftTopKShare: inTop ? left / inTop : 0,
    control: { scoreDropShare: share(ctrlDrops), rankDropShare: share(ctrlRankDrops), meanRankDrop: mean(ctrlRankDrops), medianRankDrop: median(ctrlRankDrops), leftTopKShare: inTop ? ctrlLeft / inTop : 0 },
  };
}
