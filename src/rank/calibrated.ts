/**
 * `calibrated:<lambda>`: Steck's calibrated recommendations (RecSys 2018), greedy.
 *
 * The list S is built one item at a time; each step adds the pool item that maximises
 *
 *   (1 - lambda) * sum_{i in S} r_i  -  lambda * KL(p || q~(S)),   q~ = 0.99 q(S) + 0.01 p
 *
 * where p = p(g|u) is the history's taste mix, q(S) the list's (mean of the items' taste weights),
 * and KL is PROTOCOL.md's ckl (`calibrationKL`, natural log). r_i is the model's score min-max
 * normalised over the pool (see `normalisedRelevance`), so lambda means the same for every model:
 * lambda = 0 is the model's order, lambda = 1 ignores relevance except to break ties.
 * The greedy chooses the SET; by default (`score` order) the chosen items are then listed by the
 * model's score, which keeps the head of the list accurate and leaves the list's taste mix (and so
 * ckl@K) unchanged. With `greedy` the order of selection is the final order (Steck's), so the first
 * items are the most relevant-and-calibrating ones and every prefix is calibrated too.
 */
import type { ListReranker, RerankInput } from './pipeline.js';
import { calibrationKL } from '../data/categories.js';
import { normalisedRelevance, poolWithoutHistory, type TasteSpace, type UserTastes } from './tastes.js';

/** Pool of at least this many best-scored items (or 5 k), the reranker's candidates. */
export const DEFAULT_POOL = 100;

/**
 * Steck's greedy selection over a pool. `relevance[j]` and `tastes` describe pool position j;
 * returns the chosen pool positions in selection order (min(k, pool) of them). Ties go to the
 * earlier pool position, so lambda = 0 returns the pool's own order.
 */
export function calibrateGreedy(relevance: Float64Array, tastes: UserTastes, k: number, lambda: number): Int32Array {
  const n = relevance.length;
  const want = Math.min(k, n);
  const { p, ptr, idx } = tastes;
  const nT = tastes.n;
  let hasMass = false;
  for (let g = 0; g < nT; g++) if (p[g]! > 0) hasMass = true;
  const qSum = new Float64Array(nT);
  const q = new Float64Array(nT);
  const taken = new Uint8Array(n);
  const out = new Int32Array(want);
  for (let t = 0; t < want; t++) {
    let best = -1;
    let bestValue = -Infinity;
    for (let j = 0; j < n; j++) {
      if (taken[j]) continue;
      // the relevance sum of S is the same for every candidate: compare only what changes
      let value = (1 - lambda) * relevance[j]!;
      if (lambda > 0 && hasMass) {
        const len = ptr[j + 1]! - ptr[j]!;
        for (let g = 0; g < nT; g++) q[g] = qSum[g]!;
        for (let e = ptr[j]!; e < ptr[j + 1]!; e++) q[idx[e]!] += 1 / len;
        for (let g = 0; g < nT; g++) q[g] /= t + 1;
        value -= lambda * calibrationKL(p, q, nT);
      }
      if (value > bestValue) {
        bestValue = value;
        best = j;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    out[t] = best;
    const len = ptr[best + 1]! - ptr[best]!;
    for (let e = ptr[best]!; e < ptr[best + 1]!; e++) qSum[idx[e]!] += 1 / len;
  }
  return out;
}

/** `score`: the chosen set listed by the model's score (default); `greedy`: in selection order. */
export type CalibratedOrder = 'score' | 'greedy';

export class CalibratedReranker implements ListReranker {
  readonly name: string;

  constructor(
    readonly lambda: number,
    private readonly space: TasteSpace,
    private readonly minPool = DEFAULT_POOL,
    readonly order: CalibratedOrder = 'score',
  ) {
    this.name = `calibrated:${lambda}${order === 'greedy' ? ':greedy' : ''} (${space.name})`;
  }

  poolSize(k: number): number {
    return Math.max(this.minPool, 5 * k);
  }

  rerank(input: RerankInput, out: Int32Array): number {
    const pool = poolWithoutHistory(input.pool, input.history);
    const tastes = this.space.forUser(input, pool);
    const chosen = calibrateGreedy(normalisedRelevance(input.scores, pool), tastes, input.k, this.lambda);
    // pool positions are in score order (best first), so sorting them lists the set by score
    if (this.order === 'score') chosen.sort();
    for (let r = 0; r < chosen.length; r++) out[r] = pool[chosen[r]!]!;
    return chosen.length;
  }
}
