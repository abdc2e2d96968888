/**
 * Adaptive onboarding (PRODUCT.md P9): a new user answers "which would you rather watch, A or B?"
 * (or both, or neither); their taste is a mixture over the basis of `basis.ts`, with a Laplace
 * posterior over the mixture weights under a Bradley-Terry likelihood (`posterior.ts`). The next
 * question is the pool pair whose answer is expected to tell the most about the weights (BALD,
 * Houlsby et al. 2011): the predicted preference is uncertain because the weights are. After every
 * answer `recommend(n)` ranks all candidates by the posterior-mean utility.
 *
 * Answers become observations (logit = beta * utility difference):
 *   'a'       a beats b (weight 1);          'b': b beats a;
 *   'both'    a and b each beat the reference (the pool's average utility), weight 1/2 each;
 *   'neither' the reference beats a and b, weight 1/2 each.
 * Items answered 'a', 'b' (the chosen one) or 'both' are liked: never recommended back.
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';
import type { Recommender } from '../models/model.js';
import { select } from '../rank/pipeline.js';
import type { TrainSet } from '../data/train-set.js';
import { asPersonaModel, onboardingBasis, type OnboardingBasis } from './basis.js';
import { bald, estimatedSoftmax, LaplacePosterior, type ChoiceSet, type Observation } from './posterior.js';
import { catalogueChoiceSet } from './choice-set.js';
export { catalogueChoiceSet, CHOICE_SAMPLE, CHOICE_SAMPLE_ABOVE } from './choice-set.js';

export { bald, LaplacePosterior, sigmoid } from './posterior.js';
export { buildBasis, onboardingBasis, symmetricEigen, type OnboardingBasis } from './basis.js';

export type Answer = 'a' | 'b' | 'both' | 'neither';
export const ANSWERS: readonly Answer[] = ['a', 'b', 'both', 'neither'];

export interface Question {
  a: number;
  b: number;
}

/** How the next question is chosen: adaptive (BALD), random pool pairs, or the most popular pairs. */
export type QuestionStrategy = 'adaptive' | 'random' | 'popular';

export interface OnboardingOptions {
  seed?: number;
  /** Question pool: the this-many most popular items (default 200). */
  pool?: number;
  /** Basis prototypes (default 16). */
  basis?: number;
  /** Prior standard deviation of every mixture weight (default 1). */
  priorStd?: number;
  /** Inverse temperature of the preference likelihood (default 1). */
  beta?: number;
  strategy?: QuestionStrategy;
  /** Weight of the softmax-choice likelihood of each liked item (default 1; 0 = pairwise only). */
  choiceWeight?: number;
  /** Seed of the basis (k-means), shared by every session of a model so the basis is computed once. */
  basisSeed?: number;
}

export interface OnboardingState {
  version: 1;
  options: Required<OnboardingOptions>;
  answers: { a: number; b: number; answer: Answer }[];
}

function resolve(opts: OnboardingOptions): Required<OnboardingOptions> {
  const r = {
    seed: opts.seed ?? 42,
    pool: opts.pool ?? 200,
    basis: opts.basis ?? 16,
    priorStd: opts.priorStd ?? 1,
    beta: opts.beta ?? 1,
    strategy: opts.strategy ?? 'adaptive',
    basisSeed: opts.basisSeed ?? 42,
    choiceWeight: opts.choiceWeight ?? 1,
  };
  if (!Number.isInteger(r.pool) || r.pool < 2) throw new ConfigError(`pool must be an integer >= 2, got ${r.pool}`, 'onboarding.pool');
  if (!Number.isInteger(r.basis) || r.basis < 1) throw new ConfigError(`basis must be a positive integer, got ${r.basis}`, 'onboarding.basis');
  if (!(r.priorStd > 0)) throw new ConfigError(`priorStd must be positive, got ${r.priorStd}`, 'onboarding.priorStd');
  if (!(r.beta > 0)) throw new ConfigError(`beta must be positive, got ${r.beta}`, 'onboarding.beta');
  return r;
}

