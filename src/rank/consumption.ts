/**
 * `consumption:<m>[:<rho>]`: a consumption-aware reranker for users who read only the first m
 * items (the "limited attention" argument of arXiv 2307.15142: when a user's active taste is
 * uncertain, a list that covers several tastes maximises the chance of a hit among what is read).
 *
 * Model. The user arrives with one active taste g, drawn with probability pi_g = p(g|u). Item i is
 * a hit with marginal probability rho * r_i, where r_i is the pool-normalised score (1 for the best
 * pool item) and rho the hit probability of the best item (default 0.1, about hit@1 of EASE and
 * personas on ml-latest-small: 0.106 and 0.075; see docs/reranking.md). That probability is
 * carried by the item's own tastes: with w_g(i) its taste weights restricted to tastes the user
 * has (pi_g > 0) and renormalised to sum 1, Bayes' rule gives
 *
 *   h_ig = P(hit_i | active taste g) = min(1, rho * r_i * w_g(i) / pi_g),
 *
 * so that sum_g pi_g h_ig = rho * r_i whenever no clamp binds: the mixture reproduces the model's
 * own ranking of single items. Given the taste, hits are independent, so for the read prefix S
 *
 *   P(at least one hit in S) = sum_g pi_g * (1 - prod_{i in S} (1 - h_ig)),
 *
 * which is monotone submodular in S; greedy selection (a (1 - 1/e) approximation) adds the item
 * with the largest marginal gain
 *
 *   gain(i | S) = sum_g pi_g * miss_g(S) * h_ig,   miss_g(S) = prod_{j in S} (1 - h_jg),
 *
 * i.e. relevance times how uncovered the item's tastes still are. A taste already served by a
 * likely hit is worth less, so the next slot goes to another taste unless its items are much
 * weaker. With m = 1 (and no clamp) the choice is the top item; as rho -> 0 every miss_g stays
 * near 1 and the list tends to the score order. Items none of whose tastes appear in the history
 * cannot hit under this model (gain 0). Positions m+1..k are filled by score.
 */
import type { ListReranker, RerankInput } from './pipeline.js';
import { DEFAULT_POOL } from './calibrated.js';
import { normalisedRelevance, poolWithoutHistory, type TasteSpace, type UserTastes } from './tastes.js';

export const DEFAULT_RHO = 0.1;

/** Greedy P(hit among the first m) selection; returns min(k, pool) pool positions in list order. */
export function consumptionSelect(relevance: Float64Array, tastes: UserTastes, k: number, m: number, rho = DEFAULT_RHO): Int32Array {
  const n = relevance.length;
  const want = Math.min(k, n);
  const { p, ptr, idx } = tastes;
  const miss = new Float64Array(tastes.n).fill(1);
  const taken = new Uint8Array(n);
  const out = new Int32Array(want);
  // h[e] = P(hit | taste idx[e]) for the e-th (item, taste) entry
  const h = new Float64Array(idx.length);
  for (let j = 0; j < n; j++) {
    let mass = 0;
    for (let e = ptr[j]!; e < ptr[j + 1]!; e++) if (p[idx[e]!]! > 0) mass += 1;
    for (let e = ptr[j]!; e < ptr[j + 1]!; e++) {
      const pg = p[idx[e]!]!;
      h[e] = pg > 0 ? Math.min(1, (rho * relevance[j]!) / mass / pg) : 0;
    }
  }
  let t = 0;
  for (; t < Math.min(m, want); t++) {
    let best = -1;
    let bestGain = -Infinity;
    for (let j = 0; j < n; j++) {
      if (taken[j]) continue;
      let gain = 0;
      for (let e = ptr[j]!; e < ptr[j + 1]!; e++) gain += p[idx[e]!]! * miss[idx[e]!]! * h[e]!;
      if (gain > bestGain) {
        bestGain = gain;
        best = j;
      }
    }
    taken[best] = 1;
    out[t] = best;
    for (let e = ptr[best]!; e < ptr[best + 1]!; e++) miss[idx[e]!] *= 1 - h[e]!;
  }
  for (let j = 0; j < n && t < want; j++) if (!taken[j]) out[t++] = j;
  return out;
}

export class ConsumptionReranker implements ListReranker {
  readonly name: string;

  constructor(
    readonly m: number,
    private readonly space: TasteSpace,
    readonly rho = DEFAULT_RHO,
    private readonly minPool = DEFAULT_POOL,
  ) {
    this.name = `consumption:${m}${rho !== DEFAULT_RHO ? `:${rho}` : ''} (${space.name})`;
  }

  poolSize(k: number): number {
    return Math.max(this.minPool, 5 * k);
  }

  rerank(input: RerankInput, out: Int32Array): number {
    const pool = poolWithoutHistory(input.pool, input.history);
    const tastes = this.space.forUser(input, pool);
    const chosen = consumptionSelect(normalisedRelevance(input.scores, pool), tastes, input.k, this.m, this.rho);
    for (let r = 0; r < chosen.length; r++) out[r] = pool[chosen[r]!]!;
    return chosen.length;
  }
}
