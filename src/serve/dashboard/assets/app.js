// The personae dashboard: one ES module, no build step, no framework. It only calls the public
// /v1 API. Every string that comes from data goes through `html` (escaped) before it reaches
// innerHTML; charts are uPlot canvases served from this process.
import uPlot from '/dashboard/vendor/uPlot.esm.js';

// ---------------------------------------------------------------------------------------------
// Escaping templates: html`...${value}...` escapes every value unless it is itself html`...`.

class Html {
  /** @param {string} s */
  constructor(s) {
    this.s = s;
  }
}

/** @param {unknown} v @returns {string} */
function escapeText(v) {
  return String(v).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** @param {unknown} v @returns {string} */
function renderValue(v) {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.s;
  if (Array.isArray(v)) return v.map(renderValue).join('');
  return escapeText(v);
}

/** @param {TemplateStringsArray} strings @param {unknown[]} values */
function html(strings, ...values) {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += renderValue(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** @param {Element} el @param {Html} content */
function mount(el, content) {
  el.innerHTML = content.s;
}

// ---------------------------------------------------------------------------------------------
// State (exposed as window.__personae for debugging and the browser test)

const N_RECS = 20;
const CALIBRATED = 'calibrated:0.5';
const KEY_STORAGE = 'personae.apiKey';
const PERSONA_COLORS = ['#4263eb', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#d6336c', '#74b816', '#f59f00'];
const HISTORY_COLOR = '#94a3b8';
const LIST_COLOR = '#4263eb';

const state = {
  users: /** @type {{id: string, interactions: number}[]} */ ([]),
  usersTotal: 0,
  usersLoaded: false,
  userId: /** @type {string | null} */ (null),
  calibrated: false,
  /** Incremented on every user load so a slow answer for an old user is dropped. */
  seq: 0,
  /** Requests in flight for the open user (the panel is data-state="ready" at 0). */
  pending: 0,
  personas: /** @type {any} */ (null),
  recommendations: /** @type {any} */ (null),
  tasteMix: /** @type {any} */ (null),
  /** What the taste chart currently plots: {rerank, categories, history, list}. */
  tasteChart: /** @type {any} */ (null),
  evaluation: /** @type {any} */ (null),
  model: /** @type {any} */ (null),
  /** The open onboarding session: the last answer of POST /v1/onboarding[/:id/answers]. */
  onboarding: /** @type {any} */ (null),
};
Object.defineProperty(window, '__personae', { value: state });

/** @type {Map<string, {plot: any, observer: ResizeObserver}>} */
const charts = new Map();

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {string} path
 * @param {{method?: string, body?: unknown}} [init]
 */
async function api(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers.authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    // the API answers {error: {status, code, message}}; tolerate a plain {message} or {error: "..."}
    const message =
      (data && ((data.error && typeof data.error === 'object' && data.error.message) || data.message || (typeof data.error === 'string' && data.error))) ||
      `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, String(message));
  }
  return data;
}

/** @param {string} id */
const userPath = (id) => `/v1/users/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------------
// Formatting

/** @param {number | null | undefined} v @param {number} [digits] */
function num(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

/** @param {number} v */
const pct = (v) => `${Math.round(100 * v)}%`;

/** @param {unknown} ts */
function when(ts) {
  let ms = NaN;
  if (typeof ts === 'number') ms = ts < 1e11 ? ts * 1000 : ts;
  else if (typeof ts === 'string') ms = /^\d+$/.test(ts) ? Number(ts) * (ts.length <= 11 ? 1000 : 1) : Date.parse(ts);
  if (!Number.isFinite(ms)) return ts === undefined || ts === null ? '' : String(ts);
  return new Date(ms).toISOString().slice(0, 10);
}

/** @param {unknown} iso */
function dateTime(iso) {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  if (!Number.isFinite(ms)) return iso === undefined || iso === null ? '–' : String(iso);
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** @param {number} index */
const personaColor = (index) => PERSONA_COLORS[((index % PERSONA_COLORS.length) + PERSONA_COLORS.length) % PERSONA_COLORS.length];

/** @param {{label?: string | null, index?: number, persona?: number}} p */
function personaName(p) {
  const i = p.index ?? p.persona ?? 0;
  return p.label ? p.label : `Taste #${i + 1}`;
}

/** @param {string[]} titles */
function joinTitles(titles) {
  if (titles.length <= 1) return titles.join('');
  return `${titles.slice(0, -1).join(', ')} and ${titles[titles.length - 1]}`;
}

/** @param {string} message @param {'info' | 'error'} [kind] */
function toast(message, kind = 'info') {
  const el = document.querySelector('[data-testid="toast"]');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(/** @type {any} */ (toast).timer);
  /** @type {any} */ (toast).timer = setTimeout(() => {
    el.className = 'toast';
  }, 3500);
}

/** @param {unknown} err */
function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 401 || err.status === 403) return `${err.message} (set the API key at the top right)`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** @param {unknown} err */
const errorBox = (err) => html`<p class="error" role="alert">${errorText(err)}</p>`;

// ---------------------------------------------------------------------------------------------
// Charts: grouped bars over categorical x with optional 95% interval whiskers (uPlot)

/**
 * @typedef {{label: string, values: (number | null)[], color: string, intervals?: ([number, number] | null)[]}} BarSeries
 * @param {string} key chart registry key
 * @param {HTMLElement} el container
 * @param {{labels: string[], series: BarSeries[], yLabel: string, height?: number, format?: (v: number) => string}} spec
 */
function barChart(key, el, spec) {
  destroyChart(key);
  el.textContent = '';
  const n = spec.labels.length;
  const format = spec.format ?? ((/** @type {number} */ v) => num(v));
  let yMax = 0;
  for (const s of spec.series) {
    s.values.forEach((v, i) => {
      const hi = s.intervals?.[i]?.[1];
      yMax = Math.max(yMax, v ?? 0, hi ?? 0);
    });
  }
  yMax = yMax > 0 ? yMax * 1.12 : 1;
  const font = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  const longest = Math.max(0, ...spec.labels.map((l) => l.length));
  const rotate = n > 5 || longest > 12;
  const angle = (35 * Math.PI) / 180;
  const labelWidth = measureText(spec.labels, font);
  const xAxisSize = rotate ? Math.min(150, Math.ceil(labelWidth * Math.sin(angle)) + 18) : 34;
  const groups = spec.series.length;
  const width = Math.max(260, el.clientWidth || 600);
  const yAxisSize = 52 + 22;
  // rotated labels end at their tick and reach left: leave room for the first one
  const firstWidth = rotate ? measureText(spec.labels.slice(0, 1), font) : 0;
  const halfSlot = (width - yAxisSize) / (2 * Math.max(1, n));
  const padLeft = rotate ? Math.max(4, Math.ceil(firstWidth * Math.cos(angle) - yAxisSize - halfSlot + 8)) : 4;

  const opts = {
    width,
    height: spec.height ?? 300,
    padding: [14, 8, 0, padLeft],
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false }, y: false },
    select: { show: false },
    legend: { show: groups > 1, live: false },
    scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: [0, yMax] } },
    axes: [
      {
        stroke: '#334155',
        font,
        grid: { show: false },
        ticks: { show: false },
        gap: 6,
        size: xAxisSize,
        rotate: rotate ? 35 : 0,
        splits: () => spec.labels.map((_, i) => i),
        values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((i) => spec.labels[i] ?? ''),
      },
      {
        stroke: '#334155',
        font,
        label: spec.yLabel,
        labelFont: font,
        labelSize: 22,
        size: 52,
        grid: { stroke: '#e2e8f0', width: 1 },
        ticks: { show: false },
        values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((v) => format(v)),
      },
    ],
    series: [
      { label: 'category', value: (/** @type {any} */ _u, /** @type {number} */ i) => spec.labels[i] ?? '' },
      ...spec.series.map((s, si) => ({
        label: s.label,
        fill: s.color,
        stroke: s.color,
        width: 0,
        points: { show: false },
        value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v === null ? '–' : format(v)),
        paths: uPlot.paths.bars({
          size: [groups > 1 ? 0.4 : 0.55, groups > 1 ? 40 : 72],
          align: groups > 1 ? (si === 0 ? -1 : 1) : 0,
          gap: groups > 1 ? 2 : 0,
          radius: 0.12,
        }),
      })),
    ],
    hooks: {
      draw: [(/** @type {any} */ u) => drawWhiskers(u, spec.series)],
    },
  };
  const data = [spec.labels.map((_, i) => i), ...spec.series.map((s) => s.values)];
  const plot = new uPlot(opts, data, el);
  const observer = new ResizeObserver(() => {
    const w = Math.max(260, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: plot.height });
  });
  observer.observe(el);
  charts.set(key, { plot, observer });
  return plot;
}

