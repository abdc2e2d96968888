/**
 * The operator pages' data, DOM-free (unit tested under Node, test/web.test.ts): the overview's
 * events-per-hour chart, job progress, model versions' headline metric, a feedback-loop study file
 * read for the models page, and a JSONL feedback file read for import.
 */
import type { Job, ModelVersion, Overview } from './api-types.js';
import { num, pct, type AxisUnit } from './format.js';
import { personaColor } from './specs.js';

/** A chart over numeric (or time) x: lines, or bars for counts. */
export interface XYChartSpec {
  /** x values: seconds since the epoch when `time`, else numbers (e.g. rounds). */
  x: number[];
  time: boolean;
  bars: boolean;
  series: { label: string; values: (number | null)[]; color: string }[];
  xLabel: string;
  yLabel: string;
  unit: AxisUnit;
  height: number;
  /**
   * Bars: from 0 (or below the lowest negative value) to the top plus 12% of the span. Lines: the
   * values' own span plus 12% each side (never below 0 for values that are not), so that changes
   * over rounds show; the ticks say where the axis starts.
   */
  yRange: [number, number];
}

export function xyChartSpec(spec: Omit<XYChartSpec, 'yRange'>): XYChartSpec {
  let top = -Infinity;
  let bottom = Infinity;
  for (const s of spec.series) for (const v of s.values) if (v !== null && Number.isFinite(v)) (top = Math.max(top, v)), (bottom = Math.min(bottom, v));
  if (top === -Infinity) return { ...spec, yRange: [0, 1] };
  if (spec.bars) {
    top = Math.max(top, 0);
    bottom = Math.min(bottom, 0);
    const span = top - bottom;
    return { ...spec, yRange: [bottom < 0 ? bottom - 0.12 * span : 0, top > 0 ? top + 0.12 * span : bottom < 0 ? 0 : 1] };
  }
  const span = top - bottom || Math.max(Math.abs(top), 1) * 0.1;
  const low = bottom - 0.12 * span;
  return { ...spec, yRange: [bottom >= 0 ? Math.max(0, low) : low, top + 0.12 * span] };
}

/** What the overview's timeline chart plots (also its `data-series`). */
export interface TimelinePlot {
  start: string | null;
  hours: number;
  counts: number[];
}

/** The events-per-hour chart: one bar per hour, the window ending with the hour of the newest event. */
export function timelineSpec(t: Overview['timeline']): { plotted: TimelinePlot; chart: XYChartSpec | null; ariaLabel: string; note: string } {
  const plotted: TimelinePlot = { start: t.start, hours: t.hours, counts: t.counts };
  if (t.start === null) return { plotted, chart: null, ariaLabel: 'Events per hour: no events yet', note: 'No feedback yet.' };
  const t0 = Date.parse(t.start) / 1000;
  const inWindow = t.counts.reduce((a, b) => a + b, 0);
  const peak = Math.max(...t.counts);
  const chart = xyChartSpec({
    x: t.counts.map((_, h) => t0 + 3600 * h),
    time: true,
    bars: true,
    series: [{ label: 'events', values: t.counts, color: personaColor(0) }],
    xLabel: 'hour (UTC)',
    yLabel: 'events per hour',
    unit: 'number',
    height: 220,
  });
  const end = new Date((t0 + 3600 * t.hours) * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const note = `${inWindow} of the ${t.read} newest events fall in the ${t.hours} hours up to ${end} UTC (the newest event's hour); ${t.before} are older. Busiest hour: ${peak} events.`;
  return { plotted, chart, ariaLabel: `Events per hour over ${t.hours} hours, ${inWindow} events, at most ${peak} in an hour`, note };
}

/** A job's progress as a share (0..1) and a line of text. */
export function jobProgress(job: Pick<Job, 'state' | 'progress' | 'error' | 'model'>): { share: number; text: string } {
  const { stage, done, total } = job.progress;
  const share = job.state === 'done' ? 1 : total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  if (job.state === 'done') return { share, text: job.model ? `done: ${job.model.name} v${job.model.version}` : 'done' };
  if (job.state === 'failed') return { share, text: `failed: ${job.error ?? 'unknown error'}` };
  if (job.state === 'cancelled') return { share, text: 'cancelled' };
  return { share, text: `${stage} ${done}/${total} (${pct(share)})` };
}

/** The K a version's headline metric is shown at: 20 when evaluated, else the largest. */
export function headlineMetric(metrics: Readonly<Record<string, unknown>>, key: string): string | null {
  const ks = Object.keys(metrics)
    .map((m) => new RegExp(`^${key}@(\\d+)$`).exec(m))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  if (ks.length === 0) return null;
  return `${key}@${ks.includes(20) ? 20 : Math.max(...ks)}`;
}

/** "0.3312 [0.3210, 0.3400]" of a version's metric, or a dash. */
export function versionMetricText(v: Pick<ModelVersion, 'evaluation'>, key: string): string {
  if (!v.evaluation) return '–';
  const name = headlineMetric(v.evaluation.metrics, key);
  const m = name ? v.evaluation.metrics[name] : undefined;
  if (!m || m.mean === null) return '–';
  return m.ci95 ? `${num(m.mean, 4)} [${num(m.ci95[0], 4)}, ${num(m.ci95[1], 4)}]` : num(m.mean, 4);
}

/** The part of a study's JSON (`personae study <name> --out FILE`) the models page shows. */
export interface StudyView {
  study: string;
  claim: string;
  verdict: string;
  verdictReason: string;
  data: string;
  seed: number;
  charts: { title: string; x: number[]; xLabel: string; yLabel: string; series: { name: string; y: (number | null)[] }[] }[];
}

/**
 * Reads a study JSON file: the fields StudyView needs, the line charts only (the feedback-loop
 * study has one per metric over rounds). An error names the field.
 */
export function parseStudy(text: string): { study: StudyView } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!raw || typeof raw !== 'object') return { error: 'not a study JSON (expected an object)' };
  const o = raw as Record<string, unknown>;
  for (const f of ['study', 'claim', 'verdict', 'verdictReason', 'data'] as const) if (typeof o[f] !== 'string') return { error: `${f}: expected text (is this the JSON of personae study --out?)` };
  if (!Array.isArray(o.charts)) return { error: 'charts: expected a list' };
  const charts: StudyView['charts'] = [];
  for (const [i, c] of (o.charts as unknown[]).entries()) {
    const ch = c as Record<string, unknown> | null;
    if (!ch || ch.kind !== 'line') continue;
    const x = ch.x;
    if (!Array.isArray(x) || !x.every((v) => typeof v === 'number')) return { error: `charts[${i}].x: expected numbers` };
    if (!Array.isArray(ch.series)) return { error: `charts[${i}].series: expected a list` };
    const series: StudyView['charts'][number]['series'] = [];
    for (const [j, s] of (ch.series as unknown[]).entries()) {
      const se = s as Record<string, unknown> | null;
      if (!se || typeof se.name !== 'string') return { error: `charts[${i}].series[${j}].name: expected text` };
      const y = se.y;
      if (!Array.isArray(y) || y.length !== x.length || !y.every((v) => v === null || typeof v === 'number')) {
        return { error: `charts[${i}].series[${j}].y: expected ${x.length} numbers (or nulls)` };
      }
      series.push({ name: se.name, y: y as (number | null)[] });
    }
    charts.push({ title: String(ch.title ?? ''), x: x as number[], xLabel: String(ch.xLabel ?? ''), yLabel: String(ch.yLabel ?? ''), series });
  }
  if (charts.length === 0) return { error: 'charts: the file has no line chart (the feedback-loop study has one per metric over rounds)' };
  return { study: { study: o.study as string, claim: o.claim as string, verdict: o.verdict as string, verdictReason: o.verdictReason as string, data: o.data as string, seed: typeof o.seed === 'number' ? o.seed : 0, charts } };
}

