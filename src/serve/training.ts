/**
 * Training jobs: gather the positives from the store, fit in a worker thread (train-worker.ts),
 * record the new model version, and hand the loaded model back for an atomic swap.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCategories } from '../data/categories.js';
import { IdMap } from '../data/ids.js';
import { ConfigError, issuePath, ModelFitError } from '../errors.js';
import { modelSpec } from '../models/registry.js';
import { loadModel, type LoadedModel } from './model-file.js';
import { isPositive, type FeedbackPolicy } from './live.js';
import { TRAIN_PARAM_LIMITS, TRAIN_PARAM_MAX_ABS, type Job } from './schemas.js';
import type { Store } from '../store/types.js';
import type { TrainJobInput, TrainJobMessage } from './train-worker.js';
import { trainingEdges } from './training-social.js';

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
  /** Tune on a validation split first (the model's tuning grid), then fit on everything with the best parameters. */
  tune?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Cancels the job: the fit stops at its next epoch (the worker is ended after CANCEL_GRACE_MS at the latest). */
  signal?: AbortSignal;
  /** Model versions kept (files and records) after this one is recorded (pruneModels); default all. */
  keepModels?: number;
}

/** A cancelled training job. */
export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** How long a cancelled fit may take to reach its next epoch before its worker is ended. */
const CANCEL_GRACE_MS = 3000;

/** Removes an artifact file and the temp files of its writes (`<path>.tmp-<pid>`). */
export function removeArtifactFiles(path: string): void {
  rmSync(path, { force: true });
  const dir = dirname(path);
  const name = basename(path);
  try {
    for (const f of readdirSync(dir)) if (f.startsWith(`${name}.tmp-`)) rmSync(join(dir, f), { force: true });
  } catch {
    // the folder is gone: nothing left behind
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temp files of artifact writes that can no longer finish (`*.model.tmp-<pid>` of a
 * process that is gone, or of this process when no training runs). Returns the files removed.
 */
export function cleanTempArtifacts(modelsDir: string, trainingHere = false): string[] {
  const removed: string[] = [];
  let files: string[];
  try {
    files = readdirSync(modelsDir);
  } catch {
    return removed;
  }
  for (const f of files) {
    const m = /\.model\.tmp-(\d+)$/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid ? trainingHere : pidAlive(pid)) continue;
    rmSync(join(modelsDir, f), { force: true });
    removed.push(f);
  }
  return removed;
}

/**
 * Keeps the newest `keep` model versions (and `serving`, whatever its age): older records are
 * deleted with their files (files only inside `modelsDir`: a path recorded elsewhere is left alone).
 * Returns the versions deleted.
 */
export async function pruneModels(store: Store, keep: number, modelsDir: string, serving: number | null): Promise<number[]> {
  if (!(keep >= 1)) return [];
  const all = await store.listModels();
  const dir = resolve(modelsDir);
  const gone: number[] = [];
  for (const m of all.slice(keep)) {
    if (m.version === serving) continue;
    if (resolve(dirname(m.path)) === dir) removeArtifactFiles(m.path);
    await store.deleteModel(m.version);
    gone.push(m.version);
  }
  return gone;
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
    const field = issuePath(where, i.code === 'unrecognized_keys' ? [i.keys[0]!] : i.path);
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
  // the friend graph among the users trained on (read after the feedback: a deleted user's edges went with their feedback)
  const social = trainingEdges(await store.allEdges(), userMap);
  // categories in the item index space (models may use them, e.g. persona labels, category vectors)
  const table = buildCategories(items.length, (i) => items[i]!.categories);
  const categories = table.names.length > 0 ? table : null;
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
    social,
    evaluate: opts.evaluate && opts.evaluate.length > 0 ? [opts.model, ...opts.evaluate.filter((m) => m !== opts.model)] : null,
    tune: opts.tune ?? false,
  };
  if (opts.signal?.aborted) throw new JobCancelled();
  const result = await new Promise<{ sha256: string; params: Record<string, number | string | boolean>; evaluation: string | null }>((resolve, reject) => {
    const w = startWorker();
    liveWorkers.add(w);
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      w.postMessage({ type: 'cancel' });
      grace = setTimeout(() => void w.terminate(), CANCEL_GRACE_MS);
      grace.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    w.once('exit', () => {
      clearTimeout(grace);
      opts.signal?.removeEventListener('abort', onAbort);
    });
    w.on('message', (m: TrainJobMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.stage, m.done, m.total);
      else if (m.type === 'done') {
        settled = true;
        resolve({ sha256: m.sha256, params: m.params, evaluation: m.evaluation });
        void w.terminate();
      } else {
        settled = true;
        reject(opts.signal?.aborted ? new JobCancelled() : new ModelFitError(m.message));
        void w.terminate();
      }
    });
    w.on('error', (err) => {
      if (!settled) reject(new ModelFitError(`training worker failed: ${err.message}`));
      settled = true;
    });
    w.on('exit', (code) => {
      liveWorkers.delete(w);
      if (!settled) reject(opts.signal?.aborted ? new JobCancelled() : new ModelFitError(`training worker exited with code ${code}`));
      settled = true;
    });
    w.postMessage(input);
  }).catch((err: unknown) => {
    // a failed, cancelled or ended fit leaves no file (nor a temp file of a write it was making)
    removeArtifactFiles(path);
    throw err;
  });
  let record;
  try {
    record = await store.addModel({
      name: opts.model,
      path,
      sha256: result.sha256,
      trainedAt: new Date().toISOString(),
      params: result.params,
      feedbackSeq,
      evaluation: result.evaluation ?? opts.evaluation ?? null,
    });
  } catch (err) {
    removeArtifactFiles(path); // not recorded: an orphan file nobody would load or delete
    throw err;
  }
  const loaded = loadModel(record);
  if (opts.keepModels !== undefined) await pruneModels(store, opts.keepModels, opts.modelsDir, record.version);
  return loaded;
}

