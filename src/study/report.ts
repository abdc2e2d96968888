/**
 * A study's HTML report: one self-contained file (inline SVG, no script, no CDN) with the claim,
 * the verdict and its reason, every chart of the study, and its tables. Bar charts follow
 * src/eval/report/html.ts (horizontal bars with interval whiskers); line charts plot one or more
 * series against x with optional interval bands.
 */
import { barChartSvg } from '../eval/report/html.js';
import type { StudyChart, StudyJson } from './types.js';

const PALETTE = ['#4C72B0', '#DD8452', '#55A868', '#C44E52', '#8172B3', '#937860', '#DA8BC3', '#8C8C8C', '#CCB974', '#64B5CD'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function tick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/**
 * A line chart: numeric x values are placed on a log2 axis when they span more than a factor 16
 * (e.g. d = 4..256), linearly otherwise; string x values are evenly spaced categories.
 */
export function lineChartSvg(chart: StudyChart): string {
  const width = 620;
  const height = 340;
  const left = 62;
  const right = 150;
  const top = 30;
  const bottom = 46;
  const xs = chart.x;
  const numeric = xs.every((v) => typeof v === 'number');
  const nums = numeric ? (xs as number[]) : xs.map((_, i) => i);
  const useLog = numeric && nums.every((v) => v > 0) && Math.max(...nums) / Math.min(...nums) > 16;
  const tx = (v: number): number => (useLog ? Math.log2(v) : v);
  const xmin = Math.min(...nums.map(tx));
  const xmax = Math.max(...nums.map(tx));
  const ys: number[] = [];
  for (const s of chart.series) {
    s.y.forEach((v, i) => {
      if (v !== null && Number.isFinite(v)) ys.push(v);
      const ci = s.ci?.[i];
      if (ci) ys.push(ci[0], ci[1]);
    });
  }
  let ymin = ys.length ? Math.min(...ys) : 0;
  let ymax = ys.length ? Math.max(...ys) : 1;
  if (ymin > 0 && ymin < 0.5 * ymax) ymin = 0;
  if (ymax === ymin) {
    ymax += 1;
    ymin -= ymin === 0 ? 0 : 1;
  }
  const px = (v: number): number => left + ((tx(v) - xmin) / Math.max(1e-12, xmax - xmin)) * (width - left - right);
  const py = (v: number): number => top + (1 - (v - ymin) / (ymax - ymin)) * (height - top - bottom);
  const p: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(chart.title)}">`];
  p.push(`<text x="4" y="16" font-size="13" font-weight="600">${esc(chart.title)}</text>`);
  // axes and grid
  p.push(`<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#444"/>`);
  p.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#444"/>`);
  for (let t = 0; t <= 4; t++) {
    const v = ymin + ((ymax - ymin) * t) / 4;
    const y = py(v);
    p.push(`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    p.push(`<text x="${left - 5}" y="${y + 4}" font-size="10" text-anchor="end">${tick(v)}</text>`);
  }
  xs.forEach((label, i) => {
    const x = px(nums[i]!);
    p.push(`<line x1="${x}" x2="${x}" y1="${height - bottom}" y2="${height - bottom + 4}" stroke="#444"/>`);
    p.push(`<text x="${x}" y="${height - bottom + 16}" font-size="10" text-anchor="middle">${esc(String(label))}</text>`);
  });
  p.push(`<text x="${(left + width - right) / 2}" y="${height - 8}" font-size="11" text-anchor="middle">${esc(chart.xLabel)}${useLog ? ' (log scale)' : ''}</text>`);
  p.push(`<text x="12" y="${(top + height - bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(top + height - bottom) / 2})">${esc(chart.yLabel)}</text>`);
  chart.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    if (s.ci) {
      s.ci.forEach((ci, i) => {
        if (!ci) return;
        const x = px(nums[i]!);
        p.push(`<line x1="${x}" x2="${x}" y1="${py(ci[0])}" y2="${py(ci[1])}" stroke="${color}" stroke-opacity="0.5" stroke-width="3"/>`);
      });
    }
    let path = '';
    s.y.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      path += `${path ? 'L' : 'M'}${px(nums[i]!).toFixed(1)},${py(v).toFixed(1)}`;
    });
    if (path) p.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    s.y.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      p.push(`<circle cx="${px(nums[i]!)}" cy="${py(v)}" r="3" fill="${color}"/>`);
    });
    const ly = top + 14 + si * 16;
    p.push(`<rect x="${width - right + 10}" y="${ly - 9}" width="12" height="4" fill="${color}"/>`);
    p.push(`<text x="${width - right + 26}" y="${ly - 4}" font-size="11">${esc(s.name)}</text>`);
  });
  p.push('</svg>');
  return p.join('');
}

/** One SVG per chart: bar charts get one block per series (bars = categories). */
export function chartSvg(chart: StudyChart): string {
  if (chart.kind === 'line') return lineChartSvg(chart);
  return chart.series
    .map((s) =>
      barChartSvg(
        chart.series.length > 1 ? `${chart.title}: ${s.name}` : chart.title,
        chart.x.map((label, i) => ({ label: String(label), value: s.y[i] ?? null, ci: s.ci?.[i] ?? null })),
      ),
    )
    .join('\n');
}

function tablesToHtml(md: string): string {
  const out: string[] = [];
  let inTable = false;
  let header = true;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      if (/^\|[-:| ]+\|$/.test(line)) continue;
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (!inTable) {
        out.push('<table>');
        inTable = true;
        header = true;
      }
      const tag = header ? 'th' : 'td';
      out.push(`<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`);
      header = false;
      continue;
    }
    if (inTable) {
      out.push('</table>');
      inTable = false;
    }
    if (line.startsWith('### ')) out.push(`<h3>${esc(line.slice(4))}</h3>`);
    else if (line.trim()) out.push(`<p>${esc(line)}</p>`);
  }
  if (inTable) out.push('</table>');
  return out.join('\n');
}

/** The self-contained HTML report of one study. */
export function studyHtml(json: StudyJson): string {
  const color = json.verdict === 'holds' ? '#2e7d32' : json.verdict === 'does-not-hold' ? '#c62828' : '#b26a00';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>personae study ${esc(json.study)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.meta{color:#555;font-size:13px}.verdict{font-size:18px;font-weight:600;color:${color}}
</style></head><body>
<h1>personae study ${esc(json.study)}</h1>
<p><b>Claim.</b> ${esc(json.claim)}</p>
<p class="verdict">Verdict: ${esc(json.verdict)}</p>
<p>${esc(json.verdictReason)}</p>
<p class="meta">data: ${esc(json.data)}; seed ${json.seed}; ${json.seconds.toFixed(1)} s; personae ${esc(json.manifest.personae)}, node ${esc(json.manifest.node)}, ${esc(json.manifest.startedAt)}</p>
<h2>Charts</h2>
<div class="charts">${json.charts.map(chartSvg).join('\n')}</div>
<h2>Tables</h2>
${tablesToHtml(json.table)}
</body></html>
`;
}
