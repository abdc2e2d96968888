/**
 * Share slates for the persona model (`slate: 'shares'`, docs/personas.md): instead of ranking by
 * the mixture score, the first `slateSize` places of a user's list are dealt to the personas in
 * proportion to their shares, and each place is filled with the best item of that persona's own
 * ranking that is not yet in the list (de-duplicated).
 *
 * The order in which the personas take places is the chairman-assignment sequence of Tijdeman
 * (1980): after every prefix of t places, persona k holds floor(t s_k) or ceil(t s_k) of them, so
 * the allocation is proportional (within one place) at every cut-off at once, and the list for
 * cut-off K is the prefix of the list for any larger cut-off (no Alabama paradox, unlike a
 * largest-remainder allocation that is recomputed per K; for a single K both satisfy quota).
 *
 * The model still returns scores, so the list pipeline (rank/pipeline.ts) stays the only place
 * that cuts lists: the slate's items get scores above every other item, decreasing along the slate,
 * and all other items keep their mixture scores.
 */
import { TopKSelector } from '../math/topk.js';

/**
 * The persona that takes each of the first `n` places, for shares `shares` (non-negative; they are
 * normalised; a persona with share 0 never takes a place). Tijdeman's rule with sigma = 1/(2K - 2)
 * over the K personas with a positive share: at place t, among the personas with
 * t s_k - c_k >= sigma (c_k: places taken so far), the one with the earliest deadline
 * (c_k + 1 - sigma) / s_k takes it (ties: lower index). Then |c_k(t) - t s_k| <= 1 - sigma < 1 for
 * every t and k.
 */
export function shareSequence(shares: ArrayLike<number>, n: number): Int32Array {
  const k = shares.length;
  const out = new Int32Array(Math.max(0, n));
  let total = 0;
  for (let q = 0; q < k; q++) {
    const s = shares[q]!;
    if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`shareSequence: share ${q} is ${s}; shares must be finite and >= 0`);
    total += s;
  }
  if (total <= 0) throw new RangeError('shareSequence: at least one share must be positive');
  const s = Float64Array.from({ length: k }, (_, q) => shares[q]! / total);
  let active = 0;
  for (let q = 0; q < k; q++) if (s[q]! > 0) active++;
  const sigma = active > 1 ? 1 / (2 * active - 2) : 0;
  const count = new Float64Array(k);
  // tolerance for the eligibility test: t s_k is computed in floating point
  const eps = 1e-9;
  for (let t = 1; t <= out.length; t++) {
    let best = -1;
    let bestDeadline = Infinity;
    for (let q = 0; q < k; q++) {
      if (s[q]! === 0 || t * s[q]! - count[q]! < sigma - eps) continue;
      const deadline = (count[q]! + 1 - sigma) / s[q]!;
      if (deadline < bestDeadline - eps) {
        best = q;
        bestDeadline = deadline;
      }
    }
    if (best < 0) {
      // not reached by the theorem; a guard against rounding: the largest deficit takes the place
      let bestDeficit = -Infinity;
      for (let q = 0; q < k; q++) if (s[q]! > 0 && t * s[q]! - count[q]! > bestDeficit) [best, bestDeficit] = [q, t * s[q]! - count[q]!];
    }
    out[t - 1] = best;
    count[best]!++;
  }
  return out;
}

/**
 * Fills the places of `sequence` (a persona per place) from each persona's ranking (item indices,
 * best first): a place takes its persona's best item not yet in the list. A persona whose ranking
 * has no unused item left gives the place to the next persona in `sequence` that has one (then to
 * any persona); the slate ends when no persona has an unused item. Returns the slate (distinct
 * items, at most sequence.length).
 */
