/**
 * How much the model knows about a user (PRODUCT.md P10), from the history size, the persona
 * ambiguity (how unclear it is which persona explains each history item), the spread of the
 * Laplace posterior over the user's weights in the onboarding basis (`src/onboard`), how well the
 * persona set explains the history (its AUC) and how well the model knows the history's items
 * (their training positives), each in [0, 1], combined by a geometric mean.
 */
import type { TrainSet } from '../data/train-set.js';
import { cholesky, choleskyInverse } from '../math/cholesky.js';
import { personasFor, personaWeightsOf, type HasPersonas, type Recommender } from '../models/model.js';
import type { PersonaSet } from '../models/persona-assignment.js';
import { asPersonaModel, onboardingBasis, type OnboardingBasis } from '../onboard/basis.js';
import { catalogueChoiceSet } from '../onboard/index.js';
import { LaplacePosterior } from '../onboard/posterior.js';

export interface ConfidenceOptions {
  /** History size at which the history factor is 1/2 (default 10). */
  halfHistory?: number;
  /** Basis directions of the posterior (default 16, as onboarding). */
  basis?: number;
  /** Training positives at which an item's evidence is 1/2 (default 10). */
  halfItem?: number;
  /** Below this a user's list is hedged (default 0.5). */
  threshold?: number;
  /** Exponents of the factors (default all 1); e.g. from `fitConfidenceWeights` on validation. */
  weights?: ConfidenceWeights;
  /**
   * The subject's previous posterior fit (in and out; PosteriorWarmStart): after a few more
   * choices the spread is one Newton step from it instead of a full refit.
   */
  warm?: PosteriorWarmStart;
}

/**
 * A subject's last exact posterior fit, kept between calls of `posteriorSpread` (in and out): its
 * mode w, E_p[x] and Cov_p[x] of the catalogue softmax at w. While `updates < POSTERIOR_REFIT_EVERY`
 * a new history is answered by one Newton step from w: the gradient and the Hessian
 * (I + C Cov_p[x]) at w are exact for the new history's C choices, so the step costs a 16 x 16
 * solve instead of the catalogue passes of a refit; every POSTERIOR_REFIT_EVERY-th call (and the
 * first) refits exactly. `anchor: null` = no fit yet.
 *
 * With `defer`, a refit that is due once an anchor exists is not done by the call: the call
 * answers with the Newton step like the ones before, and hands the refit to `defer` (e.g. to run
 * when the event loop is idle); when it runs, it fits the latest history the subject was answered
 * for exactly and that fit becomes the anchor (updates 0). The first fit is always exact and
 * immediate.
 */
export interface PosteriorWarmStart {
  anchor: { w: Float64Array; ex: Float64Array; cov: Float64Array; updates: number } | null;
  defer?: (refit: () => void) => void;
  /** With `defer`: the history of the latest call while a deferred refit is pending (null: none pending). */
  pending?: Int32Array | null;
}

/** Incremental spreads between two exact posterior refits of a subject. */
export const POSTERIOR_REFIT_EVERY = 8;

export interface UserConfidence {
  /** In [0, 1]: geometric mean of the three factors below. */
  confidence: number;
  /** n / (n + halfHistory). */
  historyFactor: number;
  /** Mean normalised entropy of the persona weights over the history items (0 = every item clearly one persona's). */
  ambiguity: number;
  /** Posterior standard deviation of the basis weights, averaged (prior 1). */
  spread: number;
  /**
   * How well the persona set explains the history: 2 (AUC - 1/2), clamped to [0, 1], with AUC the
   * mean percentile of the history items among the candidates under the set's scores.
   */
  fit: number;
  /** How well the model knows the history's items: mean n_i / (n_i + halfItem) over their training positives n_i. */
  evidence: number;
  historySize: number;
  personas: number;
  /** Human-readable reasons the confidence is low (empty when it is not). */
  reasons: string[];
}

/** n / (n + half): 0 without history, 1/2 at `half` items, increasing. */
export function historyFactor(n: number, half = 10): number {
  return n <= 0 ? 0 : n / (n + half);
}

/** Exponents of the five factors in the weighted geometric mean (all 1 by default). */
export interface ConfidenceWeights {
  history: number;
  ambiguity: number;
  spread: number;
  fit: number;
  evidence: number;
}

export const EQUAL_WEIGHTS: Readonly<ConfidenceWeights> = Object.freeze({ history: 1, ambiguity: 1, spread: 1, fit: 1, evidence: 1 });

/**
 * Weighted geometric mean of history factor, 1 - ambiguity, 1 - spread, fit and item evidence
 * (each clamped to [0, 1]); with equal weights the plain geometric mean.
 */
