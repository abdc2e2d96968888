/**
 * The service's storage (PRODUCT.md P12): one interface, three implementations that pass the same
 * contract tests (test/serve-store.test.ts): SQLite (the default, a file, WAL with synchronous=FULL),
 * PostgreSQL (several replicas sharing one store) and memory (one process, gone when it stops).
 * Every write resolves only once it is durable (for memory: once it is applied).
 * This file holds only types; `openStore` (open.ts) picks the backend by the URL's scheme.
 */
import type { EdgeKind } from '../data/social.js';
import type { ParamValue } from '../models/model.js';

/** A training job as stored (the service's `Job` response, src/serve/schemas.ts, has this shape). */
export interface Job {
  id: string;
  kind: 'train';
  state: 'running' | 'done' | 'failed' | 'cancelled';
  progress: { stage: string; done: number; total: number };
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  model: { name: string; version: number } | null;
}

export interface ItemRecord {
  id: string;
  title: string;
  categories: string[];
}

export type AttributeValue = string | number | boolean;

export interface UserRecord {
  id: string;
  attributes: Record<string, AttributeValue>;
}

export interface FeedbackRecord {
  user: string;
  item: string;
  type: string;
  value: number;
  /** Milliseconds since the epoch. */
  ts: number;
}

export interface StoredFeedback extends FeedbackRecord {
  /** Insertion order, increasing across the whole store. */
  seq: number;
}

/**
 * A social edge (src/data/social.ts): `friend` is undirected (stored once, with the smaller id as
 * `user`, store/edges.ts), `follow` means `user` follows `friend` (the friend's consumption reaches
 * the user).
 */
export interface EdgeRecord {
  user: string;
  friend: string;
  kind: EdgeKind;
  /** Milliseconds since the epoch: when the edge was first added. */
  ts: number;
}

export interface PersonaOverride {
  user: string;
  persona: number;
  muted: boolean;
  boost: number;
}

export type KeyScope = 'read' | 'write' | 'admin';

/** An API key as listed (never the key itself). */
export interface ApiKeyInfo {
  /** The first 16 hex digits of the key's sha256: names the key in DELETE /v1/keys/{id}. */
  id: string;
  /** The first characters of the key (to recognise it), '' for keys stored before prefixes were. */
  prefix: string;
  scope: KeyScope;
  label: string;
  /** Milliseconds since the epoch. */
  created: number;
  /** 'env': the PERSONAE_API_KEY admin key (replaced at every start with one); 'api': POST /v1/keys. */
  source: 'env' | 'api';
}

/** An onboarding session as stored: its state (JSON, items by id) and when it last changed (ms). */
export interface OnboardingRecord {
  id: string;
  state: string;
  updatedAt: number;
}

/** A user deletion, in the order deletions committed (gen increases with commit order). */
export interface Erasure {
  gen: number;
  user: string;
}

export interface ModelRecord {
  version: number;
  name: string;
  /** The artifact file (src/models/artifact.ts: atomic write, sha256 checked on load). */
  path: string;
  sha256: string;
  trainedAt: string;
  params: Record<string, ParamValue>;
  /** Highest feedback seq the model was trained on: later positives are folded in online. */
  feedbackSeq: number;
  /** EvaluationJson text when the model was evaluated, else null. */
  evaluation: string | null;
}

/**
 * A named lease (e.g. "train": who may run a training job): one holder at a time until `expires`
 * (ms since the epoch; PostgreSQL keeps time by the database's clock, so replicas' clocks need not agree).
 */
export interface Lease {
  name: string;
  /** Who holds it (e.g. a replica's id). */
  holder: string;
  /** What the holder does under it (e.g. the job id). */
  job: string;
  expires: number;
}

/** A committed change replicas apply (PostgreSQL's change log, store/postgres-notify.ts). */
export interface StoreChange {
  /** Increases in commit order. */
  seq: number;
  kind: 'item' | 'persona' | 'key' | 'model' | 'setting';
  /** The item id, user id, key id, model version or setting key; null: too many to list (re-read them all). */
  ref: string | null;
}

/** What a push notification says (a replica re-reads the store for the details). */
export interface ChangeSignal {
  kind: 'feedback' | 'erasure' | StoreChange['kind'];
  /** The feedback seq, erasure generation or change seq. */
  seq: number;
}

/** Handlers of a change feed's LISTEN connection. */
export interface ChangeListener {
  /** A committed write (delivered after its commit). */
  signal(s: ChangeSignal): void;
  /** The connection is (re)established: anything may have been missed before, catch up. */
  connected(): void;
  /** The connection failed or dropped; it is retried after `retryMs`. */
  lost(err: Error, retryMs: number): void;
}

