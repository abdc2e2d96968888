/**
 * Each persona's own score row of a user's persona set (`scorePersonas` of that persona alone, no
 * history: its log-softmax over the candidates) and its logits, computed once per user state and
 * shared by everything that reads them: the mixture of per-persona rankings (persona-mixture.ts),
 * the persona profile's anchors (src/explain `personaProfile`), each explained item's rank within
 * its persona (explanations.ts), the hedge's per-persona streams (src/rank/hedge.ts) and the
 * scoring of the whole set with its history (the confidence's fit and the persona weights), which
 * takes the personas' logits z(c) = Q_i . p + B_i from here (src/models/component-logits.ts).
 *
 * Logits and rows are functions of the persona's vector alone (for one model), so a new state of
 * the same user takes over those of the personas whose vectors did not change (compared bit for
 * bit): after a like, a training user's trained personas are not scored again, only the recent
 * persona (folded in from the new positives) and the whole-history component. With a model that
 * hands out its logits (the persona model), only the logits are kept (8 bytes a candidate) and a
 * row is derived from them when asked for, with the same arithmetic as the model's scoring
 * (`scoreMixture` of one component), so it is the same row; with another model the rows are kept.
 */
import type { HasPersonas } from '../models/model.js';
import type { ComponentLogits } from '../models/component-logits.js';
import type { PersonaSet } from '../models/persona-assignment.js';
import { addExpScaled, addExpScaledAt, sumExpShift, sumExpShiftFinite } from '../math/exp-rows.js';

/** Each persona's own score row and its log normaliser (`PersonaRows`). */
export interface OwnRows {
  row(q: number): Float32Array;
  logNormaliser(q: number): number;
  /**
   * acc[i] += c exp(row(q)[i] - logNormaliser(q)) for every item i with a finite row entry (in
   * ascending item order): the persona's softmax share of a mixture, without making the row.
   */
  addSoftmax(q: number, c: number, acc: Float64Array): void;
  /** acc (all zero) += the shares of every persona q with cs[q] > 0, in persona order (`addSoftmax`). */
  addShares(cs: Float64Array, acc: Float64Array): void;
}

/** log sum_i exp(row_i) over the finite entries of a score row (max-shifted, in item order). */
export function rowLogNormaliser(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i]!) && row[i]! > max) max = row[i]!;
  // sum of Math.exp(row[i] - max) over the finite entries in item order (SIMD, bit for bit)
  return max + Math.log(sumExpShiftFinite(row, max));
}

/**
 * Derived rows (`PersonaRows.row` of a persona with logits) and a transient persona's logits are
 * kept for the most recent PersonaRows that made one only: a request reads the rows of one user
 * state (its profile, the ranks of its explained items, the hedge), and states keep only their
 * lasting logits (memory). A row or logits handed out are never written again; when another state
 * makes some, the previous one's are dropped (made again if asked for).
 */
let rowsHolder: PersonaRows | null = null;

/** Whether a model's candidates are strictly ascending (per candidates array). */
const ascendingCands = new WeakMap<Int32Array, boolean>();

/** The row `PersonaRows.score` has the model write into (the logits are what is kept). */
let scratch = new Float32Array(0);
/** `PersonaRows.ownValues`' scratch row. */
let ownScratch = new Float32Array(0);
/** The logits and log normaliser whose own values `ownScratch` holds. */
let ownOf: { z: Float64Array | null; zl: number } = { z: null, zl: Number.NaN };

export class PersonaRows implements OwnRows, ComponentLogits {
  /** Per persona: its logits over the candidates (null: not computed, or the model keeps none). */
  private readonly z: (Float64Array | null)[];
  /** Per persona: the log normaliser of its logits over all candidates (NaN: not computed yet). */
  private readonly lse: Float64Array;
  /** Per persona: its row, kept only when the model hands out no logits. */
  private readonly rows: (Float32Array | null)[];
  /** Each row's log normaliser (`rowLogNormaliser`; NaN: not computed yet). */
  private readonly norms: Float64Array;
  private readonly dim: number;
  /** The model's candidates (the order of the logits), when it says which they are. */
  private readonly cand: Int32Array | null;
  /** Whether `cand` is strictly ascending (then item order is candidate order, see `logNormaliser`). */
  private readonly ascending: boolean;
  /** Rows derived from logits, kept while this is the `rowsHolder`. */
  private derivedRows: (Float32Array | null)[] = [];
  /**
   * The mixture's sum over personas [0, k - 1) (`addShares`) with their weights, taken over from
   * the previous state while those personas are the same vectors in the same places.
   */
  private prefix: { cs: Float64Array; acc: Float64Array } | null = null;

