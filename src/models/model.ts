/**
 * The one interface every model implements. A model is fitted on a frozen `TrainSet`, then scores
 * batches of users into a caller-owned Float32Array (row-major, one row of `nItems` scores per
 * user). Batch is the real path; a single user is a batch of one. Users unknown to the model
 * (index -1) are scored from their history alone (fold-in), so the same call serves held-out users,
 * sessions and new users.
 */
import type { ComponentLogits, RowRead } from './component-logits.js';
import type { TrainSet } from '../data/train-set.js';
import type { z } from 'zod';
import type { Rng } from '../math/rng.js';

export type { TrainSet } from '../data/train-set.js';

/** Users to score with their histories: row b is user `users[b]` (-1 = not a training user). */
export interface UserBatch {
  readonly users: Int32Array;
  readonly indptr: Int32Array;
  readonly items: Int32Array;
}

export interface ProgressEvent {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  /** Optional training loss of the finished step. */
  readonly loss?: number;
}

export interface FitContext {
  /** The model's random stream (derive sub-streams from it; never Math.random). */
  readonly rng: Rng;
  /** Worker threads the model may use; results must not depend on it. */
  readonly threads: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export type ParamValue = number | string | boolean;
export type ModelParams = Readonly<Record<string, ParamValue>>;

/** A fitted model's learned state: config plus named typed arrays. */
export interface ModelArtifact {
  readonly kind: string;
  readonly version: number;
  readonly config: ModelParams;
  readonly arrays: Readonly<Record<string, Float32Array | Int32Array>>;
}

export interface Recommender {
  readonly name: string;
  readonly params: ModelParams;
  fit(train: TrainSet, ctx: FitContext): Promise<void>;
  /** Writes users x nItems scores into `out` (length >= batch.users.length * nItems). */
  scoreBatch(batch: UserBatch, out: Float32Array): void;
  toArtifact(): ModelArtifact;
  /**
   * Optional: whether fitting on `train` uses (or used) the item categories, e.g. to build item
   * vectors. A model without this method uses none. Evaluation rows report it as
   * `usesCategories`, so that a comparison says which models saw the same data.
   */
  usesCategories?(train: TrainSet): boolean;
  /**
   * Optional: what the model decided while fitting that a reader of the experiment JSON needs
   * (e.g. the router's routing table); `evaluate` puts it in models[].details.
   */
  details?(): Record<string, unknown>;
}

/** Models that hold a vector per user and can fold a new history in without refitting. */
export interface FoldIn {
  /** The user vector(s) for a history (item indices), items fixed. */
  foldIn(items: Int32Array): Float32Array;
}

export function isFoldIn(m: Recommender): m is Recommender & FoldIn {
  return typeof (m as Partial<FoldIn>).foldIn === 'function';
}

/**
 * Models whose users are several persona vectors and whose scores come from item-conditioned
 * attention over them (PRODUCT.md P4, P6). Rerankers use the personas as a taste space when the
 * data has no categories; explanations and persona metrics are built on these methods.
 */
export interface HasPersonas {
  /** K_u of a training user (0 for users without training history or unknown to the model). */
  personaCount(user: number): number;
  /** A training user's personas, personaCount(user) x dim, row-major (a copy). */
  personaVectors(user: number): Float32Array;
  /** a_k(user, item) over a training user's personas; sums to 1. */
  attention(user: number, item: number): Float32Array;
  /** Personas for a history (item indices), items fixed; K_f x dim. */
  foldIn(items: Int32Array): Float32Array;
  /** Attention weights of a persona set (rows of `personas`) for an item; sums to 1. */
  attentionFor(personas: Float32Array, item: number): Float32Array;
  /**
   * Scores of a persona set for every item (non-candidates -Infinity); any subset of a user's rows
   * is a valid set. `history` is the user's history when the scoring depends on it (e.g. persona
   * shares of a mixture); with it, a user's own set scores as `scoreBatch` does. `logits`:
   * component logits the caller keeps (component-logits.ts), for models that can use them.
   */
  scorePersonas(personas: Float32Array, out: Float32Array, history?: Int32Array, logits?: ComponentLogits, read?: RowRead): void;
  /**
   * Optional: how much each persona carries the item's score (sums to 1), for models whose score
   * does not split by attention (e.g. a mixture of per-persona softmaxes, where it is the
   * posterior responsibility). Explanations and persona metrics use `attentionFor` without it.
   */
  personaWeights?(personas: Float32Array, item: number, history?: Int32Array): Float32Array;
  /**
   * Optional: the persona (row index of the persona set that scores the history, i.e. of
   * `personasFor`) each history item belongs to, for models whose personas are built from assigned
   * history items. Without it a history item belongs to the arg-max of `personaWeightsOf`.
   */
  personaMembers?(history: Int32Array): Int32Array;
}

/** The weights explanations use: `personaWeights` when the model has it, else the attention. */
export function personaWeightsOf(m: HasPersonas, personas: Float32Array, item: number, history?: Int32Array): Float32Array {
  return m.personaWeights ? m.personaWeights(personas, item, history) : m.attentionFor(personas, item);
}

/**
 * The persona each history item belongs to (same order as `history`; -1 when the set is empty):
 * the model's `personaMembers` when it has them, else the arg-max of `personaWeightsOf` (the first
 * persona on ties), the rule explanations use.
 */
export function historyMembers(m: HasPersonas, personas: Float32Array, history: Int32Array): Int32Array {
  if (m.personaMembers) return m.personaMembers(history);
  const out = new Int32Array(history.length).fill(-1);
  if (personas.length === 0) return out;
  for (let j = 0; j < history.length; j++) {
    const w = personaWeightsOf(m, personas, history[j]!, history);
    let best = 0;
    for (let q = 1; q < w.length; q++) if (w[q]! > w[best]!) best = q;
    out[j] = w.length > 0 ? best : -1;
  }
  return out;
}

export function hasPersonas(m: Recommender): m is Recommender & HasPersonas {
  const p = m as Partial<HasPersonas>;
  return (
    typeof p.personaCount === 'function' &&
    typeof p.personaVectors === 'function' &&
    typeof p.attentionFor === 'function' &&
    typeof p.scorePersonas === 'function' &&
    typeof p.foldIn === 'function'
  );
}

/**
 * The persona set that scores `user`: a training user's own personas, or the fold-in of `history`
 * for anyone else (held-out or new users), exactly as `scoreBatch` does.
 */
export function personasFor(m: HasPersonas, user: number, history: Int32Array): Float32Array {
  return user >= 0 && m.personaCount(user) > 0 ? m.personaVectors(user) : m.foldIn(history);
}

/** A batch of one user with the given history. */
export function singleUserBatch(user: number, history: Int32Array): UserBatch {
  return { users: Int32Array.of(user), indptr: Int32Array.of(0, history.length), items: history };
}

/** The batch of training users `users` with their training rows as histories. */
export function trainUserBatch(train: TrainSet, users: Int32Array): UserBatch {
  const indptr = new Int32Array(users.length + 1);
  for (let b = 0; b < users.length; b++) {
    const u = users[b]!;
    indptr[b + 1] = indptr[b]! + (train.userItems.indptr[u + 1]! - train.userItems.indptr[u]!);
  }
  const items = new Int32Array(indptr[users.length]!);
  for (let b = 0; b < users.length; b++) {
    const u = users[b]!;
    items.set(train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!), indptr[b]!);
  }
  return { users, indptr, items };
}

