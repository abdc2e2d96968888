/**
 * Worker-thread entry of a training job: fits a model on the positives it is sent, writes the
 * artifact atomically (temp file + fsync + rename, with a sha256 of the payload inside and of the
 * whole file returned), and reports progress. The request path never runs a fit.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { columnCounts, csrFromPairs, transpose } from '../data/csr.js';
import type { ItemCategories } from '../data/dataset.js';
import { saveArtifact } from '../models/artifact.js';
import type { TrainSet } from '../models/model.js';
import { createModel } from '../models/registry.js';
import { Rng } from '../math/rng.js';
import { withServeMeta, type ServeMeta } from './engine.js';

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
}

export type TrainJobMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'done'; sha256: string; params: Record<string, number | string | boolean> }
  | { type: 'error'; message: string };

export async function runTrainJob(input: TrainJobInput, report: (m: TrainJobMessage) => void): Promise<void> {
  const nUsers = input.meta.users.length;
  const nItems = input.meta.items.length;
  const userItems = csrFromPairs(nUsers, nItems, input.user, input.item);
  const itemPopularity = columnCounts(userItems);
  const candidates: number[] = [];
  for (let i = 0; i < nItems; i++) if (itemPopularity[i]! > 0) candidates.push(i);
  const train: TrainSet = {
    nUsers,
    nItems,
    userItems,
    itemUsers: transpose(userItems),
    itemPopularity,
    candidates: Int32Array.from(candidates),
    itemRanks: input.itemRanks,
    categories: input.categories,
  };
  const model = createModel(input.model, input.params);
  report({ type: 'progress', stage: `${input.model} fit`, done: 0, total: 1 });
  await model.fit(train, {
    rng: new Rng(input.seed).derive('model', input.model),
    threads: input.threads,
    onProgress: (e) => report({ type: 'progress', stage: e.stage, done: e.done, total: e.total }),
  });
  saveArtifact(input.path, withServeMeta(model.toArtifact(), input.meta, itemPopularity));
  const sha256 = createHash('sha256').update(readFileSync(input.path)).digest('hex');
  report({ type: 'done', sha256, params: { ...model.params } });
}

if (parentPort && (workerData as { personaeTrainJob?: boolean } | null)?.personaeTrainJob) {
  const port = parentPort;
  port.once('message', (input: TrainJobInput) => {
    runTrainJob(input, (m) => port.postMessage(m)).catch((err: unknown) => {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies TrainJobMessage);
    });
  });
}
