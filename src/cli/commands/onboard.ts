/**
 * `personae onboard`: onboard a new user in the terminal. The persona model is fitted on every
 * positive of --data, or loaded from --model-file (a persona model saved by `personae train`); the
 * user answers "which would you rather watch?" questions (a, b, both, neither, quit) and sees their
 * recommendations after each answer. Reads answers line by line from
 * stdin, so it also runs with piped input.
 */
import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { ConfigError } from '../../errors.js';
import { hasPersonas } from '../../models/model.js';
import { createModel } from '../../models/registry.js';
import { describeItem } from '../lists.js';
import { fitOnLog, loadModelFile } from '../model-file.js';
import { createOnboarding, type Answer } from '../../onboard/index.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { parseParams } from './evaluate.js';

interface OnboardFlags extends Omit<DataFlags, 'data'> {
  data?: string;
  modelFile?: string;
  questions: number;
  n: number;
  pool: number;
  param: string[];
  quiet?: boolean;
}

const ALIASES: Record<string, Answer | 'quit'> = {
  a: 'a',
  b: 'b',
  both: 'both',
  neither: 'neither',
  n: 'neither',
  none: 'neither',
  q: 'quit',
  quit: 'quit',
  exit: 'quit',
};

export function onboardCommand(): Command {
  const cmd = new Command('onboard').description('onboard a new user with a few pairwise questions (interactive; answers a, b, both, neither or quit)');
  addDataOptions(cmd, { requireData: false })
    .option('--model-file <file>', 'a persona model saved by `personae train` (instead of fitting on --data)')
    .option('--questions <n>', 'ask at most this many questions', parseInteger('--questions', 1), 20)
    .option('--n <n>', 'recommendations shown after each answer', parseInteger('--n', 1), 10)
    .option('--pool <n>', 'questions use the this-many most popular items', parseInteger('--pool', 2), 200)
    .option('--param <model.key=value>', 'set a persona-model parameter, e.g. personas.epochs=10 (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--quiet', 'no progress output')
    .action(async (flags: OnboardFlags) => {
      const progress = createProgress({ quiet: flags.quiet ?? false });
      if ((flags.data === undefined) === (flags.modelFile === undefined)) throw new ConfigError('give --data (fit the persona model now) or --model-file (a persona model saved by personae train), not both', '--data');
      let f;
      if (flags.modelFile !== undefined) {
        if (flags.param.length > 0) throw new ConfigError('--param sets fitting parameters; the model file is already fitted', '--param');
        f = await loadModelFile(flags.modelFile, progress);
        if (!hasPersonas(f.model)) throw new ConfigError(`onboarding needs a persona model; ${flags.modelFile} holds "${f.modelName}" (personae train --model personas)`, '--model-file');
      } else {
        const params = parseParams(flags.param)['personas'] ?? {};
        createModel('personas', params);
        const log = await loadLog({ ...flags, data: flags.data! }, progress);
        f = (await fitOnLog(log, { model: 'personas', params, seed: flags.seed, minRating: flags.minRating, progress })).fitted;
      }
      progress.stop();
      const { model, train } = f;
      const describe = (i: number): string => describeItem(f, i);
      const session = createOnboarding(model, train, { seed: flags.seed, pool: flags.pool });
      const out = process.stdout;
      const show = (): void => {
        const recs = session.recommend(flags.n);
        out.write(`recommendations after ${session.answered} answer${session.answered === 1 ? '' : 's'}:\n`);
        recs.forEach((i, r) => out.write(`  ${String(r + 1).padStart(2)}. ${describe(i)}\n`));
      };
      show();
      const rl = createInterface({ input: process.stdin, terminal: false });
      const lines = rl[Symbol.asyncIterator]();
      let asked = 0;
      try {
        while (asked < flags.questions) {
          const q = session.next();
          if (!q) {
            out.write('no more questions\n');
            break;
          }
          out.write(`\nquestion ${asked + 1}: which would you rather watch?\n  a) ${describe(q.a)}\n  b) ${describe(q.b)}\n[a/b/both/neither/quit] > `);
          let answer: Answer | 'quit' | undefined;
          while (answer === undefined) {
            const next = await lines.next();
            if (next.done) {
              answer = 'quit';
              break;
            }
            answer = ALIASES[next.value.trim().toLowerCase()];
            if (answer === undefined) out.write(`please answer a, b, both, neither or quit > `);
          }
          if (answer === 'quit') {
            out.write('\n');
            break;
          }
          out.write(`${answer}\n`);
          session.answer(q, answer);
          asked++;
          show();
        }
      } finally {
        rl.close();
      }
      out.write(`done after ${session.answered} answers; posterior spread ${session.posteriorSpread().toFixed(3)} (prior 1)\n`);
    });
  return cmd;
}
