/**
 * The confidence the service reports for a user state: src/confidence's `userConfidence` for a
 * persona set (history size, persona ambiguity, posterior spread in the onboarding basis, profile
 * fit and item evidence), and for a user without personas only history size and item evidence.
 */
import { combineConfidence, historyFactor, itemEvidence, userConfidence, type UserConfidence } from '../confidence/index.js';
import type { TrainSet } from '../data/train-set.js';
import { onboardingBasis } from '../onboard/basis.js';
import { catalogueChoiceSet } from '../onboard/index.js';
import { choiceColumns } from '../onboard/posterior.js';
import type { ComponentLogits } from '../models/component-logits.js';
import type { HasPersonas, Recommender } from '../models/model.js';
import { isAnnRow } from './ann-retrieval.js';
import { mixtureScores, usesMixture } from './persona-mixture.js';
import type { OwnRows } from './persona-rows.js';
import type { UserState } from './user-state.js';

/** The row the profile fit of a mixture user's confidence reads, reused (userConfidence keeps nothing of it). */
let fitRow = new Float32Array(0);
const NO_ROW = new Float32Array(0);

/**
 * The confidence of a user state; `model` is the persona model, or null. `logits`: the state's
 * persona logits (persona-rows.ts), so that scoring the set with its history scores only the
 * components without them (after a like: the recent persona, and the whole history when the set's
 * plain scores are computed here).
 * `mixtureRow`: for a state with a recent persona, the mixture of per-persona rankings that scores
 * its list, without persona settings (persona-mixture.ts); the profile fit then reads that row,
 * so it measures how the scores that rank the list place the history.
 */
export function servedConfidence(model: (Recommender & HasPersonas) | null, train: TrainSet, st: UserState, logits?: ComponentLogits, mixtureRow?: Float32Array): UserConfidence {
  const n = st.history.length;
  if (n === 0) return { confidence: 0, historyFactor: 0, ambiguity: 1, spread: 1, fit: 0, evidence: 0, historySize: 0, personas: 0, reasons: ['no history yet'] };
  if (model && st.personas) {
    // the fit's row: the served row when it is the set's plain scores, the mixture row with a recent
    // persona, else (a persona setting without a recent persona) the set's plain scores computed here;
    // the posterior spread is one Newton step from the user's last exact fit (PosteriorWarmStart)
    // (a retrieved row, ann-retrieval.ts, is finite over its pool only: the fit reads the whole catalogue)
    let scores = mixtureRow ?? (st.scores && !isAnnRow(st.scores) && !usesMixture(st.personas, st.recent, st.overrides) ? st.scores : undefined);
    if (mixtureRow && logits) {
      // the persona weights of the ambiguity read the set's normalisers with its history: those only
      // ('none' writes no row)
      model.scorePersonas(st.personas.vectors, NO_ROW, st.personas.history, logits, 'none');
    } else if (!scores && logits) {
      // the set's plain scores with its history, as userConfidence would compute them, for the
      // profile fit only (userConfidence reads how they order against the history's scores)
      if (fitRow.length !== train.nItems) fitRow = new Float32Array(train.nItems);
      scores = fitRow;
      model.scorePersonas(st.personas.vectors, scores, st.personas.history, logits, 'history-order');
    }
    return userConfidence(model, train, { ...st.personas, ...(scores ? { scores } : {}) }, { warm: st.posterior });
  }
  const h = historyFactor(n);
  const evidence = itemEvidence(train.itemPopularity, st.history);
  const confidence = combineConfidence(h, 0, 0, 1, evidence, { history: 1, ambiguity: 0, spread: 0, fit: 0, evidence: 1 });
  const reasons: string[] = [];
  if (h < 0.5) reasons.push(`short history (${n} item${n === 1 ? '' : 's'})`);
  if (evidence < 0.5) reasons.push(`the history is mostly rarely-seen items (item evidence ${evidence.toFixed(2)})`);
  return { confidence, historyFactor: h, ambiguity: 0, spread: 0, fit: 1, evidence, historySize: n, personas: 0, reasons };
}

/**
 * For a user with a recent persona, the row the confidence's profile fit reads: the mixture of
 * per-persona rankings that scores the list, without persona settings (the confidence does not
 * depend on them). Without settings that change the mixture it is the served row itself
 * (`served()`), unless that is a retrieved row (ann-retrieval.ts: finite over its pool only).
 */
export function fitMixtureRow(st: UserState, rows: OwnRows, nItems: number, served: () => Float32Array, coldScores: Float32Array): Float32Array | undefined {
  if (!st.personas || !st.recent || st.cold) return undefined;
  if (!usesMixture(st.personas, null, st.overrides)) {
    const row = served();
    if (!isAnnRow(row)) return row;
  }
  const out = new Float32Array(nItems);
  mixtureScores(st.personas, new Map(), coldScores, out, rows);
  return out;
}

/**
 * What a persona model's first confidence would build, built ahead (Engine.warm): the onboarding
 * basis, the catalogue as the posterior's choice set and the copy its moments read.
 */
export function warmConfidence(model: Recommender & HasPersonas, train: TrainSet): void {
  try {
    const basis = onboardingBasis(model, train, { size: 16 });
    const cs = catalogueChoiceSet(basis).set;
    choiceColumns(cs.estimate ?? cs, basis.size);
  } catch {
    // no training personas: the confidence then says so on first use
  }
}
