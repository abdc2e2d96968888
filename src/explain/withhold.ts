/**
 * When to withhold an explanation. `withheldByWeights`: the item's persona weights cannot name one
 * persona (the item-level half of the rule; fidelity counts explained items with it): the
 * explaining persona must lead the runner-up by at least `minLead` of the item's weight (default
 * 0.1: two personas sharing an item almost equally cannot say which taste it serves) and carry at
 * least `minWeight` (default 0: off; with K personas the weights of a clear winner are often well
 * under 1/2); a single persona always explains. `explainOrWithhold` adds the user's confidence
 * (src/confidence): the rule of the service and of `personae recommend --explain`.
 */
import type { HasPersonas } from '../models/model.js';
import { explainItem, type ExplainContext, type ItemExplanation, type PersonaProfile, type Subject } from './explain.js';

export interface WeightRule {
  minWeight?: number;
  minLead?: number;
}

export const DEFAULT_MIN_LEAD = 0.1;
export const DEFAULT_MIN_WEIGHT = 0;

/** Why the weights cannot name persona `persona` (its arg-max), or null when they can. */
export function withheldByWeights(weights: ArrayLike<number>, persona: number, rule: WeightRule = {}): string | null {
  if (weights.length <= 1) return null;
  const minWeight = rule.minWeight ?? DEFAULT_MIN_WEIGHT;
  const minLead = rule.minLead ?? DEFAULT_MIN_LEAD;
  const top = weights[persona]!;
  if (top < minWeight) return `no single persona carries this item (top weight ${Math.round(100 * top)}% < ${Math.round(100 * minWeight)}%)`;
  let second = 0;
  for (let k = 0; k < weights.length; k++) if (k !== persona && weights[k]! > second) second = weights[k]!;
  if (top - second < minLead) return `two tastes carry this item almost equally (${Math.round(100 * top)}% and ${Math.round(100 * second)}%)`;
  return null;
}

export interface MaybeExplanation {
  explanation: ItemExplanation | null;
  /** Why the explanation is withheld (null when it is given). */
  withheld: string | null;
}

/**
 * An explanation only when the explaining persona is certain: the item's weights name one persona
 * (`withheldByWeights` above: it leads the runner-up by at least `minLead`,
 * default 0.1, and carries at least `minWeight`, default 0), and the user's confidence is at least
 * `minConfidence` (default 0.3).
 * Personas in `muted` never explain: the weights are those of the unmuted personas, renormalised
 * (explainItem).
 */
export function explainOrWithhold(
  model: HasPersonas,
  subject: Subject | PersonaProfile,
  item: number,
  ctx: ExplainContext,
  confidence: { readonly confidence: number },
  opts: { minWeight?: number; minLead?: number; minConfidence?: number; muted?: ReadonlySet<number> } = {},
): MaybeExplanation {
  const e = explainItem(model, subject, item, ctx, opts.muted);
  if (!e) return { explanation: null, withheld: opts.muted && opts.muted.size > 0 ? 'only muted tastes carry this item' : 'no personas for this user' };
  const minConfidence = opts.minConfidence ?? 0.3;
  const byWeights = withheldByWeights(e.weights, e.persona, opts);
  if (byWeights !== null) return { explanation: null, withheld: byWeights };
  if (confidence.confidence < minConfidence) {
    return { explanation: null, withheld: `too little is known about this user (confidence ${confidence.confidence.toFixed(2)})` };
  }
  return { explanation: e, withheld: null };
}
