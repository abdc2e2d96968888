import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arenaViews, clusterInArena, personaArena } from '../src/math/persona-kernels.js';
import { Rng } from '../src/math/rng.js';
import { clusterHistory } from '../src/models/personas-cluster.js';

/**
 * Item vectors around `blocks` planted directions with noise of mixed magnitude (so every float64
 * rounding order differs and Lloyd's rounds move items), some rows all zero.
 */
function plantedW(nItems: number, d: number, blocks: number, rng: Rng): Float32Array {
  const dirs = Array.from({ length: blocks * d }, () => rng.next() - 0.5);
  const W = new Float32Array(nItems * d);
  for (let j = 0; j < nItems; j++) {
    if (j % 23 === 5) continue;
    const b = j % blocks;
    const scale = Math.pow(10, Math.floor(rng.next() * 4) - 2);
    for (let x = 0; x < d; x++) W[j * d + x] = (dirs[b * d + x]! + (rng.next() - 0.5) * 0.9) * scale;
  }
  return W;
}

describe('clustering kernel (clusterRows in assembly/personas.ts)', () => {
  // d = 5 and 7 exercise the odd tail of the centroid sums; odd k the zero padding column
  for (const d of [5, 7, 64]) {
    it(`labels and cluster counts equal clusterHistory's exactly (d = ${d})`, () => {
      const rng = new Rng(100 + d);
      const nItems = 400;
      const maxN = 150;
      const arena = personaArena(nItems, d, 1, 8, 16, 2, maxN, 7);
      const { W } = arenaViews(arena, nItems);
      W.set(plantedW(nItems, d, 5, rng));
      let multi = 0;
      let moved = 0;
      for (let t = 0; t < 60; t++) {
        const n = 2 + Math.floor(rng.next() * (maxN - 1));
        const items = Int32Array.from({ length: n }, () => Math.floor(rng.next() * nItems));
        const minItems = 1 + (t % 4);
        const k = Math.min(2 + (t % 6), Math.floor(n / minItems));
        if (k < 2) continue;
        const iters = [1, 3, 10][t % 3]!;
        const want = new Int32Array(n);
        const wantK = clusterHistory(W, d, items, k, minItems, iters, want);
        const got = new Int32Array(n).fill(-7);
        const gotK = clusterInArena(arena, t % 2, items, k, minItems, iters, got);
        assert.equal(gotK, wantK, `history ${t}: clusters`);
        assert.deepEqual(got, want, `history ${t}: labels`);
        if (wantK > 1) multi++;
        if (iters > 1 && wantK !== clusterHistory(W, d, items, k, minItems, 1, new Int32Array(n))) moved++;
      }
      assert.ok(multi > 30, `${multi} histories with 2+ clusters`);
      assert.ok(moved > 0, 'some histories change over Lloyd rounds');
    });
  }

  it('declines (-1) what its slot cannot hold, so the caller runs the JS loop', () => {
    const d = 4;
    const arena = personaArena(10, d, 1, 4, 8, 1, 6, 3);
    const a = new Int32Array(8);
    assert.equal(clusterInArena(arena, 0, new Int32Array(7), 2, 1, 10, a), -1);
    assert.equal(clusterInArena(arena, 0, new Int32Array(6), 4, 1, 10, a), -1);
    assert.equal(clusterInArena(arena, 1, new Int32Array(6), 2, 1, 10, a), -1);
    assert.equal(personaArena(10, d, 1, 4, 8, 2, 6, 1).cluster.length, 0);
  });
});