/**
 * Push of committed writes to the replicas sharing a store (PostgreSQL LISTEN/NOTIFY): a change log
 * of items, persona settings, keys, models and settings, and signals for feedback and erasures.
 */
export interface ChangeFeed {
  /** The highest change seq committed now (0: none). */
  head(): Promise<number>;
  /** Changes with seq > `seq`, ordered by seq, at most `limit`; null when some were pruned (re-read everything). */
  since(seq: number, limit: number): Promise<StoreChange[] | null>;
  /** Deletes the changes recorded before `before` (ms), always keeping the newest; returns how many. */
  prune(before: number): Promise<number>;
  /** Holds one LISTEN connection, reconnecting with backoff until `close`. */
  listen(l: ChangeListener): void;
  close(): Promise<void>;
}

/** A feedback type that counts as positive, from a minimum value on (src/serve/feedback-policy.ts). */
export interface PositiveRule {
  type: string;
  minValue?: number;
}

/** Whole-log aggregates of the feedback (store/aggregates.ts). */
export interface FeedbackStats {
  /** Every user with feedback. */
  users: string[];
  events: number;
  /** The highest seq (0: none). */
  maxSeq: number;
  /** Per item, how many users gave it a positive under the rules (items without one are not listed). */
  positiveUsers: Map<string, number>;
}

/** The counts of the feedback rows a process has applied, and the erasures committed, as of one snapshot (Store.appliedCounts). */
export interface AppliedCounts {
  events: number;
  /** Per item, how many users gave it a positive under the rules, among the rows counted. */
  positiveUsers: Map<string, number>;
  /** The highest erasure generation. */
  erasureGen: number;
}

export interface UserSummary {
  id: string;
  interactions: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  /** Creates the tables when missing. */
  init(): Promise<void>;
  close(): Promise<void>;

  upsertItems(items: readonly ItemRecord[]): Promise<void>;
  getItem(id: string): Promise<ItemRecord | null>;
  /** Deletes the item and its feedback; false when it did not exist. */
  deleteItem(id: string): Promise<boolean>;
  allItems(): Promise<ItemRecord[]>;
  countItems(): Promise<number>;

  upsertUsers(users: readonly UserRecord[]): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  /**
   * Deletes the user, their feedback, persona overrides and social edges (both ways), and records the erasure (a tombstone
   * with the next generation, in commit order) in the same transaction; false when the user did
   * not exist.
   */
  deleteUser(id: string): Promise<boolean>;
  /** Erasures with gen > `gen`, ordered by gen, at most `limit`. */
  erasuresSince(gen: number, limit: number): Promise<Erasure[]>;
  /** The highest erasure generation (0: none yet). */
  erasureGeneration(): Promise<number>;
  /** Users ordered by id, with their feedback counts. */
  listUsers(limit: number, offset: number): Promise<{ users: UserSummary[]; total: number }>;

  /** Appends feedback (creating unknown users); resolves once durable. Returns the assigned seqs. */
  addFeedback(events: readonly FeedbackRecord[]): Promise<number[]>;
  /**
   * Delivers now the acknowledgements of writes committed on another thread that would otherwise
   * wait for the event loop's next turn (SQLite's writer thread, sqlite-writer.ts); cheap when
   * there are none. The service calls it at the start of every request. Optional.
   */
  pollWrites?(): void;
  /** A user's feedback, oldest first (by seq). */
  feedbackOf(user: string): Promise<StoredFeedback[]>;
  /** All feedback ordered by seq (for training and for the engine's start). */
  allFeedback(): Promise<StoredFeedback[]>;
  /** Feedback with seq > `seq`, ordered by seq, at most `limit` rows (replicas catching up). */
  feedbackSince(seq: number, limit: number): Promise<StoredFeedback[]>;
  /** The feedback rows with these seqs (those that exist), ordered by seq. */
  feedbackBySeqs(seqs: readonly number[]): Promise<StoredFeedback[]>;
  countFeedback(): Promise<number>;
  /** Who has feedback, how many events, the highest seq, and each item's users with a positive under `rules`. */
  feedbackStats(rules: readonly PositiveRule[]): Promise<FeedbackStats>;
  /**
   * The event count and per-item positive-user counts of the rows with seq <= `upTo` not in `skip`
   * (the rows a service has applied: docs/service.md "User cache"), with the highest erasure
   * generation, all read in one snapshot.
   */
  appliedCounts(rules: readonly PositiveRule[], upTo: number, skip: readonly number[]): Promise<AppliedCounts>;
  /** The positive events (under `rules`) of every user with a positive on one of `items`, ordered by seq. */
  positivesOfLikers(items: readonly string[], rules: readonly PositiveRule[]): Promise<StoredFeedback[]>;

