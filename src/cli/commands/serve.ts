/**
 * `personae serve [--host 127.0.0.1] [--port 8080] [--db FILE | sqlite:FILE | postgres://... | memory:] [--data DIR]`: the
 * HTTP API and dashboard (docs/service.md). With --data, an empty store is filled from the dataset
 * and a model is trained before /readyz turns 200 (or, with --model-file, the saved model is served).
 * The API key comes from PERSONAE_API_KEY.
 */
import { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { modelNames } from '../../models/registry.js';
import { startService } from '../../serve/index.js';
import { parseFeedbackPolicy } from '../../serve/live.js';
import { DEFAULT_USER_CACHE } from '../../serve/user-cache.js';
import { configPolicy, readServeConfig, retrainEveryMs, type ServeConfig } from '../../serve/config.js';
import { checkTrainParams } from '../../serve/training.js';
import { parseInteger } from '../shared.js';
import { ANN_FLAG_HELP, DEFAULT_ANN_MIN_ITEMS } from '../ann-scoring.js';
import { parseParams } from './evaluate.js';

interface ServeFlags {
  host: string;
  port: number;
  db: string;
  data?: string;
  social?: string;
  modelFile?: string;
  model: string;
  param: string[];
  seed: number;
  modelsDir?: string;
  keepModels: number;
  userCache?: number;
  pgSchema?: string;
  positive?: string;
  readKey?: boolean;
  publicReads?: boolean;
  insecureOpen?: boolean;
  rateLimit: number;
  rateLimitAddress: number;
  requestTimeout: number;
  shutdownTimeout: number;
  retrainEvery?: string;
  retrainAfter?: number;
  tune?: boolean;
  threads?: number;
  config?: string;
  annMinItems?: number;
  quiet?: boolean;
}

/** --port: 0 (any free port) to 65535, checked before anything (the store) is opened. */
function parsePort(value: string): number {
  const n = parseInteger('--port', 0)(value);
  if (n > 65535) throw new ConfigError(`expected a port from 0 to 65535, got "${value}"`, '--port');
  return n;
}

/** Keys of the config file that are flags of the same name (the rest: params, feedback types, retrainEvery). */
const SAME_NAME = ['host', 'port', 'db', 'data', 'model', 'seed', 'threads', 'modelsDir', 'keepModels', 'userCache', 'pgSchema', 'publicReads', 'insecureOpen', 'rateLimit', 'rateLimitAddress', 'requestTimeout', 'shutdownTimeout', 'retrainAfter', 'tune', 'annMinItems', 'quiet'] as const;

/** The flags with the config file's values wherever the flag was not given on the command line. */
export function mergeConfig(flags: ServeFlags, config: ServeConfig, onCommandLine: (name: string) => boolean): ServeFlags {
  const out: Record<string, unknown> = { ...flags };
  for (const key of SAME_NAME) {
    if (config[key] !== undefined && !onCommandLine(key)) out[key] = config[key];
  }
  return out as unknown as ServeFlags;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the recommendation API and the dashboard (docs/service.md)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', parsePort, 8080)
    .option('--db <file|url>', 'the store: a SQLite file (or sqlite:FILE), a postgres:// URL, or memory: (gone when the process stops)', 'personae.db')
    .option('--data <dir>', "dataset that fills an empty store (a folder, a file, or 'world' for the default synthetic world)")
    .option('--social <file>', 'friendship/follow edges (CSV/TSV/JSONL: user, friend, optional kind) stored with --data when it fills an empty store (the social model trains on them)')
    .option('--model-file <file>', 'serve a model saved by `personae train` instead of training one at start (an empty store is filled from it unless --data is given)')
    .option('--model <name>', `model to train (${modelNames().join(', ')})`, 'personas')
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--seed <n>', 'root seed of training', parseInteger('--seed'), 42)
    .option('--models-dir <dir>', 'where model artifacts are written (default: next to the SQLite file)')
    .option('--keep-models <n>', 'model versions kept after each training (older artifacts and records are deleted)', parseInteger('--keep-models', 1), 3)
    .option('--user-cache <n>', "users whose feedback is kept in memory, the rest read from the store when asked for (0 = keep every user's: the whole log)", parseInteger('--user-cache', 0), DEFAULT_USER_CACHE)
    .option('--pg-schema <name>', 'PostgreSQL schema of the tables (default personae)')
    .option('--positive <types>', 'feedback types that count as positive, e.g. "like,purchase,rating>=4" (the default)')
    .option('--read-key', 'reads need an API key (the default whenever keys exist; kept for compatibility)')
    .option('--public-reads', 'reads (GET /v1/..., sessions, onboarding) need no key even when keys exist')
    .option('--insecure-open', 'serve every route without a key, even when the store holds keys or the address is not loopback')
    .option('--rate-limit <n>', 'requests a minute per API key (0 = no limit)', parseInteger('--rate-limit', 0), 60_000)
    .option('--rate-limit-address <n>', 'requests a minute per client address without a valid key (0 = no limit)', parseInteger('--rate-limit-address', 0), 6_000)
    .option('--request-timeout <ms>', 'longest a client may take to send a request (then 408)', parseInteger('--request-timeout', 1), 30_000)
    .option('--shutdown-timeout <ms>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish', parseInteger('--shutdown-timeout', 0), 10_000)
    .option('--retrain-every <duration>', 'retrain when the served model is this old and feedback arrived since, e.g. 6h, 30m, 1d')
    .option('--retrain-after <n>', 'retrain after n new feedback events', parseInteger('--retrain-after', 1))
    .option('--tune', 'tune every training on a validation split first (the model\'s grid), then fit on everything')
    .option('--threads <n>', 'threads of training', parseInteger('--threads', 1))
    .option('--ann-min-items <n>', `${ANN_FLAG_HELP}; 1 always retrieves`, parseInteger('--ann-min-items', 0), DEFAULT_ANN_MIN_ITEMS)
    .option('--config <file>', 'a JSON config file (default: personae.config.json in the working folder, if any); flags override it')
    .option('--quiet', 'no log lines')
    .action(async (given: ServeFlags, cmd: Command) => {
      // the config file, then flags given on the command line over it
      const { config } = readServeConfig(given.config);
      const flags = mergeConfig(given, config, (name) => cmd.getOptionValueSource(name) === 'cli');
      if (flags.social !== undefined && flags.data === undefined) throw new ConfigError('needs --data: the edges are stored when the dataset fills an empty store (later, POST /v1/users/{id}/friends)', '--social');
      if (flags.readKey && !process.env.PERSONAE_API_KEY) throw new ConfigError('needs PERSONAE_API_KEY to be set', '--read-key');
      if (flags.readKey && flags.publicReads) throw new ConfigError('cannot be combined with --public-reads', '--read-key');
      if (flags.modelFile !== undefined && flags.param.length > 0) throw new ConfigError('--param sets fitting parameters; the model file is already fitted (use personae train to fit another)', '--param');
      const fromFlags = parseParams(flags.param)[flags.model];
      const params = (fromFlags ?? (config.model === undefined || config.model === flags.model ? config.params : undefined) ?? {}) as Record<string, number | string | boolean>;
      checkTrainParams(flags.model, params, fromFlags ? '--param' : 'params');
      const policy = cmd.getOptionValueSource('positive') === 'cli' && flags.positive !== undefined ? parseFeedbackPolicy(flags.positive) : configPolicy(config);
      const everyMs = cmd.getOptionValueSource('retrainEvery') === 'cli' ? retrainEveryMs(flags.retrainEvery, '--retrain-every') : retrainEveryMs(config.retrainEvery, 'retrainEvery');
      const svc = await startService({
        host: flags.host,
        port: flags.port,
        db: flags.db,
        ...(flags.data !== undefined ? { data: flags.data } : {}),
        ...(flags.social !== undefined ? { social: flags.social } : {}),
        ...(flags.modelFile !== undefined ? { modelFile: flags.modelFile } : {}),
        model: flags.model,
        modelParams: params,
        seed: flags.seed,
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        ...(flags.modelsDir !== undefined ? { modelsDir: flags.modelsDir } : {}),
        keepModels: flags.keepModels,
        ...(flags.userCache !== undefined ? { userCache: flags.userCache } : {}),
        ...(flags.pgSchema !== undefined ? { pgSchema: flags.pgSchema } : {}),
        ...(policy !== undefined ? { feedbackTypes: policy } : {}),
        readApiKey: flags.readKey ?? false,
        publicReads: flags.publicReads ?? false,
        insecureOpen: flags.insecureOpen ?? false,
        rateLimits: { perKey: flags.rateLimit, perAddress: flags.rateLimitAddress },
        requestTimeoutMs: flags.requestTimeout,
        shutdownTimeoutMs: flags.shutdownTimeout,
        tune: flags.tune ?? false,
        retrain: { everyMs, afterEvents: flags.retrainAfter },
        ...(flags.annMinItems !== undefined ? { annMinItems: flags.annMinItems } : {}),
        quiet: flags.quiet ?? false,
      });
      process.stdout.write(`${svc.url}\n`);
      const stop = (): void => {
        void svc.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await svc.ready.catch(() => undefined);
      // keep running until a signal
      await new Promise<never>(() => {});
    });
}
