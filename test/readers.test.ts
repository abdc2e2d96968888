import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../src/errors.js';
import type { InteractionLog } from '../src/data/dataset.js';
import { detectFormat, readDataset } from '../src/data/readers/index.js';
import {
  forEachLine,
  forEachRow,
  parseIsoDate,
  parseLine,
  parseTimestamp,
  splitFields,
} from '../src/data/readers/csv-parse.js';

const ML_SMALL = fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'personae-readers-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes `files` (name -> text, or bytes) into a fresh folder under the temp dir. */
async function fixture(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

const crlf = (s: string): string => s.replace(/\n/g, '\r\n');

/** The log as plain rows, for comparisons independent of index order. */
function rows(log: InteractionLog): string[] {
  const out: string[] = [];
  for (let k = 0; k < log.length; k++) {
    out.push(
      [
        log.users.id(log.user[k]!),
        log.items.id(log.item[k]!),
        log.rating ? log.rating[k] : '-',
        log.timestamp ? log.timestamp[k] : '-',
      ].join(','),
    );
  }
  return out;
}

function categoriesOfId(log: InteractionLog, id: string): string[] {
  const cats = log.categories;
  assert.ok(cats, 'the log has categories');
  const i = log.items.lookup(id);
  assert.ok(i >= 0, `item ${id} is known`);
  const out: string[] = [];
  for (let k = cats.ptr[i]!; k < cats.ptr[i + 1]!; k++) out.push(cats.names[cats.idx[k]!]!);
  return out;
}

function titleOf(log: InteractionLog, id: string): string | undefined {
  return log.titles?.[log.items.lookup(id)];
}

/** Runs `fn`, expects a DataError, and checks that its message contains every fragment. */
async function expectDataError(fn: () => Promise<unknown>, ...fragments: string[]): Promise<DataError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(f)}`);
    return err;
  }
  assert.fail('expected a DataError');
}

// ---------------------------------------------------------------------------------------------

describe('csv-parse', () => {
  test('splitFields handles quotes, "" escapes, empty fields and multi-char delimiters', () => {
    assert.deepEqual(parseLine('11,"American President, The (1995)",Comedy|Drama|Romance'), [
      '11',
      'American President, The (1995)',
      'Comedy|Drama|Romance',
    ]);
    assert.deepEqual(parseLine('7789,"11\'09""01 - September 11 (2002)",Drama'), ['7789', '11\'09"01 - September 11 (2002)', 'Drama']);
    assert.deepEqual(parseLine('a,,b,'), ['a', '', 'b', '']);
    assert.deepEqual(parseLine('""'), ['']);
    assert.deepEqual(parseLine('"x",""'), ['x', '']);
    assert.deepEqual(parseLine('ab"c,d'), ['ab"c', 'd']);
    assert.deepEqual(parseLine('1::Toy Story (1995)::Animation|Comedy', '::', false), ['1', 'Toy Story (1995)', 'Animation|Comedy']);
    assert.deepEqual(parseLine('1\t2\t3', '\t'), ['1', '2', '3']);
    assert.deepEqual(parseLine('"a\tb"\tc', '\t'), ['a\tb', 'c']);
    assert.equal(splitFields('"unterminated,x', ',', []), -1);
    assert.equal(splitFields('"a"b,c', ',', []), -1);
  });

  test('timestamps: numbers as is, ISO dates as UTC seconds, garbage as NaN', () => {
    assert.equal(parseTimestamp('964982703'), 964982703);
    assert.equal(parseTimestamp('1.5'), 1.5);
    assert.equal(parseTimestamp('2020-01-01'), 1577836800);
    assert.equal(parseTimestamp('2020-01-01T00:00:10Z'), 1577836810);
    assert.equal(parseTimestamp('2020-01-01 00:00:10'), 1577836810);
    assert.equal(parseTimestamp('2020-01-01T01:00:00+01:00'), 1577836800);
    assert.equal(parseTimestamp('2020-01-01T00:00:00.250Z'), 1577836800.25);
    assert.ok(Number.isNaN(parseTimestamp('yesterday')));
    assert.ok(Number.isNaN(parseTimestamp('')));
    assert.ok(Number.isNaN(parseIsoDate('2021-02-30')));
    assert.ok(Number.isNaN(parseTimestamp('Infinity')));
  });

  test('rows are identical for any chunk size, CRLF or LF, with multi-byte UTF-8 split across chunks', async () => {
    const text = 'id,title,x\n1,"Amélie, Le fabuleux destin",é|ü\n\n2,Plain,"q""uote"\n3,Ünïcödé ☃,last';
    const dir = await fixture('chunks', { 'lf.csv': text, 'crlf.csv': crlf(text) + '\r\n' });
    const collect = async (file: string, highWaterMark: number) => {
      const out: string[] = [];
      await forEachRow(join(dir, file), (f, count, line) => void out.push(`${line}:${f.slice(0, count).join('|')}`), { highWaterMark });
      return out;
    };
    const reference = await collect('lf.csv', 1 << 20);
    assert.deepEqual(reference, [
      '1:id|title|x',
      '2:1|Amélie, Le fabuleux destin|é|ü',
      '4:2|Plain|q"uote',
      '5:3|Ünïcödé ☃|last',
    ]);
    for (const hwm of [1, 2, 3, 5, 7, 64]) {
      assert.deepEqual(await collect('lf.csv', hwm), reference, `LF, chunk ${hwm}`);
      assert.deepEqual(await collect('crlf.csv', hwm), reference, `CRLF, chunk ${hwm}`);
    }
    const lines: string[] = [];
    const n = await forEachLine(join(dir, 'crlf.csv'), (line) => void lines.push(line), { highWaterMark: 3 });
    assert.equal(n, 5);
    assert.deepEqual(lines, text.split('\n'));
  });

  test('a multi-character delimiter split across chunks', async () => {
    const dir = await fixture('dcolon', { 'r.dat': '1::10::5::978300760\n2::20::3::978302109\n' });
    for (const hwm of [1, 3, 4, 1024]) {
      const out: string[] = [];
      await forEachRow(join(dir, 'r.dat'), (f, c) => void out.push(f.slice(0, c).join(',')), { delimiter: '::', quotes: false, highWaterMark: hwm });
      assert.deepEqual(out, ['1,10,5,978300760', '2,20,3,978302109']);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('MovieLens ml-latest-small (real data)', () => {
  test('loads every row, user, item, title and genre', async (t) => {
    const t0 = performance.now();
    const log = await readDataset(ML_SMALL);
    const ms = performance.now() - t0;
    // Timing is informative only (the machine may be busy); the budget is "well under 1 s".
    t.diagnostic(`ml-latest-small loaded in ${ms.toFixed(0)} ms`);
    assert.equal(log.name, 'ml-latest-small');
    assert.equal(log.length, 100836);
    assert.equal(log.users.size, 610);
    assert.equal(new Set(log.item).size, 9724);
    assert.equal(log.items.size, 9742);
    assert.ok(log.rating && log.timestamp);
    assert.equal(log.users.id(log.user[0]!), '1');
    assert.equal(log.items.id(log.item[0]!), '1');
    assert.equal(log.rating[0], 4);
    assert.equal(log.timestamp[0], 964982703);
    const last = log.length - 1;
    assert.equal(log.users.id(log.user[last]!), '610');
    assert.equal(log.items.id(log.item[last]!), '170875');
    assert.equal(log.rating[last], 3);
    assert.equal(log.timestamp[last], 1493846415);
    let min = Infinity;
    let max = -Infinity;
    for (const t of log.timestamp) {
      min = Math.min(min, t);
      max = Math.max(max, t);
    }
    assert.equal(min, 828124615);
    assert.equal(max, 1537799250);
    assert.equal(log.skipped.count, 0);

    const cats = log.categories;
    assert.ok(cats);
    assert.equal(cats.ptr.length, 9743);
    assert.equal(cats.names.length, 20);
    assert.ok(cats.names.includes('(no genres listed)'));
    assert.ok(!cats.names.includes('(none)'));
    assert.equal(titleOf(log, '11'), 'American President, The (1995)');
    assert.deepEqual(categoriesOfId(log, '11'), ['Comedy', 'Drama', 'Romance']);
    assert.equal(titleOf(log, '7789'), '11\'09"01 - September 11 (2002)');
    assert.equal(titleOf(log, '1'), 'Toy Story (1995)');
    assert.deepEqual(categoriesOfId(log, '1'), ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']);
    let noGenres = 0;
    for (let i = 0; i < log.items.size; i++) {
      const g = cats.idx.subarray(cats.ptr[i]!, cats.ptr[i + 1]!);
      if (g.length === 1 && cats.names[g[0]!] === '(no genres listed)') noGenres++;
    }
    assert.equal(noGenres, 34);
  });

  test('progress reaches the total size of ratings.csv + movies.csv', async () => {
    const seen: [number, number][] = [];
    await readDataset(ML_SMALL, { onProgress: (b, t) => void seen.push([b, t]) });
    assert.ok(seen.length >= 2);
    const total = 2483723 + 494431;
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0], 'monotone');
    assert.deepEqual(seen.at(-1), [total, total]);
  });
});

// ---------------------------------------------------------------------------------------------

const RATINGS = `userId,movieId,rating,timestamp
1,1,4.0,964982703
1,3,4.0,964981247
2,11,3.5,1445714835
2,7789,5,1445714900
3,1,0.5,1306463578
`;
const MOVIES = `movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
3,Grumpier Old Men (1995),Comedy|Romance
11,"American President, The (1995)",Comedy|Drama|Romance
7789,"11'09""01 - September 11 (2002)",Drama
99,Unrated Movie (2001),(no genres listed)
`;

describe('MovieLens fixtures', () => {
  test('CRLF and LF files give identical logs', async () => {
    const lf = await fixture('ml-lf', { 'ratings.csv': RATINGS, 'movies.csv': MOVIES });
    const cr = await fixture('ml-crlf', { 'ratings.csv': crlf(RATINGS), 'movies.csv': crlf(MOVIES) });
    const noEol = await fixture('ml-noeol', { 'ratings.csv': crlf(RATINGS).trimEnd(), 'movies.csv': MOVIES.trimEnd() });
    const a = await readDataset(lf);
    const b = await readDataset(cr, { format: 'movielens' });
    const c = await readDataset(noEol);
    for (const other of [b, c]) {
      assert.deepEqual(rows(other), rows(a));
      assert.deepEqual(other.titles, a.titles);
      assert.deepEqual(other.categories, a.categories);
      assert.deepEqual(other.items.toArray(), a.items.toArray());
    }
    assert.equal(a.length, 5);
    assert.deepEqual(a.items.toArray(), ['1', '3', '11', '7789', '99']);
    assert.equal(titleOf(a, '11'), 'American President, The (1995)');
    assert.equal(titleOf(a, '7789'), '11\'09"01 - September 11 (2002)');
    assert.deepEqual(categoriesOfId(a, '99'), ['(no genres listed)']);
    assert.deepEqual(rows(a).slice(2), ['2,11,3.5,1445714835', '2,7789,5,1445714900', '3,1,0.5,1306463578']);
  });

  test('ml-100k: tab-separated u.data, Latin-1 u.item with genre flags, u.genre', async () => {
    const genres = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
    const flags = (...on: string[]) => genres.map((g) => (on.includes(g) ? '1' : '0')).join('|');
    const uItem = [
      `1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|${flags('Animation', "Children's", 'Comedy')}`,
      `2|Amélie (2001)|01-Jan-2001||http://example.org/|${flags('Comedy', 'Romance')}`,
      `3|unknown||||${flags()}`,
    ].join('\n');
    const dir = await fixture('ml-100k', {
      'u.data': '196\t1\t3\t881250949\n186\t2\t3\t891717742\n22\t1\t1\t878887116\n',
      'u.item': Buffer.from(uItem + '\n', 'latin1'),
      'u.genre': genres.map((g, i) => `${g}|${i}`).join('\n') + '\n\n',
    });
    assert.equal(await detectFormat(dir), 'ml-100k');
    const log = await readDataset(dir);
    assert.equal(log.name, 'ml-100k');
    assert.deepEqual(rows(log), ['196,1,3,881250949', '186,2,3,891717742', '22,1,1,878887116']);
    assert.equal(titleOf(log, '2'), 'Amélie (2001)');
    assert.deepEqual(categoriesOfId(log, '1'), ['Animation', "Children's", 'Comedy']);
    assert.deepEqual(categoriesOfId(log, '2'), ['Comedy', 'Romance']);
    assert.deepEqual(categoriesOfId(log, '3'), ['(none)']);
    assert.equal(log.items.size, 3);
  });

  test('ml-1m: "::"-separated ratings.dat and Latin-1 movies.dat', async () => {
    const movies = '1::Toy Story (1995)::Animation|Children\'s|Comedy\n2::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n3::Star Wars: Episode IV - A New Hope (1977)::Action\n';
    const dir = await fixture('ml-1m', {
      'ratings.dat': '1::1::5::978300760\r\n1::2::3::978302109\r\n2::3::4::978301968\r\n',
      'movies.dat': Buffer.from(movies, 'latin1'),
      'users.dat': '1::F::1::10::48067\n',
    });
    const log = await readDataset(dir);
    assert.equal(log.name, 'ml-1m');
    assert.deepEqual(rows(log), ['1,1,5,978300760', '1,2,3,978302109', '2,3,4,978301968']);
    assert.equal(titleOf(log, '2'), 'Cité des enfants perdus, La (1995)');
    assert.equal(titleOf(log, '3'), 'Star Wars: Episode IV - A New Hope (1977)');
    assert.deepEqual(categoriesOfId(log, '2'), ['Adventure', 'Sci-Fi']);
    assert.deepEqual(log.categories?.names, ['Animation', "Children's", 'Comedy', 'Adventure', 'Sci-Fi', 'Action']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('generic CSV / TSV / JSONL', () => {
  test('CSV with custom column names and ISO timestamps', async () => {
    const dir = await fixture('generic-csv', {
      'events.csv': 'when,who,what,stars\n2020-01-01T00:00:00Z,alice,"book, red",4\n2020-01-02,bob,pen,2.5\n2020-01-01T01:00:00+01:00,alice,pen,1\n',
    });
    const log = await readDataset(join(dir, 'events.csv'), {
      columns: { user: 'who', item: 'what', rating: 'stars', timestamp: 'when' },
    });
    assert.equal(log.name, 'events.csv');
    assert.deepEqual(rows(log), ['alice,book, red,4,1577836800', 'bob,pen,2.5,1577923200', 'alice,pen,1,1577836800']);
  });

  test('TSV with default column names; no rating column means implicit data', async () => {
    const dir = await fixture('generic-tsv', { 'clicks.tsv': 'user_id\titem_id\tts\nu1\ti1\t100\nu2\ti1\t200\nu1\ti2\t300\n' });
    const log = await readDataset(join(dir, 'clicks.tsv'));
    assert.equal(log.rating, null);
    assert.deepEqual(rows(log), ['u1,i1,-,100', 'u2,i1,-,200', 'u1,i2,-,300']);
  });

  test('--format csv with an explicit delimiter and no timestamp', async () => {
    const dir = await fixture('generic-semicolon', { 'data.txt': 'User;Item;Rating\n1;2;3\n 4 ;5; 1\n' });
    const log = await readDataset(join(dir, 'data.txt'), { format: 'csv', delimiter: ';' });
    assert.equal(log.timestamp, null);
    assert.deepEqual(rows(log), ['1,2,3,-', '4,5,1,-']);
    const sniffed = await readDataset(join(dir, 'data.txt'), { format: 'csv' });
    assert.deepEqual(rows(sniffed), ['1,2,3,-', '4,5,1,-']);
  });

  test('JSONL with custom keys, numbers or strings as ids, ISO and numeric timestamps', async () => {
    const dir = await fixture('generic-jsonl', {
      'log.jsonl': [
        '{"uid": 7, "sku": "A-1", "score": 5, "at": "2021-06-01T12:00:00Z"}',
        '',
        '{"uid": "8", "sku": "B-2", "score": "3.5", "at": 1622548800}',
      ].join('\n'),
    });
    const log = await readDataset(join(dir, 'log.jsonl'), { columns: { user: 'uid', item: 'sku', rating: 'score', timestamp: 'at' } });
    assert.deepEqual(rows(log), ['7,A-1,5,1622548800', '8,B-2,3.5,1622548800']);
  });

  test('JSONL with default keys', async () => {
    const dir = await fixture('generic-jsonl2', { 'x.ndjson': '{"userId":1,"movieId":2,"rating":4,"time":"2000-01-01"}\n' });
    const log = await readDataset(join(dir, 'x.ndjson'));
    assert.deepEqual(rows(log), ['1,2,4,946684800']);
  });

  test('a categories file (CSV or JSONL) adds categories and titles, and may add unrated items', async () => {
    const dir = await fixture('generic-cats', {
      'r.csv': 'user,item\nu1,a\nu1,b\nu2,c\n',
      'cats.csv': 'item,categories,title\na,x|y,Item A\nb,,\nd,z,Item D\n',
      'cats.jsonl': '{"item":"a","categories":["x","y"]}\n{"item":"b","categories":[]}\n{"item":"d","categories":"z"}\n',
    });
    for (const file of ['cats.csv', 'cats.jsonl']) {
      const log = await readDataset(join(dir, 'r.csv'), { categories: join(dir, file) });
      assert.deepEqual(log.items.toArray(), ['a', 'b', 'c', 'd']);
      assert.deepEqual(categoriesOfId(log, 'a'), ['x', 'y']);
      assert.deepEqual(categoriesOfId(log, 'b'), ['(none)']);
      assert.deepEqual(categoriesOfId(log, 'c'), ['(none)']);
      assert.deepEqual(categoriesOfId(log, 'd'), ['z']);
      if (file === 'cats.csv') assert.equal(titleOf(log, 'a'), 'Item A');
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('bad input', () => {
  test('missing column in the header names file, line and column', async () => {
    const dir = await fixture('bad-header', { 'ratings.csv': 'userId,itemId,rating,timestamp\n1,2,3,4\n', 'movies.csv': MOVIES });
    const file = join(dir, 'ratings.csv');
    const err = await expectDataError(() => readDataset(dir), `${file}:1`, 'field "movieId"', 'missing column "movieId"', 'itemId');
    assert.deepEqual(err.place, { file, line: 1, field: 'movieId' });
    const generic = await fixture('bad-header2', { 'x.csv': 'a,b\n1,2\n' });
    await expectDataError(() => readDataset(join(generic, 'x.csv')), 'x.csv:1', 'no user column', '"userId"');
    await expectDataError(() => readDataset(join(generic, 'x.csv'), { columns: { user: 'a', item: 'b', rating: 'r' } }), 'x.csv:1', 'missing column "r"');
  });

  test('a non-numeric rating names file, line and field', async () => {
    const dir = await fixture('bad-rating', { 'ratings.csv': 'userId,movieId,rating,timestamp\n1,2,3,4\n1,3,good,5\n', 'movies.csv': MOVIES });
    const file = join(dir, 'ratings.csv');
    const err = await expectDataError(() => readDataset(dir), `${file}:3`, 'field "rating"', '"good"');
    assert.deepEqual(err.place, { file, line: 3, field: 'rating' });
  });

  test('a bad timestamp, infinite rating and empty id are rejected', async () => {
    const dir = await fixture('bad-values', { 'x.csv': 'user,item,rating,timestamp\n1,2,3,soon\n1,2,Infinity,4\n,2,3,4\n' });
    await expectDataError(() => readDataset(join(dir, 'x.csv')), 'x.csv:2', 'field "timestamp"', '"soon"');
    const log = await readDataset(join(dir, 'x.csv'), { skipBadRows: false, columns: {} }).catch((e: unknown) => e);
    assert.ok(log instanceof DataError);
    await expectDataError(() => readDataset(join(dir, 'x.csv'), { skipBadRows: true }), 'x.csv', 'no rows', '3');
  });

  test('an empty file and a header-only file have no rows', async () => {
    const dir = await fixture('bad-empty', { 'empty.csv': '', 'header.csv': 'user,item\r\n', 'blank.jsonl': '\n\n' });
    await expectDataError(() => readDataset(join(dir, 'empty.csv')), 'empty.csv', 'no rows');
    await expectDataError(() => readDataset(join(dir, 'header.csv')), 'header.csv', 'no rows');
    await expectDataError(() => readDataset(join(dir, 'blank.jsonl')), 'blank.jsonl', 'no rows');
    const ml = await fixture('bad-empty-ml', { 'ratings.csv': '', 'movies.csv': MOVIES });
    await expectDataError(() => readDataset(ml), join(ml, 'ratings.csv'), 'no rows');
  });

  test('a row with too few fields names the first missing field', async () => {
    const dir = await fixture('bad-short', { 'ratings.csv': 'userId,movieId,rating,timestamp\r\n1,2,3,4\r\n1,3,4\r\n', 'movies.csv': MOVIES });
    const err = await expectDataError(() => readDataset(dir), 'ratings.csv:3', 'expected 4 fields, found 3', 'field "timestamp"');
    assert.equal(err.place.line, 3);
    const dat = await fixture('bad-short-1m', { 'ratings.dat': '1::2::3::4\n1::2\n' });
    await expectDataError(() => readDataset(dat), 'ratings.dat:2', 'field "Rating"');
  });

  test('an unterminated quote is reported', async () => {
    const dir = await fixture('bad-quote', { 'x.csv': 'user,item\n1,"open\n' });
    await expectDataError(() => readDataset(join(dir, 'x.csv')), 'x.csv:2', 'quoted field');
  });

  test('an unknown folder layout lists what was expected and what was found', async () => {
    const dir = await fixture('bad-layout', { 'notes.txt': 'hi', 'data.parquet': 'x' });
    const err = await expectDataError(() => readDataset(dir), dir, 'ratings.csv', 'u.data', 'ratings.dat', 'found data.parquet, notes.txt');
    assert.equal(err.place.file, dir);
    await mkdir(join(dir, 'ml-latest-small'));
    await writeFile(join(dir, 'ml-latest-small', 'ratings.csv'), RATINGS);
    await expectDataError(() => readDataset(dir), 'did you mean', join(dir, 'ml-latest-small'));
    await expectDataError(() => readDataset(join(dir, 'notes.txt')), 'notes.txt', '.csv');
    await expectDataError(() => readDataset(join(dir, 'missing')), 'missing', 'no such file');
    await expectDataError(() => readDataset(dir, { format: 'ml-1m' }), 'ratings.dat is missing');
    await expectDataError(() => readDataset(join(dir, 'notes.txt'), { format: 'movielens' }), 'expects a folder');
  });

  test('a bad JSON line names file and line', async () => {
    const dir = await fixture('bad-json', { 'x.jsonl': '{"user":1,"item":2}\n{"user":1,"item":\n[1,2]\n{"user":3,"item":4}\n' });
    const file = join(dir, 'x.jsonl');
    const err = await expectDataError(() => readDataset(file), `${file}:2`, 'invalid JSON');
    assert.equal(err.place.line, 2);
    const log = await readDataset(file, { skipBadRows: true });
    assert.deepEqual(rows(log), ['1,2,-,-', '3,4,-,-']);
    assert.equal(log.skipped.count, 2);
    assert.ok(log.skipped.examples[0]!.includes(`${file}:2`));
    assert.ok(log.skipped.examples[1]!.includes(`${file}:3`) && log.skipped.examples[1]!.includes('JSON object'));
  });

  test('skipBadRows counts the bad rows and keeps the good ones', async () => {
    const ratings = 'userId,movieId,rating,timestamp\n1,1,4,100\n1,2,x,100\n1,3\n2,1,5,200\n2,2,3,2020-13-45\n"3,1,2,3\n3,3,1,300\n';
    const movies = 'movieId,title,genres\n1,A (1999),Drama\n2\n3,C (2001),Comedy\n';
    const dir = await fixture('skip', { 'ratings.csv': ratings, 'movies.csv': movies });
    await expectDataError(() => readDataset(dir), 'ratings.csv:3');
    const log = await readDataset(dir, { skipBadRows: true });
    assert.deepEqual(rows(log), ['1,1,4,100', '2,1,5,200', '3,3,1,300']);
    assert.equal(log.skipped.count, 5);
    assert.equal(log.skipped.examples.length, 5);
    assert.ok(log.skipped.examples[0]!.includes('ratings.csv:3') && log.skipped.examples[0]!.includes('"rating"'));
    assert.ok(log.skipped.examples[4]!.includes('movies.csv:3'));
    assert.deepEqual(categoriesOfId(log, '3'), ['Comedy']);
  });
});