export function fillSlate(rankings: readonly Int32Array[], sequence: Int32Array): Int32Array {
  const used = new Set<number>();
  const next = new Int32Array(rankings.length);
  const out: number[] = [];
  const take = (q: number): boolean => {
    const r = rankings[q]!;
    let p = next[q]!;
    while (p < r.length && used.has(r[p]!)) p++;
    next[q] = p;
    if (p >= r.length) return false;
    used.add(r[p]!);
    out.push(r[p]!);
    next[q] = p + 1;
    return true;
  };
  for (let t = 0; t < sequence.length; t++) {
    if (take(sequence[t]!)) continue;
    let done = false;
    for (let u = t + 1; u < sequence.length && !done; u++) if (sequence[u] !== sequence[t]) done = take(sequence[u]!);
    for (let q = 0; q < rankings.length && !done; q++) done = take(q);
    if (!done) break;
  }
  return Int32Array.from(out);
}

/**
 * Writes the slate into a score row: the slate's items get scores above every finite score of
 * `out` (top + 1 + slate.length - position), decreasing along the slate; the other items keep
 * theirs. So the best-first order of `out` starts with the slate.
 */
export function writeSlateScores(out: Float32Array, slate: Int32Array): void {
  let top = -Infinity;
  for (let i = 0; i < out.length; i++) if (out[i]! > top && out[i]! !== Infinity) top = out[i]!;
  const base = Number.isFinite(top) ? Math.max(0, Math.ceil(top)) : 0;
  for (let t = 0; t < slate.length; t++) out[slate[t]!] = base + 1 + (slate.length - t);
}

/** What `personaSlate` needs besides the components' scores. */
export interface SlateInput {
  nItems: number;
  /** Candidate items, ascending. */
  cand: Int32Array;
  /** Number of personas; component row `personas` is the whole-history row when `hasWhole`. */
  personas: number;
  hasWhole: boolean;
  /** Weight of the whole-history softmax inside each persona's own ranking (0..1). */
  wholeWeight: number;
  /** Items left out of the slate (the history), or null. */
  excl: Uint8Array | null;
  /** Each persona's share of the slate (length `personas`). */
  shares: ArrayLike<number>;
  /** Places in the slate. */
  size: number;
}

/**
 * A persona set's share slate. Persona k's own ranking orders the candidates outside the history
 * by log(w soft_all(i) + (1 - w) soft_k(i)) (w = wholeWeight when there is a whole-history row,
 * else 0), each softmax exact over the candidates outside the history as in the mixture score; ties
 * by item index. Only each persona's best `size` items are needed (a persona never takes more than
 * `size` places). With one persona and no whole-history row the slate is that persona's ranking.
 * `scoreComponent(row, out)` writes component `row`'s log softmax (over the candidates outside the
 * history) into `out`.
 */
export function personaSlate(inp: SlateInput, scoreComponent: (row: number, out: Float32Array) => void): Int32Array {
  const { nItems, cand, personas, excl, size } = inp;
  if (personas < 1 || size < 1) return new Int32Array(0);
  const exclude = excl ? Int32Array.from(cand.filter((j) => excl[j] === 1)) : null;
  const tie = identityRanks(nItems);
  const w = inp.hasWhole ? inp.wholeWeight : 0;
  let all: Float32Array | null = null;
  if (w > 0) {
    all = new Float32Array(nItems);
    scoreComponent(personas, all);
  }
  const own = new Float32Array(nItems);
  const sel = new TopKSelector(size);
  const buf = new Int32Array(size);
  const rankings: Int32Array[] = [];
  for (let q = 0; q < personas; q++) {
    scoreComponent(q, own);
    if (all && w >= 1) own.set(all);
    else if (all) {
      const la = Math.log(w);
      const lb = Math.log(1 - w);
      for (const j of cand) {
        const a = la + all[j]!;
        const b = lb + own[j]!;
        const m = Math.max(a, b);
        own[j] = m === -Infinity ? -Infinity : m + Math.log(Math.exp(a - m) + Math.exp(b - m));
      }
    }
    const found = sel.select(own, cand, tie, exclude, buf);
    rankings.push(buf.slice(0, found));
  }
  return fillSlate(rankings, shareSequence(inp.shares, size));
}

