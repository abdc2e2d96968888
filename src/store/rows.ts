/**
 * What the backends share: rows of the two SQL stores (sqlite.ts, postgres.ts) and their conversion
 * to the records of types.ts (both use the same columns; only how `params` arrives differs: TEXT in
 * SQLite, JSONB already parsed by pg), and the API key naming every backend uses.
 */
import type { EdgeRecord, Job, ModelRecord, StoredFeedback } from './types.js';

/** Label of the key rows that came from PERSONAE_API_KEY before rows had a source. */
export const ENV_KEY_LABEL = 'PERSONAE_API_KEY';

/** The id of a key hash (what GET /v1/keys shows and DELETE /v1/keys/{id} takes). */
export const keyIdOf = (hash: string): string => hash.slice(0, 16);

/** A row of the `feedback` table as both stores select it. */
export interface FeedbackRow {
  seq: number;
  user_id: string;
  item_id: string;
  type: string;
  value: number;
  ts: number;
}

export const feedbackFromRow = (r: FeedbackRow): StoredFeedback => ({ seq: r.seq, user: r.user_id, item: r.item_id, type: r.type, value: r.value, ts: r.ts });

/** A row of the `models` table; P is how the store returns the `params` column. */
export interface ModelRow<P> {
  version: number;
  name: string;
  path: string;
  sha256: string;
  trained_at: string;
  params: P;
  feedback_seq: number;
  evaluation: string | null;
}

export function modelFromRow<P>(r: ModelRow<P>, params: (p: P) => ModelRecord['params']): ModelRecord {
  return {
    version: r.version,
    name: r.name,
    path: r.path,
    sha256: r.sha256,
    trainedAt: r.trained_at,
    params: params(r.params),
    feedbackSeq: r.feedback_seq,
    evaluation: r.evaluation,
  };
}

/** A row of the `jobs` table (progress and model as JSON text). */
export interface JobRow {
  id: string;
  kind: string;
  state: string;
  progress: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  model: string | null;
}

export function jobFromRow(r: JobRow): Job {
  return {
    id: r.id,
    kind: 'train',
    state: r.state as Job['state'],
    progress: JSON.parse(r.progress) as Job['progress'],
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
    model: r.model ? (JSON.parse(r.model) as Job['model']) : null,
  };
}

export const jobValues = (j: Job, updatedAt: number): unknown[] => [j.id, j.kind, j.state, JSON.stringify(j.progress), j.startedAt, j.finishedAt, j.error, j.model ? JSON.stringify(j.model) : null, updatedAt];

/** A row of the `social_edges` table as both stores select it. */
export interface EdgeRow {
  user_id: string;
  friend_id: string;
  kind: EdgeRecord['kind'];
  ts: number;
}

export const edgeFromRow = (r: EdgeRow): EdgeRecord => ({ user: r.user_id, friend: r.friend_id, kind: r.kind, ts: Number(r.ts) });
