import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogBuilder } from '../src/data/dataset.js';
import { makeSplit, testCount, validationSplit } from '../src/data/split.js';
import { loadSplit, saveSplit } from '../src/data/split-io.js';
import { rowOf } from '../src/data/csr.js';
import { evaluateLists, rankTestUsers } from '../src/eval/evaluate.js';
import { PopularityScorer } from '../src/models/pop.js';
import { mlSmall } from './helpers.js';

test('testCount is ceil(0.2 n) without floating-point error', () => {
  assert.deepEqual([5, 6, 10, 11, 15, 20, 21].map(testCount), [1, 2, 2, 3, 3, 4, 5]);
});

test('temporal-user on ml-latest-small reproduces the PROTOCOL.md statistics and hashes', async () => {
  const split = makeSplit(await mlSmall());
  const s = split.stats;
  assert.equal(s.positives, 48580);
  assert.equal(s.positiveUsers, 609);
  assert.equal(s.trainUsers, 609);
  assert.equal(s.candidates, 5289);
  assert.equal(s.trainPositives, 38620);
  assert.equal(s.testUsers, 603);
  assert.equal(s.testPositives, 9960);
  assert.equal(s.testNotCandidates, 1143);
  assert.equal(s.trainPairsSha256, 'a58f3d49a609a7657a48a6cc602d09250c463ae3a4f0498d03ee334d01abdbd7');
  assert.equal(s.testPairsSha256, '1d1f4cd100eeff76ec16629912d718888f144f8fb50159b452a5c47f8dc02658');
});

test('pop on ml-latest-small gives every PROTOCOL.md reference value (tie rule + all metrics)', async () => {
  const split = makeSplit(await mlSmall());
  const model = new PopularityScorer();
  await model.fit(split.train);
  const lists = rankTestUsers(model, split, { k: 20 });
  const { metrics } = evaluateLists(split, lists, [10, 20], 42);
  const expected: Record<string, number> = {
    'recall@20': 0.0912,
    'ndcg@20': 0.0748,
    'coverage@20': 0.0187,
    'ckl@20': 0.7118,
    'tdd@20': 0.2066,
    'minorityRecall@20': 0.0979,
    'dominantShare@20': 0.6097,
    'recall@10': 0.0696,
    'ndcg@10': 0.0669,
    'ckl@10': 1.0375,
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(metrics[key]!.mean!.toFixed(4), value.toFixed(4), key);
  assert.equal(metrics['arp@20']!.mean!.toFixed(1), '147.8');
});

test('no TEST item is in TRAIN or in the scoring history, and train items are never recommended', async () => {
  const split = makeSplit(await mlSmall());
  const model = new PopularityScorer();
  await model.fit(split.train);
  const lists = rankTestUsers(model, split, { k: 20 });
  split.testUsers.forEach((u, idx) => {
    const hist = new Set(rowOf(split.history, u));
    for (const i of rowOf(split.test, u)) assert.ok(!hist.has(i));
    for (const i of lists[idx]!) assert.ok(!hist.has(i) && split.train.itemPopularity[i]! > 0);
  });
});

test('validation split uses TRAIN only and its candidates come from validation-train', async () => {
  const split = makeSplit(await mlSmall());
  const val = validationSplit(split);
  assert.equal(val.stats.positives, split.stats.trainPositives);
  assert.equal(val.stats.trainPositives + val.stats.testPositives, split.stats.trainPositives);
  for (const u of val.testUsers) for (const i of rowOf(val.test, u)) assert.ok(!rowOf(split.test, u).includes(i));
  for (const i of val.train.candidates) assert.ok(val.train.itemPopularity[i]! > 0);
  assert.ok(val.train.candidates.length < split.train.candidates.length);
});

function tinyLog() {
  const b = new LogBuilder('tiny');
  // user 1: 6 positives at t=1..6 with a tie at t=6 (items 9 and 10: numeric order puts 9 first)
  for (const [i, t] of [[1, 1], [2, 2], [3, 3], [4, 4], [10, 6], [9, 6]] as const) b.add('1', String(i), 5, t);
  b.add('1', '5', 2, 5); // below min rating: dropped
  b.add('2', '1', 4, 1); // fewer than 5 positives: all train
  b.add('2', '1', 4, 9); // duplicate pair: keeps the latest timestamp
  return b.build();
}

test('temporal-user applies the min rating, dedups pairs, and breaks time ties by numeric item id', () => {
  const split = makeSplit(tinyLog());
  const log = split.log;
  const testOf1 = [...rowOf(split.test, log.users.lookup('1'))].map((i) => log.items.id(i));
  // n = 6 -> ceil(1.2) = 2 test items: the two at t=6 ("9" then "10" numerically, both test)
  assert.deepEqual(testOf1.sort(), ['10', '9']);
  assert.equal(split.stats.positives, 7);
  assert.equal(rowOf(split.test, log.users.lookup('2')).length, 0);
  assert.equal(split.trainPairs.time[[...split.trainPairs.user].indexOf(log.users.lookup('2'))], 9);
});

test('temporal-global puts the latest 20% in test and keeps only test users with a train positive', async () => {
  const log = await mlSmall();
  const split = makeSplit(log, { protocol: 'temporal-global' });
  const maxTrain = Math.max(...split.trainPairs.time);
  const minTest = Math.min(...split.testPairs.time);
  assert.ok(minTest >= maxTrain, 'one cut time');
  for (const u of split.testUsers) assert.ok(rowOf(split.train.userItems, u).length > 0);
  assert.ok(split.stats.testPositives <= testCount(split.stats.positives));
});

test('users-holdout: held-out users are absent from TRAIN; seeded and deterministic', async () => {
  const log = await mlSmall();
  const a = makeSplit(log, { protocol: 'users-holdout', seed: 7 });
  const b = makeSplit(log, { protocol: 'users-holdout', seed: 7 });
  const c = makeSplit(log, { protocol: 'users-holdout', seed: 8 });
  assert.equal(a.stats.splitHash, b.stats.splitHash);
  assert.notEqual(a.stats.splitHash, c.stats.splitHash);
  assert.equal(a.testUsers.length, Math.round(0.2 * 603)); // 603 users have >= 5 positives
  a.testUsers.forEach((u, idx) => {
    assert.equal(a.testUserModelIndex[idx], -1);
    assert.equal(rowOf(a.train.userItems, u).length, 0);
    const hist = rowOf(a.history, u).length;
    const test = rowOf(a.test, u).length;
    assert.equal(test, testCount(hist + test));
  });
});

test('a saved split reloads identically, and an edited one is refused', async () => {
  const log = await mlSmall();
  const split = makeSplit(log);
  const dir = mkdtempSync(join(tmpdir(), 'personae-split-'));
  saveSplit(split, dir);
  const again = loadSplit(dir, log);
  assert.deepEqual(again.stats, split.stats);
  const testFile = join(dir, 'test.csv');
  const lines = readFileSync(testFile, 'utf8').split('\n');
  lines.splice(1, 1);
  writeFileSync(testFile, lines.join('\n'));
  assert.throws(() => loadSplit(dir, log), /testPairsSha256 .* differs from split\.json/);
});
