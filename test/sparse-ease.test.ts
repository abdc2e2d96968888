/**
 * `sparse-ease` (src/models/sparse-ease.ts): a hand-computed case with one neighbour per item,
 * EASE itself when every item may regress on every other, the Cholesky solve, and a catalogue
 * past EASE's 32k limit that it fits in items x neighbours memory while ease refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/math/rng.js';
import { EaseScorer } from '../src/models/ease.js';
import type { FitContext } from '../src/models/model.js';
import { SparseEase } from '../src/models/sparse-ease.js';
import { choleskySolve } from '../src/math/cholesky.js';
import { batchOf, trainFromRows } from './train-fixtures.js';

const ctx = (threads = 1): FitContext => ({ rng: new Rng(1), threads });

test('one neighbour per item: b_j[a] = G_aj / (G_aa + lambda) for the most similar a', async () => {
  // popularity 3, 4, 2; co-occurrence c01 = 3, c12 = 2, c02 = 1; cosine s01 0.866 > s12 0.707 > s02 0.408
  const train = trainFromRows(3, [[0, 1], [0, 1], [1, 2], [0, 1, 2]]);
  const m = new SparseEase({ lambda: 1, neighbours: 1, pool: 2, shrink: 0 });
  await m.fit(train, ctx());
  // N(0) = {1}: 3 / (4 + 1); N(1) = {0}: 3 / (3 + 1); N(2) = {1}: 2 / (4 + 1)
  assert.equal(m.weight(1, 0), Math.fround(0.6));
  assert.equal(m.weight(0, 1), Math.fround(0.75));
  assert.equal(m.weight(1, 2), Math.fround(0.4));
  for (const [a, i] of [[2, 0], [2, 1], [0, 2], [0, 0], [1, 1]] as const) assert.equal(m.weight(a, i), 0, `weight(${a}, ${i})`);
  const out = new Float32Array(6).fill(Number.NaN);
  // history {1}; history {0, 0} (a repeat counts once)
  m.scoreBatch(batchOf([[1], [0, 0]]), out);
  assert.deepEqual(Array.from(out), [0.6, 0, 0.4, 0, 0.75, 0].map(Math.fround));
});

test('with every other item as a neighbour and every pair co-occurring it is EASE', async () => {
  const rng = new Rng(4);
  const rows = Array.from({ length: 300 }, () => {
    const items = rng.shuffle(Int32Array.from({ length: 8 }, (_, i) => i));
    return Array.from(items.subarray(0, 3 + rng.int(4))).sort((a, b) => a - b);
  });
  const train = trainFromRows(8, rows);
  const ease = new EaseScorer({ lambda: 20 });
  await ease.fit(train, ctx());
  const sparse = new SparseEase({ lambda: 20, neighbours: 7, pool: 7, shrink: 0 });
  await sparse.fit(train, ctx());
  for (let a = 0; a < 8; a++) {
    for (let i = 0; i < 8; i++) {
      const e = ease.weight(a, i);
      assert.ok(Math.abs(sparse.weight(a, i) - e) <= 2e-5, `weight(${a}, ${i}): ${sparse.weight(a, i)} vs EASE ${e}`);
    }
  }
});

test('choleskySolve (as sparse-ease calls it) solves a hand-made 3 x 3 system', () => {
  // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = (1, -1, 2): b = A x = (2, -1, 5)
  const a = Float64Array.of(4, 2, 0, 2, 5, 1, 0, 1, 3);
  const b = Float64Array.of(2, -1, 5);
  choleskySolve(a, b, 3, 1e-9);
  for (const [k, v] of [1, -1, 2].entries()) assert.ok(Math.abs(b[k]! - v) < 1e-12, `x${k} = ${b[k]}`);
});

test('pool below neighbours is refused, naming both', () => {
  assert.throws(() => new SparseEase({ neighbours: 50, pool: 20 }), /sparse-ease: pool \(20\) must be at least neighbours \(50\)/);
});

test('a 33,000-item catalogue: ease refuses naming sparse-ease, sparse-ease fits with at most items x neighbours weights', async () => {
  const nItems = 33_000;
  const rng = new Rng(8);
  // 6,000 users, 12 items each: 6 consecutive ones (so every item has a positive) and 6 from a popularity-skewed draw
  const rows = Array.from({ length: 6000 }, (_, u) => {
    const s = new Set<number>();
    for (let x = 0; x < 6; x++) s.add((u * 6 + x) % nItems);
    while (s.size < 12) s.add(Math.floor(nItems * rng.next() ** 2));
    return [...s].sort((a, b) => a - b);
  });
  const train = trainFromRows(nItems, rows);
  assert.ok(train.candidates.length > 32_000, `${train.candidates.length} candidates`);
  await assert.rejects(new EaseScorer({ maxItems: 32_000 }).fit(train, ctx()), /over the limit of 32,000 candidate items; use sparse-ease/);
  const m = new SparseEase({ neighbours: 10, pool: 20 });
  await m.fit(train, ctx());
  const a = m.toArtifact().arrays;
  assert.ok(a.indices!.length <= nItems * 10 && a.indices!.length > nItems, `${a.indices!.length} weights`);
  // a user's history scores items, finite everywhere
  const out = new Float32Array(nItems);
  m.scoreBatch(batchOf([rows[0]!]), out);
  assert.ok(out.every(Number.isFinite), `non-finite at ${out.findIndex((v) => !Number.isFinite(v))}: ${out.find((v) => !Number.isFinite(v))}`);
  assert.ok(out.some((v) => v !== 0));
});
