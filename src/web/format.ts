/**
 * Number, date and text formatting for the dashboard. No DOM here: the module is unit tested
 * under Node (test/web.test.ts).
 */
import type { Explanation, Persona, RecItem } from './api-types.js';

/** A number with fixed decimals; a dash for null, undefined, NaN and infinities. */
export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

/** A share (0..1) as a whole percentage, for labels ("62%"); chart axes use `axisTicks`. */
export function pct(v: number): string {
  return `${Math.round(100 * v)}%`;
}

/**
 * The fewest decimals (0..max) that write every value exactly (up to float noise), so axis
 * ticks at 0.125 or 0.025 keep their digits instead of rounding to 0.13 or 0.03.
 */
export function decimalsFor(values: readonly number[], max = 6): number {
  for (let d = 0; d < max; d++) {
    const f = 10 ** d;
    if (values.every((v) => !Number.isFinite(v) || Math.abs(v * f - Math.round(v * f)) < 1e-6 * Math.max(1, Math.abs(v * f)))) return d;
  }
  return max;
}

/** How a chart's value axis is labelled: shares as percentages, other numbers as they are. */
export type AxisUnit = 'share' | 'number';

/**
 * Labels of a value axis' ticks, all with the same decimals (the fewest that write every tick
 * exactly): shares [0, 0.125, 0.25] -> 0.0%, 12.5%, 25.0%; numbers [0, 0.025, 0.05] -> 0.000,
 * 0.025, 0.050.
 */
export function axisTicks(splits: readonly number[], unit: AxisUnit): string[] {
  // -0 and float noise (0.30000000000000004) must not show
  const clean = (v: number): number => (Math.abs(v) < 1e-12 ? 0 : v);
  if (unit === 'share') {
    const values = splits.map((v) => clean(v) * 100);
    const d = decimalsFor(values);
    return values.map((v) => `${v.toFixed(d)}%`);
  }
  const values = splits.map(clean);
  const d = decimalsFor(values);
  return values.map((v) => v.toFixed(d));
}

/** A date (YYYY-MM-DD, UTC) from ISO text, seconds or milliseconds since the epoch. */
export function when(ts: unknown): string {
  let ms = NaN;
  if (typeof ts === 'number') ms = ts < 1e11 ? ts * 1000 : ts;
  else if (typeof ts === 'string') ms = /^\d+$/.test(ts) ? Number(ts) * (ts.length <= 11 ? 1000 : 1) : Date.parse(ts);
  if (!Number.isFinite(ms)) return ts === undefined || ts === null ? '' : String(ts);
  return new Date(ms).toISOString().slice(0, 10);
}

/** "YYYY-MM-DD HH:MM UTC" from ISO text. */
export function dateTime(iso: unknown): string {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  if (!Number.isFinite(ms)) return iso === undefined || iso === null ? '–' : String(iso);
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "A", "A and B", "A, B and C". */
export function joinTitles(titles: readonly string[]): string {
  if (titles.length <= 1) return titles.join('');
  return `${titles.slice(0, -1).join(', ')} and ${titles[titles.length - 1]}`;
}

/** A persona's label, or "Taste #n" when it has none. */
export function personaName(p: Pick<Persona, 'label' | 'index'> | Pick<Explanation, 'label' | 'persona'>): string {
  const i = 'index' in p ? p.index : p.persona;
  return p.label ? p.label : `Taste #${i + 1}`;
}

const ids = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Orders ids as people read them: numbers by value ("2" before "10", "u2" before "u10"), then as text. */
export function compareIds(a: string, b: string): number {
  return ids.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The service's reasons for hedging a list, as one line. */
export function hedgeText(reasons: readonly string[] | undefined): string {
  const texts = (reasons ?? []).filter((t) => t.length > 0);
  return texts.length ? texts.join('; ') : 'the model is unsure about this user';
}

/**
 * Why the service withheld an item's explanation (or, for a hedged list's filler that no persona
 * put there, why the item is in the list), or null when the item has its explanation.
 */
export function withheldText(item: Pick<RecItem, 'explanation' | 'explanationWithheld' | 'reason'>): string | null {
  if (item.explanation !== null) return null;
  if (item.reason !== undefined) return item.reason;
  if (item.explanationWithheld === undefined) return null;
  return item.explanationWithheld || 'Explanation withheld: the persona behind this item is uncertain';
}

/** The legend of the list's bars in the taste chart: says which reranker made the list. */
export function listLegend(rerank: string): string {
  if (rerank === 'none' || rerank === '') return 'List';
  const name = rerank.split(':')[0] ?? rerank;
  return name === 'calibrated' ? 'List (calibrated)' : `List (${name})`;
}

/** The message of an API error body ({error: {message}}; a plain {message} or {error: "..."} too). */
export function errorMessage(body: unknown, status: number, statusText: string): string {
  if (body && typeof body === 'object') {
    const o = body as { error?: unknown; message?: unknown };
    if (o.error && typeof o.error === 'object' && typeof (o.error as { message?: unknown }).message === 'string') return (o.error as { message: string }).message;
    if (typeof o.message === 'string' && o.message) return o.message;
    if (typeof o.error === 'string' && o.error) return o.error;
  }
  return `${status} ${statusText}`.trim();
}

/**
 * The weight line of an explanation: nothing for a one-persona user (all of the weight is trivially
 * theirs); against an even share when the service gives it ("1.6× an even share"), else the share.
 */
export function attentionText(e: Pick<Explanation, 'weights' | 'persona' | 'relative'>): string | null {
  if (e.weights.length < 2) return null;
  if (e.relative !== undefined) return `${e.relative.toFixed(1)}× an even share`;
  const w = e.weights[e.persona];
  return w === undefined ? null : `${pct(w)} of the attention`;
}

/** The score people read: the match percentage beside the raw model score, when the service gives it. */
export function scoreText(item: Pick<RecItem, 'score' | 'match'>): string {
  return item.match !== undefined ? `${Math.round(item.match)}% match` : num(item.score, 3);
}
