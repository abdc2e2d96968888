/**
 * What the service writes before it serves: a dataset imported into an empty store, the models
 * folder beside the store, and a model fitted outside the service recorded as a version.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { InteractionLog } from '../data/dataset.js';
import { socialGraph, type SocialEdges } from '../data/social.js';
import type { EvaluationJson } from '../eval/results.js';
import { saveArtifact } from '../models/artifact.js';
import type { Recommender } from '../models/model.js';
import { sqliteFile, storeScheme } from '../store/open.js';
import type { FeedbackRecord, ItemRecord, Store } from '../store/types.js';
import { loadModel, withServeMeta, type LoadedModel } from './model-file.js';

function itemsOfLog(log: InteractionLog): ItemRecord[] {
  const out: ItemRecord[] = [];
  for (let i = 0; i < log.items.size; i++) {
    const cats = log.categories ? Array.from(log.categories.idx.subarray(log.categories.ptr[i]!, log.categories.ptr[i + 1]!), (c) => log.categories!.names[c]!) : [];
    out.push({ id: log.items.id(i), title: log.titles?.[i] ?? log.items.id(i), categories: cats.filter((c) => c !== '(none)' && c !== '(no genres listed)') });
  }
  return out;
}

/** Fills an empty store with a dataset: items, users, and every row as feedback (rating or like). */
export async function importLog(store: Store, log: InteractionLog): Promise<void> {
  await store.upsertItems(itemsOfLog(log));
  await store.upsertUsers(Array.from({ length: log.users.size }, (_, u) => ({ id: log.users.id(u), attributes: {} })));
  const now = Date.now();
  const batch: FeedbackRecord[] = [];
  for (let r = 0; r < log.length; r++) {
    batch.push({
      user: log.users.id(log.user[r]!),
      item: log.items.id(log.item[r]!),
      type: log.rating ? 'rating' : 'like',
      value: log.rating ? log.rating[r]! : 1,
      ts: log.timestamp ? Math.round(log.timestamp[r]! * 1000) : now,
    });
    if (batch.length === 20_000) await store.addFeedback(batch.splice(0));
  }
  if (batch.length > 0) await store.addFeedback(batch);
}

/**
 * Stores the edges of a social edge file read with `log` (`--social`): every id must be a user of
 * the log (a DataError naming the file, line and field otherwise). Returns how many were new.
 */
export async function importEdges(store: Store, edges: SocialEdges, log: InteractionLog, file: string): Promise<number> {
  socialGraph(edges, log.users, file);
  const ts = Date.now();
  return store.addEdges(edges.user.map((user, k) => ({ user, friend: edges.friend[k]!, kind: edges.kind[k]!, ts })));
}

export function defaultModelsDir(db: string): string {
  const scheme = storeScheme(db);
  if (scheme === 'postgres:' || scheme === 'postgresql:') return resolve('personae-models');
  const file = sqliteFile(db);
  if (scheme === 'memory:' || file === ':memory:') return mkdtempSync(join(tmpdir(), 'personae-models-'));
  return `${resolve(file)}.models`;
}

/** Records a model fitted outside the service (on `log`'s index spaces) as a new version. */
export async function adoptFitted(store: Store, model: Recommender, log: InteractionLog, modelsDir: string, feedbackSeq: number, evaluation: EvaluationJson | null): Promise<LoadedModel> {
  const popularity = new Int32Array(log.items.size);
  for (let r = 0; r < log.length; r++) if (!log.rating || log.rating[r]! >= 4) popularity[log.item[r]!]!++;
  const meta = {
    items: Array.from({ length: log.items.size }, (_, i) => log.items.id(i)),
    users: Array.from({ length: log.users.size }, (_, u) => log.users.id(u)),
    feedbackSeq,
    // fitted outside the store: every deletion the store recorded invalidates that id's row
    erasureGen: 0,
  };
  mkdirSync(modelsDir, { recursive: true });
  const path = join(modelsDir, `${model.name}-${Date.now()}-adopted.model`);
  const sha256 = saveArtifact(path, withServeMeta(model.toArtifact(), meta, popularity));
  const record = await store.addModel({
    name: model.name,
    path,
    sha256,
    trainedAt: new Date().toISOString(),
    params: { ...model.params },
    feedbackSeq,
    evaluation: evaluation ? JSON.stringify(evaluation) : null,
  });
  return loadModel(record);
}
