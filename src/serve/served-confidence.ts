/**
 * The confidence the service reports for a user state: src/confidence's `userConfidence` for a
 * persona set (history size, persona ambiguity, posterior spread in the onboarding basis, profile
 * fit and item evidence), and for a user without personas only history size and item evidence.
 */
import { combineConfidence, historyFactor, itemEvidence, userConfidence, type UserConfidence } from '../confidence/index.js';
import type { TrainSet } from '../data/train-set.js';
import type { ComponentLogits } from '../models/component-logits.js';
import type { HasPersonas, Recommender } from '../models/model.js';
import { usesMixture } from './persona-mixture.js';
import type { UserState } from './user-state.js';

/** The row the profile fit of a mixture user's confidence reads, reused (userConfidence keeps nothing of it). */
let fitRow = new Float32Array(0);

/**
 * The confidence of a user state; `model` is the persona model, or null. `logits`: the state's
 * persona logits (persona-rows.ts), so that scoring the set with its history scores only the
 * components without them (after a like: the recent persona and the whole history).
 */
export function servedConfidence(model: (Recommender & HasPersonas) | null, train: TrainSet, st: UserState, logits?: ComponentLogits): UserConfidence {
  const n = st.history.length;
  if (n === 0) return { confidence: 0, historyFactor: 0, ambiguity: 1, spread: 1, fit: 0, evidence: 0, historySize: 0, personas: 0, reasons: ['no history yet'] };
  if (model && st.personas) {
    // the persona set's plain scores are the served row unless a mixture is served (then computed there);
    // the posterior spread is one Newton step from the user's last exact fit (PosteriorWarmStart)
    let scores = st.scores && !usesMixture(st.personas, st.recent, st.overrides) ? st.scores : undefined;
    if (!scores && logits) {
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
