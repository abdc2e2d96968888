import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowOf } from '../src/data/csr.js';
import { categoriesOf } from '../src/data/dataset.js';
import { makeSplit } from '../src/data/split.js';
import {
  Calibrator,
  combineConfidence,
  fitConfidenceWeights,
  historyFactor,
  itemEvidence,
  normalisedEntropy,
  profileFit,
  reliability,
  userConfidence,
  type UserConfidence,
} from '../src/confidence/index.js';
import { explainContext } from '../src/explain/explain.js';
import { explainOrWithhold } from '../src/explain/explain-or-withhold.js';
import { Rng } from '../src/math/rng.js';
import { hasPersonas, personasFor, singleUserBatch } from '../src/models/model.js';
import { personaSetSize } from '../src/models/persona-assignment.js';
import { createModel } from '../src/models/registry.js';
import { hedge } from '../src/rank/hedge.js';
import { worldToLog } from '../src/synth/world.js';

test('weighted confidence and weights fitted to rank users by a metric', () => {
  // equal weights: the plain geometric mean; zero weight drops a factor
  assert.ok(Math.abs(combineConfidence(0.5, 0.5, 0.5, 0.5, 0.5) - 0.5) < 1e-12);
  const only = { history: 1, ambiguity: 0, spread: 0, fit: 0, evidence: 0 };
  assert.ok(Math.abs(combineConfidence(0.3, 0.9, 0.9, 0.1, 0.1, only) - 0.3) < 1e-12);
  // ten users whose metric follows the evidence factor and runs against the history factor
  const users = Array.from({ length: 10 }, (_, j) => ({
    confidence: 0,
    historyFactor: 1 - j / 10,
    ambiguity: 0,
    spread: 0.5,
    fit: 1,
    evidence: (j + 1) / 10,
    historySize: 10,
    personas: 1,
    reasons: [],
  }));
  const metric = users.map((_, j) => j);
  const fitted = fitConfidenceWeights(users, metric, 0.2);
  assert.equal(fitted.topMean, 8.5); // users 9 and 8
  assert.ok(fitted.weights.evidence > fitted.weights.history);
});

test('isotonic calibrator: pool-adjacent-violators on hand-computed data', () => {
  const c = Calibrator.fit([1, 2, 3, 4, 5, 6], [0, 1, 0, 0, 1, 1]);
  // blocks {1} -> 0, {2,3,4} -> 1/3, {5} -> 1, {6} -> 1
  assert.deepEqual(Array.from(c.xs), [1, 4, 5, 6]);
  assert.deepEqual(Array.from(c.ps), [0, 1 / 3, 1, 1]);
  assert.equal(c.predict(0.5), 0);
  assert.equal(c.predict(1), 0);
  assert.equal(c.predict(2), 1 / 3);
  assert.equal(c.predict(4), 1 / 3);
  assert.equal(c.predict(4.5), 1);
  assert.equal(c.predict(99), 1);
  // equal scores share one block; input order does not matter
  const t = Calibrator.fit([2, 1, 1], [1, 1, 0]);
  assert.deepEqual(Array.from(t.ps), [0.5, 1]);
  assert.deepEqual(Calibrator.fromJSON(c.toJSON()).toJSON(), c.toJSON());
});

test('expected calibration error: equal-width bins weighted by their share', () => {
  const r = reliability([0.05, 0.15, 0.15, 0.95], [0, 1, 0, 1], 10);
  // bins: 0 -> |0 - 0.05|, 1 -> |0.5 - 0.15| (2 items), 9 -> |1 - 0.95|
  assert.ok(Math.abs(r.ece - (0.25 * 0.05 + 0.5 * 0.35 + 0.25 * 0.05)) < 1e-12);
  assert.equal(r.bins[1]!.count, 2);
  assert.equal(r.bins[1]!.observed, 0.5);
  assert.equal(reliability([0.3, 0.3], [0, 1]).ece.toFixed(12), (0.2).toFixed(12));
});

test('confidence factors: history factor increasing, combination monotone, entropy and fit', () => {
  let prev = -1;
  for (const n of [0, 1, 2, 5, 10, 20, 100]) {
    const h = historyFactor(n);
    assert.ok(h > prev);
    prev = h;
  }
  assert.equal(historyFactor(10), 0.5);
  assert.ok(combineConfidence(0.8, 0.2, 0.3, 0.9) > combineConfidence(0.4, 0.2, 0.3, 0.9));
  assert.ok(combineConfidence(0.8, 0.2, 0.3, 0.9) > combineConfidence(0.8, 0.6, 0.3, 0.9));
  assert.ok(combineConfidence(0.8, 0.2, 0.3, 0.9) > combineConfidence(0.8, 0.2, 0.7, 0.9));
  assert.equal(combineConfidence(1, 0, 0, 1), 1);
  assert.equal(itemEvidence(Int32Array.of(10, 0, 30), Int32Array.of(0, 2), 10), (0.5 + 0.75) / 2);
  assert.equal(itemEvidence(Int32Array.of(10, 0, 30), Int32Array.of(1), 10), 0);
  assert.equal(normalisedEntropy([0.5, 0.5]), 1);
  assert.equal(normalisedEntropy([1, 0, 0]), 0);
  // history items ranked at the top of 5 candidates: AUC 1 -> fit 1; at the bottom -> 0
  const scores = Float32Array.of(5, 4, 3, 2, 1);
  const cands = Int32Array.of(0, 1, 2, 3, 4);
  assert.equal(profileFit(scores, cands, Int32Array.of(0)), 1);
  assert.equal(profileFit(scores, cands, Int32Array.of(4)), 0);
  assert.equal(profileFit(scores, cands, Int32Array.of(2)), 0);
});