/**
 * The shared loop of iterative models: runs `epochs` steps, reports progress, honours the abort
 * signal between epochs, and stops with a clear error when the loss becomes NaN.
 */
export async function runEpochs(
  ctx: FitContext,
  stage: string,
  epochs: number,
  epoch: (index: number) => number | undefined | Promise<number | undefined>,
): Promise<void> {
  for (let e = 0; e < epochs; e++) {
    // an epoch may run without ever yielding (one thread, no workers): let pending events (an abort
    // from the caller, a cancel message to a training worker) run before checking the signal
    if (ctx.signal) await new Promise<void>((resolve) => setImmediate(resolve));
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(`${stage}: fit aborted`);
    const loss = await epoch(e);
    if (loss !== undefined && !Number.isFinite(loss)) {
      const { ModelFitError } = await import('../errors.js');
      throw new ModelFitError(`${stage}: loss became ${loss} at epoch ${e + 1}; lower the learning rate or raise regularisation`);
    }
    ctx.onProgress?.(loss === undefined ? { stage, done: e + 1, total: epochs } : { stage, done: e + 1, total: epochs, loss });
  }
}

/**
 * A model's entry in the catalogue: its config schema (the single source of the config type and of
 * its validation errors), a constructor, an artifact loader and the small grid `--tune` searches on
 * the validation split (each entry merged over the defaults).
 */
export interface ModelSpec {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodType<ModelParams>;
  create(params: ModelParams): Recommender;
  fromArtifact(artifact: ModelArtifact): Recommender;
  readonly tuningGrid: readonly ModelParams[];
}
