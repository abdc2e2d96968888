/**
 * Each persona's own score row of a user's persona set (`scorePersonas` of that persona alone, no
 * history: its log-softmax over the candidates), computed once per user state and shared by
 * everything that reads it: the mixture of per-persona rankings (persona-mixture.ts), the persona
 * profile's anchors (src/explain `personaProfile`), each explained item's rank within its persona
 * (explanations.ts) and the hedge's per-persona streams (src/rank/hedge.ts).
 *
 * A row is a function of the persona's vector alone (for one model), so a new state of the same
 * user takes over the rows of the personas whose vectors did not change: after a like, a training
 * user's trained personas keep their rows and only the recent persona (folded in from the new
 * positives) is scored. The rows taken over are the arrays computed before, so they are the same
 * values a fresh computation gives.
 */
import type { HasPersonas } from '../models/model.js';
import type { PersonaSet } from '../models/persona-assignment.js';

/** Each persona's own score row and its log normaliser (`PersonaRows`). */
export interface OwnRows {
  row(q: number): Float32Array;
  logNormaliser(q: number): number;
}

/** log sum_i exp(row_i) over the finite entries of a score row (max-shifted, in item order). */
export function rowLogNormaliser(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i]!) && row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i]!)) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

export class PersonaRows implements OwnRows {
  private readonly rows: (Float32Array | null)[];
  /** Each row's log normaliser (NaN: not computed yet). */
  private readonly norms: Float64Array;
  private readonly dim: number;

  /**
   * The rows of `set`; `previous` (the same user's rows of an earlier state, same model) gives
   * the rows of personas whose vectors are bit-for-bit the same.
   */
  constructor(
    private readonly model: HasPersonas,
    private readonly set: PersonaSet,
    private readonly nItems: number,
    previous: PersonaRows | null = null,
  ) {
    this.dim = set.k > 0 ? set.vectors.length / set.k : 0;
    this.rows = new Array<Float32Array | null>(set.k).fill(null);
    this.norms = new Float64Array(set.k).fill(Number.NaN);
    if (previous && previous.dim === this.dim && previous.nItems === nItems) {
      for (let q = 0; q < set.k; q++) {
        const p = previous.find(this.vector(q));
        if (p < 0) continue;
        this.rows[q] = previous.rows[p]!;
        this.norms[q] = previous.norms[p]!;
      }
    }
  }

  /** Persona q's vector (a view). */
  private vector(q: number): Float32Array {
    return this.set.vectors.subarray(q * this.dim, (q + 1) * this.dim);
  }

  /** The index of a computed row whose persona vector equals `v` bit for bit, or -1. */
  private find(v: Float32Array): number {
    for (let q = 0; q < this.set.k; q++) {
      if (!this.rows[q]) continue;
      const w = this.vector(q);
      let same = w.length === v.length;
      for (let x = 0; same && x < v.length; x++) same = Object.is(w[x], v[x]);
      if (same) return q;
    }
    return -1;
  }

  /** Persona q's own scores over every item (non-candidates -Infinity); read-only, shared. */
  row(q: number): Float32Array {
    let r = this.rows[q];
    if (!r) {
      r = new Float32Array(this.nItems);
      this.model.scorePersonas(this.vector(q), r);
      this.rows[q] = r;
    }
    return r;
  }

  /** The log normaliser of persona q's row (`rowLogNormaliser`). */
  logNormaliser(q: number): number {
    if (Number.isNaN(this.norms[q]!)) this.norms[q] = rowLogNormaliser(this.row(q));
    return this.norms[q]!;
  }

  /** How many rows are computed (the memory they hold is that times nItems x 4 bytes). */
  get computed(): number {
    return this.rows.reduce((n, r) => n + (r ? 1 : 0), 0);
  }
}
