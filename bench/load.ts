/**
 * Load benchmark: scales ml-latest-small to a large interaction CSV (each copy gets new user ids,
 * timestamps kept), then reads it with the project's reader in a child process and reports rows/s
 * and the child's peak RSS. Run: `node --import tsx bench/load.ts [--rows 20000000]`.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ML = fileURLToPath(new URL('../../shared/data/ml-latest-small/ratings.csv', import.meta.url));

export interface LoadBenchResult {
  rows: number;
  fileBytes: number;
  seconds: number;
  rowsPerSecond: number;
  peakRssMB: number;
  users: number;
  items: number;
}

async function makeScaledCsv(rows: number, path: string): Promise<void> {
  if (existsSync(path)) return;
  const lines = readFileSync(ML, 'utf8').split('\r\n').slice(1).filter(Boolean);
  const parsed = lines.map((l) => l.split(','));
  const out = createWriteStream(path);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('userId,movieId,rating,timestamp\n');
  let written = 0;
  for (let copy = 0; written < rows; copy++) {
    let chunk = '';
    for (const [u, i, r, t] of parsed) {
      if (written >= rows) break;
      chunk += `${Number(u) + copy * 1000},${i},${r},${t}\n`;
      written++;
    }
    await write(chunk);
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/** The child: read the file, print JSON with the timing and peak RSS. */
async function child(path: string): Promise<void> {
  const { readDataset } = await import('../src/data/readers/index.js');
  const t0 = performance.now();
  const log = await readDataset(path, { format: 'csv' });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ rows: log.length, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024, users: log.users.size, items: log.items.size }));
}

export async function benchLoad(rows = 20_000_000): Promise<LoadBenchResult> {
  const dir = join(tmpdir(), 'personae-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `ratings-${rows}.csv`);
  await makeScaledCsv(rows, path);
  const self = fileURLToPath(import.meta.url);
  const res = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', path], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (res.status !== 0) throw new Error(`load child failed: ${res.stderr}`);
  const r = JSON.parse(res.stdout) as Omit<LoadBenchResult, 'fileBytes' | 'rowsPerSecond'>;
  return { ...r, fileBytes: statSync(path).size, rowsPerSecond: r.rows / r.seconds };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') await child(args[1]!);
  else {
    const rowsFlag = args.indexOf('--rows');
    const rows = rowsFlag >= 0 ? Number(args[rowsFlag + 1]) : 20_000_000;
    console.log(await benchLoad(rows));
  }
}