export class OnboardingSession {
  readonly basis: OnboardingBasis;
  readonly options: Required<OnboardingOptions>;
  readonly posterior: LaplacePosterior;
  private readonly asked = new Set<number>();
  private readonly likedSet = new Set<number>();
  /** Items answered "neither": never recommended. */
  private readonly rejectedSet = new Set<number>();
  private readonly log: { a: number; b: number; answer: Answer }[] = [];
  private readonly rng: Rng;
  /** Reference utility (pool average): offset and direction. */
  private readonly ref0: number;
  private readonly refDir: Float64Array;
  private popularCursor = 0;

  constructor(model: Recommender, train: TrainSet, opts: OnboardingOptions = {}) {
    this.options = resolve(opts);
    this.basis = onboardingBasis(asPersonaModel(model), train, { size: this.options.basis, pool: this.options.pool, seed: this.options.basisSeed });
    const M = this.basis.size;
    this.posterior = new LaplacePosterior(new Float64Array(M), this.options.priorStd * this.options.priorStd);
    this.posterior.choiceSet = choiceSetOf(this.basis);
    this.rng = new Rng(this.options.seed).derive('onboard', 'questions');
    const { pool, base, dirs, nItems } = this.basis;
    let r0 = 0;
    this.refDir = new Float64Array(M);
    for (const i of pool) {
      r0 += base[i]!;
      for (let m = 0; m < M; m++) this.refDir[m] = this.refDir[m]! + dirs[m * nItems + i]!;
    }
    this.ref0 = r0 / pool.length;
    for (let m = 0; m < M; m++) this.refDir[m] = this.refDir[m]! / pool.length;
  }

  /** Restores a session from `toJSON()` by replaying its answers. */
  static restore(model: Recommender, train: TrainSet, state: OnboardingState): OnboardingSession {
    if (state.version !== 1) throw new ConfigError(`unknown onboarding state version ${String(state.version)}`, 'onboarding');
    const s = new OnboardingSession(model, train, state.options);
    for (const a of state.answers) {
      if (s.options.strategy === 'random') s.next(); // keep the random stream in step
      s.record(a, a.answer, false);
    }
    s.posterior.refit();
    return s;
  }

  /** Number of answers so far. */
  get answered(): number {
    return this.log.length;
  }

  /** The next question, or null when the pool is used up. */
  next(): Question | null {
    const free = Array.from(this.basis.pool).filter((i) => !this.asked.has(i));
    if (free.length < 2) return null;
    if (this.options.strategy === 'random') {
      const a = this.rng.int(free.length);
      let b = this.rng.int(free.length - 1);
      if (b >= a) b++;
      return { a: free[a]!, b: free[b]! };
    }
    if (this.options.strategy === 'popular') return { a: free[0]!, b: free[1]! };
    return this.mostInformative(free);
  }

