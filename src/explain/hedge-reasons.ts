/**
 * Why a list was hedged, in plain words for people (the service's `hedgeReasons`, the CLI's
 * "hedged:" line): the confidence factors that are low ("only 3 interactions", "two tastes of
 * nearly equal weight", ...) and what the hedged list does about it.
 */

/** The confidence factors the wording reads (src/confidence's `UserConfidence` has them). */
export interface ConfidenceFactors {
  readonly confidence: number;
  readonly historyFactor: number;
  readonly ambiguity: number;
  readonly spread: number;
  readonly fit: number;
  readonly evidence: number;
  readonly historySize: number;
  readonly personas: number;
}

/** `hedgeReasons` are the hedge's own (rank/hedge.ts); only its lines about what it did are kept. */
export function hedgeReasonsInWords(c: ConfidenceFactors, hedgeReasons: readonly string[], threshold: number): string[] {
  const out: string[] = [`low confidence (${c.confidence.toFixed(2)} < ${threshold})`];
  const n = c.historySize;
  if (c.historyFactor < 0.5) out.push(`only ${n} interaction${n === 1 ? '' : 's'}`);
  if (c.ambiguity > 0.5) out.push(c.personas === 2 ? 'two tastes of nearly equal weight' : `${c.personas} tastes of nearly equal weight (ambiguity ${c.ambiguity.toFixed(2)})`);
  if (c.spread > 0.5) out.push(`taste still uncertain (posterior spread ${c.spread.toFixed(2)} of the prior's 1)`);
  if (c.fit < 0.5) out.push(`the tastes explain the history poorly (fit ${c.fit.toFixed(2)})`);
  if (c.evidence < 0.5) out.push(`mostly rarely-seen items (item evidence ${c.evidence.toFixed(2)})`);
  // what the hedge did (the library's reasons after its own confidence line and factor reasons)
  for (const r of hedgeReasons) if (r.startsWith('mixing') || r.startsWith('every third')) out.push(r);
  return out;
}
