/**
 * An item's audience for the dashboard's item page: the users whose training positives hold the
 * item, and for each the persona of theirs the item belongs to (the persona with the highest
 * weight for it, the rule explanations use: `personaWeightsOf`). Work: the item's users times
 * K x d for the weights, plus one persona profile per user shown (n at most).
 */
import { NotFoundError } from '../errors.js';
import { personaWeightsOf } from '../models/model.js';
import type { Engine } from './engine.js';

const collator = new Intl.Collator('en', { numeric: true });

export interface AudienceRow {
  user: string;
  persona: { index: number; label: string; weight: number; share: number; muted: boolean; personas: number } | null;
}

/** The users (training row and id) whose training positives hold the item, ordered as people read ids. */
export function audienceUsers(engine: Engine, itemId: string): { id: string; row: number; item: number }[] {
  const i = engine.items.lookup(itemId);
  if (i < 0 || !engine.live.items.has(itemId)) throw new NotFoundError(`item "${itemId}" is not in the served model`);
  const { indptr, indices } = engine.trainSet().itemUsers;
  const users: { id: string; row: number; item: number }[] = [];
  for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
    const id = engine.users.id(indices[p]!);
    if (engine.live.hasUser(id)) users.push({ id, row: indices[p]!, item: i });
  }
  return users.sort((a, b) => collator.compare(a.id, b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * The persona of the user (a training row) the item belongs to, with its label, share and setting
 * (load the user's overrides first for `muted`); null for a model without personas.
 */
export function audienceRow(engine: Engine, u: { id: string; row: number; item: number }): AudienceRow {
  const pm = engine.personas;
  if (!pm || pm.personaCount(u.row) === 0) return { user: u.id, persona: null };
  const set = pm.personaVectors(u.row);
  const ui = engine.trainSet().userItems;
  const history = ui.indices.subarray(ui.indptr[u.row]!, ui.indptr[u.row + 1]!);
  const w = personaWeightsOf(pm, set, u.item, history);
  let best = 0;
  for (let q = 1; q < w.length; q++) if (w[q]! > w[best]!) best = q;
  const p = engine.personasOf(u.id).personas.find((x) => x.index === best);
  return {
    user: u.id,
    persona: { index: best, label: p?.label ?? `taste #${best + 1}`, weight: round(w[best] ?? 0), share: p?.share ?? 0, muted: p?.muted ?? false, personas: w.length },
  };
}