/** Width in CSS pixels of the widest label. @param {string[]} labels @param {string} font */
function measureText(labels, font) {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return Math.max(0, ...labels.map((l) => l.length * 6.5));
  ctx.font = font;
  return Math.max(0, ...labels.map((l) => ctx.measureText(l).width));
}

/** @param {any} u @param {BarSeries[]} series */
function drawWhiskers(u, series) {
  const ctx = u.ctx;
  const dpr = window.devicePixelRatio || 1;
  ctx.save();
  ctx.strokeStyle = '#0f172a';
  ctx.lineWidth = 1.5 * dpr;
  series.forEach((s) => {
    if (!s.intervals) return;
    s.intervals.forEach((ci, i) => {
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
  });
  ctx.restore();
}

/** @param {string} key */
function destroyChart(key) {
  const c = charts.get(key);
  if (!c) return;
  c.observer.disconnect();
  c.plot.destroy();
  charts.delete(key);
}

/** @param {string} prefix */
function destroyCharts(prefix) {
  for (const key of [...charts.keys()]) if (key.startsWith(prefix)) destroyChart(key);
}

// ---------------------------------------------------------------------------------------------
// Views and routing

function route() {
  const hash = location.hash || '#/users';
  const note = document.querySelector('[data-testid="toast"]');
  if (note) note.className = 'toast'; // a message belongs to the view it was shown on
  const view = hash.startsWith('#/models') ? 'models' : hash.startsWith('#/onboarding') ? 'onboarding' : 'users';
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.getAttribute('data-view') === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  /** @type {HTMLElement} */ (document.getElementById('view-users')).hidden = view !== 'users';
  /** @type {HTMLElement} */ (document.getElementById('view-models')).hidden = view !== 'models';
  /** @type {HTMLElement} */ (document.getElementById('view-onboarding')).hidden = view !== 'onboarding';
  if (view === 'onboarding') {
    document.title = 'Onboarding · personae';
    // a session survives switching tabs; the Restart button starts a new one
    if (!state.onboarding && !onboardingBusy) void startOnboarding();
    return;
  }
  if (view === 'models') {
    document.title = 'Models · personae';
    void showModels();
    return;
  }
  if (!state.usersLoaded) void loadUsers(true);
  const m = /^#\/users\/(.+)$/.exec(hash);
  if (m) {
    const id = decodeURIComponent(m[1] ?? '');
    if (id !== state.userId) void openUser(id);
  } else {
    document.title = 'Users · personae';
  }
}

// ---------------------------------------------------------------------------------------------
// The user list

const PAGE = 100;

/** @param {boolean} reset */
async function loadUsers(reset) {
  const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-list"]'));
  const more = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="user-more"]'));
  const count = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-count"]'));
  if (reset) {
    state.users = [];
    state.usersLoaded = true;
  }
  more.disabled = true;
  try {
    const page = await api(`/v1/users?limit=${PAGE}&offset=${state.users.length}`);
    state.users.push(...page.users);
    state.usersTotal = page.total;
    renderUserList();
  } catch (err) {
    mount(list, html`<li>${errorBox(err)}</li>`);
    count.textContent = '';
  } finally {
    more.disabled = false;
  }
}

function renderUserList() {
  const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-list"]'));
  const more = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="user-more"]'));
  const count = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-count"]'));
  const input = /** @type {HTMLInputElement} */ (document.getElementById('user-search-input'));
  const filter = input.value.trim().toLowerCase();
  const shown = filter ? state.users.filter((u) => String(u.id).toLowerCase().includes(filter)) : state.users;
  const maxInteractions = Math.max(1, ...state.users.map((u) => u.interactions));
  mount(
    list,
    shown.length === 0
      ? html`<li class="muted small">No loaded user matches; press Open to look the id up.</li>`
      : html`${shown.map(
          (u) => html`<li>
            <a href="#/users/${encodeURIComponent(u.id)}" data-testid="user-link" data-user="${u.id}"
               ${u.id === state.userId ? html`aria-current="true"` : ''}>
              <span class="uid">${u.id}</span>
              <span class="spark" aria-hidden="true"><span style="width:${Math.max(4, Math.round((100 * u.interactions) / maxInteractions))}%"></span></span>
              <span class="count">${u.interactions}<span class="sr-only"> interactions</span></span>
            </a>
          </li>`,
        )}`,
  );
  count.textContent = `${state.users.length} of ${state.usersTotal} users loaded${filter ? `, ${shown.length} match` : ''}`;
  more.hidden = state.users.length >= state.usersTotal;
}

