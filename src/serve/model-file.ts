/**
 * The service's model file: a model artifact (src/models/artifact.ts) plus the serving metadata
 * the service adds (the ID spaces the model was trained in, the feedback and erasure positions it
 * read, the item popularity), and loading one back with its checksums checked.
 */
import { existsSync } from 'node:fs';
import type { IdMap } from '../data/ids.js';
import { trainSetFromPairs, type TrainSet } from '../data/train-set.js';
import { DataError } from '../errors.js';
import { readArtifactFile } from '../models/artifact.js';
import type { ModelArtifact, Recommender } from '../models/model.js';
import { modelFromArtifact } from '../models/registry.js';
import type { ModelRecord } from '../store/types.js';
import type { LiveData } from './live.js';
import { trainPositivesOf } from './stored-train.js';

/** Config key of the serving metadata inside an artifact (stripped before the model loads). */
export const SERVE_META_KEY = '__serve';
export const SERVE_POPULARITY_KEY = '__serve_popularity';

/** What the service adds to a model artifact: the ID spaces it was trained in. */
export interface ServeMeta {
  items: string[];
  users: string[];
  feedbackSeq: number;
  /**
   * The store's erasure generation when training read its data (store/types.ts `Erasure`): a user
   * deleted after it is not the user this model's row of that id was trained on. Missing in
   * artifacts written before erasures were recorded: 0, every recorded deletion counts.
   */
  erasureGen?: number;
}

export interface LoadedModel {
  record: ModelRecord;
  model: Recommender;
  meta: ServeMeta;
  popularity: Int32Array;
}

export function withServeMeta(a: ModelArtifact, meta: ServeMeta, popularity: Int32Array): ModelArtifact {
  return { ...a, config: { ...a.config, [SERVE_META_KEY]: JSON.stringify(meta) }, arrays: { ...a.arrays, [SERVE_POPULARITY_KEY]: popularity } };
}

/** Reads a model file, checks the file's sha256 against the record and the payload checksum, loads it. */
export function loadModel(record: ModelRecord): LoadedModel {
  if (!existsSync(record.path)) throw new DataError(`model v${record.version} artifact is missing`, { file: record.path });
  const { artifact: a, fileSha256: sha } = readArtifactFile(record.path);
  if (sha !== record.sha256) throw new DataError(`model v${record.version}: file checksum ${sha.slice(0, 12)} does not match the recorded ${record.sha256.slice(0, 12)}`, { file: record.path });
  const { [SERVE_META_KEY]: metaText, ...config } = a.config;
  const { [SERVE_POPULARITY_KEY]: pop, ...arrays } = a.arrays;
  if (typeof metaText !== 'string' || !(pop instanceof Int32Array)) throw new DataError('not a service model artifact (no serving metadata)', { file: record.path });
  const model = modelFromArtifact({ ...a, config, arrays });
  return { record, model, meta: JSON.parse(metaText) as ServeMeta, popularity: pop };
}

/**
 * A served model's training data rebuilt from the live positives it was trained on (those up to
 * the model's feedback sequence number, of users whose row is still theirs: `trainedIndex` >= 0),
 * with the model's candidates (its training popularity): the basis of onboarding and of the user
 * confidence.
 */
export function servedTrainSet(loaded: LoadedModel, live: LiveData, items: IdMap, users: IdMap, isCandidate: Uint8Array, trainedIndex: (userId: string) => number): TrainSet {
  const cut = loaded.meta.feedbackSeq;
  const stored = live.cache ? trainPositivesOf(loaded) : undefined;
  if (live.cache && !stored) throw new Error(`model v${loaded.record.version}: its training positives were not read from the store (readTrainPositives)`);
  // typed arrays sized by a first pass (4 bytes a positive each, not a growing list of numbers)
  let us: Int32Array;
  let is: Int32Array;
  if (stored) {
    // the user cache: the positives read from the store (stored-train.ts), of users whose row is still theirs
    const own = new Int8Array(users.size);
    for (let u = 0; u < users.size; u++) own[u] = live.hasUser(users.id(u)) && trainedIndex(users.id(u)) >= 0 ? 1 : 0;
    let n = 0;
    for (let k = 0; k < stored.users.length; k++) if (own[stored.users[k]!]) n++;
    us = new Int32Array(n);
    is = new Int32Array(n);
    for (let k = 0, x = 0; k < stored.users.length; k++) {
      if (!own[stored.users[k]!]) continue;
      us[x] = stored.users[k]!;
      is[x++] = stored.items[k]!;
    }
  } else {
    const kept = (u: number, visit: (i: number) => void): void => {
      const user = live.users.get(users.id(u));
      if (!user || trainedIndex(users.id(u)) < 0) return;
      for (const p of user.positives) {
        if (p.seq > cut) continue;
        const i = items.lookup(p.item);
        if (i >= 0) visit(i);
      }
    };
    let n = 0;
    for (let u = 0; u < users.size; u++) kept(u, () => n++);
    us = new Int32Array(n);
    is = new Int32Array(n);
    let x = 0;
    for (let u = 0; u < users.size; u++)
      kept(u, (i) => {
        us[x] = u;
        is[x++] = i;
      });
  }
  const candidates: number[] = [];
  for (let i = 0; i < items.size; i++) if (isCandidate[i]) candidates.push(i);
  const train = trainSetFromPairs(users.size, items.size, us, is, items.ranks(), null);
  return { ...train, candidates: Int32Array.from(candidates) };
}
