/**
 * `personae serve [--host 127.0.0.1] [--port 8080] [--db FILE | postgres://...] [--data DIR]`: the
 * HTTP API and dashboard (docs/service.md). With --data, an empty store is filled from the dataset
 * and a model is trained before /readyz turns 200. The API key comes from PERSONAE_API_KEY.
 */
import { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { modelNames } from '../../models/registry.js';
import { startService } from '../../serve/index.js';
import { parseFeedbackPolicy } from '../../serve/live.js';
import { parseInteger } from '../shared.js';
import { parseParams } from './evaluate.js';

interface ServeFlags {
  host: string;
  port: number;
  db: string;
  data?: string;
  model: string;
  param: string[];
  seed: number;
  modelsDir?: string;
  pgSchema?: string;
  positive?: string;
  readKey?: boolean;
  quiet?: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the recommendation API and the dashboard (docs/service.md)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', parseInteger('--port', 0), 8080)
    .option('--db <file|url>', 'SQLite file or postgres:// URL', 'personae.db')
    .option('--data <dir>', "dataset that fills an empty store (a folder, a file, or 'world' for the default synthetic world)")
    .option('--model <name>', `model to train (${modelNames().join(', ')})`, 'personas')
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--seed <n>', 'root seed of training', parseInteger('--seed'), 42)
    .option('--models-dir <dir>', 'where model artifacts are written (default: next to the SQLite file)')
    .option('--pg-schema <name>', 'PostgreSQL schema of the tables (default personae)')
    .option('--positive <types>', 'feedback types that count as positive, e.g. "like,purchase,rating>=4" (the default)')
    .option('--read-key', 'reads need an API key too (PERSONAE_API_KEY must be set)')
    .option('--quiet', 'no log lines')
    .action(async (flags: ServeFlags) => {
      if (flags.readKey && !process.env.PERSONAE_API_KEY) throw new ConfigError('needs PERSONAE_API_KEY to be set', '--read-key');
      const params = parseParams(flags.param)[flags.model] ?? {};
      const svc = await startService({
        host: flags.host,
        port: flags.port,
        db: flags.db,
        ...(flags.data !== undefined ? { data: flags.data } : {}),
        model: flags.model,
        modelParams: params as Record<string, number | string | boolean>,
        seed: flags.seed,
        ...(flags.modelsDir !== undefined ? { modelsDir: flags.modelsDir } : {}),
        ...(flags.pgSchema !== undefined ? { pgSchema: flags.pgSchema } : {}),
        ...(flags.positive !== undefined ? { feedbackTypes: parseFeedbackPolicy(flags.positive) } : {}),
        readApiKey: flags.readKey ?? false,
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
