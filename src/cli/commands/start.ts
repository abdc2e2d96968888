/**
 * `personae start` (what `npm start` runs): the main job on the embedded default, with no flags and
 * no network. Generates the default synthetic world, fits the models, evaluates them under the
 * default protocol, prints the comparison and writes a self-contained HTML report.
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
import { createProgress } from '../progress.js';
import { parseInteger } from '../shared.js';

export const DEFAULT_START_MODELS = 'pop,itemknn,ease,bpr,ials,personas';

interface StartFlags {
  outDir: string;
  models: string;
  tune?: boolean;
  seed: number;
  quiet?: boolean;
}

export function startCommand(): Command {
  return new Command('start')
    .description('the main job on the embedded default world: train, evaluate, report')
    .option('--out-dir <dir>', 'where report.html and results.json go', '.')
    .option('--models <list>', 'models to compare', DEFAULT_START_MODELS)
    .option('--tune', 'tune on the validation split first (slower)')
    .option('--seed <n>', 'root seed', parseInteger('--seed'), 42)
    .option('--quiet', 'no progress output')
    .action(async (flags: StartFlags) => {
      const startedAt = new Date();
      const progress = createProgress({ quiet: flags.quiet ?? false });
      progress.log(`generating the default world (${DEFAULT_WORLD.users} users, ${DEFAULT_WORLD.items} items, ${DEFAULT_WORLD.categories} categories, seed ${DEFAULT_WORLD.seed})`);
      const { log } = worldToLog(DEFAULT_WORLD);
      const split = makeSplit(log, { seed: flags.seed });
      const threads = defaultThreads();
      const ks = [10, 20];
      const experiment = await runExperiment(split, {
        models: flags.models.split(',').map((s) => s.trim()).filter(Boolean),
        ks,
        seed: flags.seed,
        tune: flags.tune ?? false,
        threads,
        onProgress: (e) => progress.update(`${e.model} ${e.stage}`, e.done, e.total, e.detail),
      });
      progress.stop();
      const json = buildResultsJson(split, experiment, { ks, seed: flags.seed, startedAt, threads, rerank: 'none' });
      mkdirSync(flags.outDir, { recursive: true });
      const reportPath = resolve(join(flags.outDir, 'report.html'));
      const resultsPath = resolve(join(flags.outDir, 'results.json'));
      writeFileSync(reportPath, htmlReport(json, 'personae: the default world'));
      writeFileSync(resultsPath, `${JSON.stringify(json, null, 2)}\n`);
      process.stdout.write(`\n${splitSummary(json)}\n\n${markdownTables(json)}\nreport: ${reportPath}\nresults: ${resultsPath}\n`);
    });
}
