/**
 * The feedback-loop simulation (src/sim/feedback.ts, src/sim/planted.ts) and its study
 * (src/study/feedback-loop.ts): the position/consumption model on hand-made cases, the per-round
 * metrics on tiny hand-computed lists, the planted preferences against the world's truth,
 * determinism, the verdict on made-up numbers, and a quick end-to-end run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { giniIndex } from '../src/eval/metrics.js';
import { Rng } from '../src/math/rng.js';
import {
  clickProbability,
  consumedPositions,
  consumptionThreshold,
  examination,
  expectedConsumption,
  exposureDistribution,
  gradedDcg,
  idealDcg,
  listCkl,
  METRICS,
  parseArms,
  polarisation,
  simulate,
  simulationJson,
  tasteCoverage,
} from '../src/sim/feedback.js';
import { PlantedPreferences } from '../src/sim/planted.js';
import { feedbackLoopStudy, feedbackVerdict, polarisationChange, type LoopArm } from '../src/study/feedback-loop.js';
import { studyHtml } from '../src/study/report.js';
import { executeStudy } from '../src/study/run.js';
import { World, worldToLog } from '../src/synth/world.js';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('examination 1/log2(r + 1) and click probability min(1, pref / tau)', () => {
  close(examination(1), 1);
  close(examination(3), 0.5);
  close(examination(7), 1 / 3);
  assert.throws(() => examination(0), /positive integer/);
  close(clickProbability(0.02, 0.04), 0.5);
  close(clickProbability(0.05, 0.04), 1);
  assert.equal(clickProbability(0.05, 0), 0);
  assert.equal(clickProbability(0, 0.04), 0);
});

test('expected consumption of hand-made lists', () => {
  // every item irresistible: 1 + 1/log2(3) + 1/2
  close(expectedConsumption([1, 1, 1]), 1 + 1 / Math.log2(3) + 0.5);
  // half-attractive first item, a useless second, a sure third: 0.5 + 0 + 0.5
  close(expectedConsumption([0.5, 0, 1]), 1);
  assert.equal(expectedConsumption([]), 0);
});

test('consumed positions: x < e(r) a(r) with one uniform per rank', () => {
  // e = 1, 0.631, 0.5
  assert.deepEqual(consumedPositions([1, 1, 1], [0.99, 0.7, 0.49]), [0, 2]);
  assert.deepEqual(consumedPositions([0.5, 1, 1], [0.6, 0.6, 0.51]), [1]);
  assert.deepEqual(consumedPositions([0, 0, 0], [0, 0, 0]), []);
  // the sampler's mean matches the expectation (fixed seed: a deterministic check)
  const a = [1, 0.5, 0.2, 0.8, 0, 1, 0.3, 0.1, 0.9, 0.4];
  const rng = new Rng(7);
  let total = 0;
  const n = 20000;
  const u = new Float64Array(a.length);
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < a.length; r++) u[r] = rng.next();
    total += consumedPositions(a, u).length;
  }
  close(total / n, expectedConsumption(a), 0.03);
});

test('taste coverage: share of personas served by the list; null below 2 personas', () => {
  // item 0 serves persona 0, item 1 persona 1, item 2 nobody, item 3 persona 2, item 4 personas 0 and 2
  const serves = Uint8Array.of(0b001, 0b010, 0, 0b100, 0b101);
  close(tasteCoverage([0, 2], serves, 3)!, 1 / 3);
  close(tasteCoverage([0, 1, 3], serves, 3)!, 1);
  close(tasteCoverage([4, 2], serves, 3)!, 2 / 3);
  close(tasteCoverage([2], serves, 3)!, 0);
  assert.equal(tasteCoverage([0], serves, 1), null);
});

test('ndcg against planted preferences: graded DCG over the best unseen list', () => {
  const pref = [0.4, 0.3, 0.2, 0.1];
  const ranked = Int32Array.of(0, 1, 2, 3);
  // item 0 seen: the best list is [1, 2]
  close(idealDcg(ranked, pref, Int32Array.of(0), 2), 0.3 + 0.2 / Math.log2(3));
  close(gradedDcg([2, 1], pref), 0.2 + 0.3 / Math.log2(3));
  close(gradedDcg([1, 2], pref) / idealDcg(ranked, pref, Int32Array.of(0), 2), 1);
  close(idealDcg(ranked, pref, Int32Array.of(0, 1, 2, 3), 2), 0);
});

test('ckl of a list against a planted mix', () => {
  const cats = { names: ['x', 'y'], ptr: Int32Array.of(0, 1, 2, 4), idx: Int32Array.of(0, 1, 0, 1) };
  const p = Float64Array.of(0.5, 0.5);
  // list [0]: q = (1, 0)
  close(listCkl(Int32Array.of(0), cats, p), 0.5 * Math.log(0.5 / (0.99 + 0.005)) + 0.5 * Math.log(0.5 / 0.005));
  // list [0, 1] or [2]: q = p, ckl 0
  close(listCkl(Int32Array.of(0, 1), cats, p), 0);
  close(listCkl(Int32Array.of(2), cats, p), 0);
});

test('exposure Gini and polarisation on tiny lists', () => {
  // counts 2, 1, 0 over 3 items: sorted (0, 1, 2) -> (0 * -2 + 1 * 0 + 2 * 2) / (3 * 3)
  close(giniIndex([Int32Array.of(0), Int32Array.of(0), Int32Array.of(1)], 1, 3), 4 / 9);
  assert.deepEqual(Array.from(exposureDistribution([[0, 1], [0, 2]], 3, 2)), [0.5, 0.25, 0.25]);
  close(polarisation([[0, 1]], [[1, 0]], 3, 2), 0);
  close(polarisation([[0]], [[1]], 3, 1), 1);
  // (0.5, 0.5, 0) vs (0.5, 0, 0.5): M = (0.5, 0.25, 0.25); JS = 0.5 * 0.5 * 1 + 0.5 * 0.5 * 1
  close(polarisation([[0, 1]], [[0, 2]], 3, 2), 0.5);
  // only the first k slots count
  close(polarisation([[0, 1]], [[0, 2]], 3, 1), 0);
});

test('planted preferences follow the planted personas and sides', () => {
  const world = new World({ users: 120, items: 300, categories: 6, meanInteractions: 30, population: 'split:51/49,bridge:0.3', seed: 5 });
  const { log, truth } = worldToLog(world);
  const planted = new PlantedPreferences(world, log.categories!.names);
  let bridging = 0;
  for (let u = 0; u < 120; u++) {
    const t = planted.forUser(u);
    const tr = truth.users[u]!;
    assert.equal(t.personas, tr.personas.length);
    assert.equal(t.group, truth.userGroup[u]);
    let sum = 0;
    for (const v of t.pref) sum += v;
    assert.ok(sum > 0 && sum <= 1 + 1e-9, `sum ${sum}`);
    close(t.mix.reduce((a, b) => a + b, 0), 1);
    // the mix: the main category of each persona carries at least its weight x (1 - mixedPersonaShare)
    for (const p of tr.personas) assert.ok(t.mix[log.categories!.names.indexOf(p.categories[0]!)]! >= p.weight * 0.7 - 1e-9);
    for (let i = 0; i < t.pref.length; i++) {
      if (t.pref[i]! > 0) {
        assert.ok(t.serves[i]! > 0 && t.serves[i]! < 1 << t.personas);
        // a served item is in one of the serving persona's categories
        const itemCats = Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!);
        for (let k = 0; k < t.personas; k++) if (t.serves[i]! & (1 << k)) assert.ok(tr.personas[k]!.categories.some((c) => itemCats.includes(c)));
        // a plain group member never prefers what their group dislikes
        if (t.group === 0) assert.notEqual(truth.itemPolarity[i], -1);
        if (t.group === 1) assert.notEqual(truth.itemPolarity[i], 1);
      } else assert.equal(t.serves[i], 0);
    }
    if (t.group === 2) {
      bridging++;
      // a bridging user holds both sides: they prefer items loved by A and items loved by B
      assert.ok(t.ranked.some((i) => truth.itemPolarity[i] === 1) && t.ranked.some((i) => truth.itemPolarity[i] === -1));
    }
    // ranked: best first
    for (let j = 1; j < t.ranked.length; j++) assert.ok(t.pref[t.ranked[j - 1]!]! >= t.pref[t.ranked[j]!]!);
    close(consumptionThreshold(t, 10), t.pref[t.ranked[Math.min(10, t.ranked.length) - 1]!]!);
  }
  assert.ok(bridging > 10, `${bridging} bridging users`);
  // a user's own log positives are mostly planted-preferred items (the generator drew them so)
  const t0 = planted.forUser(0);
  for (let r = 0; r < log.length; r++) if (log.user[r] === 0 && truth.rowPersona[r]! >= 0 && log.rating![r]! >= 4) assert.ok(t0.pref[log.item[r]!]! > 0);
});

test('arms parse as model[:params][+reranker]', () => {
  const arms = parseArms('pop, personas:k=1 ,personas+calibrated:0.5');
  assert.deepEqual(
    arms.map((a) => [a.name, a.model, a.fixed, a.rerank]),
    [
      ['pop', 'pop', {}, null],
      ['personas:k=1', 'personas', { k: 1 }, null],
      ['personas+calibrated:0.5', 'personas', {}, 'calibrated:0.5'],
    ],
  );
  assert.throws(() => parseArms('nope'), /unknown model/);
  assert.throws(() => parseArms('pop,pop'), /twice/);
  assert.throws(() => parseArms('pop+calibrated:2'), /lambda/);
  assert.throws(() => parseArms(' , '), /at least one arm/);
});

test('simulate is deterministic: same seed, same JSON; another seed differs', async () => {
  const run = async (seed: number) => JSON.stringify(simulationJson(await simulate({ seed, rounds: 2, arms: 'pop,ials', quick: true })));
  const a = await run(3);
  assert.equal(await run(3), a);
  assert.notEqual(await run(4), a);
  const parsed = JSON.parse(a) as { arms: { rounds: { round: number; ndcg: number; consumed: number }[] }[] };
  assert.equal(parsed.arms.length, 2);
  for (const arm of parsed.arms) {
    assert.deepEqual(arm.rounds.map((r) => r.round), [1, 2]);
    for (const r of arm.rounds) assert.ok(r.ndcg > 0 && r.ndcg <= 1 && r.consumed > 0);
  }
});

// made-up per-user numbers for the verdict
function arm(name: string, role: LoopArm['role'], first: number[], last: number[], ndcg: number[], pol: [number, number, number], twin?: string): LoopArm {
  return { name, role, ...(twin ? { twin } : {}), coverageFirst: first, coverageLast: last, ndcgLast: ndcg, polarisationChange: { mean: pol[0], ci95: [pol[1], pol[2]] } };
}
const n = 60;
const wobble = (base: number, amp: number): number[] => Array.from({ length: n }, (_, j) => base + amp * (((j * 7) % 5) - 2) / 2);

test('feedbackVerdict: holds, mixed and does-not-hold on made-up numbers', () => {
  const pop = arm('pop', 'global', wobble(0.7, 0.05), wobble(0.7, 0.05), wobble(0.2, 0.02), [0, -0.001, 0.001]);
  const narrowing = (name: string, pol: [number, number, number]) => arm(name, 'personalised', wobble(0.95, 0.02), wobble(0.8, 0.02), wobble(0.5, 0.05), pol);
  const guarded = (ndcg: number) => arm('p+cal', 'guarded', wobble(0.99, 0.01), wobble(0.99, 0.01), wobble(ndcg, 0.05), [0, -0.002, 0.002], 'p');
  const holds = feedbackVerdict([pop, narrowing('one', [0.01, 0.005, 0.02]), narrowing('p', [0.02, 0.01, 0.03]), guarded(0.48)], 1);
  assert.equal(holds.verdict, 'holds', holds.reason);
  assert.deepEqual(holds.checks, { narrowing: true, polarising: true, guardrail: true });
  close(holds.guardrail!.ndcgCost, 0.04, 1e-9);
  close(holds.guardrail!.coverageVsTwin.mean, 0.19, 1e-9);
  // one arm does not polarise: mixed
  const mixed = feedbackVerdict([pop, narrowing('one', [0.01, -0.005, 0.02]), narrowing('p', [0.02, 0.01, 0.03]), guarded(0.48)], 1);
  assert.equal(mixed.verdict, 'mixed');
  assert.deepEqual(mixed.checks, { narrowing: true, polarising: false, guardrail: true });
  // a 20% ndcg cost breaks the guardrail
  assert.equal(feedbackVerdict([pop, narrowing('p', [0.02, 0.01, 0.03]), guarded(0.4)], 1).checks.guardrail, false);
  // nothing narrows, nothing polarises, the guardrail is no better than its twin: does-not-hold
  const flat = arm('p', 'personalised', wobble(0.99, 0.01), wobble(0.99, 0.01), wobble(0.5, 0.05), [0, -0.01, 0.01]);
  const none = feedbackVerdict([pop, flat, guarded(0.48)], 1);
  assert.equal(none.verdict, 'does-not-hold', none.reason);
  // without a guarded arm the guardrail cannot hold
  assert.equal(feedbackVerdict([pop, narrowing('p', [0.02, 0.01, 0.03])], 1).checks.guardrail, false);
});

test('polarisationChange: zero for the same lists, positive when the groups separate', () => {
  const group = Int8Array.of(0, 0, 1, 1);
  const same = [Int32Array.of(0, 1), Int32Array.of(0, 2), Int32Array.of(0, 1), Int32Array.of(0, 2)];
  assert.deepEqual(polarisationChange(same, same, group, 4, 1, 50, 2), { mean: 0, ci95: [0, 0] });
  const apart = [Int32Array.of(0, 1), Int32Array.of(0, 1), Int32Array.of(2, 3), Int32Array.of(2, 3)];
  const c = polarisationChange(same, apart, group, 4, 1, 50, 2);
  close(c.mean, 1 - polarisation(same.slice(0, 2), same.slice(2), 4, 2));
  assert.ok(c.ci95[0] > 0);
});

test('feedback-loop study end to end (quick)', async () => {
  const json = await executeStudy(feedbackLoopStudy, { seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
  assert.equal(json.study, 'feedback-loop');
  assert.ok(['holds', 'mixed', 'does-not-hold'].includes(json.verdict));
  assert.match(json.verdictReason, /narrowing .* polarising .* guardrail/);
  const results = json.results as { arms: { name: string; rounds: unknown[] }[]; checks: Record<string, boolean>; users: { A: number; B: number; bridging: number } };
  assert.deepEqual(results.arms.map((a) => a.name), ['pop', 'personas:k=1', 'personas', 'personas+calibrated:0.5', 'router']);
  for (const a of results.arms) assert.equal(a.rounds.length, 3);
  assert.ok(results.users.A > 0 && results.users.B > 0 && results.users.bridging > 0);
  assert.equal(json.charts.length, METRICS.length);
  for (const c of json.charts) {
    assert.equal(c.kind, 'line');
    assert.deepEqual(c.x, [1, 2, 3]);
    for (const s of c.series) assert.equal(s.y.length, 3);
  }
  const html = studyHtml(json);
  assert.equal((html.match(/<svg/g) ?? []).length, METRICS.length);
  await assert.rejects(
    executeStudy(feedbackLoopStudy, { seed: 42, threads: 1, log: worldToLog({ users: 20, items: 40, categories: 3 }).log, dataLabel: 'x', quick: true }),
    /no --data mode/,
  );
});