  /**
   * The rows of `set`; `previous` (the same user's rows of an earlier state, same model) gives
   * the logits and rows of personas whose vectors are bit-for-bit the same. `transient`: a persona
   * whose logits no later state takes over (the recent persona, folded in anew by every like),
   * kept only while this is the `rowsHolder` (the mixture's kept sum takes their memory), or -1.
   */
  constructor(
    private readonly model: HasPersonas,
    private readonly set: PersonaSet,
    private readonly nItems: number,
    previous: PersonaRows | null = null,
    private readonly transient = -1,
  ) {
    this.dim = set.k > 0 ? set.vectors.length / set.k : 0;
    this.z = new Array<Float64Array | null>(set.k).fill(null);
    this.rows = new Array<Float32Array | null>(set.k).fill(null);
    this.lse = new Float64Array(set.k).fill(Number.NaN);
    this.norms = new Float64Array(set.k).fill(Number.NaN);
    const c = (model as { candidateItems?: () => Int32Array }).candidateItems;
    this.cand = typeof c === 'function' ? c.call(model) : null;
    const cand = this.cand;
    if (cand && !ascendingCands.has(cand)) ascendingCands.set(cand, cand.every((j, x) => x === 0 || j > cand[x - 1]!));
    this.ascending = cand !== null && ascendingCands.get(cand) === true;
    if (previous && previous.dim === this.dim && previous.nItems === nItems) {
      for (let q = 0; q < set.k; q++) {
        const p = previous.find(this.vector(q));
        if (p < 0) continue;
        this.z[q] = previous.z[p]!;
        this.rows[q] = previous.rows[p]!;
        this.lse[q] = previous.lse[p]!;
        this.norms[q] = previous.norms[p]!;
      }
      let same = previous.prefix !== null && previous.set.k === set.k;
      for (let q = 0; same && q < set.k - 1; q++) same = sameBits(previous.vector(q), this.vector(q));
      if (same) this.prefix = previous.prefix;
    }
  }

  /** Makes this the `rowsHolder`: the previous holder drops its derived rows and transient logits. */
  private hold(): void {
    if (rowsHolder === this) return;
    if (rowsHolder) {
      rowsHolder.derivedRows = [];
      // its normalisers stay: they are functions of the vector, the same when the logits come back
      if (rowsHolder.transient >= 0 && rowsHolder.transient < rowsHolder.set.k) rowsHolder.z[rowsHolder.transient] = null;
    }
    rowsHolder = this;
  }

  /** Persona q's vector (a view). */
  private vector(q: number): Float32Array {
    return this.set.vectors.subarray(q * this.dim, (q + 1) * this.dim);
  }

  /** The index of a persona with logits or a row whose vector equals `v` bit for bit, or -1. */
  private find(v: Float32Array, computed = true): number {
    for (let q = 0; q < this.set.k; q++) {
      if (computed && !this.z[q] && !this.rows[q]) continue;
      if (sameBits(this.vector(q), v)) return q;
    }
    return -1;
  }

  get(p: Float32Array): Float64Array | null {
    const q = this.find(p);
    return q >= 0 ? this.z[q] ?? null : null;
  }

  put(p: Float32Array, z: Float64Array, lse = Number.NaN): void {
    const q = this.find(p, false);
    if (q >= 0 && !this.z[q] && this.cand && z.length === this.cand.length) {
      this.z[q] = z;
      if (q === this.transient) this.hold();
      // the model's normaliser of these logits over all candidates is the one `derived` computes
      if (Number.isNaN(this.lse[q]!)) this.lse[q] = lse;
    }
  }

  /**
   * Computes persona q's logits (the model's scoring of its vector alone, into a scratch row) when
   * it has neither logits nor a row yet; a model that hands out no logits keeps the row.
   */
  private score(q: number): void {
    if (this.z[q] || this.rows[q]) return;
    if (scratch.length !== this.nItems) scratch = new Float32Array(this.nItems);
    this.model.scorePersonas(this.vector(q), scratch, undefined, this);
    if (!this.z[q]) this.rows[q] = scratch.slice();
  }

  /** Persona q's own scores over every item (non-candidates -Infinity); read-only. */
  row(q: number): Float32Array {
    const kept = this.rows[q];
    if (kept) return kept;
    if (this.z[q]) {
      this.hold();
      return (this.derivedRows[q] ??= this.derived(q));
    }
    const r = new Float32Array(this.nItems);
    this.model.scorePersonas(this.vector(q), r, undefined, this);
    // a model that hands out no logits: keep the row itself
    if (!this.z[q]) this.rows[q] = r;
    return r;
  }

  /**
   * Persona q's row from its logits, as `scoreMixture` computes the row of one component (equal
   * weight, no exclusions): the log normaliser over all candidates, then z - lse + log(1) for
   * each, through the same max and log-sum (a no-op for a finite value, spelt out otherwise).
   */
  private derived(q: number): Float32Array {
    const z = this.z[q]!;
    const cand = this.cand!;
    const lse = this.logitNormaliser(q);
    const out = new Float32Array(this.nItems).fill(-Infinity);
    for (let c = 0; c < z.length; c++) out[cand[c]!] = ownValue(z, c, lse);
    return out;
  }

