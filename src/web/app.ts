/**
 * The dashboard's entry module (loaded by index.html as /dashboard/app.js): waits for the service,
 * wires the top bar, and routes `#/<view>/...` to the pages in PAGES. It only calls the public
 * /v1 API; every string from data reaches the DOM through html`...` (html.ts).
 *
 * A new page: a module in pages/ exporting a `Page`, an entry in PAGES, and in index.html a
 * `<section id="view-<view>" hidden>` plus a nav link with `data-view="<view>"` (docs/dashboard.md).
 */
import { KEY_STORAGE, readiness } from './api.js';
import { loadModelBadge } from './badge.js';
import { $, byTestId, clearToast, toast, type Page } from './dom.js';
import { dataPage } from './pages/data.js';
import { itemsPage } from './pages/items.js';
import { jobsPage } from './pages/jobs.js';
import { modelsPage } from './pages/models.js';
import { onboardingPage } from './pages/onboarding.js';
import { overviewPage } from './pages/overview.js';
import { usersPage } from './pages/users.js';
import { state } from './state.js';

/** The pages; the first is the home page (`#/` and unknown routes). */
const PAGES: readonly Page[] = [overviewPage, usersPage, itemsPage, modelsPage, jobsPage, dataPage, onboardingPage];

function route(): void {
  const hash = location.hash || '#/overview';
  clearToast(); // a message belongs to the view it was shown on
  const page = PAGES.find((p) => hash === `#/${p.view}` || hash.startsWith(`#/${p.view}/`)) ?? PAGES[0]!;
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.getAttribute('data-view') === page.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const p of PAGES) $(`#view-${p.view}`).hidden = p !== page;
  page.show(hash);
}

/** Waits for /readyz (the service may still be loading data or training), saying so on the page. */
async function waitUntilReady(): Promise<void> {
  const banner = byTestId('service-status');
  for (;;) {
    const { ready, status } = await readiness();
    if (ready) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    banner.textContent = `The service is starting (${status}). The page continues when it is ready.`;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

function initApiKey(): void {
  const form = byTestId<HTMLFormElement>('api-key-form');
  const input = $<HTMLInputElement>('#api-key-input');
  input.value = localStorage.getItem(KEY_STORAGE) ?? '';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    toast(key ? 'API key saved in this browser' : 'API key removed');
    form.closest('details')?.removeAttribute('open');
  });
}

async function start(): Promise<void> {
  Object.defineProperty(window, '__personae', { value: state });
  for (const p of PAGES) p.init?.();
  initApiKey();
  // the skip link must not change the route (the hash is the route)
  document.querySelector('.skip-link')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    $('#main').focus();
  });
  await waitUntilReady();
  window.addEventListener('hashchange', route);
  void loadModelBadge();
  route();
  document.body.dataset.ready = 'true';
}

void start();
