/**
 * With the user cache (live.ts, user-cache.ts): reads one user's history and persona settings from
 * the store into the cache, so that the cached user holds exactly what the mirror of every user
 * would hold.
 */
import type { PersonaOverride, Store, StoredFeedback } from '../store/types.js';
import type { Loading, UserCache, UserLive } from './user-cache.js';

/** What the read uses of the live data (live.ts LiveData). */
export interface LoadTarget {
  readonly cache: UserCache | null;
  readonly users: Map<string, UserLive>;
  readonly erasureGen: number;
  applyErasures(store: Store): Promise<number>;
  applied(seq: number): boolean;
  user(id: string): UserLive;
  applyOne(u: UserLive, e: StoredFeedback, counted: boolean): void;
}

/**
 * Reads one user's history and persona settings from the store into the cache (`LiveData.ensureUser`).
 * The read is dropped when the user was erased meanwhile (the caller reads again: a write after the
 * erasure is a new user's). When the store has erasures this process has not applied yet, they are
 * applied first: one of them may be this user's, whose rows the mirror still holds and the read
 * lacks. Persona settings written while the read ran are read again.
 */
export async function loadUser(live: LoadTarget, store: Store, id: string): Promise<void> {
  const c = live.cache!;
  const l: Loading = { during: [], erased: false, settingsChanged: false };
  c.loading.set(id, l);
  let rows: StoredFeedback[];
  let list: PersonaOverride[];
  try {
    [rows, list] = await Promise.all([store.feedbackOf(id), store.overridesOf(id)]);
    // read after the history: an erasure committed before it is seen here
    if ((await store.erasureGeneration()) > live.erasureGen) await live.applyErasures(store);
    while (l.settingsChanged && !l.erased) {
      l.settingsChanged = false;
      list = await store.overridesOf(id);
    }
  } finally {
    c.loading.delete(id);
  }
  if (l.erased || live.users.has(id) || !c.known.has(id)) return; // erased, or created by a write meanwhile
  // exactly the events the mirror would hold: those applied here (a row committed but not yet
  // applied comes through applyFeedback later), plus the ones applied while the store answered
  const got = new Set(l.during.map((e) => e.seq));
  const events = rows.filter((e) => live.applied(e.seq) && !got.has(e.seq)).concat(l.during).sort((a, b) => a.seq - b.seq);
  const u = live.user(id);
  for (const e of events) live.applyOne(u, e, false);
  u.overrides = new Map(list.map((o) => [o.persona, { muted: o.muted, boost: o.boost }]));
}