/** Moves aria-current to the open user without re-rendering the list (keeps keyboard focus). */
function markCurrentUser() {
  for (const a of document.querySelectorAll('[data-testid="user-link"]')) {
    if (a.getAttribute('data-user') === state.userId) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------------------------------------
// One user

/** @type {Record<string, number>} */
const latestRequest = {};

/** A check that this request is still the newest of its kind for the open user (older answers are dropped). @param {string} kind @param {number} seq */
function ticket(kind, seq) {
  const t = (latestRequest[kind] = (latestRequest[kind] ?? 0) + 1);
  return () => seq === state.seq && latestRequest[kind] === t;
}

/** Marks the user panel as loading while `work` runs; it is "ready" when nothing is pending. @param {number} seq @param {Promise<unknown>} work */
async function busy(seq, work) {
  const detail = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-detail"]'));
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

/** @param {string} id */
async function openUser(id) {
  state.userId = id;
  const seq = ++state.seq;
  state.pending = 0;
  document.title = `User ${id} · personae`;
  markCurrentUser();
  const detail = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-detail"]'));
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
  const toggle = /** @type {HTMLInputElement} */ (detail.querySelector('[data-testid="calibration-toggle"]'));
  toggle.addEventListener('change', () => {
    state.calibrated = toggle.checked;
    void refreshList(id, seq);
  });
  await busy(seq, Promise.all([loadPersonas(id, seq), loadRecommendations(id, seq), loadTasteMix(id, seq), loadHistory(id, seq)]));
}

/** Reloads what depends on the list (after a toggle or a persona change). @param {string} id @param {number} seq */
async function refreshList(id, seq) {
  await busy(seq, Promise.all([loadRecommendations(id, seq), loadTasteMix(id, seq)]));
}

const rerankParam = () => (state.calibrated ? `&rerank=${encodeURIComponent(CALIBRATED)}` : '');

/** @param {string} id @param {number} seq */
async function loadPersonas(id, seq) {
  const current = ticket('personas', seq);
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="personas"]'));
  try {
    const body = await api(`${userPath(id)}/personas`);
    if (!current()) return;
    state.personas = body;
    renderPersonas(el, id, seq, body.personas);
  } catch (err) {
    if (!current()) return;
    mount(el, err instanceof ApiError && err.status === 404 ? html`<p class="muted">No personas: this user has no history yet (cold start).</p>` : errorBox(err));
  }
}

/**
 * @param {HTMLElement} el @param {string} id @param {number} seq
 * @param {{index: number, share: number, label: string | null, anchors: {id: string, title: string}[], muted: boolean, boost: number}[]} personas
 */
function renderPersonas(el, id, seq, personas) {
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
  for (const card of el.querySelectorAll('[data-testid="persona"]')) {
    const index = Number(card.getAttribute('data-index'));
    const persona = personas.find((p) => p.index === index);
    if (!persona) continue;
    const mute = /** @type {HTMLButtonElement} */ (card.querySelector('[data-action="mute"]'));
    const boost = /** @type {HTMLInputElement} */ (card.querySelector('[data-action="boost"]'));
    const out = /** @type {HTMLOutputElement} */ (card.querySelector('output'));
    mute.addEventListener('click', () => void patchPersona(id, seq, index, { muted: !persona.muted }));
    boost.addEventListener('input', () => {
      out.textContent = `${num(Number(boost.value), 2)}×`;
    });
    boost.addEventListener('change', () => void patchPersona(id, seq, index, { boost: Number(boost.value) }));
  }
  // the cards are rebuilt after a change: give the focus back to the control that made it
  if (refocus) {
    const target = /** @type {HTMLElement | null} */ (el.querySelector(`[data-testid="persona"][data-index="${refocus.index}"] [data-action="${refocus.action}"]`));
    refocus = null;
    target?.focus();
  }
}

/** The persona control to focus once the cards are rebuilt. @type {{index: number, action: string} | null} */
let refocus = null;

/** @param {string} id @param {number} seq @param {number} index @param {{muted?: boolean, boost?: number}} change */
async function patchPersona(id, seq, index, change) {
  const focused = document.activeElement;
  if (focused instanceof HTMLElement && focused.closest('[data-testid="persona"]')) refocus = { index, action: change.muted !== undefined ? 'mute' : 'boost' };
  await busy(
    seq,
    (async () => {
      try {
        await api(`${userPath(id)}/personas/${index}`, { method: 'PATCH', body: change });
        if (seq !== state.seq) return;
        toast(change.muted !== undefined ? `Persona ${index + 1} ${change.muted ? 'muted' : 'unmuted'}` : `Persona ${index + 1} boosted ×${num(change.boost ?? 1, 2)}`);
        await Promise.all([loadPersonas(id, seq), refreshList(id, seq)]);
      } catch (err) {
        toast(errorText(err), 'error');
        // show the settings the service really has
        if (seq === state.seq) await loadPersonas(id, seq);
      }
    })(),
  );
}

/** @param {string} id @param {number} seq */
async function loadRecommendations(id, seq) {
  const current = ticket('recs', seq);
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="recommendations"]'));
  const meta = /** @type {HTMLElement} */ (document.querySelector('[data-testid="recs-meta"]'));
  try {
    const body = await api(`${userPath(id)}/recommendations?n=${N_RECS}&explain=true${rerankParam()}`);
    if (!current()) return;
    state.recommendations = body;
    const model = body.model ? `${body.model.name} v${body.model.version}` : 'no model';
    const confidence = typeof body.confidence === 'number' && Number.isFinite(body.confidence) ? ` · confidence ${num(body.confidence, 2)}` : '';
    meta.textContent = `${body.items.length} items · ${model} · ${body.rerank && body.rerank !== 'none' ? `reranked: ${body.rerank}` : 'not reranked'}${confidence}`;
    el.dataset.rerank = body.rerank ?? 'none';
    mount(
      el,
      html`${body.coldStart ? html`<p class="banner" data-testid="cold-start">Cold start: this user has no history, so this is a popular-but-diverse list.</p>` : ''}
      ${body.hedged === true ? html`<p class="hedge-note small" data-testid="hedged"><strong>hedged:</strong> ${hedgeText(body.hedgeReasons)}</p>` : ''}
      ${body.items.length === 0 ? html`<p class="muted">No recommendations.</p>` : ''}
      <ol class="recs">${body.items.map((item, i) => recommendationRow(item, i))}</ol>`,
    );
  } catch (err) {
    if (!current()) return;
    mount(el, errorBox(err));
    meta.textContent = '';
  }
}

/** The service's reasons for hedging a list, as one line (strings, or objects with a message). @param {unknown} reasons */
function hedgeText(reasons) {
  const list = Array.isArray(reasons) ? reasons : reasons === undefined || reasons === null ? [] : [reasons];
  const texts = list
    .map((r) => {
      if (typeof r === 'string') return r;
      if (r && typeof r === 'object') {
        const o = /** @type {Record<string, unknown>} */ (r);
        const t = o.message ?? o.reason ?? o.text ?? o.code;
        return typeof t === 'string' ? t : JSON.stringify(r);
      }
      return String(r);
    })
    .filter((t) => t.length > 0);
  return texts.length ? texts.join('; ') : 'the model is unsure about this user';
}

/** Why the service withheld an item's explanation (or why a filler item is in the list), or null. @param {any} item */
function withheldText(item) {
  if (item.explanation === null && typeof item.reason === 'string') return item.reason;
  const w = item.explanationWithheld;
  if (item.explanation !== null || w === undefined || w === null || w === false) return null;
  if (typeof w === 'string') return w;
  if (w && typeof w === 'object' && typeof w.reason === 'string') return w.reason;
  return 'Explanation withheld: the persona behind this item is uncertain';
}

/** @param {any} item @param {number} i */
function recommendationRow(item, i) {
  const e = item.explanation;
  const withheld = withheldText(item);
  const reason = withheld !== null
    ? html`<p class="reason muted withheld" data-testid="rec-reason" data-withheld="true">${withheld}</p>`
    : e
    ? html`<p class="reason" data-testid="rec-reason" style="--c:${personaColor(e.persona)}">
        <span class="dot" aria-hidden="true"></span>
        <span>Because of <strong>${personaName(e)}</strong>${
          Array.isArray(e.weights) && e.weights[e.persona] !== undefined ? html` <span class="muted">(${pct(e.weights[e.persona])} of the attention)</span>` : ''
        }${e.anchors && e.anchors.length ? html`, like ${joinTitles(e.anchors.slice(0, 2).map((/** @type {any} */ a) => a.title))}` : ''}</span>
      </p>
      ${Array.isArray(e.weights) && e.weights.length > 1 ? attentionBar(e.weights) : ''}`
    : html`<p class="reason muted" data-testid="rec-reason">${item.coldStart || state.recommendations?.coldStart ? 'Popular and diverse (no history yet)' : 'No explanation for this item'}</p>`;
  return html`<li class="rec" data-testid="rec-item" data-item="${item.id}">
    <span class="rank" aria-hidden="true">${i + 1}</span>
    <div class="rec-body">
      <div class="rec-top">
        <span class="title" data-testid="rec-title">${item.title ?? item.id}</span>
        <span class="score" title="Model score">${num(item.score, 3)}</span>
      </div>
      <div class="chips">${(item.categories ?? []).map((/** @type {string} */ c) => html`<span class="chip">${c}</span>`)}</div>
      ${reason}
    </div>
  </li>`;
}

/** A thin stacked bar of the attention weights over the personas. @param {number[]} weights */
function attentionBar(weights) {
  const total = weights.reduce((a, b) => a + Math.max(0, b), 0) || 1;
  return html`<div class="attention" aria-label="Attention over personas: ${weights.map((w, i) => `persona ${i + 1} ${pct(w / total)}`).join(', ')}" role="img">${weights.map(
    (w, i) => html`<span style="width:${((100 * Math.max(0, w)) / total).toFixed(1)}%;background:${personaColor(i)}"></span>`,
  )}</div>`;
}

/** @param {string} id @param {number} seq */
async function loadTasteMix(id, seq) {
  const current = ticket('mix', seq);
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="taste-chart"]'));
  const note = /** @type {HTMLElement} */ (document.querySelector('[data-testid="taste-note"]'));
  const rerank = state.calibrated ? CALIBRATED : 'none';
  try {
    const body = await api(`${userPath(id)}/taste-mix?n=${N_RECS}${rerankParam()}`);
    if (!current()) return;
    state.tasteMix = body;
    // the categories present in the history or the list, the history's largest first
    const order = body.categories
      .map((/** @type {string} */ _c, /** @type {number} */ i) => i)
      .filter((/** @type {number} */ i) => (body.history[i] ?? 0) > 0 || (body.list[i] ?? 0) > 0)
      .sort((/** @type {number} */ a, /** @type {number} */ b) => body.history[b] - body.history[a] || body.list[b] - body.list[a] || a - b);
    const plotted = {
      rerank,
      categories: order.map((/** @type {number} */ i) => body.categories[i]),
      history: order.map((/** @type {number} */ i) => body.history[i]),
      list: order.map((/** @type {number} */ i) => body.list[i]),
    };
    state.tasteChart = plotted;
    el.dataset.rerank = rerank;
    el.dataset.series = JSON.stringify(plotted);
    if (plotted.categories.length === 0) {
      destroyChart('taste');
      mount(el, html`<p class="muted">No categories to compare.</p>`);
      note.textContent = '';
      return;
    }
    barChart('taste', el, {
      labels: plotted.categories,
      yLabel: 'share',
      format: (v) => pct(v),
      height: plotted.categories.length > 10 ? 340 : 300,
      series: [
        { label: 'History', values: plotted.history, color: HISTORY_COLOR },
        { label: state.calibrated ? 'List (calibrated)' : 'List', values: plotted.list, color: LIST_COLOR },
      ],
    });
    el.setAttribute('aria-label', `Taste mix: ${plotted.categories.map((c, i) => `${c} history ${pct(plotted.history[i])}, list ${pct(plotted.list[i])}`).join('; ')}`);
    note.textContent = `Miscalibration (KL of history from list): ${num(klDivergence(plotted.history, plotted.list), 3)}`;
  } catch (err) {
    if (!current()) return;
    destroyChart('taste');
    delete el.dataset.series;
    mount(el, errorBox(err));
    note.textContent = '';
  }
}

