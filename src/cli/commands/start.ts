/**
 * `personae start` (what `npm start` runs): the main job on the embedded default, with no flags and
 * no network. Generates the default synthetic world, fits the models, evaluates them under the
 * default protocol, prints the comparison, writes a self-contained HTML report, then serves the
 * API and the dashboard on 127.0.0.1 with the persona model it just evaluated (newer feedback, the
 * held-out 20%, is folded in online as it would be in production). `--no-serve` stops after the
 * report.
 */
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeSplit } from '../../data/split.js';
import { runExperiment } from '../../eval/experiment.js';
import { htmlReport } from '../../eval/report/html.js';
import { markdownTables, splitSummary } from '../../eval/report/markdown.js';
import { buildResultsJson } from '../../eval/results.js';
import { defaultThreads } from '../../math/pool.js';
import { DEFAULT_WORLD, worldToLog } from '../../synth/world.js';
import type { Recommender } from '../../models/model.js';
import { parseModelSpecs } from '../../models/registry.js';
import { startService, type RunningService } from '../../serve/index.js';
import { createProgress } from '../progress.js';
import { parseInteger } from '../shared.js';

/** The persona model runs next to its one-vector twin (`personas:k=1`, the same model with one persona per user). */
export const DEFAULT_START_MODELS = 'pop,itemknn,ease,bpr,ials,personas,personas:k=1';

interface StartFlags {
  outDir: string;
  models: string;
  tune?: boolean;
  seed: number;
  quiet?: boolean;
  serve: boolean;
  host: string;
  port: number;
}

function isAddressInUse(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'EADDRINUSE';
}

export function startCommand(): Command {
  return new Command('start')
    .description('the main job on the embedded default world: train, evaluate, report')
    .option('--out-dir <dir>', 'where report.html and results.json go', '.')
    .option('--models <list>', 'model specs to compare (a model, optionally with fixed parameters: personas:k=1, ease:lambda=200)', DEFAULT_START_MODELS)
    .option('--tune', 'tune on the validation split first (slower)')
    .option('--seed <n>', 'root seed', parseInteger('--seed'), 42)
    .option('--quiet', 'no progress output')
    .option('--no-serve', 'stop after the report instead of serving the API and dashboard')
    .option('--host <host>', 'address the service listens on', '127.0.0.1')
    .option('--port <n>', 'port of the service (a free one is used if it is taken)', parseInteger('--port'), 8080)
    .action(async (flags: StartFlags) => {
      const startedAt = new Date();
      const models = flags.models.split(',').map((s) => s.trim()).filter(Boolean);
      parseModelSpecs(models); // bad specs fail before the world is generated
      const progress = createProgress({ quiet: flags.quiet ?? false });
      progress.log(`generating the default world (${DEFAULT_WORLD.users} users, ${DEFAULT_WORLD.items} items, ${DEFAULT_WORLD.categories} categories, seed ${DEFAULT_WORLD.seed})`);
      const { log } = worldToLog(DEFAULT_WORLD);
      const split = makeSplit(log, { seed: flags.seed });
      const threads = defaultThreads();
      const ks = [10, 20];
      let served: Recommender | undefined;
      const experiment = await runExperiment(split, {
        models,
        ks,
        seed: flags.seed,
        tune: flags.tune ?? false,
        threads,
        onProgress: (e) => progress.update(`${e.model} ${e.stage}`, e.done, e.total, e.detail),
        onFitted: (name, model) => {
          // the service answers with the plain `personas` row (not a variant such as personas:k=1)
          if (name === 'personas' || served === undefined) served = model;
        },
      });
      progress.stop();
      const json = buildResultsJson(split, experiment, { ks, seed: flags.seed, startedAt, threads, rerank: 'none' });
      mkdirSync(flags.outDir, { recursive: true });
      const reportPath = resolve(join(flags.outDir, 'report.html'));
      const resultsPath = resolve(join(flags.outDir, 'results.json'));
      writeFileSync(reportPath, htmlReport(json, 'personae: the default world'));
      writeFileSync(resultsPath, `${JSON.stringify(json, null, 2)}\n`);
      process.stdout.write(`\n${splitSummary(json)}\n\n${markdownTables(json)}\nreport: ${reportPath}\nresults: ${resultsPath}\n`);
      if (!flags.serve) return;
      // the dashboard demo: reads open even when PERSONAE_API_KEY is set (writes need it)
      const options = { host: flags.host, db: ':memory:', data: log, evaluation: json, seed: flags.seed, threads, publicReads: true, quiet: flags.quiet ?? false, ...(served ? { fitted: served } : {}) };
      let service: RunningService;
      try {
        service = await startService({ ...options, port: flags.port });
      } catch (err) {
        if (!isAddressInUse(err)) throw err;
        process.stdout.write(`port ${flags.port} is taken; using a free one\n`);
        service = await startService({ ...options, port: 0 });
      }
      await service.ready;
      process.stdout.write(`\ndashboard and API (${served?.name ?? 'model'} model): ${service.url}/  (API under ${service.url}/v1, OpenAPI at ${service.url}/openapi.json; Ctrl+C stops)\n`);
      const stop = (): void => {
        void service.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
