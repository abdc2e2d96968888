/**
 * The item page (`#/items`, `#/items/<id>`): an item's title and categories, its nearest
 * neighbours (GET /v1/items/{id}/similar, each a link to its own page) and who it serves (GET
 * /v1/items/{id}/audience: the users whose history holds it and the persona of each it belongs
 * to, each a link to the user). Without an id: a search box and the most active items.
 */
import { api, ApiError } from '../api.js';
import type { ItemAudience } from '../api-types.js';
import { $, append, byTestId, errorBox, mount, type Page } from '../dom.js';
import { num, pct } from '../format.js';
import { html, type Html } from '../html.js';
import { personaColor } from '../specs.js';
import { state } from '../state.js';

const N_SIMILAR = 10;
const N_AUDIENCE = 20;
let seq = 0;

const chips = (cats: readonly string[]): Html => html`<div class="chips">${cats.map((c) => html`<span class="chip">${c}</span>`)}</div>`;

async function showIndex(): Promise<void> {
  const el = byTestId('item-detail');
  const mine = ++seq;
  state.itemId = null;
  delete el.dataset.item;
  el.dataset.state = 'loading';
  try {
    const ov = state.overview ?? (await api.overview(48));
    if (mine !== seq) return;
    mount(
      el,
      html`<section class="card"><div class="card-head"><h3>Most active items</h3><p class="muted small">Open one, or type an id above.</p></div>
        ${ov.topItems.length === 0 ? html`<p class="muted">No events yet.</p>` : html`<ol class="ranked">${ov.topItems.map((t) => html`<li><span class="muted small num">${t.events}</span><a href="#/items/${encodeURIComponent(t.id)}" data-testid="top-item" data-item="${t.id}">${t.title}</a></li>`)}</ol>`}
      </section>`,
    );
  } catch (err) {
    if (mine === seq) mount(el, errorBox(err));
  }
  if (mine === seq) el.dataset.state = 'ready';
}

function audienceRows(a: ItemAudience): Html {
  return html`${a.users.map((u) => {
    const p = u.persona;
    return html`<li data-testid="audience-user" data-user="${u.user}" data-persona="${p ? p.index : ''}">
      <a href="#/users/${encodeURIComponent(u.user)}" class="uid" data-testid="audience-link">${u.user}</a>
      ${p
        ? html`<span class="persona-ref ${p.muted ? 'is-muted' : ''}" style="--c:${personaColor(p.index)}"><span class="dot" aria-hidden="true"></span>
            <span><strong>${p.label}</strong> <span class="muted small">persona ${p.index + 1} of ${p.personas} · ${pct(p.share)} of the history · weight ${num(p.weight, 2)}${p.muted ? ' · muted' : ''}</span></span></span>`
        : html`<span class="muted small">no personas (the served model has one vector per user)</span>`}
    </li>`;
  })}`;
}

async function showItem(id: string): Promise<void> {
  const el = byTestId('item-detail');
  const mine = ++seq;
  state.itemId = id;
  state.similar = null;
  state.audience = null;
  el.dataset.item = id;
  el.dataset.state = 'loading';
  document.title = `Item ${id} · personae`;
  mount(el, html`<p class="muted">Loading…</p>`);
  const [item, similar, audience] = await Promise.allSettled([api.item(id), api.similar(id, N_SIMILAR), api.audience(id, N_AUDIENCE, 0)]);
  if (mine !== seq) return;
  if (item.status === 'rejected') {
    mount(el, item.reason instanceof ApiError && item.reason.status === 404 ? html`<section class="card"><p class="muted">No item "${id}".</p></section>` : errorBox(item.reason));
    el.dataset.state = 'ready';
    return;
  }
  const it = item.value;
  if (similar.status === 'fulfilled') state.similar = similar.value;
  if (audience.status === 'fulfilled') state.audience = audience.value;
  mount(
    el,
    html`<header class="user-head"><div><p class="eyebrow">Item ${it.id}</p><h2 data-testid="item-title">${it.title}</h2>${chips(it.categories)}</div></header>
      <div class="two-col">
        <section class="card" aria-labelledby="aud-h">
          <div class="card-head"><h3 id="aud-h">Who it serves</h3>
            <p class="muted small" data-testid="audience-meta">${audience.status === 'fulfilled' ? `${audience.value.total} user${audience.value.total === 1 ? ' has' : 's have'} it in the history ${audience.value.model.name} v${audience.value.model.version} was trained on; beside each, the persona it belongs to (the one with the most weight for it).` : ''}</p></div>
          ${audience.status === 'fulfilled'
            ? audience.value.users.length === 0
              ? html`<p class="muted">Nobody has it in their training history yet.</p>`
              : html`<ul class="audience" data-testid="audience">${audienceRows(audience.value)}</ul>
                ${audience.value.total > audience.value.users.length ? html`<button type="button" class="more" data-testid="audience-more">Load more</button>` : ''}`
            : errorBox(audience.reason)}
        </section>
        <section class="card" aria-labelledby="nb-h">
          <div class="card-head"><h3 id="nb-h">Nearest neighbours</h3><p class="muted small">The items the served model ranks first for someone who liked only this one.</p></div>
          ${similar.status === 'fulfilled'
            ? html`<ol class="ranked" data-testid="neighbours">${similar.value.items.map(
                (n) => html`<li data-testid="neighbour" data-item="${n.id}"><span class="score">${num(n.score, 3)}</span><div><a href="#/items/${encodeURIComponent(n.id)}">${n.title}</a>${chips(n.categories)}</div></li>`,
              )}</ol>`
            : errorBox(similar.reason)}
        </section>
      </div>`,
  );
  el.querySelector('[data-testid="audience-more"]')?.addEventListener('click', () => void loadMoreAudience(id, mine));
  el.dataset.state = 'ready';
}

async function loadMoreAudience(id: string, mine: number): Promise<void> {
  const el = byTestId('item-detail');
  const current = state.audience;
  if (!current) return;
  el.dataset.state = 'loading';
  try {
    const next = await api.audience(id, N_AUDIENCE, current.users.length);
    if (mine !== seq) return;
    state.audience = { ...next, users: [...current.users, ...next.users] };
    const list = byTestId('audience', el);
    append(list, audienceRows(next));
    if (state.audience.users.length >= next.total) el.querySelector('[data-testid="audience-more"]')?.remove();
  } catch (err) {
    if (mine === seq) append(el, errorBox(err));
  }
  if (mine === seq) el.dataset.state = 'ready';
}

export const itemsPage: Page = {
  view: 'items',
  init() {
    const input = $<HTMLInputElement>('#item-search-input');
    byTestId<HTMLFormElement>('item-search').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const id = input.value.trim();
      if (id) location.hash = `#/items/${encodeURIComponent(id)}`;
    });
  },
  show(hash) {
    const m = /^#\/items\/(.+)$/.exec(hash);
    if (!m) {
      document.title = 'Items · personae';
      void showIndex();
      return;
    }
    void showItem(decodeURIComponent(m[1] ?? ''));
  },
};
