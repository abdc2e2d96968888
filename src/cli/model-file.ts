/**
 * Where `recommend`, `onboard` and `batch` get their model and histories:
 *
 * - `--data D` alone: the model is fitted now on every positive of D (`--model`, `--param`,
 *   `--seed`, `--min-rating`), exactly as `personae train` fits it.
 * - `--model-file m.model` alone: the model, the item and user ids, titles, categories and every
 *   training user's positives come from the file (written by `personae train` or
 *   `Recommender.save`); nothing is refitted and no data is read.
 * - both: the model comes from the file and the histories from D: a user's history is their
 *   positives in D (ratings at or above the file's min rating, or `--min-rating` when given),
 *   restricted to items the model knows (the others are counted and ignored). A user the model was
 *   trained on is scored as that user with this history; any other user is folded in from it.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { Recommender, type FittedModel } from '../api/recommender.js';
import type { InteractionLog } from '../data/dataset.js';
import { extractPositives } from '../data/split.js';
import { ConfigError } from '../errors.js';
import { defaultThreads } from '../math/pool.js';
import type { ModelParams } from '../models/model.js';
import type { ProgressSink } from './progress.js';

/** Loads a model file written by `personae train`; errors name the file. */
export async function loadModelFile(path: string, progress: ProgressSink): Promise<FittedModel> {
  if (!existsSync(path)) throw new ConfigError(`no such file: ${path}`, '--model-file');
  if (!statSync(path).isFile()) throw new ConfigError(`not a file: ${path}`, '--model-file');
  const r = await Recommender.load(path);
  const f = r.fitted;
  progress.log(`loaded ${f.modelName} from ${path}: ${f.users.size} users, ${f.items.size} items, ${f.train.userItems.indices.length} training positives (seed ${f.seed}, min rating ${f.minRating})`);
  return f;
}

/** Fits `model` on every positive of `log` (the same fit `personae train` saves). */
export async function fitOnLog(log: InteractionLog, opts: { model: string; params: ModelParams; seed: number; minRating: number; progress: ProgressSink; threads?: number }): Promise<Recommender> {
  const r = await Recommender.fit(log, {
    model: opts.model,
    params: opts.params,
    seed: opts.seed,
    minRating: opts.minRating,
    threads: opts.threads ?? defaultThreads(),
    onProgress: (e) => opts.progress.update(`${opts.model} fit`, e.done, e.total),
  });
  opts.progress.stop();
  return r;
}

/** Was `option` given on the command line (not a default)? */
export function given(cmd: Command, option: string): boolean {
  const source = cmd.getOptionValueSource(option);
  return source === 'cli' || source === 'env';
}

/** Refuses fitting flags next to --model-file (the file already fixes them). */
export function checkModelFileFlags(cmd: Command, f: FittedModel, flags: { model?: string; param?: readonly string[] }): void {
  if (flags.param && flags.param.length > 0) throw new ConfigError('--param sets fitting parameters; the model file is already fitted (use personae train to fit another)', '--param');
  if (flags.model !== undefined && given(cmd, 'model') && flags.model !== f.modelName) {
    throw new ConfigError(`the model file holds a "${f.modelName}" model, not "${flags.model}"`, '--model');
  }
}

/** Histories from `log` in the model's index spaces (see the module comment). */
export interface DataHistories {
  /** Users of the log with at least one positive on an item the model knows, in the log's order. */
  readonly users: string[];
  /** Per user (same order): the model's index of the user, or -1 when the model was not trained on them. */
  readonly modelIndex: Int32Array;
  /** Per user: the history, ascending item indices of the model. */
  readonly histories: Int32Array[];
  /** Positives on items the model does not know (ignored). */
  readonly unknownItems: number;
  /** Users of the log left without a history (every positive on an unknown item). */
  readonly emptyUsers: number;
}

export function historiesFromLog(f: FittedModel, log: InteractionLog, minRating: number): DataHistories {
  const p = extractPositives(log, minRating);
  const itemMap = new Int32Array(log.items.size);
  for (let i = 0; i < log.items.size; i++) itemMap[i] = f.items.lookup(log.items.id(i));
  const per = new Map<number, number[]>();
  let unknownItems = 0;
  const seen = new Set<number>();
  for (let k = 0; k < p.user.length; k++) {
    seen.add(p.user[k]!);
    const i = itemMap[p.item[k]!]!;
    if (i < 0) {
      unknownItems++;
      continue;
    }
    const g = per.get(p.user[k]!);
    if (g) g.push(i);
    else per.set(p.user[k]!, [i]);
  }
  const order = [...per.keys()].sort((a, b) => a - b);
  const users = order.map((u) => log.users.id(u));
  return {
    users,
    modelIndex: Int32Array.from(users, (id) => f.users.lookup(id)),
    histories: order.map((u) => Int32Array.from(new Set(per.get(u)!)).sort()),
    unknownItems,
    emptyUsers: seen.size - order.length,
  };
}
