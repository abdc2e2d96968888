/**
 * Draws a bar chart spec (specs.ts) with uPlot: grouped bars over categorical x, optional 95%
 * interval whiskers, value-axis ticks labelled by `axisTicks` (their values and labels are also
 * on the container as `data-y-ticks`, for tests). uPlot is served by this process under
 * /dashboard/vendor/ (never a CDN).
 */
import uPlot from './vendor/uPlot.esm.js';
import { axisTicks, num, pct } from './format.js';
import type { XYChartSpec } from './ops.js';
import type { BarChartSpec, BarSeries } from './specs.js';

const charts = new Map<string, { plot: uPlot; observer: ResizeObserver }>();
const FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';

export function barChart(key: string, el: HTMLElement, spec: BarChartSpec): uPlot {
  destroyChart(key);
  el.textContent = '';
  const n = spec.labels.length;
  const longest = Math.max(0, ...spec.labels.map((l) => l.length));
  const rotate = n > 5 || longest > 12;
  const angle = (35 * Math.PI) / 180;
  const labelWidth = measureText(spec.labels);
  const xAxisSize = rotate ? Math.min(150, Math.ceil(labelWidth * Math.sin(angle)) + 18) : 34;
  const groups = spec.series.length;
  const width = Math.max(260, el.clientWidth || 600);
  const yAxisSize = 52 + 22;
  // rotated labels end at their tick and reach left: leave room for the first one
  const firstWidth = rotate ? measureText(spec.labels.slice(0, 1)) : 0;
  const halfSlot = (width - yAxisSize) / (2 * Math.max(1, n));
  const padLeft = rotate ? Math.max(4, Math.ceil(firstWidth * Math.cos(angle) - yAxisSize - halfSlot + 8)) : 4;
  const valueText = (v: number | null): string => (v === null ? '–' : spec.unit === 'share' ? pct(v) : num(v, 4));

  const opts: uPlot.Options = {
    width,
    height: spec.height,
    padding: [14, 8, 0, padLeft],
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false }, y: false },
    select: { show: false, left: 0, top: 0, width: 0, height: 0 },
    legend: { show: groups > 1, live: false },
    scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: spec.yRange } },
    axes: [
      {
        stroke: '#334155',
        font: FONT,
        grid: { show: false },
        ticks: { show: false },
        gap: 6,
        size: xAxisSize,
        rotate: rotate ? 35 : 0,
        splits: () => spec.labels.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => spec.labels[i] ?? ''),
      },
      valueAxis(el, spec),
    ],
    series: [
      { label: 'category', value: (_u, i) => (i === null ? '' : (spec.labels[i] ?? '')) },
      ...spec.series.map((s, si) => ({
        label: s.label,
        fill: s.color,
        stroke: s.color,
        width: 0,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => valueText(v),
        paths: uPlot.paths.bars!({
          size: [groups > 1 ? 0.4 : 0.55, groups > 1 ? 40 : 72],
          align: groups > 1 ? (si === 0 ? -1 : 1) : 0,
          gap: groups > 1 ? 2 : 0,
          radius: 0.12,
        }),
      })),
    ],
    hooks: { draw: [(u) => drawWhiskers(u, spec.series)] },
  };
  const data: uPlot.AlignedData = [spec.labels.map((_, i) => i), ...spec.series.map((s) => s.values)];
  return mount(key, el, opts, data);
}

/**
 * Draws an x/y spec (ops.ts): lines over numeric x (a study's rounds), or bars over time (the
 * overview's events per hour). Value ticks as in barChart (`data-y-ticks`).
 */
