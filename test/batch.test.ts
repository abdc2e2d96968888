/**
 * Saved models on the command line: `train` then `recommend --model-file` answers as `recommend`
 * fitting with the same seed; `batch` writes, in JSONL, CSV and Parquet alike, exactly the lists
 * `recommend --model-file` prints; bad model files are refused with their name.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { writeWorld } from '../src/synth/world.js';
import { readArtifactFile, saveArtifact } from '../src/models/artifact.js';
import type { ListRow } from '../src/cli/batch-output.js';

const ENTRY = fileURLToPath(new URL('./fixtures/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function personae(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: ReturnType<typeof personae>): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function cleanError(r: ReturnType<typeof personae>, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code 2 expected, got ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

const dir = mkdtempSync(join(tmpdir(), 'personae-batch-'));
const world = join(dir, 'world');
const modelFile = join(dir, 'm.model');
const FIT = ['--model', 'personas', '--param', 'personas.epochs=4', '--param', 'personas.warmEpochs=2', '--param', 'personas.avgEpochs=1', '--seed', '7'];

function recommendJson(...args: string[]): { user: string; items: ListRow[]; hedged: string[] | null } {
  return JSON.parse(ok(personae('recommend', ...args, '--json', '--quiet'))) as { user: string; items: ListRow[]; hedged: string[] | null };
}

function jsonl(path: string): ListRow[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ListRow);
}

before(async () => {
  await writeWorld({ users: 120, items: 150, categories: 5, meanInteractions: 25, seed: 3 }, world);
  ok(personae('train', '--data', world, ...FIT, '--out', modelFile, '--quiet'));
});

test('train then recommend --model-file gives what recommend gives fitting with the same seed', () => {
  for (const user of ['1', '17']) {
    const fitted = recommendJson('--data', world, ...FIT, '--user', user, '--n', '8', '--explain');
    const loaded = recommendJson('--model-file', modelFile, '--user', user, '--n', '8', '--explain');
    assert.equal(loaded.items.length, 8);
    assert.deepEqual(loaded, fitted);
  }
  // the plain text output too
  const a = ok(personae('recommend', '--data', world, ...FIT, '--user', '3', '--quiet'));
  const b = ok(personae('recommend', '--model-file', modelFile, '--user', '3', '--quiet'));
  assert.equal(b, a);
});

test('train --threads 1 and --threads 2 write the same model (every array bit for bit)', () => {
  const one = join(dir, 'one.model');
  const two = join(dir, 'two.model');
  ok(personae('train', '--data', world, ...FIT, '--threads', '1', '--out', one, '--quiet'));
  ok(personae('train', '--data', world, ...FIT, '--threads', '2', '--out', two, '--quiet'));
  const [a, b] = [readArtifactFile(one).artifact, readArtifactFile(two).artifact];
  assert.deepEqual(Object.keys(b.arrays).sort(), Object.keys(a.arrays).sort());
  for (const [name, x] of Object.entries(a.arrays)) assert.deepEqual(b.arrays[name], x, name);
  cleanError(personae('train', '--data', world, ...FIT, '--threads', '0', '--out', one, '--quiet'), /--threads/);
});

test('batch writes every user, and the same lists as recommend --model-file, in JSONL, CSV and Parquet', async () => {
  const out = join(dir, 'recs.jsonl');
  ok(personae('batch', '--model-file', modelFile, '--out', out, '--n', '6', '--explain', '--quiet'));
  const rows = jsonl(out);
  const users = [...new Set(rows.map((r) => r.user))];
  assert.equal(users.length, 120);
  assert.equal(rows.length, 120 * 6);
  for (const user of ['1', '17', users.at(-1)!]) {
    const expected = recommendJson('--model-file', modelFile, '--user', user, '--n', '6', '--explain');
    assert.deepEqual(rows.filter((r) => r.user === user), expected.items);
  }
  // CSV: the same rows as text
  const csv = join(dir, 'recs.csv');
  ok(personae('batch', '--model-file', modelFile, '--out', csv, '--n', '6', '--explain', '--quiet'));
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'user,rank,item,score,hedged,taste,label,explanation,withheld');
  assert.equal(lines.length, rows.length + 1);
  const first = rows[0]!;
  assert.ok(lines[1]!.startsWith(`${first.user},1,${first.item},${first.score},${first.hedged},`), lines[1]);
  // Parquet: the same rows, read back
  const pq = join(dir, 'recs.parquet');
  ok(personae('batch', '--model-file', modelFile, '--out', pq, '--n', '6', '--explain', '--quiet'));
  const back = (await parquetReadObjects({ file: await asyncBufferFromFile(pq) })) as ListRow[];
  assert.deepEqual(back.map((r) => ({ ...r })), rows);
  // no temp files left behind
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

test('batch writes the same file with 1 and 2 threads, hedged or not, explained or not, and the lists recommend gives', () => {
  for (const extra of [[], ['--no-hedge'], ['--explain']]) {
    const one = join(dir, 't1.jsonl');
    const two = join(dir, 't2.jsonl');
    ok(personae('batch', '--model-file', modelFile, '--out', one, '--n', '7', ...extra, '--threads', '1', '--quiet'));
    ok(personae('batch', '--model-file', modelFile, '--out', two, '--n', '7', ...extra, '--threads', '2', '--quiet'));
    const text = readFileSync(two, 'utf8');
    assert.equal(text, readFileSync(one, 'utf8'), `threads 1 and 2 differ with ${extra.join(' ') || 'the defaults'}`);
    const rows = text.trim().split('\n').map((l) => JSON.parse(l) as ListRow);
    // 120 users in ranges of 16: the second thread's ranges are in the file, in user order
    assert.equal(rows.length, 120 * 7);
    const users = [...new Set(rows.map((r) => r.user))];
    assert.equal(users.length, 120);
    for (const user of [users[0]!, users[20]!, users[119]!]) {
      const expected = recommendJson('--model-file', modelFile, '--user', user, '--n', '7', ...extra);
      assert.deepEqual(rows.filter((r) => r.user === user), expected.items, `user ${user} with ${extra.join(' ') || 'the defaults'}`);
    }
  }
});

test('batch --data with the training data gives the same file as without it', () => {
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  ok(personae('batch', '--model-file', modelFile, '--out', a, '--n', '5', '--quiet'));
  ok(personae('batch', '--model-file', modelFile, '--data', world, '--out', b, '--n', '5', '--quiet'));
  assert.equal(readFileSync(b, 'utf8'), readFileSync(a, 'utf8'));
});

test('recommend --model-file --data folds in a user the model was not trained on', () => {
  // a new user "new-1" whose history is user 1's positives: the fold-in of the same history
  const ratings = readFileSync(join(world, 'ratings.csv'), 'utf8').trim().split('\n');
  const header = ratings[0]!;
  const mine = ratings.slice(1).filter((l) => l.split(',')[0] === '1');
  const data = join(dir, 'new.csv');
  writeFileSync(data, `${header}\n${mine.map((l) => `new-1${l.slice(1)}`).join('\n')}\n`);
  const folded = recommendJson('--model-file', modelFile, '--data', data, '--user', 'new-1', '--n', '5', '--no-hedge');
  assert.equal(folded.items.length, 5);
  assert.ok(folded.items.every((r) => r.user === 'new-1'));
  const known = new Set(recommendJson('--model-file', modelFile, '--user', '1', '--n', '50', '--no-hedge').items.map((r) => r.item));
  // the history is excluded in both cases: no folded-in item is one of user 1's positives
  const history = new Set(mine.filter((l) => Number(l.split(',')[2]) >= 4).map((l) => l.split(',')[1]));
  assert.ok(folded.items.every((r) => !history.has(r.item)));
  assert.ok(known.size > 0);
});

test('bad model files are refused with their name', () => {
  const missing = join(dir, 'nope.model');
  cleanError(personae('recommend', '--model-file', missing, '--user', '1', '--quiet'), /--model-file: no such file: .*nope\.model/);
  // a flipped byte in the payload
  const corrupt = join(dir, 'corrupt.model');
  copyFileSync(modelFile, corrupt);
  const bytes = readFileSync(corrupt);
  bytes[bytes.length - 100]! ^= 0xff;
  writeFileSync(corrupt, bytes);
  cleanError(personae('batch', '--model-file', corrupt, '--out', join(dir, 'x.jsonl'), '--quiet'), /corrupt\.model: artifact checksum mismatch/);
  assert.equal(existsSync(join(dir, 'x.jsonl')), false);
  // truncated
  const truncated = join(dir, 'truncated.model');
  writeFileSync(truncated, readFileSync(modelFile).subarray(0, 2000));
  cleanError(personae('recommend', '--model-file', truncated, '--user', '1', '--quiet'), /truncated\.model: artifact (is truncated|checksum mismatch)/);
  // not a model at all
  const text = join(dir, 'text.model');
  writeFileSync(text, 'hello, I am not a model\n');
  cleanError(personae('recommend', '--model-file', text, '--user', '1', '--quiet'), /text\.model: not a personae model artifact/);
  // a bare model artifact (evaluate --save-models) has no id maps
  const bare = join(dir, 'bare.model');
  const full = readArtifactFile(modelFile).artifact;
  const config = Object.fromEntries(Object.entries(full.config).filter(([k]) => !k.startsWith('__api')));
  const arrays = Object.fromEntries(Object.entries(full.arrays).filter(([k]) => !k.startsWith('__api')));
  saveArtifact(bare, { ...full, config, arrays });
  cleanError(personae('recommend', '--model-file', bare, '--user', '1', '--quiet'), /bare\.model: not a saved Recommender/);
});

test('flags that contradict the model file are refused', () => {
  cleanError(personae('recommend', '--model-file', modelFile, '--user', '1', '--param', 'personas.k=2', '--quiet'), /--param: .*already fitted/);
  cleanError(personae('recommend', '--model-file', modelFile, '--user', '1', '--model', 'ease', '--quiet'), /--model: the model file holds a "personas" model, not "ease"/);
  cleanError(personae('recommend', '--user', '1', '--quiet'), /give --data .* or --model-file/);
  cleanError(personae('batch', '--model-file', modelFile, '--out', join(dir, 'x.txt'), '--quiet'), /--out: .*\.jsonl, \.csv or \.parquet/);
  cleanError(personae('recommend', '--model-file', modelFile, '--user', 'ghost', '--quiet'), /no user "ghost"/);
});
