/**
 * Load benchmark: scales ml-latest-small to a large interaction CSV (each copy gets new user ids,
 * timestamps kept) and writes the same rows as Parquet (hyparquet-writer, streamed: one row group
 * of 1M rows in memory at a time; integer ids and timestamps, double ratings, snappy), then reads
 * each with the project's reader in its own child process and reports rows/s and that child's
 * peak RSS. Run: `node --import tsx bench/load.ts [--rows 20000000]` (the files are kept in
 * $TMPDIR/personae-bench and reused).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ML = fileURLToPath(new URL('../../shared/data/ml-latest-small/ratings.csv', import.meta.url));

export interface LoadBenchResult {
  format: 'csv' | 'parquet';
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

/** Rows per Parquet row group. */
const ROW_GROUP = 1_000_000;

/** The CSV's rows as Parquet, streamed: the CSV is read line by line and one row group is held at a time. */
async function makeParquet(csv: string, path: string): Promise<void> {
  if (existsSync(path)) return;
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const bytes = new ByteWriter();
  const writer = new ParquetWriter({
    writer: bytes,
    schema: [
      { name: 'root', num_children: 4 },
      { name: 'userId', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'movieId', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'rating', type: 'DOUBLE', repetition_type: 'REQUIRED' },
      { name: 'timestamp', type: 'INT64', repetition_type: 'REQUIRED' },
    ],
    createdBy: 'personae bench/load.ts',
  });
  const drain = (): void => {
    const chunk = new Uint8Array(bytes.buffer, 0, bytes.index);
    for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
    bytes.index = 0;
  };
  const u = new Int32Array(ROW_GROUP);
  const i = new Int32Array(ROW_GROUP);
  const r = new Float64Array(ROW_GROUP);
  const t = new BigInt64Array(ROW_GROUP);
  let n = 0;
  const flush = (): void => {
    if (n === 0) return;
    writer.write({
      columnData: [
        { name: 'userId', data: u.subarray(0, n) },
        { name: 'movieId', data: i.subarray(0, n) },
        { name: 'rating', data: r.subarray(0, n) },
        { name: 'timestamp', data: t.subarray(0, n) },
      ],
      rowGroupSize: n,
    });
    drain();
    n = 0;
  };
  let header = true;
  for await (const line of createInterface({ input: createReadStream(csv), crlfDelay: Infinity })) {
    if (header || line.length === 0) {
      header = false;
      continue;
    }
    const [a, b, c, d] = line.split(',');
    u[n] = Number(a);
    i[n] = Number(b);
    r[n] = Number(c);
    t[n] = BigInt(d!);
    if (++n === ROW_GROUP) flush();
  }
  flush();
  writer.finish();
  drain();
  closeSync(fd);
  renameSync(tmp, path);
}

/** The child: read the file, print JSON with the timing and peak RSS. */
async function child(path: string): Promise<void> {
  const { readDataset } = await import('../src/data/readers/index.js');
  const t0 = performance.now();
  const log = await readDataset(path, { format: path.endsWith('.parquet') ? 'parquet' : 'csv' });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ rows: log.length, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024, users: log.users.size, items: log.items.size }));
}

/** Reads `path` in a fresh child process. */
function readInChild(path: string, format: LoadBenchResult['format']): LoadBenchResult {
  const self = fileURLToPath(import.meta.url);
  const res = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', path], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (res.status !== 0) throw new Error(`load child failed on ${path}: ${res.stderr}`);
  const r = JSON.parse(res.stdout) as Omit<LoadBenchResult, 'format' | 'fileBytes' | 'rowsPerSecond'>;
  return { format, ...r, fileBytes: statSync(path).size, rowsPerSecond: r.rows / r.seconds };
}

/** The CSV of `rows` rows and the same rows as Parquet, each read by the project's reader in its own process. */
export async function benchLoad(rows = 20_000_000): Promise<LoadBenchResult[]> {
  const dir = join(tmpdir(), 'personae-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `ratings-${rows}.csv`);
  await makeScaledCsv(rows, path);
  const parquet = join(dir, `ratings-${rows}.parquet`);
  await makeParquet(path, parquet);
  return [readInChild(path, 'csv'), readInChild(parquet, 'parquet')];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') await child(args[1]!);
  else {
    const rowsFlag = args.indexOf('--rows');
    const rows = rowsFlag >= 0 ? Number(args[rowsFlag + 1]) : 20_000_000;
    const results = await benchLoad(rows);
    console.log(results);
    const [csv, pq] = results as [LoadBenchResult, LoadBenchResult];
    if (csv.rows !== pq.rows || csv.users !== pq.users || csv.items !== pq.items) throw new Error('the CSV and the Parquet file did not read to the same log size');
  }
}
