/**
 * What the service holds while it runs (built by index.ts, read and written by the routes of
 * app.ts and routes-*.ts): the store, the live mirror, the served model, the jobs, the switches
 * of the key policy.
 */
import type { Engine } from './engine.js';
import type { FeedbackPolicy, LiveData } from './live.js';
import type { Metrics } from './metrics.js';
import type { Jobs } from './training.js';
import type { Store } from '../store/types.js';
import type { StoreHealth } from '../store/errors.js';

export interface ServiceState {
  store: Store;
  live: LiveData;
  /** The live mirror is loaded from the store (writes before that are a 503). */
  liveReady: boolean;
  engine: Engine | null;
  ready: boolean;
  /** Why the service is not ready (e.g. "training"), for /readyz. */
  status: string;
  jobs: Jobs;
  metrics: Metrics;
  /**
   * No key is needed anywhere: the store held no key at start and no PERSONAE_API_KEY was given
   * (loopback only), or `--insecure-open`. Creating a key ends it (unless insecure-open).
   */
  open: boolean;
  /** Reads need a key: whenever the service is not open, unless `--public-reads`. */
  readNeedsKey: boolean;
  insecureOpen: boolean;
  publicReads: boolean;
  /** Shutting down: new requests get 503 while the ones in flight finish. */
  closing: boolean;
  policy: FeedbackPolicy;
  train: { model: string; params: Record<string, number | string | boolean>; seed: number; threads: number; modelsDir: string; tune?: boolean };
  /** Model versions kept (artifacts and records) after a training (`--keep-models`). */
  keepModels: number;
  /** Store failures (503s, logged once per interval) and whether writes work (/readyz). */
  storeHealth: StoreHealth;
  /** This process among the replicas sharing the store (the training lease names it). */
  replicaId: string;
  /** Empties the key cache (a key changed through another replica); set by buildApp. */
  forgetKeys?: () => void;
}
