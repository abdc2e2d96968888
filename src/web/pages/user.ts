/**
 * One user (`#/users/<id>`): personas with mute and boost, recommendations with their reasons,
 * the taste mix of the history and of the list (with the calibration switch), recent history.
 */
import { api, ApiError, errorText } from '../api.js';
import type { Persona, PersonaPatch, RecItem, Recommendations, TasteMix } from '../api-types.js';
import { barChart, destroyChart, destroyCharts } from '../charts.js';
import { $, byTestId, errorBox, mount, toast } from '../dom.js';
import { attentionText, hedgeText, joinTitles, num, pct, personaName, scoreText, when, withheldText } from '../format.js';
import { html, type Html } from '../html.js';
import { personaColor, tasteSpec } from '../specs.js';
import { viaLine } from '../via.js';
import { state } from '../state.js';

const N_RECS = 20;
/** The calibration switch's reranker (Steck's calibration, docs/reranking.md). */
export const CALIBRATED = 'calibrated:0.8';

const latestRequest: Record<string, number> = {};

/** A check that this request is still the newest of its kind for the open user (older answers are dropped). */
function ticket(kind: string, seq: number): () => boolean {
  const t = (latestRequest[kind] = (latestRequest[kind] ?? 0) + 1);
  return () => seq === state.seq && latestRequest[kind] === t;
}

/** Marks the user panel as loading while `work` runs; it is "ready" when nothing is pending. */
async function busy(seq: number, work: Promise<unknown>): Promise<void> {
  const detail = byTestId('user-detail');
  if (seq === state.seq) {
    state.pending++;
    detail.dataset.state = 'loading';
  }
  try {
    await work;
  } finally {
    if (seq === state.seq && --state.pending === 0) detail.dataset.state = 'ready';
  }
}

export async function openUser(id: string): Promise<void> {
  state.userId = id;
  const seq = ++state.seq;
  state.pending = 0;
  document.title = `User ${id} · personae`;
  const detail = byTestId('user-detail');
  destroyCharts('taste');
  detail.dataset.user = id;
  mount(
    detail,
    html`<header class="user-head">
        <div>
          <p class="eyebrow">User</p>
          <h2 data-testid="user-title">${id}</h2>
          <p class="muted" data-testid="user-summary"></p>
        </div>
        <label class="switch" data-testid="calibration-switch">
          <input type="checkbox" data-testid="calibration-toggle" ${state.calibrated ? html`checked` : ''}>
          <span class="track" aria-hidden="true"><span class="thumb"></span></span>
          <span class="switch-text"><strong>Calibrate</strong> the list to the history<br><span class="muted small">rerank=${CALIBRATED}</span></span>
        </label>
      </header>
      <section class="card personas-card" aria-labelledby="personas-h">
        <div class="card-head"><h3 id="personas-h">Personas</h3><p class="muted small">The tastes this user's history splits into. Mute one to drop it from the recommendations, boost it to favour it.</p></div>
        <div class="personas" data-testid="personas"><p class="muted">Loading…</p></div>
      </section>
      <div class="two-col">
        <section class="card" aria-labelledby="recs-h">
          <div class="card-head"><h3 id="recs-h">Recommendations</h3><p class="muted small" data-testid="recs-meta"></p></div>
          <div data-testid="recommendations"><p class="muted">Loading…</p></div>
        </section>
        <div class="col">
          <section class="card" aria-labelledby="mix-h">
            <div class="card-head"><h3 id="mix-h">Taste mix</h3><p class="muted small">Share of each category in the history and in the top ${N_RECS}.</p></div>
            <div class="chart" data-testid="taste-chart" role="img" aria-label="Taste mix of the history and of the list"></div>
            <p class="muted small" data-testid="taste-note"></p>
          </section>
          <section class="card" aria-labelledby="hist-h">
            <div class="card-head"><h3 id="hist-h">Recent history</h3></div>
            <div data-testid="history"><p class="muted">Loading…</p></div>
          </section>
        </div>
      </div>`,
  );
  const toggle = byTestId<HTMLInputElement>('calibration-toggle', detail);
  toggle.addEventListener('change', () => {
    state.calibrated = toggle.checked;
    void busy(seq, loadList(id, seq));
  });
  await busy(seq, Promise.all([loadPersonas(id, seq), loadList(id, seq), loadHistory(id, seq)]));
}

async function loadPersonas(id: string, seq: number): Promise<void> {
  const current = ticket('personas', seq);
  const el = byTestId('personas');
  try {
    const body = await api.personas(id);
    if (!current()) return;
    state.personas = body;
    renderPersonas(el, id, seq, body.personas);
  } catch (err) {
    if (!current()) return;
    mount(el, err instanceof ApiError && err.status === 404 ? html`<p class="muted">No personas: this user has no history yet (cold start).</p>` : errorBox(err));
  }
}

/** The persona control to focus once the cards are rebuilt. */
let refocus: { index: number; action: 'mute' | 'boost' } | null = null;