/** KL(p || q) with q smoothed toward p as in Steck's calibration (alpha = 0.01). @param {number[]} p @param {number[]} q */
function klDivergence(p, q) {
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] ?? 0;
    if (pi <= 0) continue;
    const qi = 0.99 * (q[i] ?? 0) + 0.01 * pi;
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/** @param {string} id @param {number} seq */
async function loadHistory(id, seq) {
  const current = ticket('history', seq);
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="history"]'));
  const summary = /** @type {HTMLElement} */ (document.querySelector('[data-testid="user-summary"]'));
  try {
    const body = await api(`${userPath(id)}/feedback`);
    if (!current()) return;
    const rows = [...body.feedback].sort((a, b) => when(b.ts).localeCompare(when(a.ts)));
    summary.textContent = `${body.feedback.length} feedback event${body.feedback.length === 1 ? '' : 's'}`;
    mount(
      el,
      rows.length === 0
        ? html`<p class="muted">No feedback yet.</p>`
        : html`<ul class="history">${rows.slice(0, 12).map(
            (f) => html`<li><span class="title">${f.title ?? f.item}</span>
              <span class="muted small">${f.type}${f.value !== undefined && f.value !== null ? ` ${f.value}` : ''} · ${when(f.ts)}</span></li>`,
          )}</ul>${rows.length > 12 ? html`<p class="muted small">and ${rows.length - 12} more</p>` : ''}`,
    );
  } catch (err) {
    if (!current()) return;
    mount(el, err instanceof ApiError && err.status === 404 ? html`<p class="muted">No feedback for this user.</p>` : errorBox(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Onboarding page: POST /v1/onboarding starts a session, POST /v1/onboarding/:id/answers answers
// the open question (a, b, both, neither) and returns the next one with the recommendations.

const N_ONBOARD = 10;
const ANSWERS = [
  { answer: 'a', label: 'A', about: 'I would rather watch A' },
  { answer: 'b', label: 'B', about: 'I would rather watch B' },
  { answer: 'both', label: 'Both', about: 'I would watch both' },
  { answer: 'neither', label: 'Neither', about: 'I would watch neither' },
];
/** Incremented on every restart so an answer for an older session is dropped. */
let onboardingSeq = 0;
let onboardingBusy = false;

/** @param {boolean} on */
function setOnboardingBusy(on) {
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="onboarding"]'));
  onboardingBusy = on;
  el.dataset.state = on ? 'loading' : 'ready';
  for (const b of el.querySelectorAll('[data-testid="onb-answer"]')) /** @type {HTMLButtonElement} */ (b).disabled = on;
}

async function startOnboarding() {
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="onboarding"]'));
  const seq = ++onboardingSeq;
  state.onboarding = null;
  delete el.dataset.session;
  mount(el, html`<p class="muted">Starting a session…</p>`);
  setOnboardingBusy(true);
  try {
    const body = await api('/v1/onboarding', { method: 'POST', body: { n: N_ONBOARD } });
    if (seq !== onboardingSeq) return;
    state.onboarding = body;
    renderOnboarding(el);
  } catch (err) {
    if (seq !== onboardingSeq) return;
    mount(el, errorBox(err));
  } finally {
    if (seq === onboardingSeq) setOnboardingBusy(false);
  }
}

/** @param {string} answer */
async function answerOnboarding(answer) {
  const session = state.onboarding;
  if (!session || !session.question || onboardingBusy) return;
  const el = /** @type {HTMLElement} */ (document.querySelector('[data-testid="onboarding"]'));
  const seq = onboardingSeq;
  setOnboardingBusy(true);
  try {
    const body = await api(`/v1/onboarding/${encodeURIComponent(session.id)}/answers`, { method: 'POST', body: { answer, n: N_ONBOARD } });
    if (seq !== onboardingSeq) return;
    state.onboarding = body;
    renderOnboarding(el);
  } catch (err) {
    if (seq !== onboardingSeq) return;
    toast(errorText(err), 'error');
  } finally {
    if (seq === onboardingSeq) setOnboardingBusy(false);
  }
}

/** @param {{id: string, title?: string, categories?: string[]}} item @param {string} letter */
function choiceCard(item, letter) {
  return html`<div class="choice" data-testid="onb-choice" data-choice="${letter.toLowerCase()}" data-item="${item.id}">
    <span class="letter" aria-hidden="true">${letter}</span>
    <div class="choice-body">
      <span class="title" data-testid="onb-choice-title"><span class="sr-only">${letter}: </span>${item.title ?? item.id}</span>
      <div class="chips">${(item.categories ?? []).map((c) => html`<span class="chip">${c}</span>`)}</div>
    </div>
  </div>`;
}

/** @param {HTMLElement} el */
function renderOnboarding(el) {
  const s = state.onboarding;
  const q = s.question;
  const answered = Number(s.answered ?? 0);
  const items = /** @type {any[]} */ (s.items ?? []);
  el.dataset.session = s.id;
  el.dataset.answered = String(answered);
  mount(
    el,
    html`<section class="card onb-question" data-testid="onb-question" aria-labelledby="onb-q-h" ${q ? html`data-a="${q.a.id}" data-b="${q.b.id}"` : ''}>
        <p class="eyebrow">Question ${answered + 1}</p>
        ${q
          ? html`<h3 id="onb-q-h">Which would you rather watch: A or B?</h3>
            <div class="pair">${choiceCard(q.a, 'A')}${choiceCard(q.b, 'B')}</div>
            <div class="answers" role="group" aria-label="Your answer">${ANSWERS.map(
              (a) => html`<button type="button" data-testid="onb-answer" data-answer="${a.answer}" aria-label="${a.about}">${a.label}</button>`,
            )}</div>`
          : html`<h3 id="onb-q-h">No more questions</h3><p class="muted">The service has no informative pair left to ask. Restart to begin again.</p>`}
      </section>
      <section class="card" aria-labelledby="onb-recs-h">
        <div class="card-head">
          <h3 id="onb-recs-h">Recommendations so far</h3>
          <p class="muted small" data-testid="onb-count">${answered} question${answered === 1 ? '' : 's'} answered${s.model ? ` · ${s.model.name} v${s.model.version}` : ''}</p>
        </div>
        ${items.length === 0
          ? html`<p class="muted" data-testid="onb-empty">Answer a question to get recommendations.</p>`
          : html`<ol class="recs" data-testid="onb-recs">${items.map(
              (item, i) => html`<li class="rec" data-testid="onb-rec" data-item="${item.id}">
                <span class="rank" aria-hidden="true">${i + 1}</span>
                <div class="rec-body">
                  <span class="title" data-testid="onb-rec-title">${item.title ?? item.id}</span>
                  <div class="chips">${(item.categories ?? []).map((/** @type {string} */ c) => html`<span class="chip">${c}</span>`)}</div>
                </div>
              </li>`,
            )}</ol>`}
      </section>`,
  );
  for (const b of el.querySelectorAll('[data-testid="onb-answer"]')) {
    b.addEventListener('click', () => void answerOnboarding(String(b.getAttribute('data-answer'))));
  }
}

// ---------------------------------------------------------------------------------------------
// Models page

const EVAL_METRICS = [
  { key: 'ndcg', title: 'NDCG', better: 'higher', about: 'ranking quality of the held-out items' },
  { key: 'recall', title: 'Recall', better: 'higher', about: 'share of the held-out items found' },
  { key: 'ckl', title: 'Calibration KL', better: 'lower', about: "how far the list's taste mix is from the history's" },
  { key: 'minorityRecall', title: 'Minority recall', better: 'higher', about: "recall of the user's minority tastes" },
];

async function showModels() {
  const body = /** @type {HTMLElement} */ (document.querySelector('[data-testid="models-body"]'));
  body.dataset.state = 'loading';
  destroyCharts('eval');
  mount(body, html`<p class="muted">Loading…</p>`);
  const [model, evaluation] = await Promise.allSettled([api('/v1/models'), api('/v1/evaluation')]);
  const parts = [];
  if (model.status === 'fulfilled') {
    state.model = model.value.active;
    parts.push(activeModelCard(model.value.active));
  } else parts.push(html`<section class="card">${errorBox(model.reason)}</section>`);
  if (evaluation.status === 'fulfilled') {
    state.evaluation = evaluation.value;
    parts.push(evaluationSection(evaluation.value));
  } else if (evaluation.reason instanceof ApiError && evaluation.reason.status === 404) {
    state.evaluation = null;
    parts.push(html`<section class="card" data-testid="no-evaluation"><h3>Evaluation</h3><p class="muted">No evaluation results yet: the served model was trained without one. A training job started with <code>POST /v1/models/train</code> and <code>{"evaluate": ["pop", "ease"]}</code> evaluates the new model and those on a held-out split first (docs/service.md); its results then appear here.</p></section>`);
  } else parts.push(html`<section class="card">${errorBox(evaluation.reason)}</section>`);
  mount(body, html`${parts}`);
  if (state.evaluation) drawEvaluationCharts(body, state.evaluation);
  body.dataset.state = 'ready';
}

/** @param {any} active */
function activeModelCard(active) {
  if (!active) return html`<section class="card" data-testid="active-model"><h3>Active model</h3><p class="muted">No model is trained yet.</p></section>`;
  const params = Object.entries(active.params ?? {});
  return html`<section class="card" data-testid="active-model" aria-labelledby="active-h">
    <div class="card-head"><h3 id="active-h">Active model</h3><p class="muted small">The model answering requests now.</p></div>
    <dl class="facts facts-main">
      <div><dt>Name</dt><dd>${active.name}</dd></div>
      <div><dt>Version</dt><dd>${active.version}</dd></div>
      <div><dt>Trained</dt><dd>${dateTime(active.trainedAt)}</dd></div>
    </dl>
    ${params.length
      ? html`<details class="params" data-testid="model-params"><summary>Parameters (${params.length})</summary>
          <dl class="facts facts-small">${params.map(([k, v]) => html`<div><dt>${k}</dt><dd>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd></div>`)}</dl>
        </details>`
      : ''}
  </section>`;
}

/** The K the charts show: 20 when evaluated, else the largest. @param {any} ev */
function chartK(ev) {
  const ks = /** @type {number[]} */ (ev.protocol?.k ?? [20]);
  return ks.includes(20) ? 20 : Math.max(...ks);
}

/** @param {any} ev */
function evaluationSection(ev) {
  const k = chartK(ev);
  const d = ev.dataset ?? {};
  const comparisons = (ev.comparisons ?? []).filter((/** @type {any} */ c) => EVAL_METRICS.some((m) => c.metric === `${m.key}@${k}`));
  return html`<section class="card" data-testid="evaluation" aria-labelledby="eval-h">
    <div class="card-head">
      <h3 id="eval-h">Evaluation at ${k}</h3>
      <p class="muted small">${d.name ?? 'dataset'} · ${d.testUsers ?? '?'} test users · protocol ${ev.protocol?.name ?? '?'} · seed ${ev.protocol?.seed ?? '?'} · bars are means, whiskers 95% bootstrap intervals</p>
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
            (/** @type {any} */ c) => html`<tr><td>${c.metric}</td><td>${c.a} − ${c.b}</td><td class="num">${num(c.mean, 4)}</td><td class="num">[${num(c.ci95?.[0], 4)}, ${num(c.ci95?.[1], 4)}]</td><td class="num">${num(c.pValue, 3)}</td><td class="num">${c.n}</td></tr>`,
          )}</tbody></table></details>`
      : ''}
  </section>`;
}

/** @param {any} ev @param {string} metric @param {string} better */
function metricTable(ev, metric, better) {
  // a row's name is its spec (e.g. personas:k=1): text only, escaped by html``, never an id or a selector
  const rows = ev.models.map((/** @type {any} */ m) => ({ name: m.name, s: m.metrics?.[metric] ?? null, cats: m.usesCategories === true }));
  const means = rows.map((/** @type {any} */ r) => r.s?.mean).filter((/** @type {any} */ v) => typeof v === 'number');
  const best = means.length ? (better === 'lower' ? Math.min(...means) : Math.max(...means)) : null;
  return html`<table class="metric-table" data-testid="metric-table" data-metric="${metric}">
    <caption class="sr-only">${metric} per model</caption>
    <thead><tr><th scope="col">Model</th><th scope="col">Mean</th><th scope="col">95% interval</th><th scope="col">Users</th></tr></thead>
    <tbody>${rows.map(
      (/** @type {any} */ r) => html`<tr ${r.s?.mean === best && best !== null ? html`class="best"` : ''}><th scope="row">${r.name}${
        state.model && state.model.name === r.name ? html` <span class="served" title="the model this service answers with">served</span>` : ''
      }${r.cats ? html` <span class="uses-cats" data-testid="uses-categories" title="this model used the item categories">categories</span>` : ''}</th><td class="num">${num(r.s?.mean, 4)}</td><td class="num">${r.s?.ci95 ? `[${num(r.s.ci95[0], 4)}, ${num(r.s.ci95[1], 4)}]` : '–'}</td><td class="num">${r.s?.n ?? '–'}</td></tr>`,
    )}</tbody>
  </table>`;
}

/** @param {HTMLElement} root @param {any} ev */
function drawEvaluationCharts(root, ev) {
  const k = chartK(ev);
  const names = ev.models.map((/** @type {any} */ m) => String(m.name));
  EVAL_METRICS.forEach((m, mi) => {
    const metric = `${m.key}@${k}`;
    const el = /** @type {HTMLElement | null} */ (root.querySelector(`[data-testid="eval-chart"][data-metric="${CSS.escape(metric)}"]`));
    if (!el) return;
    const values = ev.models.map((/** @type {any} */ x) => x.metrics?.[metric]?.mean ?? null);
    const intervals = ev.models.map((/** @type {any} */ x) => x.metrics?.[metric]?.ci95 ?? null);
    el.dataset.series = JSON.stringify({ metric, models: names, values, intervals });
    el.setAttribute('aria-label', `${metric}: ${names.map((n, i) => `${n} ${num(values[i], 4)}`).join(', ')}`);
    barChart(`eval-${mi}`, el, {
      labels: names,
      yLabel: metric,
      height: 240,
      format: (v) => num(v, 2),
      series: [{ label: metric, values, intervals, color: PERSONA_COLORS[mi % PERSONA_COLORS.length] }],
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function loadModelBadge() {
  const badge = /** @type {HTMLElement} */ (document.querySelector('[data-testid="model-badge"]'));
  try {
    const body = await api('/v1/models');
    state.model = body.active;
    badge.textContent = body.active ? `${body.active.name} · v${body.active.version}` : 'no model yet';
  } catch {
    badge.textContent = '';
  }
}

/** Waits for /readyz (the service may still be loading data or training), saying so on the page. */
async function waitUntilReady() {
  const banner = /** @type {HTMLElement} */ (document.querySelector('[data-testid="service-status"]'));
  for (;;) {
    let ready = false;
    let status = 'not reachable';
    try {
      const res = await fetch('/readyz', { headers: { accept: 'application/json' } });
      // a server without /readyz is taken as ready
      ready = res.ok || res.status === 404;
      const body = await res.json().catch(() => null);
      if (body && typeof body.status === 'string') status = body.status;
    } catch {
      ready = false;
    }
    if (ready) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    banner.textContent = `The service is starting (${status}). The page continues when it is ready.`;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

async function start() {
  const search = /** @type {HTMLFormElement} */ (document.querySelector('[data-testid="user-search"]'));
  const input = /** @type {HTMLInputElement} */ (document.getElementById('user-search-input'));
  input.addEventListener('input', () => renderUserList());
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/users/${encodeURIComponent(id)}`;
  });
  /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="user-more"]')).addEventListener('click', () => void loadUsers(false));
  /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="onb-restart"]')).addEventListener('click', () => void startOnboarding());

  const keyForm = /** @type {HTMLFormElement} */ (document.querySelector('[data-testid="api-key-form"]'));
  const keyInput = /** @type {HTMLInputElement} */ (document.getElementById('api-key-input'));
  keyInput.value = localStorage.getItem(KEY_STORAGE) ?? '';
  keyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = keyInput.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    toast(key ? 'API key saved in this browser' : 'API key removed');
    /** @type {HTMLDetailsElement | null} */ (keyForm.closest('details'))?.removeAttribute('open');
  });

  // the skip link must not change the route (the hash is the route)
  document.querySelector('.skip-link')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    /** @type {HTMLElement} */ (document.getElementById('main')).focus();
  });

  await waitUntilReady();
  window.addEventListener('hashchange', route);
  void loadModelBadge();
  route();
  document.body.dataset.ready = 'true';
}

void start();
