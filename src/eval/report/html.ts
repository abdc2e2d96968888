/**
 * A self-contained HTML report of an evaluation: split statistics, the metric tables, and bar
 * charts with 95% intervals drawn as inline SVG (no script, no CDN: it opens offline and prints).
 */
import type { EvaluationJson } from '../results.js';
import { formatNumber } from './format.js';
import { markdownTables, splitSummary } from './markdown.js';
import { personaDiagnosticsMarkdown } from '../persona-diagnostics.js';

const PALETTE = ['#4C72B0', '#DD8452', '#55A868', '#C44E52', '#8172B3', '#937860', '#DA8BC3', '#8C8C8C'];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** An upper bound of the width of `text` at 12 px in a sans-serif font (no font metrics offline). */
export function labelWidthPx(text: string): number {
  return Math.ceil(text.length * 7.2);
}

/**
 * A horizontal bar chart of one metric across models, with interval whiskers. The label column is
 * as wide as the longest label ("bpr + calibrated:0.5" is not clipped); the plot keeps 440 px.
 */
export function barChartSvg(title: string, rows: { label: string; value: number | null; ci: [number, number] | null }[]): string {
  const rowH = 26;
  const left = Math.max(120, 14 + Math.max(0, ...rows.map((r) => labelWidthPx(r.label))));
  const width = left + 440;
  const top = 28;
  const height = top + rows.length * rowH + 24;
  const max = Math.max(1e-9, ...rows.map((r) => Math.max(r.value ?? 0, r.ci?.[1] ?? 0)));
  const x = (v: number): number => left + (v / max) * (width - left - 70);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="4" y="16" font-size="13" font-weight="600">${escapeHtml(title)}</text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y + 16}" font-size="12" text-anchor="end">${escapeHtml(r.label)}</text>`);
    if (r.value === null) {
      parts.push(`<text x="${left + 4}" y="${y + 16}" font-size="12" fill="#888">n/a</text>`);
      return;
    }
    parts.push(`<rect x="${left}" y="${y + 4}" width="${Math.max(0, x(r.value) - left)}" height="${rowH - 10}" fill="${PALETTE[i % PALETTE.length]}"/>`);
    if (r.ci) {
      const [lo, hi] = r.ci;
      parts.push(`<line x1="${x(lo)}" x2="${x(hi)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222" stroke-width="1.5"/>`);
      for (const v of [lo, hi]) parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${y + 7}" y2="${y + rowH - 7}" stroke="#222"/>`);
    }
    parts.push(`<text x="${x(r.ci ? r.ci[1] : r.value) + 6}" y="${y + 16}" font-size="11">${formatNumber(r.value)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function markdownTableToHtml(md: string): string {
  const html: string[] = [];
  let inTable = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      if (/^\|[-:|]+\|$/.test(line.replace(/ /g, ''))) continue;
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (!inTable) {
        html.push('<table><thead><tr>', ...cells.map((c) => `<th>${escapeHtml(c)}</th>`), '</tr></thead><tbody>');
        inTable = true;
      } else {
        html.push('<tr>', ...cells.map((c) => `<td>${escapeHtml(c)}</td>`), '</tr>');
      }
      continue;
    }
    if (inTable) {
      html.push('</tbody></table>');
      inTable = false;
    }
    if (line.startsWith('### ')) html.push(`<h3>${escapeHtml(line.slice(4))}</h3>`);
    else if (line.startsWith('- ')) html.push(`<div class="li">${escapeHtml(line.slice(2))}</div>`);
    else if (line.trim()) html.push(`<p>${escapeHtml(line)}</p>`);
  }
  if (inTable) html.push('</tbody></table>');
  return html.join('\n');
}

export function htmlReport(json: EvaluationJson, title = 'personae evaluation'): string {
  const k = Math.max(...json.protocol.k);
  const charts = [`ndcg@${k}`, `recall@${k}`, `ckl@${k}`, `tdd@${k}`, `minorityRecall@${k}`, `dominantShare@${k}`, `coverage@${k}`]
    .filter((key) => json.models.some((m) => m.metrics[key]?.mean !== null && m.metrics[key] !== undefined))
    .map((key) =>
      barChartSvg(
        key + (key.startsWith('ckl') || key.startsWith('tdd') ? ' (lower = closer to the history\'s taste mix)' : ''),
        json.models.map((m) => ({ label: m.name, value: m.metrics[key]?.mean ?? null, ci: m.metrics[key]?.ci95 ?? null })),
      ),
    );
  const personas = personaDiagnosticsMarkdown(json.models, k);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.meta{color:#555;font-size:13px}.li{font-size:13px;margin-left:1rem}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(splitSummary(json)).replace(/\n/g, '<br>')}<br>seed ${json.manifest.seed}, personae ${escapeHtml(json.manifest.personae)}, node ${escapeHtml(json.manifest.node)}, ${escapeHtml(json.manifest.startedAt)}</p>
<h2>Charts (K = ${k}, bars = mean over test users, whiskers = 95% bootstrap interval)</h2>
<div class="charts">${charts.join('\n')}</div>
<h2>Tables</h2>
${markdownTableToHtml(markdownTables(json))}
${personas ? `<h2>Persona diagnostics (K = ${k}; docs/protocol.md)</h2>\n${markdownTableToHtml(personas)}` : ''}
</body></html>
`;
}
