/**
 * Training jobs: gather the positives from the store, fit in a worker thread (train-worker.ts),
 * record the new model version, and hand the loaded model back for an atomic swap.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ItemCategories } from '../data/dataset.js';
import { IdMap } from '../data/ids.js';
import { ConfigError, ModelFitError } from '../errors.js';
import { modelSpec } from '../models/registry.js';
import { loadModel, type LoadedModel } from './engine.js';
import { isPositive, type FeedbackPolicy } from './live.js';
import { TRAIN_PARAM_LIMITS, TRAIN_PARAM_MAX_ABS, type Job } from './schemas.js';
import type { Store } from './store.js';
import type { TrainJobInput, TrainJobMessage } from './train-worker.js';

export interface TrainOptions {
  model: string;
  params: Record<string, number | string | boolean>;
  seed: number;
  threads: number;
  modelsDir: string;
  policy: FeedbackPolicy;
  evaluation?: string | null;
  /** Evaluate the model and these others under the default protocol first (served at /v1/evaluation). */
  evaluate?: string[] | null;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** Training workers alive in this process (stopped when the service closes). */
const liveWorkers = new Set<Worker>();

export async function stopTrainingWorkers(): Promise<void> {
  await Promise.all([...liveWorkers].map((w) => w.terminate()));
  liveWorkers.clear();
}

function startWorker(): Worker {
  const data = { personaeTrainJob: true };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./train-worker.js', import.meta.url), { workerData: data });
  // running from TypeScript sources (tests, tsx): register tsx in the worker before the entry loads
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./train-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * Checks training parameters before any job starts: the model's own schema, then the service's
 * bounds (schemas.ts TRAIN_PARAM_LIMITS: counts that multiply training time, e.g. epochs <= 1000;
 * any other number within +-TRAIN_PARAM_MAX_ABS). Throws a ConfigError naming `<where>.<field>`.
 */
export function checkTrainParams(model: string, params: Record<string, number | string | boolean>, where = 'body.params'): void {
  const spec = modelSpec(model);
  const parsed = spec.schema.safeParse(params);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const field = i.code === 'unrecognized_keys' ? `${where}.${i.keys[0]}` : `${where}${i.path.map((p) => `.${String(p)}`).join('')}`;
    throw new ConfigError(i.code === 'unrecognized_keys' ? `unknown parameter of model "${model}"` : i.message, field);
  }
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'number') continue;
    const limit = TRAIN_PARAM_LIMITS[key];
    if (limit !== undefined && value > limit) throw new ConfigError(`must be <= ${limit} (the service's bound on ${key})`, `${where}.${key}`);
    if (!Number.isFinite(value) || Math.abs(value) > TRAIN_PARAM_MAX_ABS) throw new ConfigError(`must be a finite number within +-${TRAIN_PARAM_MAX_ABS}`, `${where}.${key}`);
  }
}