export function combineConfidence(history: number, ambiguity: number, spread: number, fit = 1, evidence = 1, weights: ConfidenceWeights = EQUAL_WEIGHTS): number {
  const lg = (x: number): number => Math.log(Math.min(1, Math.max(1e-9, x)));
  const w = weights;
  const total = w.history + w.ambiguity + w.spread + w.fit + w.evidence;
  if (!(total > 0)) return 0;
  const s = w.history * lg(history) + w.ambiguity * lg(1 - ambiguity) + w.spread * lg(1 - spread) + w.fit * lg(fit) + w.evidence * lg(evidence);
  const v = Math.exp(s / total);
  return v < 1e-8 ? 0 : v;
}

/** Re-combines the factors of a computed confidence with other weights. */
export function reweighConfidence(c: UserConfidence, weights: ConfidenceWeights): number {
  return combineConfidence(c.historyFactor, c.ambiguity, c.spread, c.fit, c.evidence, weights);
}

/**
 * The weights (each exponent in {0, 1, 2}) under which the most-confident `share` of the given
 * users have the highest mean metric: fitted on validation users, applied to test users.
 */
export function fitConfidenceWeights(conf: readonly UserConfidence[], metric: readonly number[], share = 0.2): { weights: ConfidenceWeights; topMean: number } {
  const keys: (keyof ConfidenceWeights)[] = ['history', 'ambiguity', 'spread', 'fit', 'evidence'];
  let best: { weights: ConfidenceWeights; topMean: number } = { weights: { ...EQUAL_WEIGHTS }, topMean: Number.NEGATIVE_INFINITY };
  const n = Math.max(1, Math.round(share * conf.length));
  for (let code = 1; code < 3 ** keys.length; code++) {
    const w = { ...EQUAL_WEIGHTS };
    let x = code;
    for (const key of keys) {
      w[key] = x % 3;
      x = Math.floor(x / 3);
    }
    const v = conf.map((c) => reweighConfidence(c, w));
    const order = Array.from(v.keys()).sort((a, b) => v[b]! - v[a]! || a - b);
    let s = 0;
    for (let j = 0; j < n; j++) s += metric[order[j]!]!;
    const mean = s / n;
    if (mean > best.topMean + 1e-12) best = { weights: w, topMean: mean };
  }
  return best;
}

/** Mean over the history of n_i / (n_i + half), n_i = the item's training positives: how well the model knows the items. */
export function itemEvidence(itemPopularity: Int32Array, history: Int32Array, half = 10): number {
  if (history.length === 0) return 0;
  let s = 0;
  for (const i of history) {
    const n = i >= 0 && i < itemPopularity.length ? itemPopularity[i]! : 0;
    s += n > 0 ? n / (n + half) : 0;
  }
  return s / history.length;
}

/**
 * 2 (AUC - 1/2) of the history items among the candidates by `scores` (ties count half), clamped to
 * [0, 1]. One pass over the candidates counts, for each distinct history score, the candidates
 * below it and equal to it (no sort of the catalogue).
 */
export function profileFit(scores: Float32Array, candidates: Int32Array, history: Int32Array): number {
  if (history.length === 0) return 0;
  const n = candidates.length;
  // the distinct finite history scores, ascending
  const hs = Float64Array.from(history, (i) => scores[i]!).filter((s) => Number.isFinite(s)).sort();
  let m = 0;
  for (let t = 0; t < hs.length; t++) if (m === 0 || hs[t] !== hs[m - 1]) hs[m++] = hs[t]!;
  const at = (v: number): number => {
    // the first t with hs[t] >= v
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hs[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // below[t] = #candidates with score < hs[t] (from the first t each candidate is below), equal[t] = # == hs[t]
  const below = new Float64Array(m + 1);
  const equal = new Float64Array(m);
  for (let c = 0; c < n; c++) {
    const v = scores[candidates[c]!]!;
    if (Number.isNaN(v)) continue;
    const t = at(v);
    if (t < m && hs[t] === v) {
      equal[t]!++;
      below[t + 1]!++;
    } else below[t]!++;
  }
  for (let t = 1; t < m; t++) below[t] = below[t]! + below[t - 1]!;
  let auc = 0;
  let used = 0;
  for (const i of history) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) continue;
    const t = at(s);
    auc += (below[t]! + 0.5 * (equal[t]! - 1)) / Math.max(1, n - 1);
    used++;
  }
  if (used === 0) return 0;
  return Math.min(1, Math.max(0, 2 * (auc / used - 0.5)));
}

