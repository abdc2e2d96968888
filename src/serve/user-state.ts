/**
 * Per-user serving state: the user's history, exclusions, persona set and settings in the model's
 * index space, plus what is computed from them once (scores, profile, confidence, finished
 * answers). States are kept in a least-recently-used map keyed by user id, each tagged with the
 * user's live versions, so repeated reads cost a map look-up and any feedback or persona setting
 * invalidates exactly that user's state.
 *
 * Online fold-in: positives that arrived after the model was trained are folded into the user's
 * personas with the model's `foldIn` (items fixed, only the user's vectors optimised). A training
 * user keeps their trained personas and gains one more, folded in from the new positives (a "recent"
 * persona: a new taste shows up as a new persona at once); any other user's personas are the
 * fold-in of their whole history.
 */
import type { UserConfidence, PosteriorWarmStart } from '../confidence/index.js';
import type { IdMap } from '../data/ids.js';
import type { PersonaProfile } from '../explain/explain.js';
import { NotFoundError } from '../errors.js';
import type { HasPersonas, Recommender } from '../models/model.js';
import { personaSetFrom, type PersonaSet } from '../models/persona-assignment.js';
import type { LiveData } from './live.js';
import { PersonaRows } from './persona-rows.js';

export type PersonaSetting = { muted: boolean; boost: number };

export interface UserState {
  key: string;
  /** The live versions this state reflects (UserLive): positives, persona settings, any feedback. */
  taste: number;
  settings: number;
  seenVersion: number;
  cold: boolean;
  history: Int32Array;
  /** Seen items (model indices), ascending. */
  exclude: Int32Array;
  /** The persona set served (null: no personas, e.g. a model without them). */
  personas: PersonaSet | null;
  overrides: Map<number, PersonaSetting>;
  /** The persona folded in from positives newer than the model (its index and items, newest first), if any. */
  recent: { index: number; items: Int32Array } | null;
  scores: Float32Array | null;
  /** The catalogue version (CatalogueView.catalogue) of scores that may hold the cold-start scores (all personas muted, or a cold user); -1: they do not. */
  scoresCatalogue: number;
  /** Each persona's own score row (persona-rows.ts), taken over from the user's previous state where a persona is unchanged. */
  rows: PersonaRows | null;
  profile: PersonaProfile | null;
  /** The catalogue version (CatalogueView.catalogue) the profile's labels were made with. */
  profileCatalogue: number;
  /** How much the model knows about the user (src/confidence), computed once per persona set. */
  confidence: UserConfidence | null;
  /**
   * The user's last exact posterior fit (src/confidence PosteriorWarmStart), one object kept across
   * their states: a due refit runs when the event loop is idle, not in the read (`idleRefit`).
   */
  posterior: PosteriorWarmStart;
  answers: Map<string, string>;
  /** The CatalogueView.answers version the cached answers were rendered with (titles, catalogue). */
  answersVersion: number;
}

/** Runs a user's due exact posterior refit after the requests being handled (setImmediate), off their reads. */
export const idleRefit = (refit: () => void): void => {
  setImmediate(refit);
};

/**
 * How many user states to keep: each holds a score row and, with personas, each persona's logits
 * over the candidates (persona-rows.ts; 8 bytes a candidate, as two rows; at most the model's k
 * trained personas) and the mixture's kept sum (8 bytes an item, in place of a recent persona's
 * logits, which are not kept), under ~256 MB.
 */
export function maxStatesFor(nItems: number, model: Recommender, personas: boolean): number {
  const k = (model as { params?: { k?: unknown } }).params?.k;
  const rows = 1 + (personas ? 2 * ((typeof k === 'number' && k > 0 ? k : 4) + 1) : 0);
  return Math.max(64, Math.floor((256 << 20) / Math.max(1, rows * nItems * 4)));
}

/** The state's per-persona score rows, made on first use for a state without them (a session). */
export function personaRowsOf(st: UserState, model: HasPersonas, set: PersonaSet, nItems: number): PersonaRows {
  st.rows ??= new PersonaRows(model, set, nItems);
  return st.rows;
}

/** Number of personas in the user's served set. */
export const personaCountOf = (st: UserState): number => st.personas?.k ?? 0;

/** A state with nothing computed yet. */
export function blankState(key: string, history: Int32Array, exclude: Int32Array, personas: PersonaSet | null): UserState {
  return {
    key, taste: 0, settings: 0, seenVersion: 0, cold: history.length === 0, history, exclude, personas, overrides: new Map(), recent: null,
    scores: null, scoresCatalogue: -1, rows: null, profile: null, profileCatalogue: -1, confidence: null, posterior: { anchor: null }, answers: new Map(), answersVersion: -1,
  };
}

/** A persona set with personas, or null (an empty fold-in, e.g. a history the model cannot place). */
function nonEmpty(model: HasPersonas, vectors: Float32Array, history: Int32Array): PersonaSet | null {
  const set = personaSetFrom(model, vectors, history);
  return set.k > 0 ? set : null;
}

/** The persona set of an anonymous history (a session): its fold-in. */
export function foldedSet(model: (Recommender & HasPersonas) | null, history: Int32Array): PersonaSet | null {
  return model && history.length > 0 ? nonEmpty(model, model.foldIn(history), history) : null;
}

/** What the user states read of the engine: the model's spaces and who it was trained on. */
export interface StateSource {
  readonly items: IdMap;
  readonly live: LiveData;
  readonly isCandidate: Uint8Array;
  /** The highest feedback seq the model was trained on. */
  readonly feedbackSeq: number;
  readonly personas: (Recommender & HasPersonas) | null;
  /** The user's row in the model, or -1 (see Engine.trainedIndex). */
  trainedIndex(userId: string): number;
}

