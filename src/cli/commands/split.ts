/** `personae split`: make a split and save it so that `evaluate --split DIR` reuses it exactly. */
import { Command } from 'commander';
import { saveSplit } from '../../data/split-io.js';
import { createProgress } from '../progress.js';
import { addDataOptions, describeSplit, loadLog, splitFor, type DataFlags } from '../shared.js';

export function splitCommand(): Command {
  const cmd = new Command('split').description('split a dataset under a protocol, print its statistics and hash, and save it');
  addDataOptions(cmd)
    .requiredOption('--out <dir>', 'folder to write train.csv, test.csv, history.csv and split.json')
    .option('--quiet', 'no progress output')
    .action(async (flags: DataFlags & { out: string; quiet?: boolean }) => {
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const log = await loadLog(flags, progress);
      const split = splitFor(log, flags);
      saveSplit(split, flags.out);
      process.stdout.write(`${describeSplit(split)}\nsaved to ${flags.out}\n`);
    });
  return cmd;
}
