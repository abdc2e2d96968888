/** `personae recommend`: fit a model on every positive of a dataset and list one user's top items. */
import { Command } from 'commander';
import { rowOf } from '../../data/csr.js';
import { categoriesOf } from '../../data/dataset.js';
import { buildTrainSet, extractPositives } from '../../data/split.js';
import { NotFoundError } from '../../errors.js';
import { Rng } from '../../math/rng.js';
import { TopKSelector } from '../../math/topk.js';
import { defaultThreads } from '../../math/pool.js';
import { singleUserBatch } from '../../models/model.js';
import { createModel, modelNames } from '../../models/registry.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { parseParams } from './evaluate.js';

interface RecommendFlags extends DataFlags {
  user: string;
  model: string;
  n: number;
  param: string[];
  quiet?: boolean;
}

export function recommendCommand(): Command {
  const cmd = new Command('recommend').description("fit a model on all positives and print a user's recommendations");
  addDataOptions(cmd)
    .requiredOption('--user <id>', 'the user id (as in the data)')
    .option('--model <name>', `model (${modelNames().join(', ')})`, 'ease')
    .option('--n <n>', 'how many items', parseInteger('--n', 1), 10)
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--quiet', 'no progress output')
    .action(async (flags: RecommendFlags) => {
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const log = await loadLog(flags, progress);
      const user = log.users.lookup(flags.user);
      if (user < 0) throw new NotFoundError(`--user: no user "${flags.user}" in ${flags.data}`);
      const train = buildTrainSet(log, extractPositives(log, flags.minRating));
      const model = createModel(flags.model, parseParams(flags.param)[flags.model] ?? {});
      await model.fit(train, {
        rng: new Rng(flags.seed).derive('model', flags.model),
        threads: defaultThreads(),
        onProgress: (e) => progress.update(`${flags.model} fit`, e.done, e.total),
      });
      progress.stop();
      const history = rowOf(train.userItems, user);
      const scores = new Float32Array(train.nItems);
      model.scoreBatch(singleUserBatch(user, history), scores);
      const out = new Int32Array(flags.n);
      const n = new TopKSelector(flags.n).select(scores, train.candidates, train.itemRanks, history, out);
      const describe = (i: number): string => {
        const title = log.titles?.[i] ?? log.items.id(i);
        const cats = log.categories ? [...categoriesOf(log.categories, i)].map((c) => log.categories!.names[c]).join('|') : '';
        return `${title}${cats ? `  [${cats}]` : ''}`;
      };
      process.stdout.write(`user ${flags.user}: ${history.length} positives; top ${n} by ${flags.model}\n`);
      for (let r = 0; r < n; r++) process.stdout.write(`${String(r + 1).padStart(3)}. ${describe(out[r]!)}  (score ${scores[out[r]!]!.toFixed(4)})\n`);
    });
  return cmd;
}
