/**
 * The users page (`#/users`, `#/users/<id>`): the list of users on the left (100 at a time,
 * ordered as people read ids, filtered by the search box) and the open user (pages/user.ts).
 */
import { api } from '../api.js';
import { $, byTestId, errorBox, mount, type Page } from '../dom.js';
import { compareIds } from '../format.js';
import { html } from '../html.js';
import { state } from '../state.js';
import { openUser } from './user.js';

const PAGE = 100;

async function loadUsers(reset: boolean): Promise<void> {
  const more = byTestId<HTMLButtonElement>('user-more');
  if (reset) {
    state.users = [];
    state.usersLoaded = true;
  }
  more.disabled = true;
  try {
    const page = await api.users(PAGE, state.users.length);
    // the service pages in its store's order; the loaded users are shown as people read ids ("2" before "10")
    state.users = [...state.users, ...page.users].sort((a, b) => compareIds(a.id, b.id));
    state.usersTotal = page.total;
    renderUserList();
  } catch (err) {
    mount(byTestId('user-list'), html`<li>${errorBox(err)}</li>`);
    byTestId('user-count').textContent = '';
  } finally {
    more.disabled = false;
  }
}

function renderUserList(): void {
  const input = $<HTMLInputElement>('#user-search-input');
  const filter = input.value.trim().toLowerCase();
  const shown = filter ? state.users.filter((u) => u.id.toLowerCase().includes(filter)) : state.users;
  const maxInteractions = Math.max(1, ...state.users.map((u) => u.interactions));
  mount(
    byTestId('user-list'),
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
  byTestId('user-count').textContent = `${state.users.length} of ${state.usersTotal} users loaded${filter ? `, ${shown.length} match` : ''}`;
  byTestId('user-more').hidden = state.users.length >= state.usersTotal;
}

/** Moves aria-current to the open user without re-rendering the list (keeps keyboard focus). */
function markCurrentUser(): void {
  for (const a of document.querySelectorAll('[data-testid="user-link"]')) {
    if (a.getAttribute('data-user') === state.userId) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
  }
}

export const usersPage: Page = {
  view: 'users',
  init() {
    const input = $<HTMLInputElement>('#user-search-input');
    input.addEventListener('input', () => renderUserList());
    byTestId<HTMLFormElement>('user-search').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const id = input.value.trim();
      if (id) location.hash = `#/users/${encodeURIComponent(id)}`;
    });
    byTestId('user-more').addEventListener('click', () => void loadUsers(false));
  },
  show(hash) {
    if (!state.usersLoaded) void loadUsers(true);
    const m = /^#\/users\/(.+)$/.exec(hash);
    if (!m) {
      document.title = 'Users · personae';
      return;
    }
    const id = decodeURIComponent(m[1] ?? '');
    // the open user stays as it is, unless another model version serves now (a rollback, a training)
    const served = state.model ? `${state.model.name} v${state.model.version}` : null;
    if (id === state.userId && (served === null || state.recommendations === null || served === `${state.recommendations.model.name} v${state.recommendations.model.version}`)) return;
    state.userId = id;
    markCurrentUser();
    void openUser(id);
  },
};