function renderPersonas(el: HTMLElement, id: string, seq: number, personas: Persona[]): void {
  if (personas.length === 0) {
    mount(el, html`<p class="muted">No personas yet: the service has no history for this user (cold start).</p>`);
    return;
  }
  mount(
    el,
    html`${personas.map(
      (p) => html`<article class="persona ${p.muted ? 'is-muted' : ''}" data-testid="persona" data-index="${p.index}" style="--c:${personaColor(p.index)}">
        <header>
          <span class="dot" aria-hidden="true"></span>
          <h4 data-testid="persona-label">${personaName(p)}</h4>
          <span class="share" title="Share of the history">${pct(p.share)}</span>
        </header>
        <div class="sharebar" role="meter" aria-label="Share of the history" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${Math.round(100 * p.share)}"><span style="width:${Math.max(2, Math.round(100 * p.share))}%"></span></div>
        <p class="anchors small"><span class="muted">Anchored by</span> ${p.anchors.length ? joinTitles(p.anchors.map((a) => a.title)) : '–'}</p>
        <div class="controls">
          <button type="button" class="toggle" data-action="mute" data-testid="persona-mute" aria-pressed="${p.muted ? 'true' : 'false'}"
            aria-label="Mute persona ${personaName(p)}">${p.muted ? 'Muted' : 'Mute'}</button>
          <label class="boost">
            <span>Boost</span>
            <input type="range" min="0" max="3" step="0.25" value="${p.boost}" data-action="boost" data-testid="persona-boost" aria-label="Boost persona ${personaName(p)}">
            <output>${num(p.boost, 2)}×</output>
          </label>
        </div>
      </article>`,
    )}`,
  );
  for (const card of el.querySelectorAll<HTMLElement>('[data-testid="persona"]')) {
    const index = Number(card.dataset.index);
    const persona = personas.find((p) => p.index === index);
    if (!persona) continue;
    const mute = $<HTMLButtonElement>('[data-action="mute"]', card);
    const boost = $<HTMLInputElement>('[data-action="boost"]', card);
    const out = $<HTMLOutputElement>('output', card);
    mute.addEventListener('click', () => void patchPersona(id, seq, index, { muted: !persona.muted }));
    boost.addEventListener('input', () => {
      out.textContent = `${num(Number(boost.value), 2)}×`;
    });
    boost.addEventListener('change', () => void patchPersona(id, seq, index, { boost: Number(boost.value) }));
  }
  // the cards are rebuilt after a change: give the focus back to the control that made it
  if (refocus) {
    const target = el.querySelector<HTMLElement>(`[data-testid="persona"][data-index="${refocus.index}"] [data-action="${refocus.action}"]`);
    refocus = null;
    target?.focus();
  }
}

async function patchPersona(id: string, seq: number, index: number, change: PersonaPatch): Promise<void> {
  const focused = document.activeElement;
  if (focused instanceof HTMLElement && focused.closest('[data-testid="persona"]')) refocus = { index, action: change.muted !== undefined ? 'mute' : 'boost' };
  await busy(
    seq,
    (async () => {
      try {
        await api.patchPersona(id, index, change);
        if (seq !== state.seq) return;
        toast(change.muted !== undefined ? `Persona ${index + 1} ${change.muted ? 'muted' : 'unmuted'}` : `Persona ${index + 1} boosted ×${num(change.boost ?? 1, 2)}`);
        await Promise.all([loadPersonas(id, seq), loadList(id, seq)]);
      } catch (err) {
        toast(errorText(err), 'error');
        // show the settings the service really has
        if (seq === state.seq) await loadPersonas(id, seq);
      }
    })(),
  );
}

/**
 * The list and its taste mix, fetched together: the chart is labelled with the reranker the list
 * really got (a cold-start list is not reranked even with the switch on).
 */
async function loadList(id: string, seq: number): Promise<void> {
  const current = ticket('list', seq);
  const asked = state.calibrated ? CALIBRATED : 'none';
  const [recs, mix] = await Promise.allSettled([api.recommendations(id, N_RECS, asked), api.tasteMix(id, N_RECS, asked)]);
  if (!current()) return;
  if (recs.status === 'fulfilled') {
    state.recommendations = recs.value;
    renderRecommendations(recs.value);
  } else {
    mount(byTestId('recommendations'), errorBox(recs.reason));
    byTestId('recs-meta').textContent = '';
  }
  if (mix.status === 'fulfilled') {
    state.tasteMix = mix.value;
    // the spec asked for, or 'none' when the list came back not reranked (the service names the reranker in full, e.g. "calibrated:0.8 (genres)")
    renderTaste(mix.value, recs.status === 'fulfilled' && recs.value.rerank === 'none' ? 'none' : asked);
  } else {
    const el = byTestId('taste-chart');
    destroyChart('taste');
    delete el.dataset.series;
    mount(el, errorBox(mix.reason));
    byTestId('taste-note').textContent = '';
  }
}

