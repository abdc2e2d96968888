/**
 * `study memory` (src/study/memory.ts): the verdict rule on constructed per-user values, the
 * persona summaries of a history, and a quick end-to-end run whose verdict follows its halves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/math/rng.js';
import { MEMORIES, MEMORY_BUDGETS, memoryStudy, memoryVerdict, summariesOf, type MemoryValues } from '../src/study/memory.js';
import { studyHtml } from '../src/study/report.js';
import { executeStudy } from '../src/study/run.js';

const USERS = 300;
const budgets = [...MEMORY_BUDGETS];

/** Per-user ndcg: a memory's base level plus the same per-user noise for every memory (paired). */
function values(level: Record<(typeof MEMORIES)[number], number[]>): MemoryValues {
  const noise = Array.from({ length: USERS }, (_, u) => new Rng(3).derive(u).next() * 0.2);
  const out = {} as MemoryValues;
  for (const m of MEMORIES) out[m] = budgets.map((_, t) => noise.map((z, u) => level[m][t]! + z + (u % 7) * 0.001));
  return out;
}

test('memory verdict: summaries above the better episodic memory and recency above similarity at 3 of 4 budgets hold', () => {
  const v = memoryVerdict(
    values({ summaries: [0.3, 0.3, 0.3, 0.3], recency: [0.2, 0.2, 0.2, 0.3], similarity: [0.1, 0.1, 0.1, 0.3], random: [0, 0, 0, 0], whole: [0.25, 0.25, 0.25, 0.25] }),
    budgets,
    42,
  );
  assert.equal(v.summaries.verdict, 'holds');
  assert.equal(v.recency.verdict, 'holds');
  assert.equal(v.verdict, 'holds');
  // at N = 50 every memory is equal: the difference is 0, neither above nor below
  assert.equal(v.recency.points[3]!.above || v.recency.points[3]!.below, false);
  assert.deepEqual(v.summaries.points.map((p) => p.against), ['recency', 'recency', 'recency', 'recency']);
});

test('memory verdict: each half separately, against the better episodic memory at each budget', () => {
  // similarity beats recency everywhere, and summaries lose to similarity (the better one)
  const v = memoryVerdict(
    values({ summaries: [0.2, 0.2, 0.2, 0.2], recency: [0.1, 0.1, 0.1, 0.1], similarity: [0.3, 0.3, 0.3, 0.3], random: [0, 0, 0, 0], whole: [0.2, 0.2, 0.2, 0.2] }),
    budgets,
    42,
  );
  assert.equal(v.summaries.verdict, 'does-not-hold', 'summaries beat recency but not similarity, the better episodic memory');
  assert.deepEqual(v.summaries.points.map((p) => p.against), ['similarity', 'similarity', 'similarity', 'similarity']);
  assert.equal(v.recency.verdict, 'does-not-hold');
  assert.equal(v.verdict, 'does-not-hold');
  // two budgets each way: mixed
  const m = memoryVerdict(
    values({ summaries: [0.3, 0.3, 0.1, 0.1], recency: [0.2, 0.2, 0.2, 0.2], similarity: [0.2, 0.2, 0.2, 0.2], random: [0, 0, 0, 0], whole: [0, 0, 0, 0] }),
    budgets,
    42,
  );
  assert.equal(m.summaries.verdict, 'mixed');
  assert.equal(m.recency.verdict, 'mixed', 'equal memories: no difference');
  assert.equal(m.verdict, 'mixed');
});

test('summaries: the history itself within budget, else cluster centroids with log sizes', () => {
  // d = 2: items 0, 1 point along x, item 2 along y
  const W = Float32Array.of(1, 0, 0.8, 0.2, 0, 1);
  const within = summariesOf(W, 2, Int32Array.of(0, 1, 2), 3);
  assert.deepEqual(Array.from(within.vecs), Array.from(Float32Array.of(1, 0, 0.8, 0.2, 0, 1)));
  assert.deepEqual(Array.from(within.logWeight), [0, 0, 0]);
  const two = summariesOf(W, 2, Int32Array.of(0, 1, 2), 2);
  assert.deepEqual(Array.from(two.vecs), Array.from(Float32Array.of(0.9, 0.1, 0, 1)));
  assert.deepEqual(Array.from(two.logWeight), [Math.log(2), 0]);
  const one = summariesOf(W, 2, Int32Array.of(0, 1, 2), 1);
  assert.deepEqual(Array.from(one.vecs), Array.from(Float32Array.of(1.8 / 3, 1.2 / 3)));
  assert.deepEqual(Array.from(one.logWeight), [Math.log(3)]);
});

test('study memory (quick): runs, JSON shape, verdict from its halves, curves per memory', async () => {
  const json = await executeStudy(memoryStudy, { seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
  assert.equal(json.study, 'memory');
  assert.match(json.data, /quick world/);
  const halves = json.results.halves as { summariesVsEpisodic: { verdict: string }; recencyVsSimilarity: { verdict: string } };
  const a = halves.summariesVsEpisodic.verdict;
  const b = halves.recencyVsSimilarity.verdict;
  assert.equal(json.verdict, a === 'holds' && b === 'holds' ? 'holds' : a === 'does-not-hold' && b === 'does-not-hold' ? 'does-not-hold' : 'mixed');
  assert.equal(json.charts.length, 2);
  for (const c of json.charts) {
    assert.deepEqual(c.x, budgets);
    assert.deepEqual(c.series.map((s) => s.name), [...MEMORIES]);
    // the whole history is the same at every budget
    const whole = c.series.find((s) => s.name === 'whole')!.y;
    assert.ok(whole.every((y) => y === whole[0]));
  }
  const mem = json.results.memories as Record<string, { ndcg: [number, number, number] }[]>;
  for (const m of MEMORIES) for (const p of mem[m]!) assert.ok(p.ndcg[0] > 0 && p.ndcg[0] < 1, `${m}: ndcg ${p.ndcg[0]}`);
  assert.match(studyHtml(json), /<svg/);
});
