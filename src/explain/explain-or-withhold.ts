/**
 * The service's and `personae recommend --explain`'s rule for an item's explanation: given only
 * when the item's weights name one persona (withhold.ts) and the user's confidence (src/confidence)
 * is high enough; otherwise null with the reason.
 */
import type { HasPersonas } from '../models/model.js';
import { explainItem, type ExplainContext, type ItemExplanation, type PersonaProfile, type Subject } from './explain.js';
import { withheldByWeights } from './withhold.js';

export interface MaybeExplanation {
  explanation: ItemExplanation | null;
  /** Why the explanation is withheld (null when it is given). */
  withheld: string | null;
}

/**
 * An explanation only when the explaining persona is certain: the item's weights name one persona
 * (`withheldByWeights`, withhold.ts: it leads the runner-up by at least `minLead`,
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