function renderRecommendations(body: Recommendations): void {
  const el = byTestId('recommendations');
  const model = `${body.model.name} v${body.model.version}`;
  const confidence = Number.isFinite(body.confidence) ? ` · confidence ${num(body.confidence, 2)}` : '';
  byTestId('recs-meta').textContent = `${body.items.length} items · ${model} · ${body.rerank !== 'none' ? `reranked: ${body.rerank}` : 'not reranked'}${confidence}`;
  el.dataset.rerank = body.rerank;
  mount(
    el,
    html`${body.coldStart ? html`<p class="banner" data-testid="cold-start">Cold start: this user has no history, so this is a popular-but-diverse list.</p>` : ''}
      ${body.hedged ? html`<p class="hedge-note small" data-testid="hedged"><strong>hedged:</strong> ${hedgeText(body.hedgeReasons)}</p>` : ''}
      ${body.items.length === 0 ? html`<p class="muted">No recommendations.</p>` : ''}
      <ol class="recs">${body.items.map((item, i) => recommendationRow(item, i, body.coldStart))}</ol>`,
  );
}

function recommendationRow(item: RecItem, i: number, coldStart: boolean): Html {
  const e = item.explanation;
  const withheld = withheldText(item);
  const weightLine = e ? attentionText(e) : null;
  const via = viaLine(item);
  const reason =
    withheld !== null
      ? html`<p class="reason muted withheld" data-testid="rec-reason" data-withheld="true">${withheld}</p>`
      : e
        ? html`<p class="reason" data-testid="rec-reason" style="--c:${personaColor(e.persona)}">
          <span class="dot" aria-hidden="true"></span>
          <span>Because of <strong>${personaName(e)}</strong>${weightLine !== null ? html` <span class="muted">(${weightLine})</span>` : ''}${
            e.anchors.length ? html`, like ${joinTitles(e.anchors.slice(0, 2).map((a) => a.title))}` : ''
          }</span>
        </p>
        ${e.weights.length > 1 ? attentionBar(e.weights) : ''}`
        : via !== null
          ? ''
          : html`<p class="reason muted" data-testid="rec-reason">${coldStart ? 'Popular and diverse (no history yet)' : 'No explanation for this item'}</p>`;
  return html`<li class="rec" data-testid="rec-item" data-item="${item.id}">
    <span class="rank" aria-hidden="true">${i + 1}</span>
    <div class="rec-body">
      <div class="rec-top">
        <a class="title" href="#/items/${encodeURIComponent(item.id)}" data-testid="rec-title">${item.title || item.id}</a>
        <span class="score" title="Model score ${num(item.score, 3)}">${scoreText(item)}</span>
      </div>
      <div class="chips">${item.categories.map((c) => html`<span class="chip">${c}</span>`)}</div>
      ${reason}
      ${via}
    </div>
  </li>`;
}

/** A thin stacked bar of the attention weights over the personas. */
function attentionBar(weights: readonly number[]): Html {
  const total = weights.reduce((a, b) => a + Math.max(0, b), 0) || 1;
  return html`<div class="attention" aria-label="Attention over personas: ${weights.map((w, i) => `persona ${i + 1} ${pct(w / total)}`).join(', ')}" role="img">${weights.map(
    (w, i) => html`<span style="width:${((100 * Math.max(0, w)) / total).toFixed(1)}%;background:${personaColor(i)}"></span>`,
  )}</div>`;
}

function renderTaste(mix: TasteMix, rerank: string): void {
  const el = byTestId('taste-chart');
  const note = byTestId('taste-note');
  const spec = tasteSpec(mix, rerank);
  state.tasteChart = spec.plotted;
  el.dataset.rerank = rerank;
  el.dataset.series = JSON.stringify(spec.plotted);
  el.setAttribute('aria-label', spec.ariaLabel);
  note.textContent = spec.note;
  if (!spec.chart) {
    destroyChart('taste');
    mount(el, html`<p class="muted">No categories to compare.</p>`);
    return;
  }
  barChart('taste', el, spec.chart);
}

async function loadHistory(id: string, seq: number): Promise<void> {
  const current = ticket('history', seq);
  const el = byTestId('history');
  const summary = byTestId('user-summary');
  try {
    const body = await api.feedback(id);
    if (!current()) return;
    const rows = [...body.feedback].sort((a, b) => when(b.ts).localeCompare(when(a.ts)));
    summary.textContent = `${body.feedback.length} feedback event${body.feedback.length === 1 ? '' : 's'}`;
    mount(
      el,
      rows.length === 0
        ? html`<p class="muted">No feedback yet.</p>`
        : html`<ul class="history">${rows.slice(0, 12).map(
            (f) => html`<li><span class="title">${f.title || f.item}</span>
              <span class="muted small">${f.type} ${f.value} · ${when(f.ts)}</span></li>`,
          )}</ul>${rows.length > 12 ? html`<p class="muted small">and ${rows.length - 12} more</p>` : ''}`,
    );
  } catch (err) {
    if (!current()) return;
    mount(el, err instanceof ApiError && err.status === 404 ? html`<p class="muted">No feedback for this user.</p>` : errorBox(err));
  }
}