  /**
   * Adds social edges (friend edges in their stored orientation, store/edges.ts `canonicalEdges`;
   * creating unknown users); an edge already stored is kept as it is (its first `ts`). Resolves
   * once durable. Returns how many edges were new.
   */
  addEdges(edges: readonly EdgeRecord[]): Promise<number>;
  /** Every edge with `user` at either end, ordered by (ts, user, friend, kind). */
  edgesOf(user: string): Promise<EdgeRecord[]>;
  /** All edges, ordered by (ts, user, friend, kind) (for training). */
  allEdges(): Promise<EdgeRecord[]>;
  /**
   * Deletes the edges `user` holds to each of `friends` (their follows of them, and friendships
   * either way), or to anyone when `friends` is null; other users' follows of `user` stay.
   * Returns how many edges were deleted.
   */
  deleteEdges(user: string, friends: readonly string[] | null): Promise<number>;
  countEdges(): Promise<number>;

  setOverride(o: PersonaOverride): Promise<void>;
  overridesOf(user: string): Promise<PersonaOverride[]>;

  /** Stores a key by its hash (`prefix`: its first characters, to recognise it in lists). */
  addApiKey(hash: string, scope: KeyScope, label: string, prefix?: string): Promise<void>;
  findApiKey(hash: string): Promise<KeyScope | null>;
  /** Makes `hash` the one env admin key: every earlier env row is deleted in the same transaction. */
  replaceEnvApiKey(hash: string, prefix: string): Promise<void>;
  /** All keys, oldest first. */
  listApiKeys(): Promise<ApiKeyInfo[]>;
  /** Deletes the key with this id (keyIdOf); false when there is none. */
  deleteApiKey(id: string): Promise<boolean>;
  countApiKeys(): Promise<number>;

  /** Records a model; its version is the next integer. */
  addModel(m: Omit<ModelRecord, 'version'>): Promise<ModelRecord>;
  latestModel(): Promise<ModelRecord | null>;
  /** Every recorded model, newest first. */
  listModels(): Promise<ModelRecord[]>;
  /** Deletes a model's record (not its file); false when there is none. */
  deleteModel(version: number): Promise<boolean>;

  /** Inserts or replaces a job (its state, progress and result), stamped with `updatedAt` (ms). */
  saveJob(job: Job, updatedAt: number): Promise<void>;
  getJob(id: string): Promise<Job | null>;
  /** The newest jobs (by start time), at most `limit`. */
  listJobs(limit: number): Promise<Job[]>;
  /**
   * Marks the jobs still 'running' whose last update is older than `before` (ms) as failed with
   * `error` (their process stopped); returns how many.
   */
  failStaleJobs(before: number, error: string): Promise<number>;
  /** A service setting (e.g. the version pinned by a rollback), or null when unset. */
  getSetting(key: string): Promise<string | null>;
  /** Sets a service setting; null deletes it. */
  setSetting(key: string, value: string | null): Promise<void>;
  /**
   * Whether a write commits now: a one-row upsert in its own transaction (full, read-only and
   * unreachable stores throw).
   */
  probeWrite(): Promise<void>;

  /**
   * Takes the lease `name` for `holder` doing `job` for `ttlMs` when nobody holds it, it expired, or
   * `holder` holds it for the same `job` (a renewal); atomic across processes sharing the store.
   * Returns the lease as it stands after the attempt: taken when its holder and job are the caller's.
   */
  acquireLease(name: string, holder: string, job: string, ttlMs: number): Promise<Lease>;
  /** Ends the lease when `holder` holds it for `job`; false when it did not. */
  releaseLease(name: string, holder: string, job: string): Promise<boolean>;
  /** Push of other processes' writes (PostgreSQL); absent: poll (one process, or SQLite files). */
  changeFeed?(): ChangeFeed;

  /** Inserts or replaces an onboarding session (its state as JSON, src/serve/onboarding.ts). */
  saveOnboarding(s: OnboardingRecord): Promise<void>;
  getOnboarding(id: string): Promise<OnboardingRecord | null>;
  /** Deletes the sessions not updated since `before` (ms); returns how many. */
  pruneOnboarding(before: number): Promise<number>;
}