export class UserStates {
  private readonly states = new Map<string, UserState>();
  private unknown: UserState | null = null;

  constructor(
    private readonly src: StateSource,
    private readonly maxStates: number,
  ) {}

  /** Whether `st` is the one state shared by every user without data. */
  isUnknown(st: UserState): boolean {
    return st === this.unknown;
  }

  /** A user's cached state, if any, without touching its place in the LRU order (tests read it). */
  peek(userId: string): UserState | undefined {
    return this.states.get(userId);
  }

  get(userId: string): UserState {
    const { items, live, isCandidate } = this.src;
    const u = live.users.get(userId);
    if (!u) {
      this.states.delete(userId); // deleted: nothing of theirs stays cached
      // every user without data shares one cold state (a flood of unknown IDs evicts nobody)
      this.unknown ??= blankState('unknown', new Int32Array(0), new Int32Array(0), null);
      return this.unknown;
    }
    const cached = this.states.get(userId);
    if (cached) {
      // refresh LRU position
      this.states.delete(userId);
      this.states.set(userId, cached);
      if (cached.taste === u.tasteVersion && cached.settings === u.settingsVersion && cached.seenVersion === u.version) return cached;
    }
    const seqCut = this.src.feedbackSeq;
    const old: number[] = [];
    const recent: number[] = [];
    const seen: number[] = [];
    for (const id of u.seen.keys()) {
      const i = items.lookup(id);
      if (i >= 0) seen.push(i);
    }
    for (const p of u.positives) {
      const i = items.lookup(p.item);
      if (i < 0 || !isCandidate[i] || !live.items.has(p.item)) continue;
      (p.seq <= seqCut ? old : recent).push(i);
    }
    const history = Int32Array.from(new Set([...old, ...recent])).sort();
    const exclude = Int32Array.from(new Set(seen)).sort();
    const overrides = u.overrides ?? new Map<number, PersonaSetting>();
    const trainIdx = this.src.trainedIndex(userId);
    const oldSet = new Set(old);
    const fresh = Int32Array.from(new Set(recent.filter((i) => !oldSet.has(i))));
    // what the persona set is a function of: the model row (erasure makes it -1), the history, the new positives
    const key = `${trainIdx}|${history.join(',')}|${fresh.join(',')}`;
    if (cached && cached.key === key) {
      // the persona set, its confidence and profile stand: a view or click changed the exclusions,
      // a persona setting the scores, a repeated positive nothing the model sees
      cached.taste = u.tasteVersion;
      cached.seenVersion = u.version;
      cached.exclude = exclude;
      if (cached.settings !== u.settingsVersion) {
        cached.settings = u.settingsVersion;
        cached.overrides = overrides;
        cached.scores = null;
      }
      cached.answers.clear();
      return cached;
    }
    const { personas, recentPersona } = this.personaSetOf(trainIdx, history, fresh);
    const st: UserState = {
      ...blankState(key, history, exclude, personas),
      taste: u.tasteVersion,
      settings: u.settingsVersion,
      seenVersion: u.version,
      overrides,
      recent: recentPersona,
      // the rows of the personas a like leaves as they were (a training user's trained ones) stay
      rows: personas && this.src.personas ? new PersonaRows(this.src.personas, personas, this.src.isCandidate.length, cached?.rows ?? null, recentPersona?.index ?? -1) : null,
      // the user's last posterior fit: the next spread is one Newton step from it (src/confidence PosteriorWarmStart)
      posterior: cached?.posterior ?? { anchor: null, defer: idleRefit },
    };
    this.states.set(userId, st);
    if (this.states.size > this.maxStates) this.states.delete(this.states.keys().next().value!);
    return st;
  }

  /** A training user's own personas plus a recent one folded in from `fresh`, or the fold-in of the history. */
  private personaSetOf(trainIdx: number, history: Int32Array, fresh: Int32Array): { personas: PersonaSet | null; recentPersona: UserState['recent'] } {
    const pm = this.src.personas;
    if (!pm || history.length === 0) return { personas: null, recentPersona: null };
    if (!(trainIdx >= 0 && pm.personaCount(trainIdx) > 0)) return { personas: nonEmpty(pm, pm.foldIn(history), history), recentPersona: null };
    let set = pm.personaVectors(trainIdx);
    let recentPersona: UserState['recent'] = null;
    if (fresh.length > 0) {
      const extra = pm.foldIn(fresh);
      if (extra.length > 0) recentPersona = { index: pm.personaCount(trainIdx), items: fresh.slice().reverse() };
      const merged = new Float32Array(set.length + extra.length);
      merged.set(set);
      merged.set(extra, set.length);
      set = merged;
    }
    const personas = nonEmpty(pm, set, history);
    return { personas, recentPersona };
  }
}

/**
 * The state of an anonymous history (a session: not stored): its items that are candidates of the
 * model as the history (an item posted after training has no vector to fold in: it is only kept
 * out of the list), every known item excluded, the persona set folded in. `has` says whether an
 * item is in the catalogue (NotFoundError naming items[r] otherwise).
 */
export function sessionState(itemIds: readonly string[], items: IdMap, has: (id: string) => boolean, isCandidate: Uint8Array, personas: (Recommender & HasPersonas) | null): UserState {
  const hist: number[] = [];
  for (const [r, id] of itemIds.entries()) {
    const i = items.lookup(id);
    if (!has(id)) throw new NotFoundError(`items[${r}]: unknown item "${id}"`);
    if (i >= 0 && isCandidate[i]) hist.push(i);
  }
  const history = Int32Array.from(new Set(hist)).sort();
  const exclude = Int32Array.from(new Set(itemIds.map((id) => items.lookup(id)).filter((i) => i >= 0))).sort();
  return blankState('session', history, exclude, foldedSet(personas, history));
}
