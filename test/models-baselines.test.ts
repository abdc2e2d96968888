/**
 * The baseline models itemknn, bpr and ials on small synthetic data with known answers:
 * hand-computed cosines, a block-structured world, ALS loss descent and normal equations,
 * determinism (seed, thread count), fold-in quality. The cases every model shares (artifact round
 * trip, batch = single, seed and thread determinism, fold-in) are in test/model-contract.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { Rng } from '../src/math/rng.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import { singleUserBatch, trainUserBatch, type Recommender, type TrainSet, type UserBatch } from '../src/models/model.js';
import { ItemKnn, itemKnnSpec, knnRows } from '../src/models/itemknn.js';
import { Bpr, bprSpec } from '../src/models/bpr.js';
import { Ials, ialsSpec, gramOf } from '../src/models/ials.js';
import { BprKernel, kernelRngStream, type BprProblem } from '../src/math/factor-kernels.js';

function trainSet(nUsers: number, nItems: number, pairs: readonly [number, number][]): TrainSet {
  const user = Int32Array.from(pairs, (p) => p[0]);
  const item = Int32Array.from(pairs, (p) => p[1]);
  return trainSetFromPairs(nUsers, nItems, user, item, Int32Array.from({ length: nItems }, (_, i) => i), null);
}

/** A random binary matrix where every user has at least `minPerUser` positives. */
function randomWorld(seed: number, nUsers: number, nItems: number, density: number, minPerUser = 1): TrainSet {
  const rng = new Rng(seed);
  const pairs: [number, number][] = [];
  for (let u = 0; u < nUsers; u++) {
    let n = 0;
    for (let i = 0; i < nItems; i++) {
      if (rng.next() < density) {
        pairs.push([u, i]);
        n++;
      }
    }
    while (n++ < minPerUser) pairs.push([u, rng.int(nItems)]);
  }
  return trainSet(nUsers, nItems, pairs);
}

/** Two blocks of taste: users of block b like the items of block b, each minus one held-out item. */
function blockWorld(usersPerBlock: number, itemsPerBlock: number): { train: TrainSet; heldOut: Int32Array } {
  const pairs: [number, number][] = [];
  const heldOut = new Int32Array(2 * usersPerBlock);
  for (let b = 0; b < 2; b++) {
    for (let k = 0; k < usersPerBlock; k++) {
      const u = b * usersPerBlock + k;
      heldOut[u] = b * itemsPerBlock + (k % itemsPerBlock);
      for (let i = b * itemsPerBlock; i < (b + 1) * itemsPerBlock; i++) if (i !== heldOut[u]) pairs.push([u, i]);
    }
  }
  return { train: trainSet(2 * usersPerBlock, 2 * itemsPerBlock, pairs), heldOut };
}

const ctx = (seed = 7, threads = 1) => ({ rng: new Rng(seed), threads });

function scoresOf(model: Recommender, batch: UserBatch, nItems: number): Float32Array {
  const out = new Float32Array(batch.users.length * nItems);
  model.scoreBatch(batch, out);
  return out;
}