/** Normalised entropy (0..1) of a weight vector. */
export function normalisedEntropy(w: ArrayLike<number>): number {
  if (w.length <= 1) return 0;
  let h = 0;
  for (let i = 0; i < w.length; i++) {
    const p = w[i]!;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(w.length);
}

/**
 * 1 - the mean pairwise cosine of the personas centred on the population's mean persona, in
 * [0, 1]: 0 when the personas point the same way (they are one taste, however the items split).
 */
export function personaDistinctness(personas: Float32Array, dim: number, center: Float32Array | null): number {
  const k = personas.length / dim;
  if (k <= 1) return 0;
  const v = (p: number, j: number): number => personas[p * dim + j]! - (center ? center[j]! : 0);
  let s = 0;
  let pairs = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let j = 0; j < dim; j++) {
        ab += v(a, j) * v(b, j);
        aa += v(a, j) * v(a, j);
        bb += v(b, j) * v(b, j);
      }
      s += aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 1;
      pairs++;
    }
  }
  return Math.min(1, Math.max(0, 1 - s / pairs));
}

/**
 * Persona ambiguity of a persona set over a history: the mean normalised entropy of the persona
 * weights of the history items (is it clear which persona explains each item?), times the
 * personas' distinctness (an unclear split between near-identical personas is no ambiguity).
 */
export function personaAmbiguity(model: HasPersonas, personas: Float32Array, history: Int32Array, dim: number, center: Float32Array | null = null): number {
  const k = personas.length / dim;
  if (k <= 1 || history.length === 0) return 0;
  let s = 0;
  for (const i of history) s += normalisedEntropy(personaWeightsOf(model, personas, i, history));
  return (s / history.length) * personaDistinctness(personas, dim, center);
}

/**
 * Posterior spread of a history in the onboarding basis: the Laplace posterior over the weights
 * given "each history item was chosen from the catalogue" (softmax likelihood), prior N(0, I).
 */
export function posteriorSpread(basis: OnboardingBasis, history: Int32Array, warm?: PosteriorWarmStart): number {
  const cs = catalogueChoiceSet(basis);
  const M = basis.size;
  const rows = choiceRows(basis, history);
  const a = warm?.anchor;
  if (warm && a && a.w.length === M && rows.length > 0) {
    const due = a.updates >= POSTERIOR_REFIT_EVERY - 1;
    if (!due || warm.defer) {
      if (due && warm.defer) deferRefit(basis, history, warm, warm.defer);
      a.updates++;
      return newtonSpread(cs.set.x, a, rows, M);
    }
  }
  const { spread, anchor } = exactFit(basis, rows);
  if (warm) warm.anchor = anchor;
  return spread;
}

/** The rows of a history's items in the basis's catalogue choice set (items outside it left out). */
function choiceRows(basis: OnboardingBasis, history: Int32Array): number[] {
  const cs = catalogueChoiceSet(basis);
  const rows: number[] = [];
  for (const i of history) {
    const r = i >= 0 && i < basis.nItems ? cs.rowOf[i]! : -1;
    if (r >= 0) rows.push(r);
  }
  return rows;
}

/** The spread after one Newton step from the anchor's mode: prior N(0, I), the rows' C choices. */
function newtonSpread(x: Float64Array, a: NonNullable<PosteriorWarmStart['anchor']>, rows: readonly number[], M: number): number {
  const C = rows.length;
  const g = new Float64Array(M);
  for (let m = 0; m < M; m++) g[m] = a.w[m]! + C * a.ex[m]!;
  for (const r of rows) for (let m = 0; m < M; m++) g[m] = g[m]! - x[r * M + m]!;
  const h = new Float64Array(M * M);
  for (let q = 0; q < M * M; q++) h[q] = C * a.cov[q]!;
  for (let m = 0; m < M; m++) h[m * M + m] = h[m * M + m]! + 1;
  const inv = choleskyInverse(cholesky(h, M), M);
  let t = 0;
  for (let m = 0; m < M; m++) t += inv[m * M + m]!;
  return Math.sqrt(t / M);
}

/** The exact Laplace fit of the rows' choices: its spread and the anchor it leaves (null without choices). */
function exactFit(basis: OnboardingBasis, rows: readonly number[]): { spread: number; anchor: PosteriorWarmStart['anchor'] } {
  const cs = catalogueChoiceSet(basis);
  const M = basis.size;
  const post = new LaplacePosterior(new Float64Array(M), 1);
  post.choiceSet = cs.set;
  for (const r of rows) post.choices.push({ index: r, c: 1 });
  if (post.choices.length > 0) post.refit();
  return { spread: Math.sqrt(post.trace() / M), anchor: rows.length > 0 ? anchorOf(post, cs.set.x, rows, M) : null };
}