const world = worldToLog({ users: 400, items: 300, categories: 6, meanInteractions: 40, seed: 11 });
const split = makeSplit(world.log, { protocol: 'temporal-user', seed: 11 });
const modelReady = (async () => {
  const m = createModel('personas', { epochs: 8, warmEpochs: 4, avgEpochs: 2 });
  await m.fit(split.train, { rng: new Rng(11).derive('model'), threads: 1 });
  if (!hasPersonas(m)) throw new Error('no personas');
  return m;
})();

test('confidence grows with the history on a constructed case (nested one-taste histories)', async () => {
  const model = await modelReady;
  // a new user (-1) whose history is the n most popular items of one category (single-category
  // items only): more of the same taste must never lower the confidence (item evidence held
  // fixed at 1 by halfItem 0, since later items are less popular)
  const cats = world.log.categories!;
  const byPop = Array.from(split.train.candidates).sort((a, b) => split.train.itemPopularity[b]! - split.train.itemPopularity[a]! || a - b);
  const single = (c: number) => byPop.filter((i) => categoriesOf(cats, i).length === 1 && categoriesOf(cats, i)[0] === c);
  let oneTaste = single(0);
  for (let c = 1; c < cats.names.length; c++) if (single(c).length > oneTaste.length) oneTaste = single(c);
  assert.ok(oneTaste.length >= 20, `${oneTaste.length} items`);
  let prev: UserConfidence | null = null;
  for (const n of [2, 5, 10, 15, 20]) {
    const history = Int32Array.from(oneTaste.slice(0, n)).sort();
    const c = userConfidence(model, split.train, { user: -1, history }, { halfItem: 0 });
    assert.equal(c.historySize, n);
    assert.equal(c.evidence, 1);
    assert.ok(c.confidence >= 0 && c.confidence <= 1);
    if (prev) {
      assert.ok(c.historyFactor > prev.historyFactor);
      assert.ok(c.spread < prev.spread, `spread ${c.spread} after ${prev.spread}`);
      assert.ok(c.confidence > prev.confidence, `n=${n}: ${c.confidence} vs ${prev.confidence} (${JSON.stringify(c)})`);
    }
    prev = c;
  }
  assert.ok(userConfidence(model, split.train, { user: -1, history: Int32Array.of(oneTaste[0]!) }).reasons.some((r) => r.startsWith('short history')));
});

test('a confidence from the scored set and row equals the one computed from the user alone; set sizes without a catalogue pass', async () => {
  const model = await modelReady;
  for (const u of split.testUsers.slice(0, 4)) {
    const history = rowOf(split.history, u);
    const personas = personasFor(model, u, history);
    const row = new Float32Array(split.train.nItems);
    model.scorePersonas(personas, row, history);
    assert.deepEqual(userConfidence(model, split.train, { user: u, history, personas, scores: row }), userConfidence(model, split.train, { user: u, history }));
    // the number of rows of a set, a fold-in, one row and none: what the attention's length says
    const d = personas.length / model.personaCount(u);
    for (const set of [personas, model.foldIn(history), personas.subarray(0, d), new Float32Array(0)]) {
      assert.equal(personaSetSize(model, set, history[0]!), set.length === 0 ? 0 : model.attentionFor(set, history[0]!).length);
    }
  }
});

test('hedge: a low-confidence user gets a hedged, explained list; a confident one the plain top-n', async () => {
  const model = await modelReady;
  const u = split.testUsers[0]!;
  const history = rowOf(split.history, u);
  const scores = new Float32Array(split.train.nItems);
  model.scoreBatch(singleUserBatch(u, history), scores);
  const personas = model.personaVectors(u);
  const conf = userConfidence(model, split.train, { user: u, history });
  const low = { ...conf, confidence: 0.1 };
  const h = hedge({ model, train: split.train, personas, history, scores, confidence: low, n: 12, threshold: 0.5 });
  assert.equal(h.hedged, true);
  assert.equal(h.items.length, 12);
  assert.equal(new Set(h.items).size, 12);
  for (const i of h.items) assert.ok(!history.includes(i));
  assert.ok(h.reasons[0]!.startsWith('low confidence'));
  // the reasons name categories only when the data has them
  assert.ok(split.train.categories, 'the planted world has categories');
  assert.ok(h.reasons.includes('every third item is popular and adds a category not yet in the list'), h.reasons.join('; '));
  const bare = hedge({ model, train: { ...split.train, categories: null }, personas, history, scores, confidence: low, n: 12, threshold: 0.5 });
  assert.ok(bare.reasons.includes('every third item is popular'), bare.reasons.join('; '));
  assert.ok(bare.reasons.every((r) => !r.includes('categor')), bare.reasons.join('; '));
  const high = { ...conf, confidence: 0.9 };
  const p = hedge({ model, train: split.train, personas, history, scores, confidence: high, n: 12, threshold: 0.5 });
  assert.equal(p.hedged, false);
  assert.deepEqual(p.reasons, []);
  // the plain list is the top-12 by score
  const best = Array.from(split.train.candidates)
    .filter((i) => !history.includes(i))
    .sort((a, b) => scores[b]! - scores[a]! || split.train.itemRanks[a]! - split.train.itemRanks[b]!)
    .slice(0, 12);
  assert.deepEqual(Array.from(p.items), best);
});