function allUsers(train: TrainSet): UserBatch {
  return trainUserBatch(
    train,
    Int32Array.from({ length: train.nUsers }, (_, u) => u),
  );
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let k = 0; k < n; k++) {
    ma += a[k]!;
    mb += b[k]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let k = 0; k < n; k++) {
    sab += (a[k]! - ma) * (b[k]! - mb);
    saa += (a[k]! - ma) ** 2;
    sbb += (b[k]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

// ---------------------------------------------------------------- itemknn

// users x items: u0 {0,1}, u1 {0,1,2}, u2 {1,2}, u3 {0,3}; popularity 3, 3, 2, 1
const KNN_PAIRS: [number, number][] = [
  [0, 0], [0, 1],
  [1, 0], [1, 1], [1, 2],
  [2, 1], [2, 2],
  [3, 0], [3, 3],
];

test('itemknn: similarities equal the hand-computed cosines (and shrunk cosines)', async () => {
  const train = trainSet(4, 4, KNN_PAIRS);
  const m = new ItemKnn({ k: 10 });
  await m.fit(train, ctx());
  const cos: Record<string, number> = { '0,1': 2 / 3, '0,2': 1 / Math.sqrt(6), '0,3': 1 / Math.sqrt(3), '1,2': 2 / Math.sqrt(6), '1,3': 0, '2,3': 0 };
  for (const [key, want] of Object.entries(cos)) {
    const [a, b] = key.split(',').map(Number) as [number, number];
    assert.ok(Math.abs(m.similarity(a, b) - want) < 1e-6, `sim(${a},${b}) = ${m.similarity(a, b)}, want ${want}`);
    assert.ok(Math.abs(m.similarity(b, a) - want) < 1e-6, `sim(${b},${a})`);
  }
  for (let i = 0; i < 4; i++) assert.equal(m.similarity(i, i), 0, 'an item is not its own neighbour');
  const shrunk = new ItemKnn({ k: 10, shrink: 2 });
  await shrunk.fit(train, ctx());
  assert.ok(Math.abs(shrunk.similarity(0, 1) - 2 / (3 + 2)) < 1e-6);
  assert.ok(Math.abs(shrunk.similarity(1, 2) - 2 / (Math.sqrt(6) + 2)) < 1e-6);
  // score = sum of the history's similarities
  const out = scoresOf(m, singleUserBatch(-1, Int32Array.of(0, 3)), 4);
  assert.ok(Math.abs(out[1]! - (2 / 3 + 0)) < 1e-6);
  assert.ok(Math.abs(out[2]! - 1 / Math.sqrt(6)) < 1e-6);
  assert.ok(Math.abs(out[0]! - 1 / Math.sqrt(3)) < 1e-6, 'item 0 scores through item 3, not through itself');
});

test('itemknn: k = 1 keeps the single best neighbour, ties go to the lower index', async () => {
  const train = trainSet(4, 4, KNN_PAIRS);
  const m = new ItemKnn({ k: 1 });
  await m.fit(train, ctx());
  assert.ok(m.similarity(0, 1) > 0 && m.similarity(0, 2) === 0 && m.similarity(0, 3) === 0);
  assert.ok(m.similarity(3, 0) > 0);
  // items 1 and 2 are liked by exactly the same users -> equal sims from item 0's point of view
  const tie = trainSet(2, 3, [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2], [1, 0]]);
  const t = new ItemKnn({ k: 1 });
  await t.fit(tie, ctx());
  assert.ok(t.similarity(0, 1) > 0 && t.similarity(0, 2) === 0);
  assert.ok(t.similarity(2, 0) > 0 && t.similarity(2, 1) === 0);
});

test('itemknn: the candidate\'s neighbourhood decides by default; history neighbourhoods on request', async () => {
  const train = trainSet(4, 4, KNN_PAIRS);
  // k = 1: item 0 keeps {1}, item 1 keeps {0} (2/3 > 2/sqrt 6? no: sim(1,2) = 0.816 > sim(1,0) = 0.667), item 2 keeps {1}, item 3 keeps {0}
  const target = new ItemKnn({ k: 1 });
  await target.fit(train, ctx());
  const history = new ItemKnn({ k: 1, neighbourhood: 'history' });
  await history.fit(train, ctx());
  const s12 = 2 / Math.sqrt(6);
  // a history {2}: target scoring gives item 1 sim(1,2) (2 is 1's neighbour) and nothing to items 0 and 3
  const t = scoresOf(target, singleUserBatch(-1, Int32Array.of(2)), 4);
  assert.ok(Math.abs(t[1]! - s12) < 1e-6 && t[0] === 0 && t[3] === 0);
  // history scoring spreads 2 to its own single neighbour (1) as well, but a history {3} reaches item 0
  // only there, since item 0 does not keep 3 among its k = 1 neighbours
  const h = scoresOf(history, singleUserBatch(-1, Int32Array.of(3)), 4);
  const t3 = scoresOf(target, singleUserBatch(-1, Int32Array.of(3)), 4);
  assert.ok(Math.abs(h[0]! - 1 / Math.sqrt(3)) < 1e-6);
  assert.equal(t3[0], 0);
  // a saved artifact scores the same after reload, and a version-1 artifact keeps its history scoring
  const again = ItemKnn.fromArtifact(decodeArtifact(encodeArtifact(target.toArtifact())));
  assert.deepEqual(scoresOf(again, singleUserBatch(-1, Int32Array.of(2)), 4), t);
  const { neighbourhood: _n, ...oldConfig } = history.toArtifact().config as Record<string, unknown>;
  const v1 = ItemKnn.fromArtifact({ ...history.toArtifact(), version: 1, config: oldConfig as Record<string, number> });
  assert.deepEqual(scoresOf(v1, singleUserBatch(-1, Int32Array.of(3)), 4), h);
});

test('itemknn: the kept neighbours are the brute-force top k by (sim desc, item asc)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 3 }), (seed, k, shrink) => {
      const train = randomWorld(seed, 15, 20, 0.3);
      const { userItems: ui, itemUsers: iu, nItems } = train;
      const got = knnRows(ui.indptr, ui.indices, iu.indptr, iu.indices, nItems, 0, nItems, k, shrink);
      let off = 0;
      for (let i = 0; i < nItems; i++) {
        const sims: { j: number; s: number }[] = [];
        for (let j = 0; j < nItems; j++) {
          if (j === i) continue;
          let c = 0;
          for (let p = iu.indptr[i]!; p < iu.indptr[i + 1]!; p++) for (let q = iu.indptr[j]!; q < iu.indptr[j + 1]!; q++) if (iu.indices[p] === iu.indices[q]) c++;
          // the model's formula, operation for operation (equal true sims must compare equal here too)
          if (c > 0) sims.push({ j, s: c / (Math.sqrt(train.itemPopularity[i]!) * Math.sqrt(train.itemPopularity[j]!) + shrink) });
        }
        sims.sort((a, b) => b.s - a.s || a.j - b.j);
        const want = sims.slice(0, k).map((x) => x.j).sort((a, b) => a - b);
        const row = Array.from(got.indices.subarray(off, off + got.counts[i]!));
        off += got.counts[i]!;
        assert.deepEqual(row, want, `item ${i}`);
      }
    }),
    { numRuns: 200 },
  );
});

