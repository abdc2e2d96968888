/**
 * A calibrated probability of relevance per recommendation: isotonic regression
 * (pool-adjacent-violators; Zadrozny and Elkan 2002) of "was it a test item" on the item's raw
 * log-probability under the user's scores, fitted on the validation split, and its reliability
 * (expected calibration error).
 */
import { rowOf, sortedHas } from '../data/csr.js';
import type { Split } from '../data/split.js';
import { rankTestUsers } from '../eval/evaluate.js';
import { ConfigError } from '../errors.js';
import type { Recommender } from '../models/model.js';

/**
 * Isotonic calibration (pool-adjacent-violators): a non-decreasing step function from a raw score
 * to a probability, fitted on (score, 0/1 outcome) pairs; between knots it interpolates linearly.
 */
export class Calibrator {
  private constructor(
    /** Right edges of the blocks (ascending raw scores). */
    readonly xs: Float64Array,
    /** Fitted probability of each block (non-decreasing). */
    readonly ps: Float64Array,
  ) {}

  static fit(scores: ArrayLike<number>, outcomes: ArrayLike<number>): Calibrator {
    if (scores.length !== outcomes.length) throw new ConfigError(`${scores.length} scores but ${outcomes.length} outcomes`, 'calibrator');
    const idx = Array.from({ length: scores.length }, (_, i) => i).filter((i) => Number.isFinite(scores[i]!));
    if (idx.length === 0) throw new ConfigError('no finite scores to calibrate on', 'calibrator');
    idx.sort((a, b) => scores[a]! - scores[b]! || a - b);
    // blocks: sum of outcomes, count, max score
    const sum: number[] = [];
    const cnt: number[] = [];
    const hi: number[] = [];
    for (const i of idx) {
      sum.push(outcomes[i]!);
      cnt.push(1);
      hi.push(scores[i]!);
      // merge equal scores and violators
      while (sum.length > 1) {
        const j = sum.length - 1;
        const sameX = hi[j - 1] === hi[j];
        if (!sameX && sum[j - 1]! / cnt[j - 1]! <= sum[j]! / cnt[j]!) break;
        sum[j - 1] = sum[j - 1]! + sum[j]!;
        cnt[j - 1] = cnt[j - 1]! + cnt[j]!;
        hi[j - 1] = hi[j]!;
        sum.pop();
        cnt.pop();
        hi.pop();
      }
    }
    return new Calibrator(Float64Array.from(hi), Float64Array.from(sum, (s, j) => s / cnt[j]!));
  }

  static fromJSON(j: { xs: number[]; ps: number[] }): Calibrator {
    return new Calibrator(Float64Array.from(j.xs), Float64Array.from(j.ps));
  }

  toJSON(): { xs: number[]; ps: number[] } {
    return { xs: Array.from(this.xs), ps: Array.from(this.ps) };
  }

  /** The calibrated probability of a raw score (step function: the block whose range holds it). */
  predict(score: number): number {
    const xs = this.xs;
    if (!Number.isFinite(score)) return score > 0 ? this.ps[this.ps.length - 1]! : this.ps[0]!;
    let lo = 0;
    let hi = xs.length - 1;
    if (score >= xs[hi]!) return this.ps[hi]!;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]! >= score) hi = mid;
      else lo = mid + 1;
    }
    return this.ps[lo]!;
  }
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  meanPredicted: number;
  observed: number;
}

/**
 * Expected calibration error with `bins` equal-width bins of the predicted probability:
 * ECE = sum_b (n_b / N) |mean(y in b) - mean(p in b)| (Naeini, Cooper and Hauskrecht 2015).
 */
export function reliability(predicted: ArrayLike<number>, outcomes: ArrayLike<number>, bins = 10): { ece: number; bins: ReliabilityBin[] } {
  const n = predicted.length;
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const cnt = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = predicted[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    sumP[b] = sumP[b]! + p;
    sumY[b] = sumY[b]! + outcomes[i]!;
    cnt[b] = cnt[b]! + 1;
  }
  let ece = 0;
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = cnt[b]!;
    if (c > 0) ece += (c / n) * Math.abs(sumY[b]! / c - sumP[b]! / c);
    out.push({ lo: b / bins, hi: (b + 1) / bins, count: c, meanPredicted: c > 0 ? sumP[b]! / c : 0, observed: c > 0 ? sumY[b]! / c : 0 });
  }
  return { ece: n > 0 ? ece : 0, bins: out };
}

/** A score row as log-probabilities over the candidates (log-softmax), the calibrator's raw score. */
export function logSoftmax(scores: Float32Array, candidates: Int32Array, out = new Float64Array(scores.length)): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const i of candidates) if (scores[i]! > max) max = scores[i]!;
  let z = 0;
  for (const i of candidates) z += Math.exp(scores[i]! - max);
  const logZ = max + Math.log(z);
  out.fill(Number.NEGATIVE_INFINITY);
  for (const i of candidates) out[i] = scores[i]! - logZ;
  return out;
}

export interface ScoredLists {
  lists: Int32Array[];
  /** Per user, the log-probability of each list item. */
  logp: Float64Array[];
  scores: Float32Array[] | null;
}

/** Top-k lists with each item's log-probability (log-softmax of the user's scores over the candidates). */
export function scoredLists(model: Recommender, split: Split, k: number, keepScores = false): ScoredLists {
  const logp: Float64Array[] = [];
  const kept: Float32Array[] = [];
  const lp = new Float64Array(split.train.nItems);
  const lists = rankTestUsers(model, split, {
    k,
    onList: (_b, row, list) => {
      logSoftmax(row, split.train.candidates, lp);
      logp.push(Float64Array.from(list, (i) => lp[i]!));
      if (keepScores) kept.push(Float32Array.from(row));
    },
  });
  return { lists, logp, scores: keepScores ? kept : null };
}

/** Flattened (raw log-probability, relevant?) pairs of a split's lists: the calibrator's training data. */
export function calibrationPairs(split: Split, s: ScoredLists): { x: Float64Array; y: Float64Array } {
  const x: number[] = [];
  const y: number[] = [];
  split.testUsers.forEach((u, b) => {
    const test = rowOf(split.test, u);
    s.lists[b]!.forEach((i, r) => {
      x.push(s.logp[b]![r]!);
      y.push(sortedHas(test, 0, test.length, i) ? 1 : 0);
    });
  });
  return { x: Float64Array.from(x), y: Float64Array.from(y) };
}

/**
 * The calibrator of a model: fit it on `validationSplit(split)` (a model fitted on its train), then
 * this scores its top-k lists and fits the isotonic map from log-probability to relevance.
 */
export function fitCalibrator(model: Recommender, validation: Split, k = 20): Calibrator {
  const pairs = calibrationPairs(validation, scoredLists(model, validation, k));
  return Calibrator.fit(pairs.x, pairs.y);
}

/** Calibrated probabilities of `items` for a user's score row (all items). */
export function itemProbabilities(calibrator: Calibrator, scores: Float32Array, candidates: Int32Array, items: Int32Array): Float64Array {
  const lp = logSoftmax(scores, candidates);
  return Float64Array.from(items, (i) => calibrator.predict(lp[i]!));
}
