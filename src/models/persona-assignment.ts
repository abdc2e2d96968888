/**
 * Hard persona assignment, the one definition the rerankers' persona taste space, the persona
 * metrics and the explanations share: an item belongs to the persona with the largest weight for
 * it (`personaWeightsOf`), and a history's persona mix is the share of its items each persona owns.
 */
import { personasFor, personaWeightsOf, type HasPersonas } from './model.js';

/**
 * A user's persona set as a value: what explanations, rerankers and the confidence take, whether
 * the set is a training user's own, a fold-in, or one the service built online (a trained set plus
 * a recent persona).
 */
export interface PersonaSet {
  /** k x dim, row-major. */
  readonly vectors: Float32Array;
  /** Number of personas (0: none, e.g. an empty history). */
  readonly k: number;
  /** The user's history (item indices, ascending): the items the set describes. */
  readonly history: Int32Array;
}

/** The persona set of `vectors` for `history` (k read off the attention of its first item). */
export function personaSetFrom(model: HasPersonas, vectors: Float32Array, history: Int32Array): PersonaSet {
  return { vectors, k: history.length > 0 ? personaSetSize(model, vectors, history[0]!) : 0, history };
}

/** The persona set that scores `user` (a training user's own, else the fold-in of `history`), as `scoreBatch` does. */
export function personaSetOf(model: HasPersonas, user: number, history: Int32Array): PersonaSet {
  return personaSetFrom(model, personasFor(model, user, history), history);
}

/** Index of the largest weight (the first on ties); -1 for an empty array. */
export function argmax(w: ArrayLike<number>): number {
  let best = -1;
  for (let q = 0; q < w.length; q++) if (best < 0 || w[q]! > w[best]!) best = q;
  return best;
}

/** Per model: the length of one persona row, from a training user with personas (0: none found). */
const personaDims = new WeakMap<HasPersonas, number>();

function personaDim(model: HasPersonas): number {
  let d = personaDims.get(model);
  if (d === undefined) {
    d = 0;
    for (let u = 0; u < 4096; u++) {
      const k = model.personaCount(u);
      if (k > 0) {
        d = model.personaVectors(u).length / k;
        break;
      }
    }
    personaDims.set(model, d);
  }
  return d;
}

/**
 * Number of personas in a persona set (rows): its length over the model's persona row length (read
 * off a training user's personas), else off the attention of any item (which, for a mixture model,
 * costs a pass over the catalogue).
 */
export function personaSetSize(model: HasPersonas, personas: Float32Array, anyItem: number): number {
  if (personas.length === 0) return 0;
  const d = personaDim(model);
  if (d > 0 && Number.isInteger(d) && personas.length % d === 0) return personas.length / d;
  return model.attentionFor(personas, anyItem).length;
}

/**
 * The arg-max persona of each item for a persona set (-1 when the set is empty), by the weights
 * explanations use (`personaWeightsOf`); `history` is the user's, for models that need it.
 */
export function personaAssignment(model: HasPersonas, personas: Float32Array, items: Int32Array, history?: Int32Array): Int32Array {
  const out = new Int32Array(items.length).fill(-1);
  if (personas.length === 0) return out;
  for (let j = 0; j < items.length; j++) out[j] = argmax(personaWeightsOf(model, personas, items[j]!, history));
  return out;
}

/** Share of `assignment` entries per persona (k personas); all 0 when empty. */
export function assignmentShares(assignment: Int32Array, k: number): Float64Array {
  const shares = new Float64Array(k);
  let n = 0;
  for (const q of assignment) {
    if (q < 0 || q >= k) continue;
    shares[q]!++;
    n++;
  }
  if (n > 0) for (let q = 0; q < k; q++) shares[q] /= n;
  return shares;
}

/** exp(entropy) of a share vector: the number of equally used personas it is worth. */
export function effectiveCount(shares: ArrayLike<number>): number {
  let h = 0;
  for (let q = 0; q < shares.length; q++) {
    const s = shares[q]!;
    if (s > 0) h -= s * Math.log(s);
  }
  return Math.exp(h);
}
