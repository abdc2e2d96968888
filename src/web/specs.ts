/**
 * What each chart plots, as plain data: the bars, their colours, the value axis' range and unit,
 * the text alternative and the note under the chart. charts.ts draws a spec with uPlot; this
 * module has no DOM and is unit tested under Node (test/web.test.ts).
 */
import type { Evaluation, TasteMix } from './api-types.js';
import { listLegend, num, pct, type AxisUnit } from './format.js';

export const PERSONA_COLORS = ['#4263eb', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#d6336c', '#74b816', '#f59f00'] as const;
export const HISTORY_COLOR = '#94a3b8';
export const LIST_COLOR = '#4263eb';

/** The colour of persona `index` (the same on its card, its reasons and the attention bar). */
export function personaColor(index: number): string {
  const n = PERSONA_COLORS.length;
  return PERSONA_COLORS[((index % n) + n) % n]!;
}

export interface BarSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** 95% intervals drawn as whiskers, one per bar (null: none). */
  intervals?: ([number, number] | null)[];
}

/** Grouped bars over categorical x. */
export interface BarChartSpec {
  labels: string[];
  series: BarSeries[];
  yLabel: string;
  unit: AxisUnit;
  height: number;
  /** The value axis runs from 0 to the highest bar or whisker plus 12% (1 when everything is 0). */
  yRange: [number, number];
}

export function barChartSpec(spec: Omit<BarChartSpec, 'yRange'>): BarChartSpec {
  let top = 0;
  for (const s of spec.series) {
    s.values.forEach((v, i) => {
      top = Math.max(top, v ?? 0, s.intervals?.[i]?.[1] ?? 0);
    });
  }
  return { ...spec, yRange: [0, top > 0 ? top * 1.12 : 1] };
}

/** KL(p ‖ q) with q smoothed toward p (α = 0.01), as in Steck's calibrated recommendations. */
export function klDivergence(p: readonly number[], q: readonly number[]): number {
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] ?? 0;
    if (pi <= 0) continue;
    const qi = 0.99 * (q[i] ?? 0) + 0.01 * pi;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/** What the taste chart plots (also its `data-series`). */
export interface TastePlot {
  /** The reranker that made the plotted list (the list's own `rerank`). */
  rerank: string;
  categories: string[];
  history: number[];
  list: number[];
}

export interface TasteSpec {
  plotted: TastePlot;
  /** null: no category to compare. */
  chart: BarChartSpec | null;
  ariaLabel: string;
  note: string;
}

/**
 * The taste chart of a user: the categories present in the history or the list, the history's
 * largest first; grey history bars and blue list bars. `rerank` is what the list really got (a
 * cold-start list is never reranked). Without a history there is nothing to compare the list
 * with: the chart shows the list alone and the note says so instead of a KL of 0.
 */
export function tasteSpec(mix: TasteMix, rerank: string): TasteSpec {
  const order = mix.categories
    .map((_c, i) => i)
    .filter((i) => (mix.history[i] ?? 0) > 0 || (mix.list[i] ?? 0) > 0)
    .sort((a, b) => mix.history[b]! - mix.history[a]! || mix.list[b]! - mix.list[a]! || a - b);
  const plotted: TastePlot = {
    rerank,
    categories: order.map((i) => mix.categories[i]!),
    history: order.map((i) => mix.history[i]!),
    list: order.map((i) => mix.list[i]!),
  };
  if (plotted.categories.length === 0) return { plotted, chart: null, ariaLabel: 'Taste mix: no categories', note: '' };
  const hasHistory = plotted.history.some((v) => v > 0);
  const legend = listLegend(rerank);
  const chart = barChartSpec({
    labels: plotted.categories,
    yLabel: 'share',
    unit: 'share',
    height: plotted.categories.length > 10 ? 340 : 300,
    series: hasHistory
      ? [
          { label: 'History', values: plotted.history, color: HISTORY_COLOR },
          { label: legend, values: plotted.list, color: LIST_COLOR },
        ]
      : [{ label: legend, values: plotted.list, color: LIST_COLOR }],
  });
  const ariaLabel = hasHistory
    ? `Taste mix: ${plotted.categories.map((c, i) => `${c} history ${pct(plotted.history[i]!)}, list ${pct(plotted.list[i]!)}`).join('; ')}`
    : `Taste mix of the list (no history): ${plotted.categories.map((c, i) => `${c} ${pct(plotted.list[i]!)}`).join('; ')}`;
  const note = hasHistory
    ? `Miscalibration (KL of history from list): ${num(klDivergence(plotted.history, plotted.list), 3)}`
    : 'No history yet: the list has nothing to be calibrated against.';
  return { plotted, chart, ariaLabel, note };
}

export interface EvalMetric {
  key: string;
  title: string;
  better: 'higher' | 'lower';
  about: string;
}

export const EVAL_METRICS: readonly EvalMetric[] = [
  { key: 'ndcg', title: 'NDCG', better: 'higher', about: 'ranking quality of the held-out items' },
  { key: 'recall', title: 'Recall', better: 'higher', about: 'share of the held-out items found' },
  { key: 'ckl', title: 'Calibration KL', better: 'lower', about: "how far the list's taste mix is from the history's" },
  { key: 'minorityRecall', title: 'Minority recall', better: 'higher', about: "recall of the user's minority tastes" },
];

/** The K the charts show: 20 when evaluated, else the largest. */
export function chartK(ev: Evaluation): number {
  const ks = ev.protocol.k.length > 0 ? ev.protocol.k : [20];
  return ks.includes(20) ? 20 : Math.max(...ks);
}

/** What an evaluation chart plots (also its `data-series`). */
export interface EvalPlot {
  metric: string;
  models: string[];
  values: (number | null)[];
  intervals: ([number, number] | null)[];
}

export interface EvalChart {
  metric: EvalMetric;
  /** e.g. `ndcg@20` */
  name: string;
  plotted: EvalPlot;
  chart: BarChartSpec;
  ariaLabel: string;
}

/** One bar chart per metric at K = chartK: a bar per model (its spec) with its 95% interval. */
export function evalCharts(ev: Evaluation): EvalChart[] {
  const k = chartK(ev);
  const models = ev.models.map((m) => m.name);
  return EVAL_METRICS.map((metric, mi) => {
    const name = `${metric.key}@${k}`;
    const values = ev.models.map((m) => m.metrics[name]?.mean ?? null);
    const intervals = ev.models.map((m) => m.metrics[name]?.ci95 ?? null);
    return {
      metric,
      name,
      plotted: { metric: name, models, values, intervals },
      chart: barChartSpec({ labels: models, yLabel: name, unit: 'number', height: 240, series: [{ label: name, values, intervals, color: personaColor(mi) }] }),
      ariaLabel: `${name}: ${models.map((n, i) => `${n} ${num(values[i], 4)}`).join(', ')}`,
    };
  });
}
