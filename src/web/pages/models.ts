/**
 * The models page (`#/models`): the active model; the kept versions with their evaluation and a
 * button that serves another one (rollback, POST /v1/models/versions/{v}/activate); when the
 * service has one, the evaluation of the compared models (a chart and a table per metric, the
 * paired comparisons); and a study's charts over rounds, from a study JSON file the reader loads
 * (`personae study feedback-loop --out loop.json`; kept in this browser, never sent anywhere).
 */
import { api, ApiError, errorText } from '../api.js';
import type { ActiveModel, Evaluation, ModelVersions } from '../api-types.js';
import { loadModelBadge } from '../badge.js';
import { barChart, destroyCharts, xyChart } from '../charts.js';
import { byTestId, errorBox, mount, toast, type Page } from '../dom.js';
import { dateTime, num } from '../format.js';
import { html, type Html } from '../html.js';
import { parseStudy, studyChartSpec, versionMetricText, type StudyView } from '../ops.js';
import { chartK, EVAL_METRICS, evalCharts } from '../specs.js';
import { state } from '../state.js';

/** Where the loaded study is kept (this browser only). */
export const STUDY_STORAGE = 'personae.study';

async function showModels(): Promise<void> {
  const body = byTestId('models-body');
  body.dataset.state = 'loading';
  destroyCharts('eval');
  destroyCharts('study');
  mount(body, html`<p class="muted">Loading…</p>`);
  const [model, evaluation, versions] = await Promise.allSettled([api.models(), api.evaluation(), api.versions()]);
  const parts: Html[] = [];
  if (model.status === 'fulfilled') {
    state.model = model.value.active;
    parts.push(activeModelCard(model.value.active));
  } else parts.push(html`<section class="card">${errorBox(model.reason)}</section>`);
  if (versions.status === 'fulfilled') {
    state.versions = versions.value;
    parts.push(versionsCard(versions.value));
  } else parts.push(html`<section class="card">${errorBox(versions.reason)}</section>`);
  if (evaluation.status === 'fulfilled') {
    state.evaluation = evaluation.value;
    parts.push(evaluationSection(evaluation.value));
  } else if (evaluation.reason instanceof ApiError && evaluation.reason.status === 404) {
    state.evaluation = null;
    parts.push(
      html`<section class="card" data-testid="no-evaluation"><h3>Evaluation</h3><p class="muted">No evaluation results yet: the served model was trained without one. A training job started with <code>POST /v1/models/train</code> and <code>{"evaluate": ["pop", "ease"]}</code> evaluates the new model and those on a held-out split first (docs/service.md); its results then appear here.</p></section>`,
    );
  } else parts.push(html`<section class="card">${errorBox(evaluation.reason)}</section>`);
  parts.push(html`<section class="card" data-testid="study" aria-labelledby="study-h"></section>`);
  mount(body, html`${parts}`);
  if (state.evaluation) drawEvaluationCharts(body, state.evaluation);
  for (const b of body.querySelectorAll<HTMLButtonElement>('[data-testid="activate"]')) b.addEventListener('click', () => void activate(Number(b.dataset.version), b));
  state.study ??= storedStudy();
  renderStudy();
  body.dataset.state = 'ready';
}

