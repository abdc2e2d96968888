/**
 * Saving and reloading a split: `personae split --out DIR` writes the pairs of each part as CSV with
 * original IDs, plus split.json (protocol, statistics, hashes). Reloading re-reads the dataset for
 * IDs and categories, rebuilds the parts from the files and checks the hashes, so an edited or
 * mismatched split is refused rather than silently evaluated.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InteractionLog } from './dataset.js';
import { DataError } from '../errors.js';
import { assembleSplit, PROTOCOLS, type Pairs, type ProtocolName, type Split, type SplitStats } from './split.js';

export interface SplitManifest {
  format: 'personae-split';
  version: 1;
  protocol: ProtocolName;
  minRating: number;
  seed: number;
  dataset: string;
  stats: SplitStats;
}

const PART_FILES = { train: 'train.csv', test: 'test.csv', history: 'history.csv' } as const;

function pairsCsv(p: Pairs, log: InteractionLog): string {
  const lines = ['user,item,timestamp'];
  for (let k = 0; k < p.user.length; k++) lines.push(`${log.users.id(p.user[k]!)},${log.items.id(p.item[k]!)},${p.time[k]}`);
  return `${lines.join('\n')}\n`;
}

export function saveSplit(split: Split, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, PART_FILES.train), pairsCsv(split.trainPairs, split.log));
  writeFileSync(join(dir, PART_FILES.test), pairsCsv(split.testPairs, split.log));
  writeFileSync(join(dir, PART_FILES.history), pairsCsv(split.historyPairs, split.log));
  const manifest: SplitManifest = {
    format: 'personae-split',
    version: 1,
    protocol: split.protocol,
    minRating: split.minRating,
    seed: split.seed,
    dataset: split.log.name,
    stats: split.stats,
  };
  writeFileSync(join(dir, 'split.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

function readPairs(path: string, log: InteractionLog): Pairs {
  const user: number[] = [];
  const item: number[] = [];
  const time: number[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line === '') continue;
    const [u, i, t] = line.split(',');
    const ui = log.users.lookup(u ?? '');
    const ii = log.items.lookup(i ?? '');
    if (ui < 0) throw new DataError(`user "${u}" is not in the dataset: the split was made from other data`, { file: path, line: n + 1, field: 'user' });
    if (ii < 0) throw new DataError(`item "${i}" is not in the dataset: the split was made from other data`, { file: path, line: n + 1, field: 'item' });
    const tv = Number(t);
    if (!Number.isFinite(tv)) throw new DataError(`timestamp "${t}" is not a number`, { file: path, line: n + 1, field: 'timestamp' });
    user.push(ui);
    item.push(ii);
    time.push(tv);
  }
  return { user: Int32Array.from(user), item: Int32Array.from(item), time: Float64Array.from(time) };
}

export function loadSplit(dir: string, log: InteractionLog): Split {
  const manifestPath = join(dir, 'split.json');
  if (!existsSync(manifestPath)) throw new DataError('not a saved split (split.json is missing); create one with `personae split --out DIR`', { file: dir });
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as SplitManifest;
  if (manifest.format !== 'personae-split' || !PROTOCOLS.includes(manifest.protocol)) {
    throw new DataError('split.json is not a personae split manifest', { file: manifestPath, field: 'format' });
  }
  const parts = {
    train: readPairs(join(dir, PART_FILES.train), log),
    test: readPairs(join(dir, PART_FILES.test), log),
    history: readPairs(join(dir, PART_FILES.history), log),
  };
  const split = assembleSplit(
    log,
    { protocol: manifest.protocol, minRating: manifest.minRating, seed: manifest.seed, positives: manifest.stats.positives, positiveUsers: manifest.stats.positiveUsers },
    parts,
  );
  for (const key of ['trainPairsSha256', 'testPairsSha256', 'splitHash'] as const) {
    if (split.stats[key] !== manifest.stats[key]) {
      throw new DataError(`${key} of the files (${split.stats[key]}) differs from split.json (${manifest.stats[key]}): the split files were changed`, { file: manifestPath, field: `stats.${key}` });
    }
  }
  return split;
}
