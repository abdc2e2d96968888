/**
 * Evaluation ranking over worker threads (src/eval/rank-parallel.ts): the results JSON, the
 * per-user values and the paired comparisons are byte-identical for 1 and 2 threads (pop, a factor
 * model and the persona model; a tuned model's trials too), the threaded path gives the same lists
 * and values as ranking in the calling thread, and only artifacts of models that ship with
 * personae go to workers. Small seeded world, few epochs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSplit } from '../src/data/split.js';
import { evaluateLists, rankTestUsers } from '../src/eval/evaluate.js';
import { runExperiment, type ExperimentOptions, type ExperimentResult } from '../src/eval/experiment.js';
import { rankAndEvaluate, rangeSize, sendable } from '../src/eval/rank-parallel.js';
import { buildResultsJson, perUserCsv } from '../src/eval/results.js';
import { WorkerPool } from '../src/math/pool.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import { worldToLog } from '../src/synth/world.js';

const { log } = worldToLog({ users: 150, items: 90, categories: 4, meanInteractions: 20, seed: 11 });
const split = makeSplit(log, { seed: 11 });
const quickPersonas = { epochs: 3, warmEpochs: 1, avgEpochs: 1 };

/** Everything but the measured times: the results JSON, the per-user CSV and the rows with their per-user arrays. */
function outputs(result: ExperimentResult): { json: string; csv: string; rows: string } {
  const untimed = { ...result, models: result.models.map((m) => ({ ...m, fitSeconds: 0, evalSeconds: 0, ...(m.tuning ? { tuning: { ...m.tuning, seconds: 0 } } : {}) })) };
  const json = buildResultsJson(split, untimed, { ks: [10, 20], seed: 5, startedAt: new Date(0), threads: 1, rerank: 'none' });
  return { json: JSON.stringify(json, null, 2), csv: perUserCsv(split, untimed), rows: JSON.stringify(untimed) };
}

async function run(threads: number, extra: Partial<ExperimentOptions>): Promise<ExperimentResult> {
  return runExperiment(split, { models: ['pop', 'ials:iterations=3', 'personas'], ks: [10, 20], seed: 5, tune: false, threads, params: { personas: quickPersonas }, fidelityUsers: 20, ...extra });
}

test('evaluate: results JSON, per-user values and comparisons are byte-identical for 1 and 2 threads', async () => {
  const one = await run(1, {});
  const two = await run(2, {});
  assert.equal(one.models.length, 3);
  assert.ok(split.testUsers.length > rangeSize(split.testUsers.length, 2) * 2, 'several ranges per thread');
  const a = outputs(one);
  const b = outputs(two);
  assert.equal(b.json, a.json);
  assert.equal(b.csv, a.csv);
  assert.equal(b.rows, a.rows);
  // the rows differ from each other (the test compares real rankings, not empty ones)
  const ndcg = one.models.map((m) => m.metrics['ndcg@20']!.mean);
  assert.equal(new Set(ndcg).size, 3, `three different ndcg@20: ${ndcg.join(', ')}`);
  assert.ok(one.comparisons.length > 0);
  for (const m of one.models) assert.equal(m.perUser['ndcg@20']!.length, split.testUsers.length);
});

test('evaluate: tuning on the validation split ranks over the threads with identical trials, and a reranker too', async () => {
  const opts = { models: ['bpr:epochs=3'], tune: true, rerank: 'calibrated:0.5' } as const;
  const one = await run(1, opts);
  const two = await run(2, opts);
  assert.ok((one.models[0]!.tuning?.trials.length ?? 0) > 1, 'bpr has a grid to tune');
  assert.equal(outputs(two).json, outputs(one).json);
  assert.equal(outputs(two).rows, outputs(one).rows);
});

test('the threaded ranking equals rankTestUsers + evaluateLists in the calling thread', async () => {
  const model = createModel('bpr', { epochs: 3 });
  await model.fit(split.train, { rng: new Rng(5).derive('model', 'bpr'), threads: 1 });
  const lists = rankTestUsers(model, split, { k: 20 });
  const expected = evaluateLists(split, lists, [10, 20], 5);
  const inline = await rankAndEvaluate(model, split, { k: 20, ks: [10, 20], seed: 5, rerank: 'none', reranker: null, pool: null });
  const pool = new WorkerPool(2);
  try {
    const threaded = await rankAndEvaluate(model, split, { k: 20, ks: [10, 20], seed: 5, rerank: 'none', reranker: null, pool });
    for (const got of [inline, threaded]) {
      assert.deepEqual(got.lists, lists);
      assert.deepEqual(got.evaluation.perUser, expected.perUser);
      assert.deepEqual(got.evaluation.metrics, expected.metrics);
    }
  } finally {
    await pool.close();
  }
});

test('only artifacts of built-in models (nested ones included) go to workers', () => {
  const arrays = { x: new Float32Array(1) };
  assert.equal(sendable({ kind: 'pop', version: 1, config: {}, arrays }), true);
  assert.equal(sendable({ kind: 'mine', version: 1, config: {}, arrays }), false);
  assert.equal(sendable({ kind: 'router', version: 1, config: { 'base/.kind': 'ials', 's0/.kind': 'ease' }, arrays }), true);
  assert.equal(sendable({ kind: 'router', version: 1, config: { 'base/.kind': 'ials', 's0/.kind': 'mine' }, arrays }), false);
});