function versionsCard(v: ModelVersions): Html {
  const active = v.versions.find((x) => x.active)?.version ?? null;
  return html`<section class="card" data-testid="versions" aria-labelledby="versions-h">
    <div class="card-head"><h3 id="versions-h">Versions</h3><p class="muted small">The ${v.keep} newest versions are kept (<code>--keep-models</code>). Serving an older one is a rollback: it lasts across restarts until a newer version is trained.</p></div>
    <div class="table-wrap"><table class="versions-table">
      <thead><tr><th scope="col">Version</th><th scope="col">Model</th><th scope="col">Trained</th><th scope="col">NDCG (95% interval)</th><th scope="col" class="col-recall">Recall</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
      <tbody>${v.versions.map(
        (x) => html`<tr data-testid="version" data-version="${x.version}" data-active="${x.active ? 'true' : 'false'}" ${x.active ? html`class="is-active"` : ''}>
          <th scope="row">v${x.version}${x.active ? html` <span class="served">served</span>` : ''}${x.pinned ? html` <span class="uses-cats" title="kept by a rollback until a newer version is trained">pinned</span>` : ''}</th>
          <td>${x.name}</td><td class="nowrap">${dateTime(x.trainedAt)}</td>
          <td class="num" data-testid="version-ndcg">${versionMetricText(x, 'ndcg')}</td><td class="num col-recall">${versionMetricText(x, 'recall')}</td>
          <td>${x.active ? '' : html`<button type="button" data-testid="activate" data-version="${x.version}">${active !== null && x.version < active ? 'Roll back to' : 'Serve'} v${x.version}</button>`}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${v.versions.some((x) => x.evaluation) ? '' : html`<p class="muted small">No version has an evaluation: train with <code>{"evaluate": ["pop"]}</code> on the Jobs page to get one.</p>`}
  </section>`;
}

async function activate(version: number, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    const r = await api.activate(version);
    toast(`Now serving ${r.active.name} v${r.active.version}`);
    await loadModelBadge();
    await showModels();
  } catch (err) {
    toast(errorText(err), 'error');
    button.disabled = false;
  }
}

function storedStudy(): StudyView | null {
  const text = localStorage.getItem(STUDY_STORAGE);
  if (!text) return null;
  const r = parseStudy(text);
  return 'study' in r ? r.study : null;
}

function renderStudy(): void {
  const card = document.querySelector<HTMLElement>('[data-testid="study"]');
  if (!card) return;
  destroyCharts('study');
  const s = state.study;
  mount(
    card,
    html`<div class="card-head card-head-row">
        <div><h3 id="study-h">${s ? html`Study: ${s.study}` : 'Feedback-loop study'}</h3>
        <p class="muted small">${s
          ? html`${s.data} · seed ${s.seed} · loaded from a file in this browser`
          : html`Charts of a study over rounds: run <code>personae study feedback-loop --out loop.json</code> and load the file here. It stays in this browser; the service does not read it.`}</p></div>
        <div class="row">
          <label class="file-button"><input type="file" accept=".json,application/json" data-testid="study-file"><span>${s ? 'Load another' : 'Load a study JSON'}</span></label>
          ${s ? html`<button type="button" data-testid="study-forget">Forget</button>` : ''}
        </div>
      </div>
      ${s
        ? html`<p class="verdict-line"><span class="badge verdict-${s.verdict}" data-testid="study-verdict">${s.verdict}</span> ${s.verdictReason}</p>
          <p class="muted small">${s.claim}</p>
          <div class="eval-grid">${s.charts.map(
            (c, i) => html`<figure class="eval-chart"><figcaption><strong>${c.title}</strong></figcaption><div class="chart" data-testid="study-chart" data-index="${i}" data-title="${c.title}" role="img" aria-label="${c.title}: ${c.series.map((x) => `${x.name} ${x.y.map((v) => num(v, 3)).join(', ')}`).join('; ')}"></div></figure>`,
          )}</div>`
        : ''}`,
  );
  const input = byTestId<HTMLInputElement>('study-file', card);
  input.addEventListener('change', () => void loadStudyFile(input));
  card.querySelector('[data-testid="study-forget"]')?.addEventListener('click', () => {
    localStorage.removeItem(STUDY_STORAGE);
    state.study = null;
    renderStudy();
  });
  if (!s) return;
  for (const el of card.querySelectorAll<HTMLElement>('[data-testid="study-chart"]')) {
    const i = Number(el.dataset.index);
    const c = s.charts[i]!;
    el.dataset.series = JSON.stringify({ x: c.x, series: c.series });
    xyChart(`study-${i}`, el, studyChartSpec(c));
  }
}

async function loadStudyFile(input: HTMLInputElement): Promise<void> {
  const file = input.files?.[0];
  if (!file) return;
  const text = await file.text();
  const r = parseStudy(text);
  if ('error' in r) {
    toast(`${file.name}: ${r.error}`, 'error');
    return;
  }
  state.study = r.study;
  try {
    localStorage.setItem(STUDY_STORAGE, JSON.stringify({ ...r.study, charts: r.study.charts.map((c) => ({ ...c, kind: 'line' })) }));
  } catch {
    // too large for this browser's storage: shown now, not kept
  }
  renderStudy();
  toast(`Loaded study ${r.study.study}`);
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
          <div class="table-wrap"><table><thead><tr><th scope="col">Metric</th><th scope="col">A − B</th><th scope="col">Mean difference</th><th scope="col">95% interval</th><th scope="col">p</th><th scope="col">Users</th></tr></thead>
          <tbody>${comparisons.map(
            (c) => html`<tr><td>${c.metric}</td><td>${c.a} − ${c.b}</td><td class="num">${num(c.mean, 4)}</td><td class="num">[${num(c.ci95[0], 4)}, ${num(c.ci95[1], 4)}]</td><td class="num">${num(c.pValue, 3)}</td><td class="num">${c.n}</td></tr>`,
          )}</tbody></table></div></details>`
      : ''}
  </section>`;
}

function metricTable(ev: Evaluation, metric: string, better: 'higher' | 'lower'): Html {
  // a row's name is its spec (e.g. personas:k=1): text only, escaped by html``, never an id or a selector
  const rows = ev.models.map((m) => ({ name: m.name, s: m.metrics[metric] ?? null, cats: m.usesCategories }));
  const means = rows.map((r) => r.s?.mean).filter((v): v is number => typeof v === 'number');
  const best = means.length ? (better === 'lower' ? Math.min(...means) : Math.max(...means)) : null;
  return html`<div class="table-wrap"><table class="metric-table" data-testid="metric-table" data-metric="${metric}">
    <caption class="sr-only">${metric} per model</caption>
    <thead><tr><th scope="col">Model</th><th scope="col">Mean</th><th scope="col">95% interval</th><th scope="col">Users</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr ${best !== null && r.s?.mean === best ? html`class="best"` : ''}><th scope="row">${r.name}${
        state.model && state.model.name === r.name ? html` <span class="served" title="the model this service answers with">served</span>` : ''
      }${r.cats ? html` <span class="uses-cats" data-testid="uses-categories" title="this model used the item categories">categories</span>` : ''}</th><td class="num">${num(r.s?.mean, 4)}</td><td class="num">${r.s?.ci95 ? `[${num(r.s.ci95[0], 4)}, ${num(r.s.ci95[1], 4)}]` : '–'}</td><td class="num">${r.s?.n ?? '–'}</td></tr>`,
    )}</tbody>
  </table></div>`;
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
