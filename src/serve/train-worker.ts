/**
 * Worker-thread entry of a training job: fits a model on the positives it is sent, writes the
 * artifact atomically (temp file + fsync + rename, with a sha256 of the payload inside and of the
 * whole file returned), and reports progress. The request path never runs a fit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ItemCategories } from '../data/dataset.js';
import { LogBuilder } from '../data/dataset.js';
import { makeSplit } from '../data/split.js';
import { trainSetFromPairs } from '../data/train-set.js';
import { runExperiment } from '../eval/experiment.js';
import { buildResultsJson } from '../eval/results.js';
import { saveArtifact } from '../models/artifact.js';
import { createModel } from '../models/registry.js';
import { Rng } from '../math/rng.js';
import { IdMap } from '../data/ids.js';
import type { SocialEdges } from '../data/social.js';
import { withServeMeta, type ServeMeta } from './model-file.js';
import { splitWithTrainingEdges, withTrainingEdges } from './training-social.js';

export interface TrainJobInput {
  model: string;
  params: Record<string, number | string | boolean>;
  seed: number;
  threads: number;
  path: string;
  meta: ServeMeta;
  itemRanks: Int32Array;
  categories: ItemCategories | null;
  user: Int32Array;
  item: Int32Array;
  /** Time of each pair (seconds), for the evaluation's temporal split. */
  time: Float64Array;
  /** The store's social edges among the users trained on (training-social.ts), or null. */
  social?: SocialEdges | null;
  /** Evaluate these models (the trained one first) under the default protocol before fitting on everything. */
  evaluate: string[] | null;
  /** Tune on a validation split first (the model's grid), then fit on everything with the best parameters. */
  tune?: boolean;
}

export type TrainJobMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'done'; sha256: string; params: Record<string, number | string | boolean>; evaluation: string | null }
  | { type: 'error'; message: string };

export async function runTrainJob(input: TrainJobInput, report: (m: TrainJobMessage) => void, signal?: AbortSignal): Promise<void> {
  const pairs = trainSetFromPairs(input.meta.users.length, input.meta.items.length, input.user, input.item, input.itemRanks, input.categories);
  const train = withTrainingEdges(pairs, input.social ?? null, IdMap.fromArray(input.meta.users));
  let params = input.params;
  let evaluation: string | null = null;
  if (input.evaluate || input.tune) {
    // one run: the evaluation of the listed models (tuned when asked) gives the tuned parameters too
    const run = await evaluateModels(input, report);
    if (input.evaluate) evaluation = run.json;
    if (input.tune) params = run.params;
  }
  const model = createModel(input.model, params);
  report({ type: 'progress', stage: `${input.model} fit`, done: 0, total: 1 });
  await model.fit(train, {
    rng: new Rng(input.seed).derive('model', input.model),
    threads: input.threads,
    ...(signal ? { signal } : {}),
    onProgress: (e) => report({ type: 'progress', stage: e.stage, done: e.done, total: e.total }),
  });
  if (signal?.aborted) throw new Error('cancelled');
  const sha256 = saveArtifact(input.path, withServeMeta(model.toArtifact(), input.meta, train.itemPopularity));
  report({ type: 'done', sha256, params: { ...model.params }, evaluation });
}

/**
 * The evaluation served at /v1/evaluation: the positives as an implicit log, the default protocol
 * (PROTOCOL.md), the trained model and the comparison models, as an EvaluationJson.
 */
async function evaluateModels(input: TrainJobInput, report: (m: TrainJobMessage) => void): Promise<{ json: string; params: Record<string, number | string | boolean> }> {
  const b = new LogBuilder('service');
  const cats = input.categories;
  input.meta.items.forEach((id, i) => {
    b.items.intern(id);
    if (cats && cats.ptr[i + 1]! > cats.ptr[i]!) b.setCategories(id, Array.from(cats.idx.subarray(cats.ptr[i]!, cats.ptr[i + 1]!), (c) => cats.names[c]!));
  });
  for (let k = 0; k < input.user.length; k++) b.add(input.meta.users[input.user[k]!]!, input.meta.items[input.item[k]!]!, Number.NaN, input.time[k]!);
  const log = b.build();
  const split = splitWithTrainingEdges(makeSplit(log, { seed: input.seed }), input.social ?? null);
  const startedAt = new Date();
  const models = input.evaluate ?? [input.model];
  const experiment = await runExperiment(split, {
    models,
    ks: [10, 20],
    seed: input.seed,
    tune: input.tune ?? false,
    threads: input.threads,
    params: { [input.model]: input.params },
    onProgress: (e) => report({ type: 'progress', stage: `evaluate ${e.model} ${e.stage}`, done: e.done, total: e.total }),
  });
  const json = JSON.stringify(buildResultsJson(split, experiment, { ks: [10, 20], seed: input.seed, startedAt, threads: input.threads, rerank: 'none' }));
  // the trained model is the first row (trainFromStore puts it first); its params are the tuned ones
  const row = experiment.models.find((r) => r.name === input.model) ?? experiment.models[0]!;
  return { json, params: { ...input.params, ...row.params } as Record<string, number | string | boolean> };
}

if (parentPort && (workerData as { personaeTrainJob?: boolean } | null)?.personaeTrainJob) {
  const port = parentPort;
  const abort = new AbortController();
  port.once('message', (input: TrainJobInput) => {
    // a later message cancels: the fit stops at its next epoch (FitContext.signal)
    port.on('message', (m: { type?: string }) => {
      if (m.type === 'cancel') abort.abort(new Error('cancelled'));
    });
    runTrainJob(input, (m) => port.postMessage(m), abort.signal).catch((err: unknown) => {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies TrainJobMessage);
    });
  });
}