test('itemknn: the parallel build equals the single-threaded one', async () => {
  const train = randomWorld(11, 60, 80, 0.15);
  const one = new ItemKnn({ k: 7 });
  await one.fit(train, ctx(1, 1));
  const saved = ItemKnn.parallelMinWork;
  ItemKnn.parallelMinWork = 0;
  try {
    const two = new ItemKnn({ k: 7 });
    await two.fit(train, ctx(1, 2));
    assert.deepEqual(two.toArtifact().arrays, one.toArtifact().arrays);
  } finally {
    ItemKnn.parallelMinWork = saved;
  }
});

// ---------------------------------------------------------------- bpr

test('bpr: ranks a held-out in-block item above every off-block item', async () => {
  const { train, heldOut } = blockWorld(12, 10);
  const m = new Bpr({ factors: 8, epochs: 60, lr: 0.05, reg: 0.01 });
  await m.fit(train, ctx(3));
  const out = scoresOf(m, allUsers(train), train.nItems);
  for (let u = 0; u < train.nUsers; u++) {
    const block = u < 12 ? 0 : 1;
    const row = out.subarray(u * train.nItems, (u + 1) * train.nItems);
    for (let i = 0; i < train.nItems; i++) {
      if (Math.floor(i / 10) === block) continue;
      assert.ok(row[heldOut[u]!]! > row[i]!, `user ${u}: held-out ${heldOut[u]} (${row[heldOut[u]!]}) <= off-block ${i} (${row[i]})`);
    }
  }
});

test('bpr: same seed, same scores; another seed, other scores', async () => {
  const train = randomWorld(5, 30, 40, 0.2, 2);
  const fit = async (seed: number) => {
    const m = new Bpr({ factors: 8, epochs: 10 });
    await m.fit(train, ctx(seed));
    return scoresOf(m, allUsers(train), train.nItems);
  };
  const a = await fit(1);
  assert.deepEqual(await fit(1), a);
  assert.notDeepEqual(await fit(2), a);
});

test('bpr: loss falls, progress is reported per epoch, abort stops the fit', async () => {
  const train = randomWorld(9, 30, 40, 0.2, 2);
  const losses: number[] = [];
  const m = new Bpr({ factors: 8, epochs: 30 });
  await m.fit(train, { ...ctx(), onProgress: (e) => losses.push(e.loss!) });
  assert.equal(losses.length, 30);
  assert.ok(losses[29]! < losses[0]!, `loss ${losses[0]} -> ${losses[29]}`);
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(new Bpr({ epochs: 5 }).fit(train, { ...ctx(), signal: ac.signal }), /stop/);
});

// ---------------------------------------------------------------- ials

