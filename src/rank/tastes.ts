/**
 * Taste spaces for reranking: what "a user's taste mix" and "an item's tastes" mean.
 *
 * - `categories`: p(g|u) is PROTOCOL.md's category distribution of the history (mean of
 *   p(g|i) = 1/|G(i)|); an item has every category it carries, each with weight 1/|G(i)|.
 * - `personas` (the persona-based variant of PROTOCOL.md): an item's taste is the user's persona
 *   with the largest attention for it (or the model's `personaWeights`; one taste, weight 1); p(k|u) is the share of the history
 *   items whose arg-max persona is k. Hard assignment keeps the rerankers, the persona metrics and
 *   the explanations on one definition.
 */
import { sortedHas } from '../data/csr.js';
import type { ItemCategories } from '../data/dataset.js';
import { tasteDistribution } from '../data/categories.js';
import type { HasPersonas } from '../models/model.js';
import { assignmentShares, personaAssignment, personaSetOf } from '../models/persona-assignment.js';
import type { ListSubject } from './pipeline.js';

export type TasteSpaceName = 'categories' | 'personas';

/** One user's taste mix and the tastes of a list of items (usually the reranker's pool). */
export interface UserTastes {
  /** Number of tastes (categories, or the user's personas). */
  readonly n: number;
  /** p(g|u), summing to 1, or all 0 when the history carries no taste mass. */
  readonly p: Float64Array;
  /** Item j of the list has tastes idx[ptr[j]..ptr[j+1]), each with weight 1 / (ptr[j+1] - ptr[j]). */
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
}

export interface TasteSpace {
  readonly name: TasteSpaceName;
  /** The tastes of a user (index, history, and persona set when given as a value) and of `items`. */
  forUser(subject: ListSubject, items: Int32Array): UserTastes;
}

export function categoryTasteSpace(cats: ItemCategories): TasteSpace {
  return {
    name: 'categories',
    forUser({ history }, items) {
      const n = cats.names.length;
      const p = new Float64Array(n);
      tasteDistribution(history, cats, p);
      const ptr = new Int32Array(items.length + 1);
      for (let j = 0; j < items.length; j++) {
        const i = items[j]!;
        const len = i >= 0 && i + 1 < cats.ptr.length ? cats.ptr[i + 1]! - cats.ptr[i]! : 0;
        ptr[j + 1] = ptr[j]! + len;
      }
      const idx = new Int32Array(ptr[items.length]!);
      for (let j = 0; j < items.length; j++) {
        const i = items[j]!;
        if (ptr[j + 1]! > ptr[j]!) idx.set(cats.idx.subarray(cats.ptr[i]!, cats.ptr[i + 1]!), ptr[j]!);
      }
      return { n, p, ptr, idx };
    },
  };
}

export function personaTasteSpace(model: HasPersonas): TasteSpace {
  return {
    name: 'personas',
    forUser(subject, items) {
      const { vectors: personas, k: n, history } = subject.personas ?? personaSetOf(model, subject.user, subject.history);
      const p = assignmentShares(personaAssignment(model, personas, history, history), n);
      const assign = personaAssignment(model, personas, items, history);
      const ptr = new Int32Array(items.length + 1);
      for (let j = 0; j < items.length; j++) ptr[j + 1] = ptr[j]! + (assign[j]! >= 0 ? 1 : 0);
      const idx = new Int32Array(ptr[items.length]!);
      for (let j = 0; j < items.length; j++) if (assign[j]! >= 0) idx[ptr[j]!] = assign[j]!;
      return { n, p, ptr, idx };
    },
  };
}

/** The pool without history items (the pool from rankTestUsers never has any; callers may differ). */
export function poolWithoutHistory(pool: Int32Array, history: Int32Array): Int32Array {
  let clean = true;
  for (const i of pool) if (sortedHas(history, 0, history.length, i)) clean = false;
  if (clean) return pool;
  return pool.filter((i) => !sortedHas(history, 0, history.length, i));
}

/**
 * Relevance of the pool items on one scale for every model: min-max normalised scores over the
 * pool, r = (s - min) / (max - min) in [0, 1] (the best pool item 1, the worst 0). Raw scores
 * are on unrelated scales (EASE regressions, softmax logits, kNN sums), so a trade-off weight
 * such as lambda would otherwise mean something different per model. Non-finite scores get 0;
 * a pool whose scores are all equal gets 1 everywhere.
 */
export function normalisedRelevance(scores: ArrayLike<number>, pool: Int32Array): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of pool) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) continue;
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const r = new Float64Array(pool.length);
  for (let j = 0; j < pool.length; j++) {
    const s = scores[pool[j]!]!;
    r[j] = !Number.isFinite(s) ? 0 : hi > lo ? (s - lo) / (hi - lo) : 1;
  }
  return r;
}
