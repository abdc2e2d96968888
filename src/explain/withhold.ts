/**
 * When an item's persona weights cannot name one persona: the item-level half of the rule the
 * service uses to withhold explanations (`explainOrWithhold` in explain-or-withhold.ts adds the user's
 * confidence). The explaining persona must lead the runner-up by at least `minLead` of the item's
 * weight (default 0.1: two personas sharing an item almost equally cannot say which taste it
 * serves) and carry at least `minWeight` (default 0: off; with K personas the weights of a clear
 * winner are often well under 1/2). A single persona always explains.
 */

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