test('ials: the loss falls every iteration and the item factors solve the last normal equations', async () => {
  const train = randomWorld(21, 25, 18, 0.25, 1);
  const d = 3;
  const alpha = 4;
  const reg = 0.5;
  const losses: number[] = [];
  const m = new Ials({ factors: d, alpha, reg, iterations: 8, cgSteps: d });
  await m.fit(train, { ...ctx(), onProgress: (e) => losses.push(e.loss!) });
  assert.equal(losses.length, 8);
  for (let e = 1; e < losses.length; e++) assert.ok(losses[e]! <= losses[e - 1]! * (1 + 1e-6), `loss rose at ${e}: ${losses.join(', ')}`);
  // loss reported = full objective recomputed densely
  const X = m.userFactors;
  const Y = m.itemFactors;
  let dense = 0;
  for (let u = 0; u < train.nUsers; u++) {
    for (let i = 0; i < train.nItems; i++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += X[u * d + a]! * Y[i * d + a]!;
      const liked = train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!).includes(i);
      dense += liked ? (1 + alpha) * (1 - s) ** 2 : s * s;
    }
  }
  for (const v of [...X, ...Y]) dense += reg * v * v;
  const nnz = train.userItems.indices.length;
  assert.ok(Math.abs(dense / nnz - losses.at(-1)!) < 1e-4 * Math.max(1, dense / nnz), `dense ${dense / nnz} vs reported ${losses.at(-1)}`);
  // the last half-step (items): (XᵀX + reg I + α Σ_u x_u x_uᵀ) y_i = (1 + α) Σ_u x_u
  const G = new Float64Array(d * d);
  gramOf(X, train.nUsers, d, G);
  for (let i = 0; i < train.nItems; i++) {
    const A = Float64Array.from(G);
    for (let a = 0; a < d; a++) A[a * d + a]! += reg;
    const b = new Float64Array(d);
    for (let p = train.itemUsers.indptr[i]!; p < train.itemUsers.indptr[i + 1]!; p++) {
      const u = train.itemUsers.indices[p]!;
      for (let a = 0; a < d; a++) {
        b[a]! += (1 + alpha) * X[u * d + a]!;
        for (let c = 0; c < d; c++) A[a * d + c]! += alpha * X[u * d + a]! * X[u * d + c]!;
      }
    }
    let res = 0;
    let norm = 0;
    for (let a = 0; a < d; a++) {
      let s = -b[a]!;
      for (let c = 0; c < d; c++) s += A[a * d + c]! * Y[i * d + c]!;
      res += s * s;
      norm += b[a]! ** 2;
    }
    assert.ok(Math.sqrt(res) <= 1e-4 * Math.max(1, Math.sqrt(norm)), `item ${i}: residual ${Math.sqrt(res)} (|b| ${Math.sqrt(norm)})`);
  }
});

test('ials: same seed, same scores; 1 and 2 threads give identical factors', async () => {
  // > 128 rows per side: several row blocks, split over the workers
  const train = randomWorld(33, 300, 270, 0.03, 2);
  const fit = async (seed: number, threads: number) => {
    const m = new Ials({ factors: 8, alpha: 5, reg: 1, iterations: 4 });
    await m.fit(train, ctx(seed, threads));
    return m;
  };
  const a = await fit(1, 1);
  const b = await fit(1, 1);
  assert.deepEqual(scoresOf(b, allUsers(train), train.nItems), scoresOf(a, allUsers(train), train.nItems));
  const saved = Ials.parallelMinFlops;
  Ials.parallelMinFlops = 0;
  try {
    // the calling thread plus one worker (whoever is free claims the next block)
    const c = await fit(1, 2);
    assert.deepEqual(c.userFactors, a.userFactors);
    assert.deepEqual(c.itemFactors, a.itemFactors);
    // two workers alone, sharing every half-step's blocks
    Ials.callerClaims = false;
    const e = await fit(1, 3);
    assert.deepEqual(e.userFactors, a.userFactors);
    assert.deepEqual(e.itemFactors, a.itemFactors);
  } finally {
    Ials.parallelMinFlops = saved;
    Ials.callerClaims = true;
  }
});

test('ials: fold-in of a training user’s history reproduces the fitted user (correlation > 0.9)', async () => {
  const train = randomWorld(44, 60, 50, 0.12, 3);
  const m = new Ials({ factors: 8, alpha: 5, reg: 1, iterations: 10 });
  await m.fit(train, ctx());
  const fitted = scoresOf(m, allUsers(train), train.nItems);
  const folded = scoresOf(m, { ...allUsers(train), users: new Int32Array(train.nUsers).fill(-1) }, train.nItems);
  for (let u = 0; u < train.nUsers; u++) {
    const r = pearson(fitted.subarray(u * train.nItems, (u + 1) * train.nItems), folded.subarray(u * train.nItems, (u + 1) * train.nItems));
    assert.ok(r > 0.9, `user ${u}: correlation ${r}`);
  }
});

