/**
 * `personae serve --model-file m.model`: serve a model saved by `personae train` (or
 * `Recommender.save`) instead of training one at start. The file is read and its checksums checked
 * before anything else starts (a missing, corrupt or foreign file is one line naming it). It is
 * recorded as a model version of the store (re-written with the serving metadata into the models
 * folder, named after the file's sha256), so a restart with the same file serves that version again
 * instead of recording another. An empty store is filled from the file itself (its items with
 * titles and categories, its users, every training positive as a `like`) unless `--data` is given.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Recommender, type FittedModel } from '../api/recommender.js';
import type { InteractionLog } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { saveArtifact } from '../models/artifact.js';
import type { ModelRecord, Store } from '../store/types.js';
import { loadModel, withServeMeta, type LoadedModel } from './model-file.js';

export interface ModelFile {
  readonly path: string;
  /** sha256 of the whole file. */
  readonly sha256: string;
  readonly fitted: FittedModel;
  /** The file's training positives as a log in the model's index spaces (implicit: every row a positive). */
  readonly log: InteractionLog;
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Reads and checks a model file; every failure is a ConfigError of `--model-file` naming the file. */
export async function readModelFile(path: string): Promise<ModelFile> {
  if (!existsSync(path)) throw new ConfigError(`no such file: ${path}`, '--model-file');
  if (!statSync(path).isFile()) throw new ConfigError(`not a file: ${path}`, '--model-file');
  let fitted: FittedModel;
  try {
    fitted = (await Recommender.load(path)).fitted;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // the readers' messages start with the file already
    throw new ConfigError(msg.startsWith(path) ? msg : `${path}: ${msg}`, '--model-file');
  }
  const ui = fitted.train.userItems;
  const user = new Int32Array(ui.indices.length);
  for (let u = 0; u < fitted.users.size; u++) user.fill(u, ui.indptr[u]!, ui.indptr[u + 1]!);
  const log: InteractionLog = {
    name: basename(path),
    users: fitted.users,
    items: fitted.items,
    length: ui.indices.length,
    user,
    item: ui.indices,
    rating: null,
    timestamp: null,
    categories: fitted.categories,
    titles: fitted.titles,
    skipped: { count: 0, examples: [] },
  };
  return { path, sha256: await fileSha256(path), fitted, log };
}

/** The artifact name of a model file's version: the file's sha256 in it finds the version again. */
const tagOf = (file: ModelFile): string => `file-${file.sha256.slice(0, 16)}`;

/**
 * The version serving `file`: the newest recorded one made from it when it still loads, else a new
 * version recorded now (the file's training positives stand for the store's feedback up to
 * `feedbackSeq`, so only later positives are folded in).
 */
export async function modelFromFile(store: Store, file: ModelFile, models: readonly ModelRecord[], modelsDir: string, feedbackSeq: number, say: (m: string) => void): Promise<LoadedModel> {
  const tag = tagOf(file);
  const known = models.find((m) => basename(m.path).includes(tag));
  if (known) {
    try {
      return loadModel(known);
    } catch (err) {
      say(`model v${known.version} (from ${file.path}) does not load (${err instanceof Error ? err.message : String(err)}); recording the file again`);
    }
  }
  const f = file.fitted;
  const meta = { items: f.items.toArray(), users: f.users.toArray(), feedbackSeq, erasureGen: 0 };
  mkdirSync(modelsDir, { recursive: true });
  const path = join(modelsDir, `${f.modelName}-${Date.now()}-${tag}.model`);
  const sha256 = saveArtifact(path, withServeMeta(f.model.toArtifact(), meta, f.train.itemPopularity));
  const record = await store.addModel({
    name: f.modelName,
    path,
    sha256,
    trainedAt: new Date(statSync(file.path).mtimeMs).toISOString(),
    params: { ...f.model.params },
    feedbackSeq,
    evaluation: null,
  });
  say(`serving ${file.path} (${f.modelName}, ${f.users.size} users, ${f.items.size} items) as model v${record.version}`);
  return loadModel(record);
}