  /** The log normaliser of persona q's logits over all candidates (the first step of `derived`). */
  private logitNormaliser(q: number): number {
    const z = this.z[q]!;
    const n = z.length;
    if (Number.isNaN(this.lse[q]!)) {
      let m = -Infinity;
      for (let c = 0; c < n; c++) if (z[c]! > m) m = z[c]!;
      // the sum of Math.exp(z[c] - m) in candidate order (SIMD, bit for bit), twice when 0 (the model's loop)
      let sum = sumExpShift(z, m);
      if (sum === 0) sum += sumExpShift(z, m);
      this.lse[q] = m + Math.log(sum);
    }
    return this.lse[q]!;
  }

  /** Whether persona q's row is read from its logits in candidate order (= item order). */
  private fromLogits(q: number): boolean {
    return this.z[q] !== null && this.ascending;
  }

  /** The log normaliser of persona q's row (`rowLogNormaliser`). */
  logNormaliser(q: number): number {
    if (Number.isNaN(this.norms[q]!)) {
      this.score(q);
      if (this.fromLogits(q)) {
        // rowLogNormaliser of the derived row without making it: its finite entries are the
        // candidates' own values, in ascending item order = candidate order
        const own = this.ownValues(q);
        let max = -Infinity;
        for (let c = 0; c < own.length; c++) if (Number.isFinite(own[c]!) && own[c]! > max) max = own[c]!;
        this.norms[q] = max + Math.log(sumExpShiftFinite(own, max));
      } else this.norms[q] = rowLogNormaliser(this.row(q));
    }
    return this.norms[q]!;
  }

  addSoftmax(q: number, c: number, acc: Float64Array): void {
    const lse = this.logNormaliser(q);
    if (this.fromLogits(q)) {
      const own = this.ownValues(q);
      const cand = this.cand!;
      // every item a candidate (ascending: cand[x] = x): the SIMD loop, bit for bit
      if (own.length === acc.length) addExpScaled(acc, own, lse, c);
      else addExpScaledAt(acc, cand, own, lse, c);
      return;
    }
    const row = this.row(q);
    if (row.length === acc.length) addExpScaled(acc, row, lse, c);
    else for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i]!)) acc[i]! += c * Math.exp(row[i]! - lse);
  }

  /** Persona q's own values (`ownValue`) in candidate order, in a scratch row overwritten by the next call. */
  private ownValues(q: number): Float32Array {
    const z = this.z[q]!;
    const zl = this.logitNormaliser(q);
    // the scratch holds them already when they were the last asked for (logits are never written again)
    if (ownOf.z === z && Object.is(ownOf.zl, zl)) return ownScratch.subarray(0, z.length);
    if (ownScratch.length < z.length) ownScratch = new Float32Array(z.length);
    const own = ownScratch.subarray(0, z.length);
    for (let c = 0; c < z.length; c++) own[c] = ownValue(z, c, zl);
    ownOf = { z, zl };
    return own;
  }

  /**
   * `OwnRows.addShares`. The sum over all personas but the last is kept (8 bytes an item, the
   * memory of the transient persona's logits) and taken over by the next state of the user while
   * those personas and their weights are the same: after a like, a training user's mixture adds
   * only the recent persona's share to it. The same additions in the same order, so the same sums.
   */
  addShares(cs: Float64Array, acc: Float64Array): void {
    const last = cs.length - 1;
    if (last < 1 || !this.ascending) {
      for (let q = 0; q <= last; q++) if (cs[q]! > 0) this.addSoftmax(q, cs[q]!, acc);
      return;
    }
    let p = this.prefix;
    let same = p !== null && p.acc.length === acc.length;
    for (let q = 0; same && q < last; q++) same = Object.is(p!.cs[q], cs[q]);
    if (!same) {
      const sum = new Float64Array(acc.length);
      for (let q = 0; q < last; q++) if (cs[q]! > 0) this.addSoftmax(q, cs[q]!, sum);
      p = this.prefix = { cs: cs.slice(0, last), acc: sum };
    }
    acc.set(p!.acc);
    if (cs[last]! > 0) this.addSoftmax(last, cs[last]!, acc);
  }

  /** Bytes held: logits (8 a candidate), rows (4 an item) and the mixture's kept sum (8 an item). */
  get bytes(): number {
    return this.z.reduce((b, z) => b + (z ? z.byteLength : 0), 0) + this.rows.reduce((b, r) => b + (r ? r.byteLength : 0), 0) + (this.prefix ? this.prefix.acc.byteLength : 0);
  }
}

/**
 * A persona's own score of candidate c from its logits, as `scoreMixture` computes the row of one
 * component (equal weight, no exclusions): z - lse + log(1), through the same max and log-sum (a
 * no-op for a finite value, spelt out otherwise), stored as float32.
 */
function ownValue(z: Float64Array, c: number, lse: number): number {
  const logPi = -Math.log(1);
  const x = z[c]! - lse + logPi;
  if (Number.isFinite(x)) return Math.fround(x + 0);
  const m = Math.max(-Infinity, x);
  return Math.fround(m + Math.log(0 + Math.exp(z[c]! - lse + logPi - m)));
}

/** Whether two vectors are the same bit for bit. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let x = 0; x < a.length; x++) if (!Object.is(a[x], b[x])) return false;
  return true;
}
