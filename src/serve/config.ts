/**
 * `personae.config.json`: the settings of `personae serve` in one file (docs/service.md,
 * "Configuration file"), validated by zod (strict: an unknown key is an error naming it) and the
 * service's own checks (training parameters as for POST /v1/models/train, durations, feedback
 * types). Flags given on the command line override the file; the file overrides the defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, issueMessages } from '../errors.js';
import { modelNames } from '../models/registry.js';
import { parseFeedbackPolicy, type FeedbackPolicy } from './live.js';
import { parseDuration } from './schedule.js';
import { text, TrainBody } from './schemas.js';
import { checkTrainParams } from './training.js';

/** The file `personae serve` reads from the working folder when `--config` is not given. */
export const DEFAULT_CONFIG_FILE = 'personae.config.json';

const FeedbackTypeRule = z.object({ positive: z.boolean(), minValue: z.number().finite().optional() }).strict();

export const ServeConfig = z
  .object({
    host: z.string().min(1).max(256).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    db: z.string().min(1).optional(),
    pgSchema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a PostgreSQL identifier (letters, digits, _)').optional(),
    data: z.string().min(1).optional(),
    model: z.string().min(1).max(64).optional(),
    /** Parameters of `model` (checked like POST /v1/models/train's params). */
    params: TrainBody.shape.params,
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    threads: z.number().int().min(1).max(256).optional(),
    modelsDir: z.string().min(1).optional(),
    keepModels: z.number().int().min(1).optional(),
    /** Like --user-cache: users whose feedback is kept in memory (0: every user's). */
    userCache: z.number().int().min(0).optional(),
    /** Like --positive: "like,purchase,rating>=4". */
    positive: z.string().min(1).optional(),
    /** Every feedback type and whether it is positive: {"like": {"positive": true}, "rating": {"positive": true, "minValue": 4}}. */
    feedbackTypes: z.record(text(64, 1), FeedbackTypeRule).optional(),
    publicReads: z.boolean().optional(),
    insecureOpen: z.boolean().optional(),
    rateLimit: z.number().int().min(0).optional(),
    rateLimitAddress: z.number().int().min(0).optional(),
    requestTimeout: z.number().int().min(1).optional(),
    shutdownTimeout: z.number().int().min(0).optional(),
    /** A duration ("6h", "30m", "1d") or milliseconds. */
    retrainEvery: z.union([z.string(), z.number().int().min(1000)]).optional(),
    retrainAfter: z.number().int().min(1).optional(),
    tune: z.boolean().optional(),
    /** Like --ann-min-items: persona models retrieve per persona from this many candidates (0: never). */
    annMinItems: z.number().int().min(0).optional(),
    quiet: z.boolean().optional(),
  })
  .strict();
export type ServeConfig = z.output<typeof ServeConfig>;

/** Parses and checks a config object; errors name the file and the key. */
export function parseServeConfig(raw: unknown, file: string): ServeConfig {
  const r = ServeConfig.safeParse(raw);
  if (!r.success) throw new ConfigError(issueMessages(r.error.issues.slice(0, 5), '').join('; '), file);
  const c = r.data;
  if (c.model !== undefined && !modelNames().includes(c.model)) throw new ConfigError(`unknown model "${c.model}"; known: ${modelNames().join(', ')}`, `${file}: model`);
  // without a model here the flag's model is not known yet: the caller checks the params against it
  if (c.params && c.model !== undefined) {
    try {
      checkTrainParams(c.model, c.params, 'params');
    } catch (err) {
      throw new ConfigError(err instanceof Error ? err.message : String(err), file);
    }
  }
  if (typeof c.retrainEvery === 'string') parseDuration(c.retrainEvery, `${file}: retrainEvery`);
  if (c.positive !== undefined) parseFeedbackPolicy(c.positive);
  if (c.positive !== undefined && c.feedbackTypes !== undefined) throw new ConfigError('give either positive or feedbackTypes, not both', `${file}: positive`);
  return c;
}

/**
 * Reads a config file: `file` when given (it must exist), else `personae.config.json` in the
 * working folder when there is one, else an empty config.
 */
export function readServeConfig(file: string | undefined): { config: ServeConfig; file: string | null } {
  const path = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  if (path === null) return { config: {}, file: null };
  if (!existsSync(path)) throw new ConfigError(`the file ${path} does not exist`, '--config');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, path);
  }
  return { config: parseServeConfig(raw, path), file: path };
}

/** The feedback policy a config gives, if any. */
export function configPolicy(c: ServeConfig): FeedbackPolicy | undefined {
  if (c.feedbackTypes) return c.feedbackTypes;
  if (c.positive !== undefined) return parseFeedbackPolicy(c.positive);
  return undefined;
}

/** --retrain-every in milliseconds, from a flag's text or the config's value. */
export function retrainEveryMs(v: string | number | undefined, where: string): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'number' ? v : parseDuration(v, where);
}
