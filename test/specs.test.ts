/**
 * Model specs (`personas:k=1`, `ease:lambda=200`): parsing and its errors, one row per spec named
 * by its text, tuning with the model's grid under the fixed values; `usesCategories` per row; and
 * `seeds` (refits with seed, seed + 1, ...: per-seed values whose mean is the reported mean).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSplit } from '../src/data/split.js';
import { runExperiment, seedSpread, seedValues, tuningCandidates, type ExperimentResult } from '../src/eval/experiment.js';
import { markdownTables } from '../src/eval/report/markdown.js';
import { htmlReport } from '../src/eval/report/html.js';
import { buildResultsJson } from '../src/eval/results.js';
import type { ModelParams } from '../src/models/model.js';
import { createModel, modelSpec, parseModelSpec, parseModelSpecs } from '../src/models/registry.js';
import { worldToLog } from '../src/synth/world.js';

test('a spec is a model name with key=value parameters, coerced by the schema', () => {
  assert.deepEqual(parseModelSpec('ease'), { spec: 'ease', model: 'ease', fixed: {} });
  assert.deepEqual(parseModelSpec(' personas:k=1 '), { spec: 'personas:k=1', model: 'personas', fixed: { k: 1 } });
  assert.deepEqual(parseModelSpec('ease:lambda=2e2'), { spec: 'ease:lambda=2e2', model: 'ease', fixed: { lambda: 200 } });
  assert.deepEqual(parseModelSpec('personas:itemBias=false:k=2'), { spec: 'personas:itemBias=false:k=2', model: 'personas', fixed: { itemBias: false, k: 2 } });
  // an enum value stays a string
  assert.deepEqual(parseModelSpec('itemknn:neighbourhood=history:k=5').fixed, { neighbourhood: 'history', k: 5 });
});

test('a bad spec names the spec and the field', () => {
  const cases: [string, RegExp][] = [
    ['nosuch:k=1', /unknown model "nosuch"/],
    ['ease:lamda=3', /--models: "ease:lamda=3": ease has no parameter "lamda"; its parameters: lambda/],
    ['personas:k=two', /"personas:k=two": k must be a number, got "two"/],
    ['personas:k=0', /"personas:k=0": k: .*>=\s*1/],
    ['personas:k=1.5', /"personas:k=1.5": k: .*int/i],
    ['personas:itemBias=yes', /"personas:itemBias=yes": itemBias must be true or false, got "yes"/],
    ['itemknn:neighbourhood=both', /"itemknn:neighbourhood=both": neighbourhood: /],
    ['personas:k', /"personas:k": expected key=value after "personas:", got "k"/],
    ['personas:k=', /expected key=value/],
    ['personas:k=1:k=2', /"personas:k=1:k=2": k is set twice/],
    [':k=1', /expected a model name/],
  ];
  for (const [spec, pattern] of cases) assert.throws(() => parseModelSpec(spec), pattern, spec);
});

test('a spec listed twice, or two specs of the same settings, are refused', () => {
  assert.throws(() => parseModelSpecs(['ease', 'personas:k=1', 'ease']), /"ease" is listed twice/);
  assert.throws(() => parseModelSpecs(['personas:k=1', 'personas:k=1.0']), /"personas:k=1\.0" is the same model as "personas:k=1"/);
  assert.throws(() => parseModelSpecs([]), /at least one model/);
  // the same model with other parameters, or in another order of keys, is a separate row only when the settings differ
  assert.deepEqual(parseModelSpecs(['ease', 'ease:lambda=200', 'personas', 'personas:k=1']).map((s) => s.spec), ['ease', 'ease:lambda=200', 'personas', 'personas:k=1']);
  assert.throws(() => parseModelSpecs(['itemknn:k=5:shrink=10', 'itemknn:shrink=10:k=5']), /same model/);
});

test('tuning a spec: the grid entries under the fixed values, repeats dropped', () => {
  // every grid key fixed: one candidate, nothing to tune
  assert.deepEqual(tuningCandidates(modelSpec('ease').tuningGrid, { lambda: 200 }), [{ lambda: 200 }]);
  // a key the grid does not set: the whole grid, each with the fixed value
  const grid: ModelParams[] = [{}, { a: 1 }, { a: 2 }, { b: 3 }];
  assert.deepEqual(tuningCandidates(grid, { k: 1 }), [{ k: 1 }, { a: 1, k: 1 }, { a: 2, k: 1 }, { b: 3, k: 1 }]);
  // a key the grid sets: overridden by the spec, and the entries that become equal are one trial
  assert.deepEqual(tuningCandidates(grid, { a: 1 }), [{ a: 1 }, { b: 3, a: 1 }]);
  assert.deepEqual(tuningCandidates([], { a: 1 }), []);
});

// a small world with categories: 120 users, 90 items
const { log } = worldToLog({ users: 120, items: 90, categories: 4, meanInteractions: 20, seed: 3 });
const split = makeSplit(log, { seed: 3 });
const base = { ks: [10, 20], seed: 7, threads: 1 } as const;

function row(result: ExperimentResult, name: string): ExperimentResult['models'][number] {
  const r = result.models.find((m) => m.name === name);
  assert.ok(r, `row ${name}`);
  return r;
}

test('each spec is its own row, named by its text, with the full resolved parameters', async () => {
  const result = await runExperiment(split, { ...base, tune: true, models: ['ease', 'ease:lambda=50', 'itemknn:k=5:shrink=0'] });
  assert.deepEqual(result.models.map((m) => [m.name, m.model]), [
    ['ease', 'ease'],
    ['ease:lambda=50', 'ease'],
    ['itemknn:k=5:shrink=0', 'itemknn'],
  ]);
  const ease = row(result, 'ease');
  const fixed = row(result, 'ease:lambda=50');
  const knn = row(result, 'itemknn:k=5:shrink=0');
  // ease is tuned over its whole grid; the spec fixes the only grid key, so it is not tuned
  assert.equal(ease.tuning?.trials.length, modelSpec('ease').tuningGrid.length);
  assert.equal(fixed.tuning, undefined);
  assert.deepEqual(fixed.params, { ...createModel('ease').params, lambda: 50 });
  // both itemknn grid keys fixed: one candidate, no tuning; the other keys resolved to defaults
  assert.equal(knn.tuning, undefined);
  assert.deepEqual(knn.params, { ...createModel('itemknn').params, k: 5, shrink: 0 });
  // ease:lambda=50 scores exactly as an untuned ease with --param lambda=50
  const plain = await runExperiment(split, { ...base, tune: false, models: ['ease'], params: { ease: { lambda: 50 } } });
  assert.deepEqual(fixed.metrics, plain.models[0]!.metrics);
  // the pairwise comparisons and the tables name the spec
  assert.ok(result.comparisons.some((c) => c.a === 'ease' && c.b === 'ease:lambda=50' && c.metric === 'ndcg@20'));
  const json = buildResultsJson(split, result, { ks: [10, 20], seed: 7, startedAt: new Date(0), threads: 1, rerank: 'none' });
  assert.deepEqual(json.models.map((m) => m.name), ['ease', 'ease:lambda=50', 'itemknn:k=5:shrink=0']);
  assert.deepEqual(json.models.map((m) => m.model), ['ease', 'ease', 'itemknn']);
  const md = markdownTables(json);
  assert.match(md, /^\| ease:lambda=50 \| /m);
  assert.match(md, /- ease - ease:lambda=50: /);
  assert.match(htmlReport(json), />ease:lambda=50</);
});

test('--param applies to every spec of its model; the inline value wins', async () => {
  const result = await runExperiment(split, { ...base, tune: false, models: ['itemknn', 'itemknn:k=7'], params: { itemknn: { k: 3, shrink: 5 } } });
  assert.deepEqual(result.models.map((m) => [m.params.k, m.params.shrink]), [
    [3, 5],
    [7, 5],
  ]);
});

test('usesCategories: neither the persona model nor a baseline reads categories; a categories reranker does', async () => {
  assert.ok(split.train.categories !== null, 'the world has categories');
  const quick = { epochs: 3, warmEpochs: 1, avgEpochs: 1 };
  const result = await runExperiment(split, { ...base, tune: false, models: ['pop', 'ease', 'personas', 'personas:k=1'], params: { personas: quick } });
  assert.deepEqual(result.models.map((m) => [m.name, m.usesCategories]), [
    ['pop', false],
    ['ease', false],
    ['personas', false],
    ['personas:k=1', false],
  ]);
  // on data without categories nothing can use them
  const noCats = { ...split.train, categories: null };
  assert.equal(createModel('personas').usesCategories?.(noCats), false);
  // a reranker in the categories' taste space makes the row use them
  const reranked = await runExperiment(split, { ...base, tune: false, models: ['ease'], rerank: 'calibrated:0.5' });
  assert.equal(reranked.models[0]!.usesCategories, true);
  const json = buildResultsJson(split, result, { ks: [10, 20], seed: 7, startedAt: new Date(0), threads: 1, rerank: 'none' });
  assert.deepEqual(json.models.map((m) => m.usesCategories), [false, false, false, false]);
  assert.match(markdownTables(json), /^\| personas \|.*\| no \| [\d.]+ \|$/m);
  assert.match(markdownTables(json), /^\| ease \|.*\| no \| [\d.]+ \|$/m);
});

test('seeds: root, root + 1, ...; per-seed means whose mean, sd, min and max are reported', async () => {
  assert.deepEqual(seedValues(7, 3), [7, 8, 9]);
  assert.deepEqual(seedValues(7, 1), [7]);
  const models = ['bpr:epochs=5', 'ease'];
  const result = await runExperiment(split, { ...base, tune: false, models, seeds: 2 });
  const bpr = row(result, 'bpr:epochs=5');
  assert.deepEqual(bpr.seeds?.values, [7, 8]);
  const s = bpr.seeds!.metrics['ndcg@20']!;
  assert.equal(s.perSeed.length, 2);
  // the first seed's fit is the row's own result
  assert.equal(s.perSeed[0], bpr.metrics['ndcg@20']!.mean);
  assert.ok(Math.abs(s.mean - (s.perSeed[0]! + s.perSeed[1]!) / 2) < 1e-12);
  assert.ok(Math.abs(s.sd - Math.abs(s.perSeed[0]! - s.perSeed[1]!) / Math.SQRT2) < 1e-12);
  assert.equal(s.min, Math.min(...s.perSeed));
  assert.equal(s.max, Math.max(...s.perSeed));
  assert.notEqual(s.perSeed[0], s.perSeed[1], 'bpr depends on its seed');
  // seed root + 1 fits exactly as a single run with that root seed (temporal split: no seed in it)
  const second = await runExperiment(split, { ...base, seed: 8, tune: false, models: ['bpr:epochs=5'] });
  assert.equal(s.perSeed[1], second.models[0]!.metrics['ndcg@20']!.mean);
  // a deterministic model has no spread
  const ease = row(result, 'ease').seeds!.metrics['recall@10']!;
  assert.equal(ease.sd, 0);
  assert.equal(ease.min, ease.max);
  // `metrics` keeps its shape and stays the root seed's run: the same as without --seeds
  const single = await runExperiment(split, { ...base, tune: false, models });
  assert.deepEqual(result.models.map((m) => m.metrics), single.models.map((m) => m.metrics));
  assert.equal(single.models[0]!.seeds, undefined);
  // the JSON and the table carry it
  const json = buildResultsJson(split, result, { ks: [10, 20], seed: 7, startedAt: new Date(0), threads: 1, rerank: 'none' });
  assert.deepEqual(json.models[0]!.seeds, bpr.seeds);
  assert.match(markdownTables(json), /### Across 2 seeds \(7, 8\), K = 20/);
  assert.match(markdownTables(json), /^\| bpr:epochs=5 \| ndcg@20 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \[[\d.]+, [\d.]+\] \|$/m);
});

test('seedSpread leaves out a metric that has no value for some seed', () => {
  const spread = seedSpread([1, 2], [
    { a: { mean: 1, ci95: null, n: 1 }, b: { mean: null, ci95: null, n: 0 } },
    { a: { mean: 3, ci95: null, n: 1 }, b: { mean: null, ci95: null, n: 0 } },
  ]);
  assert.deepEqual(spread, { values: [1, 2], metrics: { a: { mean: 2, sd: Math.SQRT2, min: 1, max: 3, perSeed: [1, 3] } } });
});
