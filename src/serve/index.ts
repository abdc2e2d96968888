/**
 * `startService`: opens the store, fills an empty one from a dataset when asked, loads (or trains)
 * the model, and serves the API and the dashboard. It resolves as soon as the server listens;
 * `ready` resolves when a model is loaded (what /readyz reports).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { InteractionLog } from '../data/dataset.js';
import { readDataset } from '../data/readers/index.js';
import type { EvaluationJson } from '../eval/results.js';
import { defaultThreads } from '../math/pool.js';
import { DEFAULT_WORLD, worldToLog, type WorldConfigInput } from '../synth/world.js';
import { ConfigError } from '../errors.js';
import { buildApp, hashKey, keyPrefix, type RateLimits, type ServiceState } from './app.js';
import type { Recommender } from '../models/model.js';
import { Engine } from './engine.js';
import { DEFAULT_ANN_MIN_ITEMS, setServeAnn } from './ann-retrieval.js';
import { loadModel, type LoadedModel } from './model-file.js';
import { DEFAULT_FEEDBACK_TYPES, LiveData, type FeedbackPolicy } from './live.js';
import { DEFAULT_USER_CACHE } from './user-cache.js';
import { readTrainPositives } from './stored-train.js';
import { Metrics } from './metrics.js';
import { modelFromFile, readModelFile } from './saved-model.js';
import type { Store } from '../store/types.js';
import { openStore, redactStoreUrl, sqliteFile, storeScheme } from '../store/open.js';
import { StoreHealth } from '../store/errors.js';
import { loadOrder } from './versions.js';
import { ReplicaSync } from './replica-sync.js';
import { trainAtStart } from './train-lease.js';
import { RetrainScheduler, type RetrainPolicy } from './schedule.js';
import { adoptFitted, defaultModelsDir, importEdges, importLog } from './boot-data.js';
import { readSocialFile } from '../data/social.js';
import { checkTrainParams, cleanTempArtifacts, JOB_HEARTBEAT_MS, Jobs, pruneModels, stopTrainingWorkers, trainFromStore } from './training.js';

export type { Store } from '../store/types.js';
export { openStore } from '../store/open.js';
export { importLog } from './boot-data.js';

export interface ServiceOptions {
  host?: string;
  /** 0 = a random free port. Default 8080. */
  port?: number;
  /**
   * The store (src/store/open.ts): a SQLite file (default personae.db; also sqlite:FILE), ':memory:'
   * (SQLite in memory), a postgres:// URL, or memory: (this process's maps).
   */
  db?: string;
  /** PostgreSQL schema (default "personae"). */
  pgSchema?: string;
  /** A dataset path, 'world' for the synthetic world (see `world`), or a log in memory: fills an empty store. */
  data?: string | InteractionLog;
  /** World config when data is 'world' (default: the default world). */
  world?: WorldConfigInput;
  /**
   * A social edge file (src/data/social.ts: CSV/TSV/JSONL, user, friend, optional kind) stored with
   * `data` when it fills an empty store; ids must be users of the data (errors name the line).
   */
  social?: string;
  /**
   * The admin API key (default: PERSONAE_API_KEY). It replaces the previous env key in the store
   * (that one stops working). Without it the service is open only while the store holds no key,
   * and only on a loopback address (else it refuses to start), unless `insecureOpen`.
   */
  apiKey?: string;
  /** Kept for compatibility: reads need a key anyway whenever keys exist (see publicReads). */
  readApiKey?: boolean;
  /** Reads (GET /v1/..., sessions, onboarding) need no key even when keys exist. */
  publicReads?: boolean;
  /** Serve every route without a key even when the store holds keys or the address is not loopback. */
  insecureOpen?: boolean;
  /** Requests per minute per key and per address without a key (0 = no limit); default 60,000 / 6,000. */
  rateLimits?: RateLimits;
  /** Longest a client may take to send a request (ms, default 30,000): then 408. */
  requestTimeoutMs?: number;
  /** Longest a handler may run (ms, default 60,000): then 503 `timeout`. */
  handlerTimeoutMs?: number;
  /** How long a looked-up key is trusted before the store is asked again (ms, default 1000): a revocation reaches other replicas within it. */
  keyCacheTtlMs?: number;
  /** close(): how long requests in flight may take to finish before their connections are cut (ms, default 10,000). */
  shutdownTimeoutMs?: number;
  /** Model to train (default personas). */
  model?: string;
  modelParams?: Record<string, number | string | boolean>;
  seed?: number;
  threads?: number;
  /** Where model artifacts go (default: next to the SQLite file, else ./personae-models). */
  modelsDir?: string;
  /** Model versions kept after each training, artifacts and records (default 3; older ones are deleted). */
  keepModels?: number;
  /** Users whose feedback is kept in memory (live.ts, user-cache.ts); 0: mirror every user's (the whole log). */
  userCache?: number;
  /** Feedback types and which are positive (default DEFAULT_FEEDBACK_TYPES). */
  feedbackTypes?: FeedbackPolicy;
  /**
   * A model already fitted on `data` (an InteractionLog, in its index spaces), served as the first
   * version instead of training one (e.g. `personae start` serves the model it just evaluated).
   * Ignored when the store already has a model.
   */
  fitted?: Recommender;
  /**
   * A model file saved by `personae train` (or `Recommender.save`), served instead of training one
   * (saved-model.ts); an empty store is filled from it unless `data` is given.
   */
  modelFile?: string;
  /** An evaluation of the model (e.g. from `personae start`), served at /v1/evaluation. */
  evaluation?: EvaluationJson;
  /**
   * How often (ms) to poll the store for other processes' writes (replica-sync.ts): on PostgreSQL
   * with push the safety poll, default 30,000; else feedback and erasures, default 1000; 0 = never.
   */
  syncIntervalMs?: number;
  /** PostgreSQL: learn of other replicas' writes by LISTEN/NOTIFY (default true). */
  push?: boolean;
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Tune every training of the service on a validation split first (POST /v1/models/train may say otherwise). */
  tune?: boolean;
  /** Retraining schedule (schedule.ts): `everyMs` (--retrain-every), `afterEvents` (--retrain-after), `checkMs`. */
  retrain?: RetrainPolicy;
  /**
   * Persona models: cold reads retrieve each persona's candidates from an ANN index and rerank them
   * exactly when the catalogue has at least this many candidates (ann-retrieval.ts; 0: never).
   * Default DEFAULT_ANN_MIN_ITEMS.
   */
  annMinItems?: number;
  quiet?: boolean;
}

