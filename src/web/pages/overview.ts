/**
 * The overview (`#/overview`, the home page): users, items and feedback events, the model in
 * service, events per hour (GET /v1/overview), the most active items and the newest events, each
 * linking to its item or user page.
 */
import { api } from '../api.js';
import { destroyChart, xyChart } from '../charts.js';
import { byTestId, errorBox, mount, type Page } from '../dom.js';
import { dateTime } from '../format.js';
import { html } from '../html.js';
import { timelineSpec } from '../ops.js';
import { state } from '../state.js';

const WINDOWS: readonly { hours: number; label: string }[] = [
  { hours: 48, label: '48 hours' },
  { hours: 168, label: '7 days' },
  { hours: 720, label: '30 days' },
];
let hours = 48;
let seq = 0;

const count = (n: number): string => n.toLocaleString('en-US');

async function showOverview(): Promise<void> {
  const body = byTestId('overview-body');
  const mine = ++seq;
  body.dataset.state = 'loading';
  try {
    const ov = await api.overview(hours);
    if (mine !== seq) return;
    state.overview = ov;
    const spec = timelineSpec(ov.timeline);
    destroyChart('timeline');
    mount(
      body,
      html`<div class="stats">
          <a class="stat card" href="#/users" data-testid="stat-users"><span class="stat-label">Users</span><strong>${count(ov.users)}</strong></a>
          <a class="stat card" href="#/items" data-testid="stat-items"><span class="stat-label">Items</span><strong>${count(ov.items)}</strong></a>
          <a class="stat card" href="#/data" data-testid="stat-events"><span class="stat-label">Feedback events</span><strong>${count(ov.events)}</strong></a>
          <a class="stat card" href="#/models" data-testid="stat-model"><span class="stat-label">Model in service</span><strong>${ov.model ? `${ov.model.name} v${ov.model.version}` : 'none yet'}</strong>
            <span class="muted small">${ov.model ? `trained ${dateTime(ov.model.trainedAt)} · ${ov.versions} version${ov.versions === 1 ? '' : 's'} kept` : 'train one on the Jobs page'}</span></a>
        </div>
        <section class="card" aria-labelledby="timeline-h">
          <div class="card-head card-head-row">
            <div><h3 id="timeline-h">Events per hour</h3><p class="muted small" data-testid="timeline-note">${spec.note}</p></div>
            <div class="segmented" role="group" aria-label="Window">${WINDOWS.map(
              (w) => html`<button type="button" data-hours="${w.hours}" data-testid="timeline-window" aria-pressed="${w.hours === hours ? 'true' : 'false'}">${w.label}</button>`,
            )}</div>
          </div>
          <div class="chart" data-testid="timeline-chart" role="img" aria-label="${spec.ariaLabel}" data-series="${JSON.stringify(spec.plotted)}"></div>
        </section>
        <div class="two-col even">
          <section class="card" aria-labelledby="top-h">
            <div class="card-head"><h3 id="top-h">Most active items</h3><p class="muted small">Events on each among the ${count(ov.timeline.read)} newest.</p></div>
            ${ov.topItems.length === 0
              ? html`<p class="muted">No events yet.</p>`
              : html`<ol class="ranked">${ov.topItems.map(
                  (t) => html`<li><span class="muted small num">${count(t.events)}</span><a href="#/items/${encodeURIComponent(t.id)}" data-testid="top-item" data-item="${t.id}">${t.title}</a></li>`,
                )}</ol>`}
          </section>
          <section class="card" aria-labelledby="recent-h">
            <div class="card-head"><h3 id="recent-h">Newest events</h3><p class="muted small">The last feedback to arrive.</p></div>
            ${ov.recent.length === 0
              ? html`<p class="muted">No events yet.</p>`
              : html`<ul class="events">${ov.recent.map(
                  (e) => html`<li data-testid="recent-event"><a href="#/users/${encodeURIComponent(e.user)}" data-testid="recent-user">${e.user}</a>
                    <span class="muted small">${e.type} ${e.value}</span>
                    <a href="#/items/${encodeURIComponent(e.item)}" class="grow" data-testid="recent-item">${e.title}</a>
                    <span class="muted small nowrap">${dateTime(e.ts)}</span></li>`,
                )}</ul>`}
          </section>
        </div>`,
    );
    for (const b of body.querySelectorAll<HTMLButtonElement>('[data-testid="timeline-window"]')) {
      b.addEventListener('click', () => {
        hours = Number(b.dataset.hours);
        void showOverview();
      });
    }
    const el = byTestId('timeline-chart', body);
    if (spec.chart) xyChart('timeline', el, spec.chart);
    else mount(el, html`<p class="muted">No feedback yet.</p>`);
    body.dataset.state = 'ready';
  } catch (err) {
    if (mine !== seq) return;
    mount(body, errorBox(err));
    body.dataset.state = 'ready';
  }
}

export const overviewPage: Page = {
  view: 'overview',
  show() {
    document.title = 'Overview · personae';
    void showOverview();
  },
};
