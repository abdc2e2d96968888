// Which Parquet library personae uses: the same interaction rows (user and item ids as strings, a
// double rating, an int64 timestamp) written once with hyparquet-writer (snappy), then read into JS
// columns by each candidate; every reader is run in a fresh process. Run in a scratch project:
//   npm install hyparquet hyparquet-writer parquet-wasm apache-arrow @duckdb/node-api
//   node parquet-libraries.mjs <ratings.csv> [rows, 0 = the file's rows]
// Installed sizes: du -sh node_modules/<package> (with each package's own dependencies).
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [, self, csvPath, rowsArg, mode] = process.argv;
const rowsWanted = Number(rowsArg ?? 0);
const file = `/tmp/parquet-libraries-${rowsWanted}.parquet`;

async function write() {
  const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
  const lines = readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const n = rowsWanted > 0 ? rowsWanted : lines.length;
  const w = new ParquetWriter({
    writer: fileWriter(file),
    schema: [
      { name: 'root', num_children: 4 },
      { name: 'userId', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'movieId', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'rating', type: 'DOUBLE', repetition_type: 'REQUIRED' },
      { name: 'timestamp', type: 'INT64', repetition_type: 'REQUIRED' },
    ],
  });
  for (let at = 0; at < n; at += 1_000_000) {
    const m = Math.min(n, at + 1_000_000) - at;
    const u = [], i = [], r = new Float64Array(m), t = new BigInt64Array(m);
    for (let k = 0; k < m; k++) {
      const row = lines[(at + k) % lines.length];
      const rep = Math.floor((at + k) / lines.length);
      u.push(rep ? `${row[0]}-${rep}` : row[0]);
      i.push(row[1]);
      r[k] = Number(row[2]);
      t[k] = BigInt(row[3]);
    }
    w.write({ columnData: [{ name: 'userId', data: u }, { name: 'movieId', data: i }, { name: 'rating', data: r }, { name: 'timestamp', data: t }], rowGroupSize: 1_000_000 });
  }
  w.finish();
}

async function read(lib) {
  const t0 = performance.now();
  let rows = 0;
  if (lib === 'hyparquet') {
    const { parquetRead, parquetMetadataAsync, asyncBufferFromFile } = await import('hyparquet');
    const buf = await asyncBufferFromFile(file);
    const meta = await parquetMetadataAsync(buf);
    let start = 0;
    for (const g of meta.row_groups) {
      const end = start + Number(g.num_rows);
      await parquetRead({ file: buf, metadata: meta, rowStart: start, rowEnd: end, columns: ['userId', 'movieId', 'rating', 'timestamp'], onChunk: (c) => { if (c.columnName === 'userId') rows += c.columnData.length; } });
      start = end;
    }
  } else if (lib === 'parquet-wasm') {
    const pw = await import('parquet-wasm');
    const arrow = await import('apache-arrow');
    const table = arrow.tableFromIPC(pw.readParquet(readFileSync(file)).intoIPCStream());
    const u = table.getChild('userId');
    for (let k = 0; k < u.length; k++) u.get(k);
    table.getChild('movieId').toArray();
    table.getChild('rating').toArray();
    table.getChild('timestamp').toArray();
    rows = table.numRows;
  } else {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const result = await con.stream(`SELECT userId, movieId, rating, timestamp FROM read_parquet('${file}')`);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      chunk.getColumns();
      rows += chunk.rowCount;
    }
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ lib, rows, seconds: +(ms / 1000).toFixed(3), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

if (mode) await read(mode);
else {
  if (!existsSync(file)) await write();
  for (const lib of ['hyparquet', 'parquet-wasm', 'duckdb']) {
    try {
      execFileSync(process.execPath, [self, csvPath, String(rowsWanted), lib], { stdio: 'inherit' });
    } catch (e) {
      console.log(JSON.stringify({ lib, error: String(e.message).split('\n')[0] }));
    }
  }
}
