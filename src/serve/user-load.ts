/**
 * With the user cache (live.ts, user-cache.ts): reads one user's history and persona settings from
 * the store into the cache, so that the cached user holds exactly what the mirror of every user
 * would hold.
 */
import type { PersonaOverride, Store, StoredFeedback } from '../store/types.js';
import type { LiveData } from './live.js';

/** Reads one user's history and persona settings from the store into the cache (`LiveData.ensureUser`). */
export async function loadUser(live: LiveData, store: Store, id: string): Promise<void> {
  const c = live.cache!;
  const during: StoredFeedback[] = [];
  c.loading.set(id, during);
  let rows: StoredFeedback[];
  let list: PersonaOverride[];
  try {
    [rows, list] = await Promise.all([store.feedbackOf(id), store.overridesOf(id)]);
  } finally {
    c.loading.delete(id);
  }
  if (live.users.has(id) || !c.known.has(id)) return; // created by a write meanwhile, or erased
  // exactly the events the mirror would hold: those applied here (a row committed but not yet
  // applied comes through applyFeedback later), plus the ones applied while the store answered
  const got = new Set(during.map((e) => e.seq));
  const events = rows.filter((e) => live.applied(e.seq) && !got.has(e.seq)).concat(during).sort((a, b) => a.seq - b.seq);
  const u = live.user(id);
  for (const e of events) live.applyOne(u, e, false);
  u.overrides = new Map(list.map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
}