// ------------------------------------------- bpr and ials (the shared cases are in test/model-contract.test.ts)

for (const [name, make] of [
  ['bpr', () => new Bpr({ factors: 8, epochs: 15 })],
  ['ials', () => new Ials({ factors: 8, iterations: 4 })],
] as const) {
  test(`${name}: a known user scores with the fitted vector, whatever history the batch gives`, async () => {
    const train = randomWorld(17, 30, 25, 0.2, 2);
    const m = make();
    await m.fit(train, ctx());
    const n = train.nItems;
    const fittedScores = scoresOf(m, allUsers(train), n);
    const mixed: UserBatch = { users: Int32Array.of(3, -1), indptr: Int32Array.of(0, 2, 5), items: Int32Array.of(0, 1, 1, 4, 9) };
    const out = scoresOf(m, mixed, n);
    assert.deepEqual(out.subarray(0, n), fittedScores.subarray(3 * n, 4 * n));
    assert.notDeepEqual(out.subarray(n), fittedScores.subarray(3 * n, 4 * n), 'the unknown user is folded in from its own history');
  });
}

test('bpr: fold-in of a training user’s history correlates with the fitted user', async () => {
  const train = randomWorld(45, 60, 50, 0.15, 4);
  const m = new Bpr({ factors: 8, epochs: 40 });
  await m.fit(train, ctx());
  const fitted = scoresOf(m, allUsers(train), train.nItems);
  const folded = scoresOf(m, { ...allUsers(train), users: new Int32Array(train.nUsers).fill(-1) }, train.nItems);
  let mean = 0;
  for (let u = 0; u < train.nUsers; u++) {
    mean += pearson(fitted.subarray(u * train.nItems, (u + 1) * train.nItems), folded.subarray(u * train.nItems, (u + 1) * train.nItems));
  }
  mean /= train.nUsers;
  assert.ok(mean > 0.8, `mean correlation ${mean}`);
});

test('ials and itemknn: progress is reported and an aborted signal stops the fit', async () => {
  const train = randomWorld(3, 20, 15, 0.2, 2);
  const events: string[] = [];
  await new Ials({ factors: 4, iterations: 3 }).fit(train, { ...ctx(), onProgress: (e) => events.push(`${e.stage} ${e.done}/${e.total}`) });
  assert.deepEqual(events, ['ials 1/3', 'ials 2/3', 'ials 3/3']);
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(new Ials({ factors: 4 }).fit(train, { ...ctx(), signal: ac.signal }), /stop/);
  await assert.rejects(new ItemKnn().fit(train, { ...ctx(), signal: ac.signal }), /stop/);
});

test('configs: defaults, validation errors and tuning grids', () => {
  assert.deepEqual(new ItemKnn().params, { k: 100, shrink: 0, neighbourhood: 'target' });
  assert.equal(new Bpr().params.factors, 64);
  assert.equal(new Ials().params.factors, 64);
  for (const spec of [itemKnnSpec, bprSpec, ialsSpec]) {
    assert.ok(spec.tuningGrid.length >= 1 && spec.tuningGrid.length <= 10, spec.name);
    for (const p of spec.tuningGrid) assert.ok(spec.schema.safeParse(p).success, `${spec.name} grid entry ${JSON.stringify(p)}`);
    assert.equal(spec.schema.safeParse({ nope: 1 }).success, false, `${spec.name} rejects unknown keys`);
  }
  assert.equal(itemKnnSpec.schema.safeParse({ k: 0 }).success, false);
  assert.equal(bprSpec.schema.safeParse({ lr: -1 }).success, false);
  assert.equal(ialsSpec.schema.safeParse({ factors: 2.5 }).success, false);
});

// ---------------------------------------------------------------- factor kernels (WebAssembly)

test('factor kernels: the kernel generator reproduces Rng(seed) exactly', () => {
  for (const seed of [0, 1, 42, 0xdeadbeef]) {
    const rng = new Rng(seed);
    const want = Uint32Array.from({ length: 1000 }, () => rng.nextU32());
    assert.deepEqual(kernelRngStream(seed, 1000), want);
  }
});