export function xyChart(key: string, el: HTMLElement, spec: XYChartSpec): uPlot {
  destroyChart(key);
  el.textContent = '';
  const width = Math.max(260, el.clientWidth || 600);
  const valueText = (v: number | null): string => (v === null ? '–' : spec.unit === 'share' ? pct(v) : num(v, spec.bars ? 0 : 4));
  const step = spec.x.length > 1 ? spec.x[1]! - spec.x[0]! : 1;
  const opts: uPlot.Options = {
    width,
    height: spec.height,
    // time axes in UTC, as the API's times are
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    padding: [14, 12, 0, 4],
    cursor: { drag: { x: false, y: false, setScale: false }, y: false },
    select: { show: false, left: 0, top: 0, width: 0, height: 0 },
    legend: { show: spec.series.length > 1, live: false },
    scales: {
      x: spec.bars ? { time: spec.time, range: [spec.x[0]! - step / 2, spec.x[spec.x.length - 1]! + step / 2] } : { time: spec.time },
      y: { range: spec.yRange },
    },
    axes: [
      {
        stroke: '#334155',
        font: FONT,
        label: spec.xLabel,
        labelFont: FONT,
        labelSize: 20,
        grid: { show: false },
        ticks: { show: false },
        gap: 4,
        values: (_u: uPlot, splits: number[]) => (spec.time ? splits.map(utcTick) : splits.map((v) => String(v))),
        ...(spec.time ? {} : { splits: () => spec.x }),
      },
      valueAxis(el, spec),
    ],
    series: [
      { label: spec.xLabel, value: (_u, v) => (v === null ? '' : spec.time ? new Date(v * 1000).toISOString().slice(0, 16).replace('T', ' ') : String(v)) },
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: spec.bars ? 0 : 2,
        ...(spec.bars ? { fill: s.color, paths: uPlot.paths.bars!({ size: [0.8, 40], radius: 0.1 }) } : {}),
        points: { show: !spec.bars, size: 6, fill: s.color },
        value: (_u: uPlot, v: number | null) => valueText(v),
      })),
    ],
  };
  const data: uPlot.AlignedData = [spec.x, ...spec.series.map((s) => s.values)];
  return mount(key, el, opts, data);
}

/** A time tick (seconds, UTC): "HH:00", or the date "MM-DD" at midnight. */
/** Draws the chart into `el`, follows its width, and keeps it under `key` (destroyChart). */
function mount(key: string, el: HTMLElement, opts: uPlot.Options, data: uPlot.AlignedData): uPlot {
  const plot = new uPlot(opts, data, el);
  const observer = new ResizeObserver(() => {
    const w = Math.max(260, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: plot.height });
  });
  observer.observe(el);
  charts.set(key, { plot, observer });
  return plot;
}

/** The value (y) axis of a bar or xy chart; its tick labels are also left in `el.dataset.yTicks` for the tests. */
function valueAxis(el: HTMLElement, spec: Pick<BarChartSpec, 'yLabel' | 'unit'> & Pick<XYChartSpec, 'yLabel' | 'unit'>): uPlot.Axis {
  return {
    stroke: '#334155',
    font: FONT,
    label: spec.yLabel,
    labelFont: FONT,
    labelSize: 22,
    size: 52,
    grid: { stroke: '#e2e8f0', width: 1 },
    ticks: { show: false },
    values: (_u, splits) => {
      const labels = axisTicks(splits, spec.unit);
      el.dataset.yTicks = JSON.stringify(splits.map((v, i) => [v, labels[i]]));
      return labels;
    },
  };
}

function utcTick(v: number): string {
  const iso = new Date(v * 1000).toISOString();
  return iso.slice(11, 16) === '00:00' ? iso.slice(5, 10) : iso.slice(11, 16);
}

/** Width in CSS pixels of the widest label. */
function measureText(labels: readonly string[]): number {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return Math.max(0, ...labels.map((l) => l.length * 6.5));
  ctx.font = FONT;
  return Math.max(0, ...labels.map((l) => ctx.measureText(l).width));
}

function drawWhiskers(u: uPlot, series: readonly BarSeries[]): void {
  const ctx = u.ctx;
  const dpr = window.devicePixelRatio || 1;
  ctx.save();
  ctx.strokeStyle = '#0f172a';
  ctx.lineWidth = 1.5 * dpr;
  for (const s of series) {
    s.intervals?.forEach((ci, i) => {
      if (!ci) return;
      const x = u.valToPos(i, 'x', true);
      const y0 = u.valToPos(ci[0], 'y', true);
      const y1 = u.valToPos(ci[1], 'y', true);
      const cap = 7 * dpr;
      ctx.beginPath();
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
      ctx.moveTo(x - cap, y0);
      ctx.lineTo(x + cap, y0);
      ctx.moveTo(x - cap, y1);
      ctx.lineTo(x + cap, y1);
      ctx.stroke();
    });
  }
  ctx.restore();
}

export function destroyChart(key: string): void {
  const c = charts.get(key);
  if (!c) return;
  c.observer.disconnect();
  c.plot.destroy();
  charts.delete(key);
}

export function destroyCharts(prefix: string): void {
  for (const key of [...charts.keys()]) if (key.startsWith(prefix)) destroyChart(key);
}
