import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { DataError } from '../src/errors.js';
import type { InteractionLog } from '../src/data/dataset.js';
import { detectFormat, readDataset } from '../src/data/readers/index.js';
import { ParquetRowWriter } from '../src/data/readers/parquet.js';

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'personae-parquet-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function rows(log: InteractionLog): string[] {
  return Array.from({ length: log.length }, (_, k) =>
    [log.users.id(log.user[k]!), log.items.id(log.item[k]!), log.rating ? log.rating[k] : '-', log.timestamp ? log.timestamp[k] : '-'].join(','),
  );
}

async function expectDataError(fn: () => Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(f)}`);
    return true;
  });
}

// string ids (a long one, non-ASCII, numeric-looking), ratings with halves, timestamps
const ROWS: [string, string, number, number][] = [
  ['u1', '10', 4.5, 964982703],
  ['u1', '20', 3, 964981247],
  ['user-with-a-long-id-42', '10', 5, 964982224],
  ['ünïcode', 'item "quoted", with comma', 0.5, 1e9],
  ['u2', '30', 4, 1700000000],
  ['u2', '10', 2.5, 1700000001],
  ['u1', '30', 1, 1],
];

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

describe('Parquet interactions', () => {
  test('a file written by ParquetRowWriter (several row groups) reads back equal to the CSV reader on the same rows', async () => {
    const pq = join(tmp, 'ratings.parquet');
    const w = new ParquetRowWriter(pq, [
      { name: 'userId', type: 'STRING' },
      { name: 'movieId', type: 'STRING' },
      { name: 'rating', type: 'DOUBLE' },
      { name: 'timestamp', type: 'DOUBLE' },
    ], 3);
    for (const r of ROWS) w.add(r);
    assert.ok(w.finish() > 0);
    const csv = join(tmp, 'ratings.csv');
    await writeFile(csv, `userId,movieId,rating,timestamp\n${ROWS.map((r) => r.map((v) => csvField(String(v))).join(',')).join('\n')}\n`);
    assert.equal(await detectFormat(pq), 'parquet');
    const a = await readDataset(pq);
    const b = await readDataset(csv);
    assert.deepEqual(rows(a), rows(b));
    assert.deepEqual(a.users.toArray(), b.users.toArray());
    assert.deepEqual(a.items.toArray(), b.items.toArray());
    assert.equal(a.length, ROWS.length);
    assert.equal(rows(a)[3], 'ünïcode,item "quoted", with comma,0.5,1000000000');
  });

  test('INT64 ids and timestamps, TIMESTAMP columns and FLOAT ratings convert as the CSV reader would read them', async () => {
    const pq = join(tmp, 'typed.parquet');
    parquetWriteFile({
      filename: pq,
      columnData: [
        { name: 'user_id', data: new BigInt64Array([7n, 8n]), type: 'INT64' },
        { name: 'item_id', data: new Int32Array([100, 200]), type: 'INT32' },
        { name: 'rating', data: new Float32Array([4.5, 2]), type: 'FLOAT' },
        { name: 'time', data: [new Date(1_000_000_000_000), new Date(1_700_000_000_500)], type: 'TIMESTAMP' },
      ],
    });
    assert.deepEqual(rows(await readDataset(pq)), ['7,100,4.5,1000000000', '8,200,2,1700000000.5']);
  });

  test('number columns split over many pages and row groups read as the CSV reader reads the same rows', async () => {
    const n = 5000;
    const u = Int32Array.from({ length: n }, (_, k) => 1 + ((k * 7919) % 613));
    const i = Int32Array.from({ length: n }, (_, k) => 1 + ((k * 104729) % 2011));
    const r = Float64Array.from({ length: n }, (_, k) => 0.5 * (1 + (k % 10)));
    const t = BigInt64Array.from({ length: n }, (_, k) => BigInt(964_000_000 + k * 37));
    const pq = join(tmp, 'pages.parquet');
    parquetWriteFile({
      filename: pq,
      columnData: [
        { name: 'userId', data: u, type: 'INT32' },
        { name: 'movieId', data: i, type: 'INT32' },
        { name: 'rating', data: r, type: 'DOUBLE' },
        { name: 'timestamp', data: t, type: 'INT64' },
      ],
      rowGroupSize: 3000,
      pageSize: 1024,
    });
    const csv = join(tmp, 'pages.csv');
    await writeFile(csv, `userId,movieId,rating,timestamp\n${Array.from({ length: n }, (_, k) => `${u[k]},${i[k]},${r[k]},${t[k]}`).join('\n')}\n`);
    const a = await readDataset(pq);
    const b = await readDataset(csv);
    assert.equal(a.length, n);
    assert.deepEqual(rows(a), rows(b));
    assert.equal(rows(a)[4999], `${u[4999]},${i[4999]},${r[4999]},${964_000_000 + 4999 * 37}`);
  });

  test('implicit data: no rating column, every row a positive; named columns are used', async () => {
    const pq = join(tmp, 'implicit.parquet');
    parquetWriteFile({ filename: pq, columnData: [{ name: 'who', data: ['a', 'b'] }, { name: 'what', data: ['x', 'y'] }] });
    const log = await readDataset(pq, { columns: { user: 'who', item: 'what' } });
    assert.equal(log.rating, null);
    assert.equal(log.timestamp, null);
    assert.deepEqual(rows(log), ['a,x,-,-', 'b,y,-,-']);
  });

  test('a missing column names the file, the column and what the file has', async () => {
    const pq = join(tmp, 'noitem.parquet');
    parquetWriteFile({ filename: pq, columnData: [{ name: 'userId', data: ['a'] }, { name: 'rating', data: [4] }] });
    await expectDataError(() => readDataset(pq), pq, 'field "item"', 'no item column', '"movieId"', 'the file has: "userId", "rating"');
    await expectDataError(() => readDataset(pq, { columns: { user: 'userId', item: 'movie' } }), pq, 'field "movie"', 'missing column "movie"');
  });

  test('a null rating or id names the file, the row and the column; --skip-bad-rows counts it', async () => {
    const pq = join(tmp, 'nulls.parquet');
    parquetWriteFile({
      filename: pq,
      columnData: [
        { name: 'userId', data: ['a', 'b', null] },
        { name: 'movieId', data: ['x', 'y', 'z'] },
        { name: 'rating', data: [4, null, 3], type: 'DOUBLE' },
      ],
    });
    await expectDataError(() => readDataset(pq), pq, 'field "rating"', 'row 2', 'not a finite number');
    const log = await readDataset(pq, { skipBadRows: true });
    assert.equal(log.length, 1);
    assert.equal(log.skipped.count, 2);
    assert.ok(log.skipped.examples[1]!.includes('row 3') && log.skipped.examples[1]!.includes('field "userId"'));
  });

  test('a file that is not Parquet names the file', async () => {
    const pq = join(tmp, 'fake.parquet');
    await writeFile(pq, 'userId,movieId\n1,2\n');
    await expectDataError(() => readDataset(pq), pq, 'not a readable Parquet file');
  });

  test('a Parquet item file adds categories (a list or a "|" string) and titles', async () => {
    const pq = join(tmp, 'r.parquet');
    parquetWriteFile({ filename: pq, columnData: [{ name: 'user', data: ['a', 'a'] }, { name: 'item', data: ['x', 'y'] }] });
    const items = join(tmp, 'items.parquet');
    parquetWriteFile({
      filename: items,
      columnData: [
        { name: 'item', data: ['x', 'y', 'z'] },
        { name: 'genres', data: ['Drama|Comedy', 'Horror', ''] },
        { name: 'title', data: ['X (1999)', 'Y', 'Z'] },
      ],
    });
    const log = await readDataset(pq, { categories: items });
    const cats = log.categories!;
    const of = (id: string): string[] => {
      const i = log.items.lookup(id);
      return Array.from(cats.idx.subarray(cats.ptr[i]!, cats.ptr[i + 1]!), (g) => cats.names[g]!);
    };
    assert.deepEqual(of('x'), ['Drama', 'Comedy']);
    assert.deepEqual(of('y'), ['Horror']);
    assert.deepEqual(of('z'), ['(none)']);
    assert.equal(log.titles?.[log.items.lookup('x')], 'X (1999)');
    const noCats = join(tmp, 'nocats.parquet');
    parquetWriteFile({ filename: noCats, columnData: [{ name: 'item', data: ['x'] }] });
    await expectDataError(() => readDataset(pq, { categories: noCats }), noCats, 'field "categories"');
  });
});
