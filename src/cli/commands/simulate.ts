/**
 * `personae simulate`: the feedback loop on a planted world (src/sim/feedback.ts). Prints one
 * table per metric (arms x rounds); --out writes the JSON (`{world, seed, rounds, k, users, arms}`,
 * each arm with its per-round metrics). `personae study feedback-loop` runs it with a verdict.
 */
import { Command, Option } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { defaultThreads } from '../../math/pool.js';
import { DEFAULT_ARMS, DEFAULT_ROUNDS, simulate, simulationJson, simulationTable } from '../../sim/feedback.js';
import { createProgress } from '../progress.js';
import { parseInteger } from '../shared.js';

interface SimulateFlags {
  rounds: number;
  arms: string;
  seed: number;
  out?: string;
  quick?: boolean;
  threads: number;
  quiet?: boolean;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description(
      'feedback loop on a planted world (split:51/49,bridge:0.15): each round every user is shown a top-10 list per arm, consumes items by ' +
        'their planted tastes and a position model, and the arm is refitted on the feedback; prints ndcg, taste coverage, ckl, gini and polarisation per round',
    )
    .addOption(new Option('--rounds <n>', 'rounds of the loop').argParser(parseInteger('--rounds', 1)).default(DEFAULT_ROUNDS))
    .option('--arms <list>', 'comma-separated arms, model[:key=value...][+reranker], e.g. personas+calibrated:0.5', DEFAULT_ARMS)
    .addOption(new Option('--seed <n>', 'root seed: the world, every fit and every consumption draw').argParser(parseInteger('--seed', 0)).default(42))
    .option('--out <file>', 'write the JSON')
    .option('--quick', 'a 500-user world and smaller fits (tests, smoke runs)')
    .addOption(new Option('--threads <n>', 'worker threads (results do not depend on it)').argParser(parseInteger('--threads', 1)).default(defaultThreads()))
    .option('--quiet', 'no progress output')
    .action(async (flags: SimulateFlags) => {
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const res = await simulate({
        seed: flags.seed,
        rounds: flags.rounds,
        arms: flags.arms,
        quick: flags.quick ?? false,
        threads: flags.threads,
        onProgress: (stage, done, total) => progress.update(stage, done, total),
      });
      progress.stop();
      const lines = [`## simulate: ${res.world}`, `users: ${JSON.stringify(res.users)}; seed ${res.seed}; ${res.rounds} rounds; lists of ${res.k}`, '', simulationTable(res)];
      if (flags.out) {
        const path = resolve(flags.out);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, `${JSON.stringify(simulationJson(res), null, 2)}\n`);
        lines.push('', `json: ${path}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