/** How often a running job's row is stamped in the store (a row not stamped for 3 times this is taken as interrupted). */
export const JOB_HEARTBEAT_MS = 5000;

/**
 * Jobs of this process (one training at a time), persisted in the store with their state and
 * progress (a row per job; progress at most once a second, a heartbeat every JOB_HEARTBEAT_MS)
 * so that they outlive the process and other replicas can read them; cancellable.
 */
export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly aborts = new Map<string, AbortController>();
  private running: string | null = null;

  constructor(private readonly store: Store | null = null) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** A job of this process, else from the store (another replica's, or from before a restart). */
  async find(id: string): Promise<Job | null> {
    return this.jobs.get(id) ?? (this.store ? await this.store.getJob(id).catch(() => null) : null);
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Saves run one after another (on PostgreSQL two saves in flight could commit out of order). */
  private saving: Promise<void> = Promise.resolve();

  private persist(job: Job): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    const snapshot: Job = { ...job, progress: { ...job.progress } };
    // the job goes on when a save fails; its row catches up at the next save
    this.saving = this.saving.then(() => store.saveJob(snapshot, Date.now()).catch(() => undefined));
    return this.saving;
  }

  /**
   * Cancels a job running in this process: its fit stops at the next epoch and the job ends
   * 'cancelled'. Returns the job, or null when it is not running here.
   */
  cancel(id: string): Job | null {
    const job = this.jobs.get(id);
    const ctl = this.aborts.get(id);
    if (!job || !ctl || job.state !== 'running') return null;
    ctl.abort(new JobCancelled());
    return job;
  }

  /** Waits until the job of `id` (running here) has ended. */
  async settled(id: string): Promise<Job | null> {
    for (;;) {
      const j = this.jobs.get(id);
      if (!j || j.state !== 'running') return j ?? null;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Starts `work` as job `id`; `work` reports progress through the callback and honours the signal. */
  start(work: (progress: (stage: string, done: number, total: number) => void, signal: AbortSignal) => Promise<{ name: string; version: number }>, id: string = randomUUID()): Job {
    const job: Job = {
      id,
      kind: 'train',
      state: 'running',
      progress: { stage: 'queued', done: 0, total: 1 },
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      model: null,
    };
    const ctl = new AbortController();
    this.jobs.set(job.id, job);
    this.aborts.set(job.id, ctl);
    this.running = job.id;
    void this.persist(job);
    let saved = Date.now();
    const beat = setInterval(() => void this.persist(job), JOB_HEARTBEAT_MS);
    beat.unref();
    const end = (): void => {
      clearInterval(beat);
      job.finishedAt = new Date().toISOString();
      this.aborts.delete(job.id);
      this.running = null;
      void this.persist(job);
    };
    work((stage, done, total) => {
      job.progress = { stage, done, total };
      if (Date.now() - saved >= 1000) {
        saved = Date.now();
        void this.persist(job);
      }
    }, ctl.signal).then(
      (model) => {
        job.state = 'done';
        job.model = model;
        end();
      },
      (err: unknown) => {
        if (err instanceof JobCancelled || ctl.signal.aborted) {
          job.state = 'cancelled';
          job.error = 'cancelled';
        } else {
          job.state = 'failed';
          job.error = err instanceof Error ? err.message : String(err);
        }
        end();
      },
    );
    return job;
  }
}