/** Builds the training data from the store and fits in a worker; returns the loaded new model. */
export async function trainFromStore(store: Store, opts: TrainOptions): Promise<LoadedModel> {
  try {
    checkTrainParams(opts.model, opts.params, 'params');
  } catch (err) {
    throw new ModelFitError(err instanceof Error ? err.message : String(err));
  }
  // read before the feedback: a deletion with a later generation may not be in the data read
  const erasureGen = await store.erasureGeneration();
  const items = await store.allItems();
  const feedback = await store.allFeedback();
  const itemMap = new IdMap();
  for (const it of items) itemMap.intern(it.id);
  const userMap = new IdMap();
  const pairs = new Set<string>();
  const us: number[] = [];
  const is: number[] = [];
  const ts: number[] = [];
  let feedbackSeq = 0;
  for (const f of feedback) {
    if (f.seq > feedbackSeq) feedbackSeq = f.seq;
    if (!isPositive(opts.policy, f.type, f.value)) continue;
    const i = itemMap.lookup(f.item);
    if (i < 0) continue;
    const u = userMap.intern(f.user);
    const key = `${u}:${i}`;
    if (pairs.has(key)) continue;
    pairs.add(key);
    us.push(u);
    is.push(i);
    ts.push(f.ts / 1000);
  }
  if (us.length === 0) throw new ModelFitError('no positive feedback to train on');
  // categories in the item index space (models may use them, e.g. persona labels, category vectors)
  const nameIndex = new Map<string, number>();
  const ptr = new Int32Array(items.length + 1);
  const idx: number[] = [];
  items.forEach((it, i) => {
    for (const c of it.categories) {
      let ci = nameIndex.get(c);
      if (ci === undefined) nameIndex.set(c, (ci = nameIndex.size));
      idx.push(ci);
    }
    ptr[i + 1] = idx.length;
  });
  const categories: ItemCategories | null = nameIndex.size > 0 ? { names: [...nameIndex.keys()], ptr, idx: Int32Array.from(idx) } : null;
  mkdirSync(opts.modelsDir, { recursive: true });
  const path = join(opts.modelsDir, `${opts.model}-${Date.now()}-${randomUUID().slice(0, 8)}.model`);
  const input: TrainJobInput = {
    model: opts.model,
    params: opts.params,
    seed: opts.seed,
    threads: opts.threads,
    path,
    meta: { items: Array.from({ length: itemMap.size }, (_, i) => itemMap.id(i)), users: Array.from({ length: userMap.size }, (_, u) => userMap.id(u)), feedbackSeq, erasureGen },
    itemRanks: itemMap.ranks(),
    categories,
    user: Int32Array.from(us),
    item: Int32Array.from(is),
    time: Float64Array.from(ts),
    evaluate: opts.evaluate && opts.evaluate.length > 0 ? [opts.model, ...opts.evaluate.filter((m) => m !== opts.model)] : null,
  };
  const result = await new Promise<{ sha256: string; params: Record<string, number | string | boolean>; evaluation: string | null }>((resolve, reject) => {
    const w = startWorker();
    liveWorkers.add(w);
    let settled = false;
    w.on('message', (m: TrainJobMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.stage, m.done, m.total);
      else if (m.type === 'done') {
        settled = true;
        resolve({ sha256: m.sha256, params: m.params, evaluation: m.evaluation });
        void w.terminate();
      } else {
        settled = true;
        reject(new ModelFitError(m.message));
        void w.terminate();
      }
    });
    w.on('error', (err) => {
      if (!settled) reject(new ModelFitError(`training worker failed: ${err.message}`));
      settled = true;
    });
    w.on('exit', (code) => {
      liveWorkers.delete(w);
      if (!settled) reject(new ModelFitError(`training worker exited with code ${code}`));
      settled = true;
    });
    w.postMessage(input);
  });
  const record = await store.addModel({
    name: opts.model,
    path,
    sha256: result.sha256,
    trainedAt: new Date().toISOString(),
    params: result.params,
    feedbackSeq,
    evaluation: result.evaluation ?? opts.evaluation ?? null,
  });
  return loadModel(record);
}

/** Jobs of this process (one training at a time). */
export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private running: string | null = null;

  get busy(): boolean {
    return this.running !== null;
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Starts `work` as a job; `work` reports progress through the callback. */
  start(work: (progress: (stage: string, done: number, total: number) => void) => Promise<{ name: string; version: number }>): Job {
    const job: Job = {
      id: randomUUID(),
      kind: 'train',
      state: 'running',
      progress: { stage: 'queued', done: 0, total: 1 },
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      model: null,
    };
    this.jobs.set(job.id, job);
    this.running = job.id;
    work((stage, done, total) => {
      job.progress = { stage, done, total };
    }).then(
      (model) => {
        job.state = 'done';
        job.model = model;
        job.finishedAt = new Date().toISOString();
        this.running = null;
      },
      (err: unknown) => {
        job.state = 'failed';
        job.error = err instanceof Error ? err.message : String(err);
        job.finishedAt = new Date().toISOString();
        this.running = null;
      },
    );
    return job;
  }
}
