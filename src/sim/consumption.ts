/**
 * The simulated user's position and consumption model (src/sim/feedback.ts, docs/studies.md
 * "feedback-loop"): rank r is examined with probability 1 / log2(r + 1), an examined item is
 * consumed with probability min(1, pref / tau_u), one uniform number per position.
 */
import type { UserPreference } from './planted.js';

/** List length k. */
export const LIST_LENGTH = 10;


/** Examination probability of 1-based rank r: 1 / log2(r + 1). */
export function examination(rank: number): number {
  if (!(Number.isInteger(rank) && rank >= 1)) throw new RangeError(`examination: rank must be a positive integer, got ${rank}`);
  return 1 / Math.log2(rank + 1);
}

/** Probability that an examined item is consumed: min(1, pref / tau); 0 when tau <= 0. */
export function clickProbability(pref: number, tau: number): number {
  return tau > 0 && pref > 0 ? Math.min(1, pref / tau) : 0;
}

/** Expected number of consumed items of a list whose rank r (0-based index) has attractiveness a[r]. */
export function expectedConsumption(attractiveness: ArrayLike<number>): number {
  let s = 0;
  for (let r = 0; r < attractiveness.length; r++) s += examination(r + 1) * attractiveness[r]!;
  return s;
}

/**
 * The positions (0-based) consumed: position r is consumed when uniforms[r] < e(r + 1) a[r]
 * (examined, then clicked: the product of two independent events, drawn with one number).
 */
export function consumedPositions(attractiveness: ArrayLike<number>, uniforms: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let r = 0; r < attractiveness.length; r++) if (uniforms[r]! < examination(r + 1) * attractiveness[r]!) out.push(r);
  return out;
}

/** tau_u: the user's n-th largest planted preference (the smallest positive one when fewer). */
export function consumptionThreshold(pref: UserPreference, n = LIST_LENGTH): number {
  if (pref.ranked.length === 0) return 0;
  return pref.pref[pref.ranked[Math.min(n, pref.ranked.length) - 1]!]!;
}
