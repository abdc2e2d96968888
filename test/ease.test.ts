import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/math/rng.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import { EaseScorer, easeSpec } from '../src/models/ease.js';
import type { FitContext } from '../src/models/model.js';
import { trainUserBatch } from '../src/models/model.js';
import { batchOf, trainFromRows } from './train-fixtures.js';

const ctx = (threads = 1): FitContext => ({ rng: new Rng(1), threads });

function score(model: EaseScorer, nItems: number, histories: number[][]): Float32Array {
  const out = new Float32Array(histories.length * nItems).fill(Number.NaN);
  model.scoreBatch(batchOf(histories), out);
  return out;
}

test('EASE on a hand-made matrix matches the closed form (lambda 1)', async () => {
  // items 0, 1, 3 are candidates; item 2 has no positive. Over (0, 1, 3):
  // X^T X + I = [[3,2,1],[2,4,2],[1,2,3]], P = [[1/2,-1/4,0],[-1/4,1/2,-1/4],[0,-1/4,1/2]],
  // B = [[0,1/2,0],[1/2,0,1/2],[0,1/2,0]].
  const train = trainFromRows(4, [[0, 1], [1, 3], [0, 1, 3]]);
  const m = new EaseScorer({ lambda: 1 });
  await m.fit(train, ctx());
  const items = [0, 1, 3];
  const B = [
    [0, 0.5, 0],
    [0.5, 0, 0.5],
    [0, 0.5, 0],
  ];
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) assert.ok(Math.abs(m.weight(items[a]!, items[b]!) - B[a]![b]!) < 1e-6, `B[${a}][${b}] = ${m.weight(items[a]!, items[b]!)}`);
  const s = score(m, 4, [[0], [0, 3], [1, 2], [0, 0, 7, -1]]);
  const expected = [
    [0, 0.5, 0, 0],
    [0, 1, 0, 0],
    [0.5, 0, 0, 0.5],
    [0, 0.5, 0, 0], // repeated and unknown items ignored
  ];
  for (let b = 0; b < 4; b++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(s[b * 4 + k]! - expected[b]![k]!) < 1e-6, `score[${b}][${k}] = ${s[b * 4 + k]}`);
});

test('EASE config: defaults, validation, tuning grid', () => {
  assert.equal(new EaseScorer().params.lambda, 500);
  assert.equal(easeSpec.schema.safeParse({ lambda: 0 }).success, false);
  assert.equal(easeSpec.schema.safeParse({ lambda: 10, k: 1 }).success, false);
  assert.ok(easeSpec.tuningGrid.length >= 5);
  assert.ok(easeSpec.tuningGrid.every((p) => typeof p.lambda === 'number' && p.lambda > 0));
});

test('EASE: the artifact round trip and the thread count give identical scores', async () => {
  const rng = new Rng(9);
  const nItems = 1800;
  const rows: number[][] = [];
  for (let u = 0; u < 300; u++) {
    const r: number[] = [];
    for (let i = 0; i < nItems - 50; i++) if (rng.next() < 0.02 * (1 + (i % 7))) r.push(i); // the last 50 items: never seen
    rows.push(r);
  }
  const train = trainFromRows(nItems, rows);
  const one = new EaseScorer({ lambda: 50 });
  await one.fit(train, ctx(1));
  const two = new EaseScorer({ lambda: 50 });
  await two.fit(train, ctx(2));
  const back = easeSpec.fromArtifact(decodeArtifact(encodeArtifact(one.toArtifact())));
  const users = Int32Array.from({ length: 40 }, (_, k) => k * 7);
  const batch = trainUserBatch(train, users);
  const outs = [one, two, back].map((m) => {
    const out = new Float32Array(users.length * nItems);
    m.scoreBatch(batch, out);
    return out;
  });
  assert.ok(Buffer.from(outs[1]!.buffer).equals(Buffer.from(outs[0]!.buffer)), '1 vs 2 threads');
  assert.ok(Buffer.from(outs[2]!.buffer).equals(Buffer.from(outs[0]!.buffer)), 'artifact round trip');
  assert.equal(outs[0]![nItems - 1], 0);
  assert.ok(outs[0]!.every(Number.isFinite));
});

test('ease refuses a catalogue over maxItems before allocating, naming the limit and the alternatives', async () => {
  // 5 candidates (item 5 has no positive and is not one)
  const train = trainFromRows(6, [[0, 1], [1, 2, 3], [3, 4], [0, 4]]);
  await assert.rejects(new EaseScorer({ lambda: 1, maxItems: 4 }).fit(train, ctx()), (e: Error) => {
    assert.equal(e.name, 'ConfigError');
    assert.match(e.message, /^ease\.maxItems: ease needs a dense 5 x 5 item-item matrix/);
    assert.match(e.message, /over the limit of 4 candidate items; use sparse-ease \(EASE on each item's nearest neighbours, memory items x neighbours\), or itemknn, ials, bpr or personas/);
    return true;
  });
  // at the limit it fits
  const m = new EaseScorer({ lambda: 1, maxItems: 5 });
  await m.fit(train, ctx());
  assert.ok(Number.isFinite(score(m, 6, [[0]])[1]!));
  assert.equal(easeSpec.schema.safeParse({ maxItems: 40_000 }).success, false, 'past one WebAssembly memory the limit cannot be raised');
});
