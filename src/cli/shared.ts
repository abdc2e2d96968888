/** Options shared by the commands that read a dataset and split it, and their parsing. */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { InteractionLog } from '../data/dataset.js';
import { DATASET_FORMATS, readDataset, type DatasetFormat } from '../data/readers/index.js';
import { makeSplit, PROTOCOLS, type ProtocolName, type Split } from '../data/split.js';
import { loadSplit } from '../data/split-io.js';
import { attachSocialFile } from '../data/social.js';
import type { ProgressSink } from './progress.js';

export interface DataFlags {
  data: string;
  format: DatasetFormat;
  protocol: ProtocolName;
  minRating: number;
  seed: number;
  skipBadRows?: boolean;
  categories?: string;
  userCol?: string;
  itemCol?: string;
  ratingCol?: string;
  timeCol?: string;
  delimiter?: string;
  split?: string;
  /** Social edges (`evaluate --social FILE`), attached to the split's TrainSet by splitFor. */
  social?: string;
}

export function parseNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`expected a number, got "${value}"`, flag);
    return n;
  };
}

export function parseInteger(flag: string, min = 0) {
  return (value: string): number => {
    const n = parseNumber(flag)(value);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`expected an integer >= ${min}, got "${value}"`, flag);
    return n;
  };
}

export function parseKs(value: string): number[] {
  const ks = value.split(',').map((s) => parseInteger('--k', 1)(s.trim()));
  if (ks.length === 0) throw new ConfigError('give at least one cut-off, e.g. 10,20', '--k');
  return [...new Set(ks)].sort((a, b) => a - b);
}

/** Adds --data, --format, --protocol, --min-rating, --seed and the reader flags to a command. */
export function addDataOptions(cmd: Command, opts: { requireData?: boolean } = {}): Command {
  const data = new Option('--data <path>', 'a dataset folder (format detected) or file');
  if (opts.requireData !== false) data.makeOptionMandatory();
  return cmd
    .addOption(data)
    .addOption(new Option('--format <format>', 'dataset format').choices(DATASET_FORMATS as string[]).default('auto'))
    .addOption(new Option('--protocol <name>', 'evaluation protocol').choices(PROTOCOLS as unknown as string[]).default('temporal-user'))
    .option('--min-rating <r>', 'ratings >= r are positives (explicit data)', parseNumber('--min-rating'), 4)
    .option('--seed <n>', 'root seed of every random stream', parseInteger('--seed'), 42)
    .option('--skip-bad-rows', 'count and report malformed rows instead of stopping at the first')
    .option('--categories <file>', 'item-category file for csv/jsonl data (item, categories separated by |)')
    .option('--user-col <name>', 'user column (csv/jsonl)')
    .option('--item-col <name>', 'item column (csv/jsonl)')
    .option('--rating-col <name>', 'rating column (csv/jsonl)')
    .option('--time-col <name>', 'timestamp column (csv/jsonl)')
    .option('--delimiter <d>', 'field delimiter of a csv file (e.g. tab)');
}

export async function loadLog(flags: DataFlags, progress: ProgressSink): Promise<InteractionLog> {
  if (!existsSync(flags.data)) throw new ConfigError(`no such file or folder: ${flags.data}`, '--data');
  const columns = {
    ...(flags.userCol ? { user: flags.userCol } : {}),
    ...(flags.itemCol ? { item: flags.itemCol } : {}),
    ...(flags.ratingCol ? { rating: flags.ratingCol } : {}),
    ...(flags.timeCol ? { timestamp: flags.timeCol } : {}),
  };
  const log = await readDataset(flags.data, {
    format: flags.format,
    skipBadRows: flags.skipBadRows ?? false,
    columns,
    ...(flags.categories ? { categories: flags.categories } : {}),
    ...(flags.delimiter ? { delimiter: flags.delimiter } : {}),
    onProgress: (read, total) => progress.update('reading', Math.round(read / 1e6), Math.max(1, Math.round(total / 1e6)), 'MB'),
  });
  progress.log(`read ${log.length} rows: ${log.users.size} users, ${log.items.size} items${log.categories ? `, ${log.categories.names.length} categories` : ', no categories'}`);
  if (log.skipped.count > 0) progress.log(`skipped ${log.skipped.count} bad rows, e.g. ${log.skipped.examples[0]}`);
  return log;
}

export function splitFor(log: InteractionLog, flags: DataFlags): Split {
  const split = flags.split ? loadSplit(flags.split, log) : makeSplit(log, { protocol: flags.protocol, minRating: flags.minRating, seed: flags.seed });
  return flags.social ? attachSocialFile(split, flags.social) : split;
}

export function describeSplit(split: Split): string {
  const s = split.stats;
  return [
    `split ${split.protocol} (min rating ${split.minRating}): ${s.positives} positives from ${s.positiveUsers} users`,
    `  train users ${s.trainUsers}, candidates ${s.candidates}, train positives ${s.trainPositives}`,
    `  test users ${s.testUsers}, test positives ${s.testPositives} (${s.testNotCandidates} not candidates)`,
    `  split hash ${s.splitHash}, train pairs sha256 ${s.trainPairsSha256}, test pairs sha256 ${s.testPairsSha256}`,
  ].join('\n');
}
