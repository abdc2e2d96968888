import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arenaViews, clusterInArena, personaArena, type PersonaArena } from '../src/math/persona-kernels.js';
import { Rng } from '../src/math/rng.js';
import { columnCounts, csrFromPairs, transpose } from '../src/data/csr.js';
import type { TrainSet } from '../src/models/model.js';
import { clusterHistory } from '../src/models/personas-cluster.js';
import { PersonasConfig } from '../src/models/personas-config.js';
import { personaTrainState } from '../src/models/personas-state.js';
import { clusterChunk } from '../src/models/personas-train.js';

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

/**
 * The kernel's last item-centroid similarities (slot scratch, laid out as clusterRows documents:
 * inverse norms, two n-vectors, n x kp similarities, the k x d centroids) equal, bit for bit, the
 * plain left-to-right sums over X_i = W_j / |W_j| and those centroids.
 */
function assertScratchSums(arena: PersonaArena, slot: number, W: Float32Array, d: number, items: Int32Array, k: number): void {
  const n = items.length;
  const kp = (k + 1) & ~1;
  const S = arena.cluster[slot]! + Math.ceil((8 * arena.clusterN) / 64) * 64;
  const f = new Float64Array(arena.memory.buffer, S, n * (3 + kp) + k * d);
  const C = n * (3 + kp);
  for (let i = 0; i < n; i++) {
    let nn = 0;
    for (let x = 0; x < d; x++) nn += W[items[i]! * d + x]! * W[items[i]! * d + x]!;
    const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    assert.equal(f[i], inv, `inverse norm ${i}`);
    for (let q = 0; q < k; q++) {
      let s = 0;
      for (let x = 0; x < d; x++) s += W[items[i]! * d + x]! * inv * f[C + q * d + x]!;
      assert.equal(f[3 * n + i * kp + q], s, `similarity ${i}, ${q}`);
    }
  }
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
        assertScratchSums(arena, t % 2, W, d, items, k);
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

  it('a fit\'s clustering pass gives the same labels and persona counts in the kernel as in the JS loop', () => {
    const rng = new Rng(5);
    const [nUsers, nItems, d] = [60, 300, 9];
    const users: number[] = [];
    const items: number[] = [];
    for (let u = 0; u < nUsers; u++) {
      const len = u % 10 === 0 ? 1 + (u % 7) : 5 + Math.floor(rng.next() * 90);
      const seen = new Set<number>();
      while (seen.size < len) seen.add(Math.floor(rng.next() * nItems));
      for (const j of seen) {
        users.push(u);
        items.push(j);
      }
    }
    const userItems = csrFromPairs(nUsers, nItems, Int32Array.from(users), Int32Array.from(items));
    const train: TrainSet = {
      nUsers, nItems, userItems, itemUsers: transpose(userItems), itemPopularity: columnCounts(userItems),
      candidates: Int32Array.from({ length: nItems }, (_, j) => j), itemRanks: Int32Array.from({ length: nItems }, (_, j) => j), categories: null,
    };
    const cfg = PersonasConfig.parse({ dim: d, k: 6, itemsPerPersona: 8, minClusterItems: 3 });
    const rows = { ptr: new Int32Array(nItems + 1), idx: new Int32Array(0), val: new Float32Array(0) };
    const st = personaTrainState(train, cfg, train.candidates, rows, 0, new Rng(1));
    assert.equal(st.arena.cluster.length, 8, "a clustering slot per user range");
    st.W.set(plantedW(nItems, d, 4, rng));
    const longest = st.hidx.subarray(0, st.arena.clusterN);
    assert.ok(clusterInArena(st.arena, 7, longest, 6, 3, 10, new Int32Array(longest.length)) >= 2, 'a slot takes a history as long as the longest');
    for (const iters of [1, 10]) {
      clusterChunk(st, 0, nUsers, cfg.k, cfg.itemsPerPersona, cfg.minClusterItems, iters, -1);
      const [wantA, wantK] = [Int32Array.from(st.assign), Int32Array.from(st.ku)];
      st.assign.fill(-9);
      st.ku.fill(-9);
      clusterChunk(st, 0, 30, cfg.k, cfg.itemsPerPersona, cfg.minClusterItems, iters, 0);
      clusterChunk(st, 30, nUsers, cfg.k, cfg.itemsPerPersona, cfg.minClusterItems, iters, 7);
      assert.deepEqual(st.ku, wantK, `persona counts (${iters} rounds)`);
      assert.deepEqual(st.assign, wantA, `labels (${iters} rounds)`);
      assert.ok(wantK.filter((k) => k >= 3).length > 10, 'many users with 3+ personas');
    }
  });
});
