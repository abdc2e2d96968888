/**
 * Cross-validation folds: users-holdout folds hold every eligible user out exactly once (the first
 * fold is the single split), the temporal protocols are refused with the reason, and the summary
 * over folds is the hand-computed mean, sd and Student-t interval.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFolds, makeSplit } from '../src/data/split.js';
import { ConfigError } from '../src/errors.js';
import { foldSpread, runFolds, tQuantile } from '../src/eval/folds.js';
import { worldToLog } from '../src/synth/memory.js';
import { writeWorld } from '../src/synth/world.js';

const { log } = worldToLog({ users: 150, items: 120, categories: 5, meanInteractions: 20, seed: 11 });

test('users-holdout folds: each eligible user held out exactly once, trained on in every other fold; fold 1 is the single split', () => {
  const folds = makeFolds(log, { protocol: 'users-holdout', folds: 5, seed: 42 });
  assert.equal(folds.length, 5);
  const single = makeSplit(log, { protocol: 'users-holdout', seed: 42 });
  assert.equal(folds[0]!.stats.splitHash, single.stats.splitHash);
  const heldOutIn = new Map<number, number>();
  folds.forEach((s, f) => {
    for (const u of s.testUsers) {
      assert.equal(heldOutIn.has(u), false, `user ${u} held out twice`);
      heldOutIn.set(u, f);
    }
  });
  // every user with >= 5 positives is a test user of exactly one fold
  const positives = makeSplit(log, { protocol: 'temporal-user' });
  let eligible = 0;
  for (let u = 0; u < log.users.size; u++) {
    const n = positives.train.userItems.indptr[u + 1]! - positives.train.userItems.indptr[u]! + (positives.test.indptr[u + 1]! - positives.test.indptr[u]!);
    if (n >= 5) eligible++;
  }
  assert.equal(heldOutIn.size, eligible);
  // fold sizes differ by at most one user
  const sizes = folds.map((s) => s.testUsers.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, sizes.join(','));
  // a held-out user has no training row in its fold and a full one in the others
  const [u, f] = [...heldOutIn.entries()][0]!;
  folds.forEach((s, g) => {
    const row = s.train.userItems.indptr[u + 1]! - s.train.userItems.indptr[u]!;
    if (g === f) assert.equal(row, 0);
    else assert.ok(row >= 5);
  });
  // the same seed gives the same folds; another seed other ones
  assert.deepEqual(makeFolds(log, { protocol: 'users-holdout', folds: 5, seed: 42 }).map((s) => s.stats.splitHash), folds.map((s) => s.stats.splitHash));
  assert.notEqual(makeFolds(log, { protocol: 'users-holdout', folds: 5, seed: 43 })[0]!.stats.splitHash, folds[0]!.stats.splitHash);
});

test('the temporal protocols and bad fold counts are refused with the reason', () => {
  for (const protocol of ['temporal-user', 'temporal-global'] as const) {
    assert.throws(() => makeFolds(log, { protocol, folds: 5 }), (e: unknown) => e instanceof ConfigError && /--folds: .*deterministic.*--protocol users-holdout/.test(e.message));
  }
  assert.throws(() => makeFolds(log, { protocol: 'users-holdout', folds: 1 }), /--folds: expected an integer >= 2/);
  assert.throws(() => makeFolds(log, { protocol: 'users-holdout', folds: 100_000 }), /--folds: 100000 folds need at least 100000 users/);
});

test('the summary over folds: mean, sample sd and the Student-t 95% interval', () => {
  assert.ok(Math.abs(tQuantile(0.975, 4) - 2.7764451) < 1e-6);
  assert.ok(Math.abs(tQuantile(0.975, 1) - 12.7062047) < 1e-5);
  assert.ok(Math.abs(tQuantile(0.025, 9) + 2.2621572) < 1e-6);
  const s = foldSpread([1, 2, 3, 4, 5].map((x) => ({ 'ndcg@10': { mean: x, ci95: null, n: 10 }, 'ckl@10': { mean: x === 3 ? null : x, ci95: null, n: 10 } })));
  const m = s.metrics['ndcg@10']!;
  assert.equal(s.k, 5);
  assert.equal(m.mean, 3);
  assert.ok(Math.abs(m.sd - Math.sqrt(2.5)) < 1e-12);
  const half = (2.7764451 * Math.sqrt(2.5)) / Math.sqrt(5); // 1.96324...
  assert.ok(Math.abs(m.ci95[0] - (3 - half)) < 1e-6 && Math.abs(m.ci95[1] - (3 + half)) < 1e-6);
  assert.deepEqual(m.perFold, [1, 2, 3, 4, 5]);
  assert.equal(s.metrics['ckl@10'], undefined, 'a metric missing in one fold has no summary');
});

test('runFolds: the first fold is the plain run, every fold value is that fold\'s run', async () => {
  const folds = makeFolds(log, { protocol: 'users-holdout', folds: 3, seed: 5 });
  const { result, perFold } = await runFolds(folds, { models: ['pop'], ks: [10], seed: 5, tune: false, threads: 1, fidelityUsers: 10 });
  const spread = result.models[0]!.folds!;
  assert.equal(spread.k, 3);
  perFold.forEach((r, f) => assert.equal(spread.metrics['ndcg@10']!.perFold[f], r.models[0]!.metrics['ndcg@10']!.mean));
  assert.equal(result.models[0]!.metrics['ndcg@10']!.mean, perFold[0]!.models[0]!.metrics['ndcg@10']!.mean);
});

test('evaluate --folds: JSON folds fields beside the unchanged ones; a temporal protocol is one clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-folds-'));
  await writeWorld({ users: 100, items: 80, categories: 4, meanInteractions: 20, seed: 2 }, join(dir, 'w'));
  const entry = fileURLToPath(new URL('./fixtures/cli.ts', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', entry, 'evaluate', '--data', join(dir, 'w'), '--models', 'pop', '--threads', '1', '--quiet', ...args], { encoding: 'utf8' });
  const out = join(dir, 'r.json');
  const r = run('--protocol', 'users-holdout', '--folds', '4', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Across 4 folds \(users-holdout, each user held out once\)/);
  const json = JSON.parse(readFileSync(out, 'utf8')) as {
    dataset: { splitHash: string; testUsers: number };
    folds: { k: number; protocol: string; splits: { fold: number; splitHash: string; testUsers: number }[] };
    models: { metrics: Record<string, { mean: number }>; folds: { k: number; metrics: Record<string, { mean: number; sd: number; ci95: [number, number]; perFold: number[] }> } }[];
  };
  assert.equal(json.folds.k, 4);
  assert.equal(json.folds.splits.length, 4);
  assert.equal(json.folds.splits[0]!.splitHash, json.dataset.splitHash);
  const m = json.models[0]!;
  assert.equal(m.folds.metrics['ndcg@20']!.perFold[0], m.metrics['ndcg@20']!.mean);
  assert.equal(m.folds.metrics['ndcg@20']!.perFold.length, 4);
  const bad = run('--folds', '5');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^personae: --folds: temporal-user is deterministic/);
});
