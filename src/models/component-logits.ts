/**
 * Logit rows a caller keeps for persona vectors, so that scoring a persona set again does not
 * recompute them: z(c) = Q_i . p + B_i of vector p for each candidate i = cand[c] (the persona
 * model's `scorePersonas` without the neighbour term; src/serve/persona-rows.ts keeps them per
 * user state, so that after a like the trained personas' logits are not recomputed). The logits
 * handed back are the values the model computed for that vector, so the scores are the same.
 */
export interface ComponentLogits {
  /** The logits kept for vector `p` (compared bit for bit), or null. */
  get(p: Float32Array): Float64Array | null;
  /**
   * The logits just computed for vector `p` (the caller keeps them or not), and their log
   * normaliser over all candidates when it was computed with them (NaN otherwise).
   */
  put(p: Float32Array, z: Float64Array, lse?: number): void;
}

/**
 * What a caller reads of a scored row: every score ('all'), or only how each candidate's score
 * orders against the history items' scores ('history-order': below, equal to or above each of
 * them, as src/confidence `profileFit` reads it), which lets the model skip the exact score of a
 * candidate far from every history score (personas-train.ts `mixtureOrder`), or nothing ('none':
 * only the components' normalisers are wanted, which the model keeps for `personaWeights`; the row
 * is not written).
 */
export type RowRead = 'all' | 'history-order' | 'none';
