/** The model badge in the top bar: the version answering requests (refreshed after a rollback or a training). */
import { api } from './api.js';
import { byTestId } from './dom.js';
import { state } from './state.js';

export async function loadModelBadge(): Promise<void> {
  const badge = byTestId('model-badge');
  try {
    const body = await api.models();
    state.model = body.active;
    badge.textContent = body.active ? `${body.active.name} · v${body.active.version}` : 'no model yet';
  } catch {
    badge.textContent = '';
  }
}