let identity = new Int32Array(0);
function identityRanks(n: number): Int32Array {
  if (identity.length < n) identity = Int32Array.from({ length: n }, (_, i) => i);
  return identity.subarray(0, n);
}

/**
 * The calibrated slate (`slate: 'calibrated'`), after Steck's calibrated recommendations (2018)
 * with the personas in place of genres: places are filled greedily, each with the item of `pool`
 * that maximises (1 - lambda) sum_{i in list} rel(i) - lambda KL(p || q~), where p = the
 * shares, q = the mean persona responsibility r(i) of the listed items, r_k(i) ∝ p_k own_k(i)
 * (own_k: persona k's probability of i), and q~ = 0.99 q + 0.01 p. `rel` is the ranking score
 * (the log mixture score); ties by pool order. lambda = 0 is the top of `pool` by `rel`.
 * `own[k]` holds persona k's log probabilities over the items.
 */
export function calibratedSlate(rel: Float32Array, own: readonly Float32Array[], shares: ArrayLike<number>, pool: Int32Array, size: number, lambda: number): Int32Array {
  const k = own.length;
  let total = 0;
  for (let q = 0; q < k; q++) total += shares[q]!;
  const p = Float64Array.from({ length: k }, (_, q) => shares[q]! / total);
  // responsibilities of the pool's items
  const r = new Float64Array(pool.length * k);
  pool.forEach((j, c) => {
    let m = -Infinity;
    for (let q = 0; q < k; q++) if (p[q]! > 0) m = Math.max(m, Math.log(p[q]!) + own[q]![j]!);
    let s = 0;
    for (let q = 0; q < k; q++) s += r[c * k + q] = p[q]! > 0 && m > -Infinity ? Math.exp(Math.log(p[q]!) + own[q]![j]! - m) : 0;
    for (let q = 0; q < k; q++) r[c * k + q] = s > 0 ? r[c * k + q]! / s : p[q]!;
  });
  const sumR = new Float64Array(k);
  const taken = new Uint8Array(pool.length);
  const out: number[] = [];
  const n = Math.min(size, pool.length);
  for (let t = 0; t < n; t++) {
    let best = -1;
    let bestV = -Infinity;
    for (let c = 0; c < pool.length; c++) {
      if (taken[c]) continue;
      const s = rel[pool[c]!]!;
      if (s === -Infinity) continue;
      let kl = 0;
      for (let q = 0; q < k; q++) {
        if (p[q]! === 0) continue;
        const qt = 0.99 * ((sumR[q]! + r[c * k + q]!) / (t + 1)) + 0.01 * p[q]!;
        kl += p[q]! * Math.log(p[q]! / qt);
      }
      const v = (1 - lambda) * s - lambda * kl;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    for (let q = 0; q < k; q++) sumR[q]! += r[best * k + q]!;
    out.push(pool[best]!);
  }
  return Int32Array.from(out);
}

/**
 * A persona set's calibrated slate: the pool is the best 4 x `size` candidates outside the history
 * by `rel` (the mixture score), the responsibilities come from each persona's own softmax (without
 * the whole-history row).
 */
export function personaCalibratedSlate(inp: SlateInput, rel: Float32Array, scoreComponent: (row: number, out: Float32Array) => void, lambda: number): Int32Array {
  const { nItems, cand, personas, excl, size } = inp;
  if (personas < 1 || size < 1) return new Int32Array(0);
  const exclude = excl ? Int32Array.from(cand.filter((j) => excl[j] === 1)) : null;
  const poolSize = Math.min(cand.length, 4 * size);
  const buf = new Int32Array(poolSize);
  const found = new TopKSelector(poolSize).select(rel, cand, identityRanks(nItems), exclude, buf);
  const own = Array.from({ length: personas }, (_, q) => {
    const o = new Float32Array(nItems);
    scoreComponent(q, o);
    return o;
  });
  return calibratedSlate(rel, own, inp.shares, buf.subarray(0, found), size, lambda);
}
