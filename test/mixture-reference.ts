/**
 * The served persona mixture as defined (src/serve/persona-mixture.ts), computed the plain way for
 * tests to compare with: each unmuted persona rescored alone, its log-softmax over its finite
 * scores, weighted by boost / k and summed; with every persona muted, the fallback.
 */
export interface PersonaScorer {
  readonly dim: number;
  scorePersonas(personas: Float32Array, out: Float32Array): void;
}

export function mixtureByDefinition(
  model: PersonaScorer,
  vectors: Float32Array,
  k: number,
  overrides: ReadonlyMap<number, { muted: boolean; boost: number }>,
  fallback: Float32Array,
): Float32Array {
  const n = fallback.length;
  const d = model.dim;
  const acc = new Float64Array(n);
  const row = new Float32Array(n);
  let any = false;
  for (let q = 0; q < k; q++) {
    const o = overrides.get(q);
    const c = o?.muted ? 0 : (o?.boost ?? 1) / k;
    if (!(c > 0)) continue;
    any = true;
    model.scorePersonas(vectors.slice(q * d, (q + 1) * d), row);
    let max = -Infinity;
    for (const v of row) if (Number.isFinite(v) && v > max) max = v;
    let sum = 0;
    for (const v of row) if (Number.isFinite(v)) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < n; i++) if (Number.isFinite(row[i]!)) acc[i]! += c * Math.exp(row[i]! - lse);
  }
  return any ? Float32Array.from(acc, (a) => (a > 0 ? Math.log(a) : -Infinity)) : fallback;
}
