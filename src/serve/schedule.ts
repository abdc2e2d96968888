/**
 * Training jobs started by the service itself: `trainWork` (what POST /v1/models/train and the
 * schedule both run: a job that trains from the store and swaps the new engine in) and the
 * retraining schedule of `personae serve --retrain-every <duration>` / `--retrain-after <n>`.
 *
 * The schedule looks once a second (`checkMs`) and starts a job, when none is running, if
 * - `everyMs`: the served model was trained at least that long ago (its `trainedAt`, so a restart
 *   keeps the rhythm) and feedback arrived since (no new event, no retrain);
 * - `afterEvents`: at least that many feedback events (any type, by store sequence number) arrived
 *   after the data the served model was trained on.
 * A failed job is not retried before another `afterEvents` events (or `everyMs`) have passed.
 * Jobs are rows of the store's `jobs` table like any other (GET /v1/jobs lists them). Every job
 * starts under the store's training lease (train-lease.ts), so replicas sharing a store that all
 * run the schedule train each tick once.
 */
import { ConfigError } from '../errors.js';
import type { Store } from '../store/types.js';
import { Engine } from './engine.js';
import { readTrainPositives } from './stored-train.js';
import type { FeedbackPolicy, LiveData } from './live.js';
import type { Metrics } from './metrics.js';
import type { Job } from './schemas.js';
import { trainFromStore, type Jobs } from './training.js';
import { startUnderLease, type TrainWork } from './train-lease.js';

/** What training needs of the service (service-state.ts `ServiceState` has it). */
export interface TrainingHost {
  store: Store;
  live: LiveData;
  liveReady: boolean;
  engine: Engine | null;
  ready: boolean;
  closing: boolean;
  jobs: Jobs;
  metrics: Metrics;
  policy: FeedbackPolicy;
  train: { model: string; params: Record<string, number | string | boolean>; seed: number; threads: number; modelsDir: string; tune?: boolean };
  keepModels: number;
  /** This process among the replicas sharing the store (the training lease names it). */
  replicaId: string;
}

export interface TrainRequest {
  model: string;
  params: Record<string, number | string | boolean>;
  seed?: number | undefined;
  evaluate?: string[] | null | undefined;
  tune?: boolean | undefined;
}

/**
 * The work of a training job for `req` (the caller checked the request; train-lease.ts starts it
 * under the store's training lease): train from the store, then swap the new engine in.
 */
export function trainWork(s: TrainingHost, req: TrainRequest): TrainWork {
  return async (progress, signal) => {
    const loaded = await trainFromStore(s.store, {
      ...s.train,
      model: req.model,
      params: req.params,
      seed: req.seed ?? s.train.seed,
      policy: s.policy,
      evaluate: req.evaluate ?? null,
      tune: req.tune ?? s.train.tune ?? false,
      onProgress: progress,
      signal,
      keepModels: s.keepModels,
    });
    await readTrainPositives(s.store, s.live, loaded);
    const engine = new Engine(loaded, s.live);
    engine.warm();
    s.engine = engine; // the atomic swap: requests in flight keep the old engine
    s.ready = true;
    s.metrics.inc('trainings');
    return engine.info;
  };
}

export interface RetrainPolicy {
  /** Retrain when the served model is at least this old (ms) and feedback arrived since. */
  everyMs?: number | undefined;
  /** Retrain after this many new feedback events. */
  afterEvents?: number | undefined;
  /** How often the schedule looks (ms, default 1000). */
  checkMs?: number | undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "6h", "1d", "500ms" or a number of milliseconds; at least 1 s. */
export function parseDuration(text: string, flag = '--retrain-every'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new ConfigError(`expected a duration such as 30m, 6h or 1d, got "${text}"`, flag);
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!(ms >= 1000)) throw new ConfigError(`must be at least 1s, got "${text}"`, flag);
  return Math.round(ms);
}

export class RetrainScheduler {
  private timer: NodeJS.Timeout | null = null;
  /** The store seq at which the last scheduled job started (a failed one is not retried before more events). */
  private lastAttemptSeq = -1;
  private lastAttemptAt = 0;
  /** Jobs this schedule started. */
  readonly started: string[] = [];

  constructor(
    private readonly s: TrainingHost,
    private readonly policy: RetrainPolicy,
    private readonly say: (m: string) => void = () => undefined,
  ) {}

  /** A check in progress (taking the lease is a round trip to the store). */
  private checking = false;

  start(): void {
    if (this.timer || (!this.policy.everyMs && !this.policy.afterEvents)) return;
    this.timer = setInterval(() => {
      if (this.checking) return;
      this.checking = true;
      this.check()
        .catch((err: unknown) => this.say(`retraining: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => (this.checking = false));
    }, this.policy.checkMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Why a retrain is due now, or null. */
  due(now = Date.now()): string | null {
    const s = this.s;
    const e = s.engine;
    if (!e || s.jobs.busy || s.closing || !s.liveReady) return null;
    const trainedSeq = e.loaded.meta.feedbackSeq;
    const newEvents = s.live.maxSeq - trainedSeq;
    if (newEvents <= 0) return null;
    const sinceAttempt = this.lastAttemptSeq < 0 ? newEvents : s.live.maxSeq - this.lastAttemptSeq;
    const after = this.policy.afterEvents;
    if (after && newEvents >= after && sinceAttempt >= after) return `${newEvents} new events (--retrain-after ${after})`;
    const every = this.policy.everyMs;
    if (every) {
      const age = now - Date.parse(e.loaded.record.trainedAt);
      if (age >= every && now - this.lastAttemptAt >= every) return `the model is ${Math.round(age / 1000)} s old (--retrain-every ${Math.round(every / 1000)} s)`;
    }
    return null;
  }

  /**
   * Starts a job when one is due and this replica takes the training lease (train-lease.ts); returns
   * it. Under the lease the tick is checked again against the store: when another replica recorded
   * a newer version meanwhile (it trained this tick; its version is loaded here when its
   * notification arrives), nothing starts.
   */
  async check(now = Date.now()): Promise<Job | null> {
    const why = this.due(now);
    if (!why) return null;
    const e = this.s.engine!;
    const model = e.loaded.record.name;
    const params = model === this.s.train.model ? this.s.train.params : (Object.fromEntries(Object.entries(e.loaded.record.params)) as Record<string, number | string | boolean>);
    const seq = this.s.live.maxSeq;
    const stillDue = async (): Promise<boolean> => ((await this.s.store.latestModel())?.version ?? 0) <= e.loaded.record.version;
    const started = await startUnderLease(this.s, trainWork(this.s, { model, params }), { stillDue });
    if (!('job' in started)) return null;
    this.lastAttemptSeq = seq;
    this.lastAttemptAt = now;
    this.started.push(started.job.id);
    this.say(`retraining ${model}: ${why} (job ${started.job.id})`);
    return started.job;
  }
}