/** Inputs of a BPR kernel for `train` with seeded initial factors (d may be off the SIMD width). */
function bprProblem(train: TrainSet, d: number, withBitset: boolean): BprProblem {
  const rng = new Rng(5);
  const U = Float32Array.from({ length: train.nUsers * d }, () => rng.next() - 0.5);
  const V = Float32Array.from({ length: train.nItems * d }, () => rng.next() - 0.5);
  const bias = Float32Array.from({ length: train.nItems }, () => rng.next() - 0.5);
  const ui = train.userItems;
  const posUser = new Int32Array(ui.indices.length);
  for (let u = 0; u < train.nUsers; u++) posUser.fill(u, ui.indptr[u]!, ui.indptr[u + 1]!);
  let liked: Uint32Array | null = null;
  if (withBitset) {
    liked = new Uint32Array(Math.ceil((train.nUsers * train.nItems) / 32));
    for (let k = 0; k < posUser.length; k++) {
      const bit = posUser[k]! * train.nItems + ui.indices[k]!;
      liked[bit >>> 5]! |= 1 << (bit & 31);
    }
  }
  return { nUsers: train.nUsers, nItems: train.nItems, d, U, V, bias, posUser, indptr: ui.indptr, indices: ui.indices, cand: train.candidates, liked };
}

test('factor kernels: a BPR epoch equals a plain float64 reference epoch on the same random stream', () => {
  const train = randomWorld(8, 20, 30, 0.2, 2);
  for (const d of [8, 5]) {
    const p = bprProblem(train, d, true);
    const lr = 0.05;
    const reg = 0.01;
    const k = new BprKernel(p);
    const lossK = k.epoch(99, lr, reg);
    const got = k.factors();
    // reference: the update of src/models/bpr.ts written out plainly
    const U = Float64Array.from(p.U);
    const V = Float64Array.from(p.V);
    const b = Float64Array.from(p.bias);
    const rng = new Rng(99);
    const below = (n: number) => Math.floor((rng.nextU32() * n) / 4294967296);
    const nnz = p.indices.length;
    const decay = 1 - lr * reg;
    let loss = 0;
    let used = 0;
    for (let s = 0; s < nnz; s++) {
      const q = below(nnz);
      const u = p.posUser[q]!;
      const i = p.indices[q]!;
      const row = p.indices.subarray(p.indptr[u]!, p.indptr[u + 1]!);
      let j = p.cand[below(p.cand.length)]!;
      let redraws = 0;
      while (row.includes(j)) {
        if (++redraws > 50) break;
        j = p.cand[below(p.cand.length)]!;
      }
      if (redraws > 50) continue;
      let x = b[i]! - b[j]!;
      for (let f = 0; f < d; f++) x += U[u * d + f]! * (V[i * d + f]! - V[j * d + f]!);
      if ((s & 3) === 0) {
        loss += Math.log1p(Math.exp(-x));
        used++;
      }
      const g = lr / (1 + Math.exp(x));
      for (let f = 0; f < d; f++) {
        const uf = U[u * d + f]!;
        const pf = V[i * d + f]!;
        const qf = V[j * d + f]!;
        U[u * d + f] = decay * uf + g * (pf - qf);
        V[i * d + f] = decay * pf + g * uf;
        V[j * d + f] = decay * qf - g * uf;
      }
      b[i] = decay * b[i]! + g;
      b[j] = decay * b[j]! - g;
    }
    const maxDiff = (a: ArrayLike<number>, c: ArrayLike<number>) => {
      let m = 0;
      for (let t = 0; t < a.length; t++) m = Math.max(m, Math.abs(a[t]! - c[t]!));
      return m;
    };
    assert.ok(maxDiff(got.U, U) < 1e-5, `d ${d}: U differs by ${maxDiff(got.U, U)}`);
    assert.ok(maxDiff(got.V, V) < 1e-5, `d ${d}: V differs by ${maxDiff(got.V, V)}`);
    assert.ok(maxDiff(got.bias, b) < 1e-5, `d ${d}: bias differs by ${maxDiff(got.bias, b)}`);
    assert.ok(Math.abs(lossK - loss / used) < 1e-5, `d ${d}: loss ${lossK} vs ${loss / used}`);
  }
});

test('factor kernels: BPR negatives checked by bitset or by binary search give the same factors', () => {
  const train = randomWorld(12, 25, 40, 0.25, 3);
  const run = (bitset: boolean) => {
    const k = new BprKernel(bprProblem(train, 8, bitset));
    for (let e = 0; e < 3; e++) k.epoch(7 + e, 0.05, 0.01);
    return k.factors();
  };
  assert.deepEqual(run(false), run(true));
});
