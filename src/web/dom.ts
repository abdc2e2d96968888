/** DOM helpers shared by the pages: required elements, mounting escaped markup, the toast, errors. */
import { errorText } from './api.js';
import { html, type Html } from './html.js';

/** A page of the dashboard: a section `#view-<view>` of index.html with a nav link `data-view="<view>"`. */
export interface Page {
  /** The first segment of its route, `#/<view>` (also in the section's id and the nav link). */
  readonly view: string;
  /** Wires the page's static controls (index.html), once at start. */
  init?(): void;
  /** Shows the page for a route (`#/users/42` reaches the users page with the whole hash). */
  show(hash: string): void;
}

/** The element for a selector, which index.html or the page's own markup guarantees. */
export function $<E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E {
  const el = root.querySelector<E>(selector);
  if (!el) throw new Error(`dashboard: ${selector} is missing`);
  return el;
}

/** The element with `data-testid="<id>"`. */
export function byTestId<E extends Element = HTMLElement>(id: string, root: ParentNode = document): E {
  return $<E>(`[data-testid="${id}"]`, root);
}

/** Replaces an element's content with escaped markup (the only way markup reaches the DOM). */
export function mount(el: Element, content: Html): void {
  el.innerHTML = content.s;
}

/** Appends escaped markup at the end of an element. */
export function append(el: Element, content: Html): void {
  el.insertAdjacentHTML('beforeend', content.s);
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;

/** A short message at the bottom right (announced by its aria-live region). */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const el = document.querySelector('[data-testid="toast"]');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.className = 'toast';
  }, 3500);
}

export function clearToast(): void {
  const el = document.querySelector('[data-testid="toast"]');
  if (el) el.className = 'toast';
}

export const errorBox = (err: unknown): Html => html`<p class="error" role="alert">${errorText(err)}</p>`;
