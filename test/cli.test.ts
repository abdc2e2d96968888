/**
 * The command line end to end: bad input gets one clear line naming the place (and exit code 2,
 * no stack trace), and results are reproducible: the same seed gives the same JSON apart from
 * timings, whatever the number of worker threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./fixtures/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function personae(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'personae-cli-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function assertCleanError(r: ReturnType<typeof personae>, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code 2 expected, got ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

test('a missing column names the file, the line and the column', () => {
  const path = file('missing.csv', 'user,item,timestamp\n1,10,5\n');
  const r = personae('evaluate', '--data', path, '--rating-col', 'score', '--models', 'pop', '--quiet');
  assertCleanError(r, /missing\.csv:1 field "score": missing column/);
});

test('a non-numeric rating names the file, the line and the field', () => {
  const path = file('badrating.csv', 'userId,movieId,rating,timestamp\n1,10,4,5\n1,11,four,6\n');
  const r = personae('evaluate', '--data', path, '--user-col', 'userId', '--item-col', 'movieId', '--models', 'pop', '--quiet');
  assertCleanError(r, /badrating\.csv:3 field "rating": rating "four" is not a finite number/);
});

test('an empty file is refused with its name', () => {
  const path = file('empty.csv', '');
  const r = personae('evaluate', '--data', path, '--models', 'pop', '--quiet');
  assertCleanError(r, /empty\.csv/);
});

test('a folder with no known layout lists what was expected and what was found', () => {
  const folder = join(dir, 'unknown');
  mkdirSync(folder);
  writeFileSync(join(folder, 'notes.txt'), 'hello');
  const r = personae('evaluate', '--data', folder, '--models', 'pop', '--quiet');
  assertCleanError(r, /unknown.*ratings\.csv.*notes\.txt/);
});

test('an unknown model, an unknown reranker and a bad flag value are named', () => {
  const path = file('ok.csv', 'user,item,rating,timestamp\n1,10,5,1\n1,11,5,2\n2,10,5,3\n2,12,5,4\n');
  assertCleanError(personae('evaluate', '--data', path, '--models', 'pop,nosuch', '--quiet'), /unknown model "nosuch"/);
  assertCleanError(personae('evaluate', '--data', path, '--models', 'pop', '--rerank', 'sideways', '--quiet'), /rerank/);
  assertCleanError(personae('evaluate', '--data', path, '--models', 'ease', '--param', 'ease.lambda=-3', '--quiet'), /ease\.lambda/);
  assertCleanError(personae('evaluate', '--data', path, '--models', 'pop', '--param', 'ease.lambda=300', '--quiet'), /--param.*"ease", which is not in --models/);
});

test('recommend rejects an unknown model before reading any data', () => {
  // the data path does not exist: the model name must be the error, not the missing folder
  const r = personae('recommend', '--data', join(dir, 'no-such-folder'), '--user', '1', '--model', 'nosuch', '--quiet');
  assertCleanError(r, /unknown model "nosuch"/);
});

/** The results JSON without what legitimately differs between runs (timings, start time, threads). */
function stable(path: string): unknown {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(json, (key, value: unknown) => (['fitSeconds', 'evalSeconds', 'seconds', 'startedAt', 'threads', 'manifest'].includes(key) ? undefined : value)));
}

test('two runs with the same seed give the same JSON, with 1 or 2 worker threads', () => {
  const world = join(dir, 'world');
  const w = personae('world', '--out', world, '--users', '300', '--items', '400', '--categories', '6', '--seed', '5', '--quiet');
  assert.equal(w.code, 0, w.stderr);
  const models = 'pop,itemknn,ease,bpr,ials,personas';
  const args = ['evaluate', '--data', world, '--models', models, '--seed', '9', '--quiet', '--param', 'bpr.epochs=20', '--param', 'personas.epochs=4'];
  const one = join(dir, 'one.json');
  const two = join(dir, 'two.json');
  const again = join(dir, 'again.json');
  for (const [out, threads] of [[one, '1'], [two, '2'], [again, '2']] as const) {
    const r = personae(...args, '--threads', threads, '--out', out);
    assert.equal(r.code, 0, r.stderr);
  }
  const a = stable(one);
  assert.deepEqual(stable(again), stable(two), 'same seed, same threads');
  assert.deepEqual(stable(two), a, '1 thread vs 2 threads');
  const names = (a as { models: { name: string }[] }).models.map((m) => m.name).join(',');
  assert.equal(names, models);
  // --on validation evaluates the validation split built from TRAIN alone, and says so
  const val = join(dir, 'val.json');
  const v = personae('evaluate', '--data', world, '--models', 'pop', '--seed', '9', '--quiet', '--on', 'validation', '--out', val);
  assert.equal(v.code, 0, v.stderr);
  const vj = JSON.parse(readFileSync(val, 'utf8')) as { protocol: { evaluatedOn: string }; dataset: { trainPositives: number; testUsers: number } };
  const tj = JSON.parse(readFileSync(one, 'utf8')) as { protocol: { evaluatedOn: string }; dataset: { trainPositives: number; testUsers: number } };
  assert.equal(vj.protocol.evaluatedOn, 'validation');
  assert.equal(tj.protocol.evaluatedOn, 'test');
  assert.ok(vj.dataset.trainPositives < tj.dataset.trainPositives, 'validation trains on part of TRAIN');
  // and a different seed does change a seeded model
  const other = join(dir, 'other.json');
  const r = personae(...args.map((x) => (x === '9' ? '10' : x)), '--threads', '2', '--out', other);
  assert.equal(r.code, 0, r.stderr);
  assert.notDeepEqual(stable(other), a);
});
