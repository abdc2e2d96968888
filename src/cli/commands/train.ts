/**
 * `personae train --data D --model personas [--param ...] [--seed 42] --out m.model`: fits a model on
 * every positive of a dataset and saves it with what answering by string ids needs (the item and
 * user ids, the training positives, titles and categories, the seed and min rating): the file of
 * `Recommender.save` (src/api/recommender.ts; versioned, sha256-checked, written atomically).
 * `recommend`, `onboard`, `batch` and `serve` take it with --model-file.
 */
import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createModel, modelNames } from '../../models/registry.js';
import { createProgress } from '../progress.js';
import { fitOnLog } from '../model-file.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { parseParams } from './evaluate.js';
import { defaultThreads } from '../../math/pool.js';

interface TrainFlags extends DataFlags {
  model: string;
  param: string[];
  out: string;
  threads: number;
  quiet?: boolean;
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('fit a model on every positive of a dataset and save it (for --model-file)');
  addDataOptions(cmd)
    .option('--model <name>', `model (${modelNames().join(', ')})`, 'personas')
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .requiredOption('--out <file>', 'the model file to write (e.g. m.model)')
    .addOption(new Option('--threads <n>', 'worker threads of the fit (results do not depend on it)').argParser(parseInteger('--threads', 1)).default(defaultThreads()))
    .option('--quiet', 'no progress output')
    .action(async (flags: TrainFlags) => {
      const params = parseParams(flags.param)[flags.model] ?? {};
      createModel(flags.model, params); // the model and its parameters are checked before the data is read
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const log = await loadLog(flags, progress);
      const r = await fitOnLog(log, { model: flags.model, params, seed: flags.seed, minRating: flags.minRating, progress, threads: flags.threads });
      mkdirSync(dirname(resolve(flags.out)), { recursive: true });
      await r.save(flags.out);
      const f = r.fitted;
      process.stdout.write(`saved ${flags.model} (seed ${flags.seed}, min rating ${flags.minRating}) fitted on ${f.train.userItems.indices.length} positives of ${f.users.size} users over ${f.train.candidates.length} items to ${flags.out}\n`);
    });
  return cmd;
}