export interface RunningService {
  url: string;
  /** Resolves when a model is loaded (rejects if loading or training failed). */
  ready: Promise<void>;
  close(): Promise<void>;
  /** Picks up what other processes wrote now (replica-sync.ts); returns how many feedback events were new. */
  sync(): Promise<number>;
  /** How this replica learns of other processes' writes (push and the safety poll). */
  replica: ReplicaSync;
  app: FastifyInstance;
  state: ServiceState;
  /** The retraining schedule (null without --retrain-every / --retrain-after). */
  retrain: RetrainScheduler | null;
}

/** Whether `host` is a loopback address (an open service is refused anywhere else). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

export async function startService(opts: ServiceOptions = {}): Promise<RunningService> {
  const say = (m: string): void => {
    if (!opts.quiet) process.stderr.write(`personae serve: ${m}\n`);
  };
  const db = opts.db ?? 'personae.db';
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8080;
  // startup errors are one line naming the flag, found before anything is created
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`expected a port from 0 to 65535, got ${port}`, '--port');
  const keepModels = opts.keepModels ?? 3;
  const userCache = opts.userCache ?? DEFAULT_USER_CACHE;
  if (!Number.isInteger(userCache) || userCache < 0) throw new ConfigError(`expected an integer >= 0, got ${userCache}`, '--user-cache');
  if (!Number.isInteger(keepModels) || keepModels < 1) throw new ConfigError(`expected an integer >= 1, got ${keepModels}`, '--keep-models');
  const scheme = storeScheme(db);
  if (scheme === 'sqlite:' && sqliteFile(db) !== ':memory:') {
    const dir = dirname(resolve(sqliteFile(db)));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`the folder ${dir} does not exist (create it, or give another --db)`, '--db');
  }
  // a model file is read and checked before anything is created
  const modelFile = opts.modelFile !== undefined ? await readModelFile(opts.modelFile) : null;
  const socialEdges = opts.social !== undefined ? readSocialFile(opts.social) : null;
  let store: Store;
  try {
    store = await openStore(db, opts.pgSchema ? { schema: opts.pgSchema } : {});
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot open the store ${redactStoreUrl(db)}: ${msg}`, '--db');
  }
  const policy = opts.feedbackTypes ?? DEFAULT_FEEDBACK_TYPES;
  const apiKey = opts.apiKey ?? process.env.PERSONAE_API_KEY;
  const insecureOpen = opts.insecureOpen ?? false;
  const publicReads = opts.publicReads ?? false;
  let open: boolean;
  try {
    // the env key replaces the previous env key: a rotated PERSONAE_API_KEY ends the old one
    if (apiKey) await store.replaceEnvApiKey(hashKey(apiKey), keyPrefix(apiKey));
    const keys = await store.countApiKeys();
    open = insecureOpen || keys === 0;
    if (open && !insecureOpen && !isLoopback(host)) {
      throw new ConfigError(`binding ${host} without any API key would leave every route open to the network: set PERSONAE_API_KEY, or pass --insecure-open`, '--host');
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  if (insecureOpen) say('warning: --insecure-open: every route is open, keys or not');
  else if (open) say('warning: no API key (PERSONAE_API_KEY) and none in the store; every route is open on loopback until a key is created');
  const state: ServiceState = {
    store,
    live: new LiveData(policy, { userCache }),
    liveReady: false,
    engine: null,
    ready: false,
    status: 'starting',
    jobs: new Jobs(store),
    metrics: new Metrics(),
    open,
    readNeedsKey: !open && !publicReads,
    insecureOpen,
    publicReads,
    closing: false,
    policy,
    keepModels,
    storeHealth: new StoreHealth((line) => say(line)),
    replicaId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    train: {
      model: opts.model ?? 'personas',
      params: opts.modelParams ?? {},
      seed: opts.seed ?? 42,
      threads: opts.threads ?? defaultThreads(),
      modelsDir: opts.modelsDir ?? defaultModelsDir(db),
      tune: opts.tune ?? false,
    },
  };
  const app = await buildApp(state, {
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.rateLimits !== undefined ? { rateLimits: opts.rateLimits } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.handlerTimeoutMs !== undefined ? { handlerTimeoutMs: opts.handlerTimeoutMs } : {}),
    ...(opts.keyCacheTtlMs !== undefined ? { keyCacheTtlMs: opts.keyCacheTtlMs } : {}),
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} on ${host} is already in use`, '--port');
    if (code === 'EACCES') throw new ConfigError(`no permission to listen on port ${port}`, '--port');
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`cannot listen on ${host}: not an address of this machine`, '--host');
    throw err;
  }
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  const replica = new ReplicaSync(state, { ...(opts.push !== undefined ? { push: opts.push } : {}), ...(opts.syncIntervalMs !== undefined ? { pollMs: opts.syncIntervalMs } : {}), say });
  const boot = async (): Promise<void> => {
    state.status = 'loading data';
    await replica.begin();
    const empty = (await store.countItems()) === 0 && (await store.countFeedback()) === 0;
    const data = opts.data ?? modelFile?.log;
    if (empty && data !== undefined) {
      const log = typeof data !== 'string' ? data : data === 'world' ? worldToLog(opts.world ?? DEFAULT_WORLD).log : await readDataset(data);
      say(`filling the store from ${log.name}: ${log.items.size} items, ${log.users.size} users, ${log.length} events`);
      // the edges first: a bad edge file stops the start before any feedback is stored
      if (socialEdges) say(`stored ${await importEdges(store, socialEdges, log, opts.social!)} social edges from ${opts.social}`);
      await importLog(store, log);
    } else if (socialEdges) say(`the store already holds data: ${opts.social} is not imported (add edges with POST /v1/users/{id}/friends)`);
    state.live = await LiveData.load(store, policy, { userCache });
    setServeAnn(state.live, { minItems: opts.annMinItems ?? DEFAULT_ANN_MIN_ITEMS });
    state.liveReady = true;
    replica.start();
    state.status = 'loading the model';
    // temp files of artifact writes that can no longer finish, and jobs whose process stopped
    const stale = cleanTempArtifacts(state.train.modelsDir);
    if (stale.length > 0) say(`removed ${stale.length} unfinished model file${stale.length === 1 ? '' : 's'} (${stale.join(', ')})`);
    // one SQLite process: every job still 'running' was this file's last process; PostgreSQL: jobs without a heartbeat
    const interrupted = await store.failStaleJobs(store.kind === 'sqlite' ? Date.now() + 1 : Date.now() - 3 * JOB_HEARTBEAT_MS, 'interrupted: the server stopped while the job ran');
    if (interrupted > 0) say(`${interrupted} training job${interrupted === 1 ? '' : 's'} interrupted by a restart marked failed`);
    // the newest model version that loads; the ones skipped are said
    const models = await store.listModels();
    let loaded: LoadedModel | null = null;
    if (modelFile) {
      loaded = await modelFromFile(store, modelFile, models, state.train.modelsDir, state.live.maxSeq, say);
      await pruneModels(store, keepModels, state.train.modelsDir, loaded.record.version);
    }
    // a rollback's pinned version first (versions.ts), while no newer version was trained
    for (const rec of loaded ? [] : await loadOrder(store, models)) {
      try {
        loaded = loadModel(rec);
        break;
      } catch (err) {
        say(`skipping model v${rec.version} (${rec.name}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (!loaded && opts.fitted && typeof opts.data === 'object') {
      loaded = await adoptFitted(store, opts.fitted, opts.data, state.train.modelsDir, state.live.maxSeq, opts.evaluation ?? null);
      await pruneModels(store, keepModels, state.train.modelsDir, loaded.record.version);
    }
    if (!loaded && state.live.feedbackCount > 0) {
      // no version loads: retrain the type (and parameters) of the newest one, else the configured model
      const newest = models[0];
      let model = newest?.name ?? state.train.model;
      let params = newest ? (Object.fromEntries(Object.entries(newest.params)) as Record<string, number | string | boolean>) : state.train.params;
      if (newest) {
        // a version written by an older release may carry parameters this release no longer has
        try {
          checkTrainParams(model, params, `model v${newest.version} params`);
        } catch (err) {
          say(`the newest version's parameters no longer apply (${err instanceof Error ? err.message : String(err)}); training ${state.train.model} with the configured parameters`);
          model = state.train.model;
          params = state.train.params;
        }
      }
      state.status = 'training';
      say(`training ${model} on ${state.live.feedbackCount} events${newest ? ` (no recorded version loads; the newest was ${newest.name} v${newest.version})` : ''}`);
      // under the training lease: a replica starting while another trains serves that one's version when it is recorded
      const stillNeeded = async (): Promise<boolean> => (await store.latestModel())?.version === newest?.version;
      const trained = await trainAtStart(state, replica.feed !== null, stillNeeded, (signal) => trainFromStore(store, {
        ...state.train,
        model,
        params,
        policy,
        keepModels,
        evaluation: opts.evaluation ? JSON.stringify(opts.evaluation) : null,
        tune: state.train.tune ?? false,
        onProgress: (stage, done, total) => (state.status = `training: ${stage} ${done}/${total}`),
        ...(signal ? { signal } : {}),
      }), (holder) => (state.status = `no model yet: waiting for ${holder} to train`));
      if ('wait' in trained) {
        state.status = `no model yet: ${trained.wait}`;
        say(state.status);
        return;
      }
      loaded = trained;
    }
    if (loaded) {
      await readTrainPositives(store, state.live, loaded);
      const engine = new Engine(loaded, state.live);
      engine.warm();
      state.engine = engine;
      state.ready = true;
      state.status = 'ready';
      say(`ready at ${url} (model ${loaded.record.name} v${loaded.record.version})`);
    } else {
      state.status = 'no model: POST feedback, then POST /v1/models/train';
      say(state.status);
    }
  };
  state.metrics.startLoopMonitor();
  const retrain = opts.retrain && (opts.retrain.everyMs || opts.retrain.afterEvents) ? new RetrainScheduler(state, opts.retrain, say) : null;
  const ready = boot().then(() => {
    replica.bootDone();
    retrain?.start();
  });
  ready.catch((err: unknown) => {
    state.status = `failed: ${err instanceof Error ? err.message : String(err)}`;
    say(state.status);
  });
  return {
    url,
    ready,
    app,
    state,
    sync: () => replica.sync(),
    replica,
    retrain,
    async close() {
      retrain?.stop();
      state.metrics.stop();
      // stop listening; requests in flight finish, new ones get 503; after the deadline the
      // connections still open are cut
      state.closing = true;
      const closed = app.close();
      let deadline: NodeJS.Timeout | undefined;
      const late = await Promise.race([closed.then(() => false), new Promise<boolean>((r) => (deadline = setTimeout(() => r(true), opts.shutdownTimeoutMs ?? 10_000)))]);
      clearTimeout(deadline);
      if (late) {
        say('shutdown deadline passed: closing the connections still open');
        app.server.closeAllConnections();
      }
      await closed;
      await stopTrainingWorkers();
      await ready.catch(() => undefined);
      await replica.stop();
      await store.close();
    },
  };
}
