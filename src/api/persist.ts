/**
 * The saved file of the library front door: the model artifact (src/models/artifact.ts) with the id
 * maps, the training positives, titles and categories added under `__api*` names, so a loaded
 * recommender answers exactly as the fitted one did.
 */
import type { ItemCategories } from '../data/dataset.js';
import { IdMap } from '../data/ids.js';
import { trainSetFromPairs } from '../data/train-set.js';
import { ConfigError, DataError } from '../errors.js';
import type { ModelArtifact } from '../models/model.js';
import { modelFromArtifact } from '../models/registry.js';
import type { FittedModel } from './types.js';

const API_META = '__api';
const API_INDPTR = '__api_indptr';
const API_INDICES = '__api_indices';
const API_CAT_PTR = '__api_cat_ptr';
const API_CAT_IDX = '__api_cat_idx';
const API_FORMAT = 1;

interface ApiMeta {
  format: number;
  model: string;
  users: string[];
  items: string[];
  titles: (string | null)[] | null;
  categoryNames: string[] | null;
  minRating: number;
  seed: number;
}

/** The fitted state stored in a saved file (a DataError names `source` when it is not one). */
export function fittedFromArtifact(a: ModelArtifact, source: string): FittedModel {
  const { [API_META]: metaText, ...config } = a.config;
  const { [API_INDPTR]: indptr, [API_INDICES]: indices, [API_CAT_PTR]: catPtr, [API_CAT_IDX]: catIdx, ...arrays } = a.arrays;
  if (typeof metaText !== 'string' || !(indptr instanceof Int32Array) || !(indices instanceof Int32Array)) {
    throw new DataError('not a saved Recommender (no id maps); model files of `evaluate --save-models` or the service hold the model alone', { file: source });
  }
  const meta = JSON.parse(metaText) as ApiMeta;
  if (meta.format !== API_FORMAT) throw new DataError(`saved Recommender format ${meta.format} is not supported (expected ${API_FORMAT})`, { file: source });
  const model = modelFromArtifact({ ...a, config, arrays });
  const users = IdMap.fromArray(meta.users);
  const items = IdMap.fromArray(meta.items);
  if (indptr.length !== users.size + 1) throw new DataError(`saved positives cover ${indptr.length - 1} users, the id map ${users.size}`, { file: source });
  let categories: ItemCategories | null = null;
  if (meta.categoryNames) {
    if (!(catPtr instanceof Int32Array) || !(catIdx instanceof Int32Array)) throw new DataError('saved categories are incomplete', { file: source });
    categories = { names: meta.categoryNames, ptr: catPtr, idx: catIdx };
  }
  const userOf = new Int32Array(indices.length);
  for (let u = 0; u < users.size; u++) userOf.fill(u, indptr[u]!, indptr[u + 1]!);
  const train = trainSetFromPairs(users.size, items.size, userOf, indices, items.ranks(), categories);
  const titles = meta.titles ? meta.titles.map((t) => t ?? undefined) : null;
  return { model, modelName: meta.model, train, users, items, titles, categories, minRating: meta.minRating, seed: meta.seed };
}

/** The artifact `save` writes: the model's own artifact plus the `__api*` entries. */
export function fittedToArtifact(s: FittedModel): ModelArtifact {
  const a = s.model.toArtifact();
  for (const key of Object.keys(a.config)) if (key.startsWith(API_META)) throw new ConfigError(`model "${s.modelName}" uses the reserved config key ${key}`, 'save');
  for (const key of Object.keys(a.arrays)) if (key.startsWith(API_META)) throw new ConfigError(`model "${s.modelName}" uses the reserved array name ${key}`, 'save');
  const meta: ApiMeta = {
    format: API_FORMAT,
    model: s.modelName,
    users: s.users.toArray(),
    items: s.items.toArray(),
    titles: s.titles ? Array.from({ length: s.items.size }, (_, i) => s.titles![i] ?? null) : null,
    categoryNames: s.categories ? [...s.categories.names] : null,
    minRating: s.minRating,
    seed: s.seed,
  };
  const arrays: Record<string, Float32Array | Int32Array> = { ...a.arrays, [API_INDPTR]: s.train.userItems.indptr, [API_INDICES]: s.train.userItems.indices };
  if (s.categories) {
    arrays[API_CAT_PTR] = s.categories.ptr;
    arrays[API_CAT_IDX] = s.categories.idx;
  }
  return { ...a, config: { ...a.config, [API_META]: JSON.stringify(meta) }, arrays };
}
