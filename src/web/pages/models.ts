/**
 * The models page (`#/models`): the active model and, when the service has one, the evaluation
 * of the compared models (a chart and a table per metric, the paired comparisons).
 */
import { api, ApiError } from '../api.js';
import type { ActiveModel, Evaluation } from '../api-types.js';
import { barChart, destroyCharts } from '../charts.js';
import { byTestId, errorBox, mount, type Page } from '../dom.js';
import { dateTime, num } from '../format.js';
import { html, type Html } from '../html.js';
import { chartK, EVAL_METRICS, evalCharts } from '../specs.js';
import { state } from '../state.js';

async function showModels(): Promise<void> {
  const body = byTestId('models-body');
  body.dataset.state = 'loading';
  destroyCharts('eval');
  mount(body, html`<p class="muted">Loading…</p>`);
  const [model, evaluation] = await Promise.allSettled([api.models(), api.evaluation()]);
  const parts: Html[] = [];
  if (model.status === 'fulfilled') {
    state.model = model.value.active;
    parts.push(activeModelCard(model.value.active));
  } else parts.push(html`<section class="card">${errorBox(model.reason)}</section>`);
  if (evaluation.status === 'fulfilled') {
    state.evaluation = evaluation.value;
    parts.push(evaluationSection(evaluation.value));
  } else if (evaluation.reason instanceof ApiError && evaluation.reason.status === 404) {
    state.evaluation = null;
    parts.push(
      html`<section class="card" data-testid="no-evaluation"><h3>Evaluation</h3><p class="muted">No evaluation results yet: the served model was trained without one. A training job started with <code>POST /v1/models/train</code> and <code>{"evaluate": ["pop", "ease"]}</code> evaluates the new model and those on a held-out split first (docs/service.md); its results then appear here.</p></section>`,
    );
  } else parts.push(html`<section class="card">${errorBox(evaluation.reason)}</section>`);
  mount(body, html`${parts}`);
  if (state.evaluation) drawEvaluationCharts(body, state.evaluation);
  body.dataset.state = 'ready';
}

function activeModelCard(active: ActiveModel | null): Html {
  if (!active) return html`<section class="card" data-testid="active-model"><h3>Active model</h3><p class="muted">No model is trained yet.</p></section>`;
  const params = Object.entries(active.params);
  return html`<section class="card" data-testid="active-model" aria-labelledby="active-h">
    <div class="card-head"><h3 id="active-h">Active model</h3><p class="muted small">The model answering requests now.</p></div>
    <dl class="facts facts-main">
      <div><dt>Name</dt><dd>${active.name}</dd></div>
      <div><dt>Version</dt><dd>${active.version}</dd></div>
      <div><dt>Trained</dt><dd>${dateTime(active.trainedAt)}</dd></div>
    </dl>
    ${params.length
      ? html`<details class="params" data-testid="model-params"><summary>Parameters (${params.length})</summary>
          <dl class="facts facts-small">${params.map(([k, v]) => html`<div><dt>${k}</dt><dd>${String(v)}</dd></div>`)}</dl>
        </details>`
      : ''}
  </section>`;
}

function evaluationSection(ev: Evaluation): Html {
  const k = chartK(ev);
  const d = ev.dataset;
  const comparisons = ev.comparisons.filter((c) => EVAL_METRICS.some((m) => c.metric === `${m.key}@${k}`));
  return html`<section class="card" data-testid="evaluation" aria-labelledby="eval-h">
    <div class="card-head">
      <h3 id="eval-h">Evaluation at ${k}</h3>
      <p class="muted small">${d.name} · ${d.testUsers} test users · protocol ${ev.protocol.name} · seed ${ev.protocol.seed} · bars are means, whiskers 95% bootstrap intervals</p>
    </div>
    <div class="eval-grid">
      ${EVAL_METRICS.map(
        (m) => html`<figure class="eval-chart">
          <figcaption><strong>${m.title}@${k}</strong> <span class="muted small">${m.better} is better · ${m.about}</span></figcaption>
          <div class="chart" data-testid="eval-chart" data-metric="${m.key}@${k}" role="img"></div>
          ${metricTable(ev, `${m.key}@${k}`, m.better)}
        </figure>`,
      )}
    </div>
    ${comparisons.length
      ? html`<details class="comparisons"><summary>Paired comparisons (${comparisons.length})</summary>
          <table><thead><tr><th scope="col">Metric</th><th scope="col">A − B</th><th scope="col">Mean difference</th><th scope="col">95% interval</th><th scope="col">p</th><th scope="col">Users</th></tr></thead>
          <tbody>${comparisons.map(
            (c) => html`<tr><td>${c.metric}</td><td>${c.a} − ${c.b}</td><td class="num">${num(c.mean, 4)}</td><td class="num">[${num(c.ci95[0], 4)}, ${num(c.ci95[1], 4)}]</td><td class="num">${num(c.pValue, 3)}</td><td class="num">${c.n}</td></tr>`,
          )}</tbody></table></details>`
      : ''}
  </section>`;
}

function metricTable(ev: Evaluation, metric: string, better: 'higher' | 'lower'): Html {
  // a row's name is its spec (e.g. personas:k=1): text only, escaped by html``, never an id or a selector
  const rows = ev.models.map((m) => ({ name: m.name, s: m.metrics[metric] ?? null, cats: m.usesCategories }));
  const means = rows.map((r) => r.s?.mean).filter((v): v is number => typeof v === 'number');
  const best = means.length ? (better === 'lower' ? Math.min(...means) : Math.max(...means)) : null;
  return html`<table class="metric-table" data-testid="metric-table" data-metric="${metric}">
    <caption class="sr-only">${metric} per model</caption>
    <thead><tr><th scope="col">Model</th><th scope="col">Mean</th><th scope="col">95% interval</th><th scope="col">Users</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr ${best !== null && r.s?.mean === best ? html`class="best"` : ''}><th scope="row">${r.name}${
        state.model && state.model.name === r.name ? html` <span class="served" title="the model this service answers with">served</span>` : ''
      }${r.cats ? html` <span class="uses-cats" data-testid="uses-categories" title="this model used the item categories">categories</span>` : ''}</th><td class="num">${num(r.s?.mean, 4)}</td><td class="num">${r.s?.ci95 ? `[${num(r.s.ci95[0], 4)}, ${num(r.s.ci95[1], 4)}]` : '–'}</td><td class="num">${r.s?.n ?? '–'}</td></tr>`,
    )}</tbody>
  </table>`;
}

function drawEvaluationCharts(root: HTMLElement, ev: Evaluation): void {
  evalCharts(ev).forEach((c, i) => {
    const el = root.querySelector<HTMLElement>(`[data-testid="eval-chart"][data-metric="${CSS.escape(c.name)}"]`);
    if (!el) return;
    el.dataset.series = JSON.stringify(c.plotted);
    el.setAttribute('aria-label', c.ariaLabel);
    barChart(`eval-${i}`, el, c.chart);
  });
}

export const modelsPage: Page = {
  view: 'models',
  show() {
    document.title = 'Models · personae';
    void showModels();
  },
};