  /**
   * The pair of `items` whose answer is expected to tell the most about the weights:
   *   BALD(preference a vs b) + sum over a, b of P(liked) * 1/2 log(1 + s^2),
   * the second term being the information of "this item was liked" (a softmax choice, whose
   * Fisher information along the item's centred direction is ~ its predictive variance s^2), and
   * P(liked) = 1 - exp(-L p_i) with p_i the item's posterior-mean softmax share and L the mean
   * history length of the training users. Without it the questions would be the most uncertain
   * pairs of items nobody has seen, answered "neither".
   */
  mostInformative(items: readonly number[]): Question | null {
    const P = items.length;
    if (P < 2) return null;
    const M = this.basis.size;
    const { base, dirs, nItems } = this.basis;
    const beta = this.options.beta;
    const mean = this.posterior.mean;
    const cov = this.posterior.cov;
    // X: P x M scaled directions; f: predictive mean utility (logit scale); G = X cov X^T
    const X = new Float64Array(P * M);
    const f = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      const i = items[p]!;
      let s = beta * base[i]!;
      for (let m = 0; m < M; m++) {
        const v = beta * dirs[m * nItems + i]!;
        X[p * M + m] = v;
        s += mean[m]! * v;
      }
      f[p] = s;
    }
    const XC = new Float64Array(P * M);
    for (let p = 0; p < P; p++) {
      for (let j = 0; j < M; j++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += X[p * M + m]! * cov[m * M + j]!;
        XC[p * M + j] = s;
      }
    }
    const diag = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += XC[p * M + m]! * X[p * M + m]!;
      diag[p] = s;
    }
    const likeInfo = new Float64Array(P);
    if (this.options.choiceWeight > 0) {
      const { logZ, L } = this.catalogueNormaliser();
      // variance of the item's utility relative to the catalogue average direction
      const xbar = this.catalogueMeanDirection();
      for (let p = 0; p < P; p++) {
        const i = items[p]!;
        let u = base[i]!;
        for (let m = 0; m < M; m++) u += mean[m]! * dirs[m * nItems + i]!;
        const like = 1 - Math.exp(-L * Math.exp(u - logZ));
        const c = new Float64Array(M);
        for (let m = 0; m < M; m++) c[m] = dirs[m * nItems + i]! - xbar[m]!;
        let v = 0;
        for (let a = 0; a < M; a++) {
          let t = 0;
          for (let b = 0; b < M; b++) t += cov[a * M + b]! * c[b]!;
          v += c[a]! * t;
        }
        likeInfo[p] = like * 0.5 * Math.log1p(this.options.choiceWeight * v);
      }
    }
    let best = -1;
    let bestA = 0;
    let bestB = 1;
    for (let p = 0; p < P; p++) {
      for (let q = p + 1; q < P; q++) {
        let cross = 0;
        for (let m = 0; m < M; m++) cross += XC[p * M + m]! * X[q * M + m]!;
        const v = diag[p]! + diag[q]! - 2 * cross;
        const info = bald(f[p]! - f[q]!, v) * Math.LN2 + likeInfo[p]! + likeInfo[q]!;
        if (info > best) {
          best = info;
          bestA = p;
          bestB = q;
        }
      }
    }
    return { a: items[bestA]!, b: items[bestB]! };
  }

  /** log-normaliser of the posterior-mean softmax over the catalogue, and the mean history length. */
  private catalogueNormaliser(): { logZ: number; L: number } {
    return { logZ: estimatedSoftmax(choiceSetOf(this.basis), this.posterior.mean).logZ, L: this.basis.meanHistory };
  }

  private catalogueMeanDirection(): Float64Array {
    const cs = choiceSetOf(this.basis);
    const M = this.basis.size;
    const xbar = new Float64Array(M);
    for (let r = 0; r < cs.n; r++) for (let m = 0; m < M; m++) xbar[m] = xbar[m]! + cs.x[r * M + m]!;
    for (let m = 0; m < M; m++) xbar[m] = xbar[m]! / Math.max(1, cs.n);
    return xbar;
  }

  /** Expected information of one question (bits), for diagnostics and tests. */
  information(q: Question): number {
    const d = this.diffVector(q.a, q.b);
    const pred = this.posterior.predict(d.d, d.offset);
    return bald(pred.mean, pred.variance);
  }

  answer(q: Question, ans: Answer): void {
    if (!ANSWERS.includes(ans)) throw new ConfigError(`answer must be one of ${ANSWERS.join(', ')}, got "${String(ans)}"`, 'onboarding.answer');
    this.record(q, ans, true);
  }

  private record(q: Question, ans: Answer, refit: boolean): void {
    const { nItems, base } = this.basis;
    for (const i of [q.a, q.b]) {
      if (!Number.isInteger(i) || i < 0 || i >= nItems || !Number.isFinite(base[i]!)) {
        throw new ConfigError(`item index ${i} is not a recommendable item`, 'onboarding.answer');
      }
    }
    if (q.a === q.b) throw new ConfigError('a question needs two different items', 'onboarding.answer');
    this.asked.add(q.a);
    this.asked.add(q.b);
    this.log.push({ a: q.a, b: q.b, answer: ans });
    const obs: Observation[] = [];
    if (ans === 'a' || ans === 'b') {
      const d = this.diffVector(q.a, q.b);
      obs.push({ d: d.d, offset: d.offset, y: ans === 'a' ? 1 : 0, c: 1 });
      this.likedSet.add(ans === 'a' ? q.a : q.b);
    } else {
      for (const i of [q.a, q.b]) {
        const d = this.refVector(i);
        obs.push({ d: d.d, offset: d.offset, y: ans === 'both' ? 1 : 0, c: 0.5 });
        if (ans === 'both') this.likedSet.add(i);
        else this.rejectedSet.add(i);
      }
    }
    for (const o of obs) this.posterior.observations.push(o);
    // a liked item is also a draw from the user's softmax over the catalogue (the multinomial
    // likelihood the persona model is trained with): far more informative than the pairwise bit
    const chosen = ans === 'a' ? [q.a] : ans === 'b' ? [q.b] : ans === 'both' ? [q.a, q.b] : [];
    const cs = this.posterior.choiceSet;
    if (cs && this.options.choiceWeight > 0) for (const i of chosen) this.posterior.choices.push({ index: choiceRow(this.basis, i), c: this.options.choiceWeight });
    if (refit) this.posterior.refit();
  }

  /** Logit of "a preferred to b" = offset + w . d. */
  private diffVector(a: number, b: number): { d: Float64Array; offset: number } {
    const { base, dirs, nItems, size } = this.basis;
    const beta = this.options.beta;
    const d = new Float64Array(size);
    for (let m = 0; m < size; m++) d[m] = beta * (dirs[m * nItems + a]! - dirs[m * nItems + b]!);
    return { d, offset: beta * (base[a]! - base[b]!) };
  }

  private refVector(a: number): { d: Float64Array; offset: number } {
    const { base, dirs, nItems, size } = this.basis;
    const beta = this.options.beta;
    const d = new Float64Array(size);
    for (let m = 0; m < size; m++) d[m] = beta * (dirs[m * nItems + a]! - this.refDir[m]!);
    return { d, offset: beta * (base[a]! - this.ref0) };
  }

  /** Posterior-mean utility of every item (non-candidates -Infinity). */
  scores(out = new Float32Array(this.basis.nItems)): Float32Array {
    const { base, dirs, nItems, size } = this.basis;
    const mean = this.posterior.mean;
    for (let i = 0; i < nItems; i++) out[i] = base[i]!;
    for (let m = 0; m < size; m++) {
      const w = mean[m]!;
      if (w === 0) continue;
      const row = m * nItems;
      for (const i of this.basis.candidates) out[i] = out[i]! + w * dirs[row + i]!;
    }
    return out;
  }

  /** The top n items by posterior-mean utility, excluding the items answered as liked or rejected ("neither"). */
  recommend(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`n must be a positive integer, got ${n}`, 'onboarding.recommend');
    const answered = Int32Array.from(new Set([...this.likedSet, ...this.rejectedSet])).sort();
    return select(this.scores(), { candidates: this.basis.candidates, itemRanks: this.basis.itemRanks, exclude: answered }, { user: -1, history: this.liked() }, { k: n }).list;
  }

  /** Items answered as liked, ascending. */
  liked(): Int32Array {
    return Int32Array.from(this.likedSet).sort();
  }

  /** Items answered "neither" (rejected), ascending. */
  rejected(): Int32Array {
    return Int32Array.from(this.rejectedSet).sort();
  }

  answers(): readonly { a: number; b: number; answer: Answer }[] {
    return this.log;
  }

  posteriorMean(): Float32Array {
    return Float32Array.from(this.posterior.mean);
  }

  /** Posterior standard deviation averaged over the weights (the prior's is `priorStd`). */
  posteriorSpread(): number {
    return Math.sqrt(this.posterior.trace() / this.basis.size);
  }

  toJSON(): OnboardingState {
    return { version: 1, options: { ...this.options }, answers: this.log.map((a) => ({ ...a })) };
  }
}

/** A new onboarding session over a fitted persona model (the basis is computed once per model). */
export function createOnboarding(model: Recommender, train: TrainSet, opts: OnboardingOptions = {}): OnboardingSession {
  return new OnboardingSession(model, train, opts);
}

function choiceSetOf(basis: OnboardingBasis): ChoiceSet {
  return catalogueChoiceSet(basis).set;
}

function choiceRow(basis: OnboardingBasis, item: number): number {
  return catalogueChoiceSet(basis).rowOf[item]!;
}