/** A study chart as a line chart, one colour per arm. */
export function studyChartSpec(c: StudyView['charts'][number]): XYChartSpec {
  return xyChartSpec({
    x: c.x,
    time: false,
    bars: false,
    series: c.series.map((s, i) => ({ label: s.name, values: s.y, color: personaColor(i) })),
    xLabel: c.xLabel,
    yLabel: c.yLabel,
    unit: 'number',
    height: 240,
  });
}

/** One line of a feedback JSONL file: the entry POST /v1/feedback takes. */
export interface FeedbackLine {
  user: string;
  item: string;
  type: string;
  value?: number;
  timestamp?: string | number;
}

const FIELDS = new Set(['user', 'item', 'type', 'value', 'timestamp']);

/**
 * Reads a JSONL feedback file (what GET /v1/feedback/export writes): one object a line, blank
 * lines skipped. The first bad line stops the read with an error naming the line and the field;
 * the server checks the rest (known items and types, timestamp range).
 */
export function parseFeedbackJsonl(text: string): { events: FeedbackLine[] } | { error: string } {
  const events: FeedbackLine[] = [];
  const lines = text.split('\n');
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!.trim();
    if (line === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      return { error: `line ${l + 1}: not JSON` };
    }
    if (!o || typeof o !== 'object' || Array.isArray(o)) return { error: `line ${l + 1}: expected an object` };
    const r = o as Record<string, unknown>;
    for (const f of ['user', 'item', 'type'] as const) if (typeof r[f] !== 'string' || r[f] === '') return { error: `line ${l + 1}: ${f}: expected non-empty text` };
    if (r.value !== undefined && typeof r.value !== 'number') return { error: `line ${l + 1}: value: expected a number` };
    if (r.timestamp !== undefined && typeof r.timestamp !== 'number' && typeof r.timestamp !== 'string') return { error: `line ${l + 1}: timestamp: expected seconds or ISO 8601 text` };
    const unknown = Object.keys(r).find((k) => !FIELDS.has(k));
    if (unknown !== undefined) return { error: `line ${l + 1}: ${unknown}: unknown field (expected user, item, type, value, timestamp)` };
    events.push(r as unknown as FeedbackLine);
  }
  if (events.length === 0) return { error: 'the file has no feedback lines' };
  return { events };
}

/** Splits `xs` into batches of at most `size` (POST /v1/feedback takes at most 10,000 a request). */
export function batches<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let a = 0; a < xs.length; a += size) out.push(xs.slice(a, a + size));
  return out;
}