test('explanations are withheld when the explaining persona is uncertain', async () => {
  const model = await modelReady;
  const ctx = explainContext(split.train, world.log);
  const u = split.testUsers.find((v) => model.personaCount(v) > 1)!;
  const history = rowOf(split.history, u);
  const conf = userConfidence(model, split.train, { user: u, history });
  const item = split.train.candidates.find((i) => !history.includes(i))!;
  const sure = explainOrWithhold(model, { user: u, history }, item, ctx, { ...conf, confidence: 0.9 }, { minWeight: 0, minLead: 0 });
  assert.ok(sure.explanation);
  assert.equal(sure.withheld, null);
  const strict = explainOrWithhold(model, { user: u, history }, item, ctx, conf, { minWeight: 1.01 });
  assert.equal(strict.explanation, null);
  assert.match(strict.withheld!, /no single persona/);
  const unsure = explainOrWithhold(model, { user: u, history }, item, ctx, { ...conf, confidence: 0.1 }, { minWeight: 0, minLead: 0 });
  assert.match(unsure.withheld!, /too little is known/);
  // a persona that does not lead the runner-up by minLead cannot explain the item
  const w = sure.explanation!.weights;
  const lead = sure.explanation!.weight - Math.max(...w.filter((_, k) => k !== sure.explanation!.persona));
  const tied = explainOrWithhold(model, { user: u, history }, item, ctx, { ...conf, confidence: 0.9 }, { minLead: lead + 1e-6 });
  assert.match(tied.withheld!, /two tastes carry this item almost equally/);
  const led = explainOrWithhold(model, { user: u, history }, item, ctx, { ...conf, confidence: 0.9 }, { minLead: lead - 1e-6 });
  assert.ok(led.explanation);
});

test('study confidence (quick): selective accuracy, calibration and profile swap in the JSON', async () => {
  const { confidenceStudy } = await import('../src/study/confidence.js');
  const json = await confidenceStudy.run({ seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
  assert.equal(json.study, 'confidence');
  const r = json.results as {
    selectiveAccuracy: { coverage: number[]; 'ndcg@20': number[]; all: number };
    calibration: { eceTest: number; bins: { count: number }[]; items: number };
    profileSwap: { users: number; ownMinusTwin: { mean: number } };
  };
  assert.deepEqual(r.selectiveAccuracy.coverage, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.equal(r.selectiveAccuracy['ndcg@20'].length, 10);
  // coverage 100% is all users
  assert.equal(r.selectiveAccuracy['ndcg@20'][9], r.selectiveAccuracy.all);
  assert.ok(r.calibration.eceTest >= 0 && r.calibration.eceTest < 1);
  assert.equal(r.calibration.bins.reduce((a, b) => a + b.count, 0), r.calibration.items);
  assert.ok(r.profileSwap.users > 0);
  assert.match(json.data, /quick world/);
});

test('fitCalibrator on the validation split gives probabilities in [0, 1], non-decreasing in the score', async () => {
  const { validationSplit } = await import('../src/data/split.js');
  const { fitCalibrator, itemProbabilities } = await import('../src/confidence/index.js');
  const model = await modelReady;
  // (the shared model is fitted on train, not validation-train; enough to exercise the plumbing)
  const cal = fitCalibrator(model, validationSplit(split), 20);
  for (let j = 1; j < cal.ps.length; j++) assert.ok(cal.ps[j]! >= cal.ps[j - 1]!);
  const u = split.testUsers[0]!;
  const scores = new Float32Array(split.train.nItems);
  model.scoreBatch(singleUserBatch(u, rowOf(split.history, u)), scores);
  const items = Int32Array.from(split.train.candidates.subarray(0, 5));
  const p = itemProbabilities(cal, scores, split.train.candidates, items);
  for (const x of p) assert.ok(x >= 0 && x <= 1);
  const best = items.reduce((a, b) => (scores[b]! > scores[a]! ? b : a));
  const worst = items.reduce((a, b) => (scores[b]! < scores[a]! ? b : a));
  assert.ok(p[items.indexOf(best)]! >= p[items.indexOf(worst)]!);
});
