/**
 * The bounded side of the live data (live.ts) when the service does not mirror the log
 * (`--user-cache N`, docs/service.md "User cache"): which users have feedback at all, the
 * per-item count of users with a positive (kept exact on every write, re-read from the store when
 * a change could not be counted: count-refresh.ts), and the bookkeeping of histories being read from the store.
 * Each user's own feedback (UserLive) is kept for at most `budget` recently used users.
 */
import type { PositiveRule, StoredFeedback } from '../store/types.js';
import type { FeedbackPolicy } from './feedback-policy.js';

/** The users kept by default with `--user-cache` on (docs/scale.md measures the memory). */
export const DEFAULT_USER_CACHE = 10_000;

/** The positive rules of a policy (what the store counts). */
export function positiveRules(policy: FeedbackPolicy): PositiveRule[] {
  return Object.entries(policy)
    .filter(([, r]) => r.positive)
    .map(([type, r]) => (r.minValue !== undefined ? { type, minValue: r.minValue } : { type }));
}

export interface UserLive {
  /** Every item the user gave any feedback on (never recommended back), with its event count. */
  seen: Map<string, number>;
  /** Positive events: item and store seq, oldest first. */
  positives: { item: string; seq: number }[];
  overrides: Map<number, { muted: boolean; boost: number }> | null;
  /** Feedback events (all types). */
  events: number;
  /** Any change of the user (feedback or persona settings). */
  version: number;
  /**
   * Changes of the positives (what the persona set, the scores and the confidence depend on):
   * a view or a click leaves it as it is.
   */
  tasteVersion: number;
  /** Changes of the persona settings (mutes, boosts): the scores and answers, not the persona set. */
  settingsVersion: number;
}

/** A user's history being read: what changed meanwhile, which the read may or may not hold. */
export interface Loading {
  /** The events applied to the user. */
  during: StoredFeedback[];
  /** The user was erased: the read is dropped. */
  erased: boolean;
  /** Their persona settings changed (here or on another replica): they are read again. */
  settingsChanged: boolean;
}

export class UserCache {
  /** Every user with feedback (the ids only: what `LiveData.hasUser` answers from). */
  readonly known = new Set<string>();
  /** Per item, the users with a positive on it (exact while `dirty` is false). */
  positiveUsers = new Map<string, number>();
  /**
   * A change could not be counted here (a positive or an erasure of a user whose history was not at
   * hand, an item's deletion): the counts are re-read (count-refresh.ts).
   */
  dirty = false;
  /** The re-read in flight (every caller awaits the same one). */
  refreshing: Promise<void> | null = null;
  /** The store is answering a re-read (count-refresh.ts `refreshOnce`). */
  reading = false;
  /** Bumped by every re-read: part of the keys of what is built from the counts (lists, co-liked positives). */
  countsVersion = 0;
  /** Loads in flight, by user. */
  readonly pending = new Map<string, Promise<void>>();
  /** Users whose history is being read (user-load.ts), with what happened to them meanwhile. */
  readonly loading = new Map<string, Loading>();
  /** The positives of the users who liked a new item (co-liked.ts), and what they were read for. */
  coLiked: { positives: { item: string }[] }[] = [];
  coLikedKey = '';
  /** The newest items (up to MAX_NEW_ITEMS) the served model does not know, and the model and items version they were listed for. */
  unknownItems: string[] = [];
  unknownKey = '';
  /** Users handed out in this turn of the event loop: never evicted before the caller's synchronous use. */
  readonly held = new Set<string>();
  private clearing = false;

  /** `trim`: evicts down to the budget (called once the held users are released). */
  constructor(
    readonly budget: number,
    private readonly trim: () => void = () => {},
  ) {}

  /**
   * Keeps `id` in the cache until the current synchronous work (and its microtasks) ended: at most
   * the latest half of the budget is held, so that eviction always finds a user to drop.
   */
  hold(id: string): void {
    this.held.delete(id);
    this.held.add(id);
    if (this.held.size > Math.max(1, this.budget >> 1)) this.held.delete(this.held.values().next().value!);
    if (this.clearing) return;
    this.clearing = true;
    setImmediate(() => {
      this.held.clear();
      this.clearing = false;
      this.trim();
    });
  }

  /** Notes that a user's persona settings changed in the store (null: any user's) for the reads in flight. */
  settingsChanged(id: string | null): void {
    if (id === null) for (const l of this.loading.values()) l.settingsChanged = true;
    else {
      const l = this.loading.get(id);
      if (l) l.settingsChanged = true;
    }
  }

  /** Counts a positive on `item`: `had` says whether the user already had one on it (undefined: not known). */
  notePositive(item: string, had: boolean | undefined): void {
    if (had === undefined) this.dirty = true;
    else if (!had) this.positiveUsers.set(item, (this.positiveUsers.get(item) ?? 0) + 1);
  }

  /** Takes a deleted user's positives out of the counts. */
  dropPositives(items: Iterable<string>): void {
    for (const item of new Set(items)) {
      const n = (this.positiveUsers.get(item) ?? 0) - 1;
      if (n > 0) this.positiveUsers.set(item, n);
      else this.positiveUsers.delete(item);
    }
  }
}
