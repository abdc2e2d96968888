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
  assertCleanError(personae('evaluate', '--data', path, '--models', 'pop', '--seeds', '0', '--quiet'), /--seeds: expected an integer >= 1/);
});

test('a bad model spec is named, with its field, before the data is read', () => {
  const missing = join(dir, 'no-such-data');
  assertCleanError(personae('evaluate', '--data', missing, '--models', 'ease,ease:lamda=3', '--quiet'), /--models: "ease:lamda=3": ease has no parameter "lamda"/);
  assertCleanError(personae('evaluate', '--data', missing, '--models', 'personas:k=two', '--quiet'), /--models: "personas:k=two": k must be a number, got "two"/);
  assertCleanError(personae('evaluate', '--data', missing, '--models', 'ease,personas:k=1,ease', '--quiet'), /--models: "ease" is listed twice/);
  assertCleanError(personae('evaluate', '--data', missing, '--models', 'ease:lambda=-1', '--quiet'), /--models: "ease:lambda=-1": lambda: /);
  assertCleanError(personae('start', '--no-serve', '--models', 'pop,personas:k=0', '--quiet'), /--models: "personas:k=0": k: /);
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
  const models = 'pop,itemknn,ease,bpr,ials,personas,personas:k=1';
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
  const rows = (a as { models: { name: string; model: string; params: { k?: number } }[] }).models;
  assert.equal(rows.map((m) => m.name).join(','), models);
  // the twin is a row of its own: the persona model with one persona per user, and --param reaches it too
  assert.deepEqual(rows.slice(-2).map((m) => [m.name, m.model, m.params.k, (m.params as { epochs?: number }).epochs]), [
    ['personas', 'personas', 4, 4],
    ['personas:k=1', 'personas', 1, 4],
  ]);
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

test('--seeds 2: each row reports both fits, and their mean is the reported mean', () => {
  const world = join(dir, 'world-seeds');
  const w = personae('world', '--out', world, '--users', '150', '--items', '120', '--categories', '4', '--seed', '6', '--quiet');
  assert.equal(w.code, 0, w.stderr);
  const out = join(dir, 'seeds.json');
  const r = personae('evaluate', '--data', world, '--models', 'pop,bpr:epochs=5', '--seed', '11', '--seeds', '2', '--threads', '1', '--quiet', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  type Summary = { mean: number; sd: number; min: number; max: number; perSeed: number[] };
  const json = JSON.parse(readFileSync(out, 'utf8')) as { models: { name: string; metrics: Record<string, { mean: number }>; seeds: { values: number[]; metrics: Record<string, Summary> } }[] };
  for (const m of json.models) {
    assert.deepEqual(m.seeds.values, [11, 12], m.name);
    const s = m.seeds.metrics['ndcg@20']!;
    assert.equal(s.perSeed.length, 2);
    assert.equal(s.perSeed[0], m.metrics['ndcg@20']!.mean, 'the first seed is the row itself');
    assert.ok(Math.abs(s.mean - (s.perSeed[0]! + s.perSeed[1]!) / 2) < 1e-12);
  }
  assert.equal(json.models[0]!.seeds.metrics['ndcg@20']!.sd, 0, 'pop has no randomness');
  assert.match(r.stdout, /### Across 2 seeds \(11, 12\), K = 20/);
  assert.match(r.stdout, /^\| bpr:epochs=5 \| ndcg@20 \| /m);
});
