/**
 * The catalogue as the choice set of the onboarding and confidence posteriors (src/onboard
 * posterior.ts): the basis's coordinates of every catalogue item, and above a size a fixed sample
 * of them that stands for the catalogue in the softmax (ChoiceSet `estimate`).
 */
import { Rng } from '../math/rng.js';
import type { OnboardingBasis } from './basis.js';
import type { ChoiceSet } from './posterior.js';

const choiceSets = new WeakMap<OnboardingBasis, { set: ChoiceSet; rowOf: Int32Array }>();

/**
 * The catalogue as a choice set (candidate-major copy of the basis) and each item's row in it (-1:
 * not in it), built once per basis and shared by onboarding sessions and user confidence.
 */
export function catalogueChoiceSet(basis: OnboardingBasis): { set: ChoiceSet; rowOf: Int32Array } {
  let c = choiceSets.get(basis);
  if (!c) {
    const items = Array.from(basis.candidates).filter((i) => Number.isFinite(basis.base[i]!));
    const M = basis.size;
    const x = new Float64Array(items.length * M);
    const offset = new Float64Array(items.length);
    const rowOf = new Int32Array(basis.nItems).fill(-1);
    items.forEach((i, r) => {
      rowOf[i] = r;
      offset[r] = basis.base[i]!;
      for (let m = 0; m < M; m++) x[r * M + m] = basis.dirs[m * basis.nItems + i]!;
    });
    c = { set: { n: items.length, x, offset, ...estimateOf(x, offset, items.length, M) }, rowOf };
    choiceSets.set(basis, c);
  }
  return c;
}

/**
 * Above this many items the posterior's softmax over the catalogue (the normaliser and the moments
 * of every Newton step of a confidence or onboarding fit) is estimated from a fixed uniform sample
 * of CHOICE_SAMPLE of them (ChoiceSet `estimate`): a fit then costs the same at a million items as
 * at this size.
 */
export const CHOICE_SAMPLE_ABOVE = 16_384;
export const CHOICE_SAMPLE = 8_192;

/** The `estimate` of a catalogue choice set of n rows: a seeded uniform sample of CHOICE_SAMPLE rows, in row order (none at or below CHOICE_SAMPLE_ABOVE). */
function estimateOf(x: Float64Array, offset: Float64Array, n: number, M: number): { estimate?: ChoiceSet } {
  if (n <= CHOICE_SAMPLE_ABOVE) return {};
  // a partial Fisher-Yates shuffle of the row numbers, then the drawn rows in ascending order
  const rng = new Rng(0x5eed);
  const rows = Int32Array.from({ length: n }, (_, r) => r);
  for (let t = 0; t < CHOICE_SAMPLE; t++) {
    const j = t + Math.floor(rng.next() * (n - t));
    const v = rows[t]!;
    rows[t] = rows[j]!;
    rows[j] = v;
  }
  const drawn = rows.subarray(0, CHOICE_SAMPLE).sort();
  const sx = new Float64Array(CHOICE_SAMPLE * M);
  const so = new Float64Array(CHOICE_SAMPLE);
  drawn.forEach((r, t) => {
    so[t] = offset[r]!;
    sx.set(x.subarray(r * M, (r + 1) * M), t * M);
  });
  return { estimate: { n: CHOICE_SAMPLE, x: sx, offset: so } };
}