/**
 * Schedules the exact refit of a subject (PosteriorWarmStart `defer`) unless one is pending; the
 * refit fits the latest history the subject was answered for.
 */
function deferRefit(basis: OnboardingBasis, history: Int32Array, warm: PosteriorWarmStart, defer: (refit: () => void) => void): void {
  const scheduled = warm.pending != null;
  warm.pending = history;
  if (scheduled) return;
  defer(() => {
    const h = warm.pending;
    warm.pending = null;
    if (!h) return;
    const rows = choiceRows(basis, h);
    if (rows.length > 0) warm.anchor = exactFit(basis, rows).anchor;
  });
}

/**
 * E_p[x] and Cov_p[x] at the mode of an exact fit, from the fit itself: at the mode the gradient
 * w + C E_p[x] - sum_j x_j is 0, and the Hessian I + C Cov_p[x] is the inverse of `cov`.
 */
function anchorOf(post: LaplacePosterior, x: Float64Array, rows: readonly number[], M: number): NonNullable<PosteriorWarmStart['anchor']> {
  const C = rows.length;
  const w = Float64Array.from(post.mean);
  const ex = new Float64Array(M);
  for (const r of rows) for (let m = 0; m < M; m++) ex[m] = ex[m]! + x[r * M + m]!;
  for (let m = 0; m < M; m++) ex[m] = (ex[m]! - w[m]!) / C;
  const hess = choleskyInverse(cholesky(post.cov, M), M);
  const cov = new Float64Array(M * M);
  for (let i = 0; i < M; i++) for (let j = 0; j < M; j++) cov[i * M + j] = (hess[i * M + j]! - (i === j ? 1 : 0)) / C;
  return { w, ex, cov, updates: 0 };
}

/**
 * How confident the model is about a user: the subject is a training user's index (their own
 * personas) or -1 (the history is folded in) with their history, or a persona set as a value (one
 * built online, or a near-twin's profile for the profile-swap check); `personas`, with a user, is
 * their set when the caller has it (`personasFor(model, user, history)`); `scores`, when given, are
 * that set's scores over all items (`scorePersonas(vectors, row, history)`), saving their computation.
 */
export function userConfidence(
  model: Recommender,
  train: TrainSet,
  subject: ({ user: number; history: Int32Array; personas?: Float32Array } | PersonaSet) & { scores?: Float32Array },
  opts: ConfidenceOptions = {},
): UserConfidence {
  const m = asPersonaModel(model);
  const basis = onboardingBasis(m, train, { size: opts.basis ?? 16 });
  const personas = 'vectors' in subject ? subject.vectors : (subject.personas ?? personasFor(m, subject.user, subject.history));
  const dim = basis.dim;
  const k = personas.length / dim;
  const n = subject.history.length;
  const h = historyFactor(n, opts.halfHistory ?? 10);
  const spread = Math.min(1, posteriorSpread(basis, subject.history, opts.warm));
  let fit = 0;
  if (k > 0) {
    // `subject.scores`: the set's scores over all items (scorePersonas(personas, row, history)) when the caller has them
    let row = subject.scores;
    if (!row || row.length !== train.nItems) {
      row = new Float32Array(train.nItems);
      m.scorePersonas(personas, row, subject.history);
    }
    fit = profileFit(row, train.candidates, subject.history);
  }
  // after the scoring above: the ambiguity's persona weights reuse that pass's normalisers (same set,
  // same history) instead of a second pass over the catalogue
  const ambiguity = k > 0 ? personaAmbiguity(m, personas, subject.history, dim, basis.meanPersona) : 1;
  const evidence = itemEvidence(train.itemPopularity, subject.history, opts.halfItem ?? 10);
  const confidence = combineConfidence(h, ambiguity, spread, fit, evidence, opts.weights ?? EQUAL_WEIGHTS);
  const reasons: string[] = [];
  if (h < 0.5) reasons.push(`short history (${n} item${n === 1 ? '' : 's'})`);
  if (ambiguity > 0.5) reasons.push(`ambiguous personas (mean attention entropy ${ambiguity.toFixed(2)} of 1)`);
  if (spread > 0.5) reasons.push(`uncertain taste (posterior spread ${spread.toFixed(2)} of the prior's 1)`);
  if (fit < 0.5) reasons.push(`the profile explains the history poorly (fit ${fit.toFixed(2)})`);
  if (evidence < 0.5) reasons.push(`the history is mostly rarely-seen items (item evidence ${evidence.toFixed(2)})`);
  return { confidence, historyFactor: h, ambiguity, spread, fit, evidence, historySize: n, personas: k, reasons };
}
