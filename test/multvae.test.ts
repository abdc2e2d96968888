/**
 * Mult-VAE (src/models/multvae.ts) and its dense-layer kernels (src/math/nn-kernels.ts): the
 * WebAssembly products and Adam step against their plain TypeScript references (bit for bit),
 * the analytic gradient against finite differences on a tiny network, learning on a planted world,
 * seed determinism, the artifact round trip and fold-in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { Rng } from '../src/math/rng.js';
import { NnArena, adamReference, nnReference, ntReference, productParallel, tnReference, type Mat, type ProductOp } from '../src/math/nn-kernels.js';
import { WorkerPool } from '../src/math/pool.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import { singleUserBatch, trainUserBatch, type Recommender, type TrainSet, type UserBatch } from '../src/models/model.js';
import { MultVae, VaeNet, multVaeSpec, type VaeTrainBatch } from '../src/models/multvae.js';
import { createModel } from '../src/models/registry.js';

const ctx = (seed = 7) => ({ rng: new Rng(seed), threads: 1 });

function fillRandom(x: Float32Array, rng: Rng, scale = 1): void {
  for (let k = 0; k < x.length; k++) x[k] = scale * (2 * rng.next() - 1);
}

test('nn kernels: the WebAssembly products equal their TypeScript references bit for bit', () => {
  const rng = new Rng(1);
  const arena = new NnArena();
  // operands with row strides wider than the used block, and an inner size over one NT block
  const m = 12;
  const n = 24;
  const k = 1036;
  const hA = arena.take(m * (k + 3));
  const hAt = arena.take(k * (m + 4));
  const hB = arena.take(k * (n + 8));
  const hBt = arena.take(n * (k + 6));
  const hC = arena.take(m * (n + 5));
  arena.build('test');
  const A: Mat = { data: arena.view(hA), ld: k + 3 };
  const At: Mat = { data: arena.view(hAt), ld: m + 4 };
  const B: Mat = { data: arena.view(hB), ld: n + 8 };
  const Bt: Mat = { data: arena.view(hBt), ld: k + 6 };
  const C: Mat = { data: arena.view(hC), ld: n + 5 };
  for (const x of [A, At, B, Bt]) fillRandom(x.data, rng);
  const cases: [string, (c: Mat, acc: boolean) => void, (c: Mat, acc: boolean) => void][] = [
    ['nn', (c, acc) => arena.nn(A, B, c, m, n, k, acc), (c, acc) => nnReference(A, B, c, m, n, k, acc)],
    ['tn', (c, acc) => arena.tn(At, B, c, m, n, k, acc), (c, acc) => tnReference(At, B, c, m, n, k, acc)],
    ['nt', (c, acc) => arena.nt(A, Bt, c, m, n, k, acc), (c, acc) => ntReference(A, Bt, c, m, n, k, acc)],
  ];
  for (const [name, wasm, ref] of cases) {
    for (const acc of [false, true]) {
      fillRandom(C.data, rng);
      const expected: Mat = { data: Float32Array.from(C.data), ld: C.ld };
      wasm(C, acc);
      ref(expected, acc);
      assert.deepEqual(C.data, expected.data, `${name} acc=${acc}`);
      // and the value is the product (float64 check with float32 tolerance)
      const ij = [3, 17];
      let s = 0;
      for (let p = 0; p < k; p++) {
        const a = name === 'tn' ? At.data[p * At.ld + ij[0]!]! : A.data[ij[0]! * A.ld + p]!;
        const b = name === 'nt' ? Bt.data[ij[1]! * Bt.ld + p]! : B.data[p * B.ld + ij[1]!]!;
        s += a * b;
      }
      if (!acc) assert.ok(Math.abs(C.data[ij[0]! * C.ld + ij[1]!]! - s) < 1e-3, `${name}: ${C.data[ij[0]! * C.ld + ij[1]!]} vs ${s}`);
    }
  }
  // a shape the kernels cannot tile is refused, not silently truncated
  assert.throws(() => arena.nn(A, B, C, 6, n, k), /multiple of 4 x 8/);
});

test('nn kernels: products shared with pool workers give the same bits as one thread', async () => {
  const rng = new Rng(4);
  const arena = new NnArena();
  const m = 36;
  const n = 200;
  const k = 1100;
  const hA = arena.take(m * k);
  const hAt = arena.take(k * m);
  const hB = arena.take(k * n);
  const hBt = arena.take(n * k);
  const hC = [arena.take(m * n), arena.take(m * n)];
  arena.build('test');
  const A: Mat = { data: arena.view(hA), ld: k };
  const At: Mat = { data: arena.view(hAt), ld: m };
  const B: Mat = { data: arena.view(hB), ld: n };
  const Bt: Mat = { data: arena.view(hBt), ld: k };
  const [C1, C2] = hC.map((h): Mat => ({ data: arena.view(h), ld: n })) as [Mat, Mat];
  for (const x of [A, At, B, Bt]) fillRandom(x.data, rng);
  const pool = new WorkerPool(2);
  const saved = productParallel.minWork;
  productParallel.minWork = 0;
  try {
    const ops: [ProductOp, Mat, Mat][] = [
      ['nn', A, B],
      ['tn', At, B],
      ['nt', A, Bt],
    ];
    for (const [op, a, b] of ops) {
      fillRandom(C1.data, rng);
      C2.data.set(C1.data);
      arena[op](a, b, C1, m, n, k, true);
      await arena.product(op, a, b, C2, m, n, k, true, pool);
      assert.deepEqual(C2.data, C1.data, op);
      // the workers alone
      C2.data.set(C1.data);
      arena[op](a, b, C1, m, n, k, true);
      await arena.product(op, a, b, C2, m, n, k, true, pool, false);
      assert.deepEqual(C2.data, C1.data, `${op}, workers only`);
    }
  } finally {
    productParallel.minWork = saved;
    await pool.close();
  }
});

test('nn kernels: the WebAssembly Adam step equals its TypeScript reference bit for bit', () => {
  const rng = new Rng(2);
  const arena = new NnArena();
  const n = 64;
  const h = [arena.take(n), arena.take(n), arena.take(n), arena.take(n)];
  arena.build('test');
  const [w, g, m, v] = h.map((x) => arena.view(x)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  fillRandom(w, rng);
  const ref = [Float32Array.from(w), new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  for (let t = 1; t <= 3; t++) {
    fillRandom(g, rng, 0.5);
    ref[1].set(g);
    arena.adam(w, g, m, v, n, t, o);
    adamReference(ref[0], ref[1], ref[2], ref[3], n, t, o);
  }
  assert.deepEqual(w, ref[0]);
  assert.deepEqual(m, ref[2]);
  assert.deepEqual(v, ref[3]);
  // the first step moves every weight by about lr (m/c1 = g, sqrt(v/c2) = |g|)
  const w0 = Float32Array.from(w);
  const fresh = new NnArena();
  const hh = [fresh.take(4), fresh.take(4), fresh.take(4), fresh.take(4)];
  fresh.build('test');
  const [w1, g1, m1, v1] = hh.map((x) => fresh.view(x)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  g1.set([1, -2, 0.5, -0.25]);
  fresh.adam(w1, g1, m1, v1, 4, 1, o);
  for (let q = 0; q < 4; q++) assert.ok(Math.abs(w1[q]! + Math.sign(g1[q]!) * 0.01) < 1e-6, `step ${q}: ${w1[q]}`);
  assert.ok(w0.length === n);
});

/** A tiny network with random parameters (biases too) and a batch with dropout and noise. */
function tinyProblem(): { net: VaeNet; batch: VaeTrainBatch } {
  const dims = { nc: 11, hidden: 5, latent: 3 };
  const net = new VaeNet(dims, 3, true);
  const rng = new Rng(3);
  net.init(rng);
  const { off, hp, lp, ns } = net;
  // non-zero biases, real entries only (the padding must stay zero)
  for (let c = 0; c < dims.hidden; c++) {
    net.params[off.bEnc + c] = 0.3 * (2 * rng.next() - 1);
    net.params[off.bD + c] = 0.3 * (2 * rng.next() - 1);
  }
  for (let c = 0; c < dims.latent; c++) {
    net.params[off.bQ + c] = 0.3 * (2 * rng.next() - 1);
    net.params[off.bQ + lp + c] = 0.3 * (2 * rng.next() - 1);
  }
  for (let j = 0; j < dims.nc; j++) net.params[off.bOut + j] = 0.3 * (2 * rng.next() - 1);
  assert.equal(hp, 8);
  assert.equal(lp, 8);
  assert.equal(ns, 16);
  const indptr = Int32Array.of(0, 4, 6, 9);
  const items = Int32Array.of(0, 2, 5, 10, 1, 2, 3, 7, 9);
  const keep = Uint8Array.of(1, 0, 1, 1, 1, 1, 0, 1, 1);
  const eps = new Float32Array(3 * dims.latent);
  for (let k = 0; k < eps.length; k++) eps[k] = rng.normal();
  return { net, batch: { indptr, items, keep, keepScale: 2, eps } };
}

test('multvae: the analytic gradient matches central finite differences on a tiny network', async () => {
  const { net, batch } = tinyProblem();
  const beta = 0.3;
  const l2 = 0.01;
  await net.lossAndGrad(batch, beta, l2);
  const grad = Float32Array.from(net.grads);
  const { off, hp, lp, ns } = net;
  const { nc, hidden, latent } = net.dims;
  // every real parameter of the small blocks, and a sample of the two item-sized ones
  const real: [string, number][] = [];
  for (let j = 0; j < nc; j++) for (let c = 0; c < hidden; c += 2) real.push([`wEnc[${j},${c}]`, off.wEnc + j * hp + c]);
  for (let c = 0; c < hidden; c++) real.push([`bEnc[${c}]`, off.bEnc + c]);
  for (let r = 0; r < hidden; r++) {
    for (let c = 0; c < latent; c++) {
      real.push([`wQ.mu[${r},${c}]`, off.wQ + r * 2 * lp + c]);
      real.push([`wQ.logvar[${r},${c}]`, off.wQ + r * 2 * lp + lp + c]);
    }
  }
  for (let c = 0; c < latent; c++) real.push([`bQ.mu[${c}]`, off.bQ + c], [`bQ.logvar[${c}]`, off.bQ + lp + c]);
  for (let r = 0; r < latent; r++) for (let c = 0; c < hidden; c++) real.push([`wD[${r},${c}]`, off.wD + r * hp + c]);
  for (let c = 0; c < hidden; c++) real.push([`bD[${c}]`, off.bD + c]);
  for (let r = 0; r < hidden; r++) for (let j = 0; j < nc; j += 3) real.push([`wOut[${r},${j}]`, off.wOut + r * ns + j]);
  for (let j = 0; j < nc; j++) real.push([`bOut[${j}]`, off.bOut + j]);
  const h = 1e-2;
  let checked = 0;
  let nonZero = 0;
  for (const [name, k] of real) {
    const x = net.params[k]!;
    net.params[k] = x + h;
    const up = await net.lossAndGrad(batch, beta, l2);
    net.params[k] = x - h;
    const down = await net.lossAndGrad(batch, beta, l2);
    net.params[k] = x;
    const fd = (up - down) / (2 * h);
    const g = grad[k]!;
    assert.ok(Math.abs(fd - g) <= 2e-4 + 1e-2 * Math.abs(g), `${name}: analytic ${g}, finite difference ${fd}`);
    checked++;
    if (Math.abs(g) > 1e-3) nonZero++;
  }
  assert.ok(checked === 125 && nonZero > 100, `${checked} checked, ${nonZero} non-zero`);
  // the encoder rows of items no row kept get no gradient beyond the l2 term; the padding none at all
  for (const j of [4, 6, 8]) for (let c = 0; c < hidden; c++) assert.equal(grad[off.wEnc + j * hp + c], Math.fround(2 * l2 * net.params[off.wEnc + j * hp + c]!));
  for (let r = 0; r < hidden; r++) for (let j = nc; j < ns; j++) assert.equal(grad[off.wOut + r * ns + j], 0);
  for (let c = hidden; c < hp; c++) assert.equal(grad[off.bD + c], 0);
  for (let c = latent; c < lp; c++) assert.equal(grad[off.bQ + c], 0);
});

test('multvae: the loss of a batch is the mean multinomial NLL plus beta KL, computed by hand', async () => {
  const { net, batch } = tinyProblem();
  // zero the decoder's output weights: every logit is its bias, whatever z is
  const { off, ns } = net;
  net.params.fill(0, off.wOut, off.wOut + net.hp * ns);
  const l0 = await net.lossAndGrad(batch, 0, 0);
  const b = Array.from({ length: net.dims.nc }, (_, j) => net.params[off.bOut + j]!);
  const lse = Math.log(b.reduce((s, x) => s + Math.exp(x), 0));
  let nll = 0;
  for (let k = 0; k < batch.items.length; k++) nll += lse - b[batch.items[k]!]!;
  assert.ok(Math.abs(l0 - nll / 3) < 1e-5, `${l0} vs ${nll / 3}`);
  // beta adds beta * mean KL, KL >= 0
  const l1 = await net.lossAndGrad(batch, 1, 0);
  assert.ok(l1 > l0);
});

function trainSet(nUsers: number, nItems: number, pairs: readonly [number, number][]): TrainSet {
  return trainSetFromPairs(
    nUsers,
    nItems,
    Int32Array.from(pairs, (p) => p[0]),
    Int32Array.from(pairs, (p) => p[1]),
    Int32Array.from({ length: nItems }, (_, i) => i),
    null,
  );
}

/**
 * Planted tastes: 3 groups of 12 items; every user draws 6 items of their group plus one very
 * popular item shared by all, and one more item of their group is held out. The last item is
 * never seen (not a candidate).
 */
function plantedWorld(): { train: TrainSet; heldOut: Int32Array } {
  const rng = new Rng(11);
  const groups = 3;
  const per = 12;
  const nItems = groups * per + 2;
  const popular = groups * per;
  const nUsers = 90;
  const pairs: [number, number][] = [];
  const heldOut = new Int32Array(nUsers);
  for (let u = 0; u < nUsers; u++) {
    const g = u % groups;
    const own = rng.shuffle(Array.from({ length: per }, (_, k) => g * per + k));
    for (const i of own.slice(0, 6)) pairs.push([u, i]);
    pairs.push([u, popular]);
    heldOut[u] = own[6]!;
  }
  return { train: trainSet(nUsers, nItems, pairs), heldOut };
}

const small = { hidden: 16, latent: 4, batch: 32, epochs: 60, lr: 0.01 };

function scoresOf(model: Recommender, batch: UserBatch, nItems: number): Float32Array {
  const out = new Float32Array(batch.users.length * nItems);
  model.scoreBatch(batch, out);
  return out;
}

/** Mean ndcg of the one held-out item in the top-10 of non-history candidates. */
function heldOutNdcg(scores: Float32Array, train: TrainSet, heldOut: Int32Array): number {
  let sum = 0;
  for (let u = 0; u < heldOut.length; u++) {
    const row = scores.subarray(u * train.nItems, (u + 1) * train.nItems);
    const seen = new Set(train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!));
    const target = row[heldOut[u]!]!;
    let rank = 0;
    for (const i of train.candidates) if (i !== heldOut[u] && !seen.has(i) && row[i]! > target) rank++;
    if (rank < 10) sum += 1 / Math.log2(rank + 2);
  }
  return sum / heldOut.length;
}

test('multvae: learns planted tastes far above popularity, and is fixed by its seed', async () => {
  const { train, heldOut } = plantedWorld();
  const users = Int32Array.from({ length: train.nUsers }, (_, u) => u);
  const model = new MultVae(small);
  await model.fit(train, ctx(5));
  const scores = scoresOf(model, trainUserBatch(train, users), train.nItems);
  const pop = new Float32Array(users.length * train.nItems);
  for (let u = 0; u < users.length; u++) pop.set(train.itemPopularity, u * train.nItems);
  const vae = heldOutNdcg(scores, train, heldOut);
  const base = heldOutNdcg(pop, train, heldOut);
  // 6 of the 29 unseen candidates are the user's group: a random order inside the group gives
  // ndcg 0.55, popularity (no taste) about 0.13
  assert.ok(vae > 0.5 && vae > base + 0.3, `multvae ${vae.toFixed(3)} vs pop ${base.toFixed(3)}`);
  // the never-seen item is not a candidate
  for (let u = 0; u < users.length; u++) assert.equal(scores[u * train.nItems + train.nItems - 1], -Infinity);
  // same seed, same scores; another seed, other scores
  const again = new MultVae(small);
  await again.fit(train, ctx(5));
  assert.deepEqual(scoresOf(again, trainUserBatch(train, users), train.nItems), scores);
  const other = new MultVae(small);
  await other.fit(train, ctx(6));
  assert.notDeepEqual(scoresOf(other, trainUserBatch(train, users), train.nItems), scores);
});

test('multvae: two threads fit the same model as one', async () => {
  const { train } = plantedWorld();
  const users = Int32Array.from({ length: train.nUsers }, (_, u) => u);
  const savedModel = MultVae.parallelMinWork;
  const savedProduct = productParallel.minWork;
  MultVae.parallelMinWork = 0;
  productParallel.minWork = 0;
  try {
    const one = new MultVae({ ...small, epochs: 4 });
    await one.fit(train, { rng: new Rng(9), threads: 1 });
    const two = new MultVae({ ...small, epochs: 4 });
    await two.fit(train, { rng: new Rng(9), threads: 2 });
    assert.deepEqual(scoresOf(two, trainUserBatch(train, users), train.nItems), scoresOf(one, trainUserBatch(train, users), train.nItems));
  } finally {
    MultVae.parallelMinWork = savedModel;
    productParallel.minWork = savedProduct;
  }
});

test('multvae: artifact round trip, batch = single user, fold-in = scoring, unknown users from their history', async () => {
  const { train } = plantedWorld();
  const model = new MultVae({ ...small, epochs: 5 });
  await model.fit(train, ctx(8));
  const n = train.nItems;
  const users = Int32Array.from({ length: train.nUsers }, (_, u) => u);
  const all = scoresOf(model, trainUserBatch(train, users), n);
  const back = multVaeSpec.fromArtifact(decodeArtifact(encodeArtifact(model.toArtifact())));
  assert.deepEqual(scoresOf(back, trainUserBatch(train, users), n), all);
  for (const u of [0, 1, 47, 89]) {
    const hist = train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!);
    const mine = all.subarray(u * n, (u + 1) * n);
    assert.deepEqual(scoresOf(model, singleUserBatch(u, hist), n), mine);
    // an unknown user with the same history (in another order, with a repeat and an unknown item)
    const shuffled = Int32Array.from([...hist].reverse().concat([hist[0]!, n - 1, 9999]));
    assert.deepEqual(scoresOf(model, singleUserBatch(-1, shuffled), n), mine);
    // decode(foldIn(h)) runs the decoder on μ alone
    const decoded = new Float32Array(n);
    model.decode(model.foldIn(hist), 1, decoded);
    assert.deepEqual(decoded, mine);
    assert.equal(model.foldIn(hist).length, small.latent);
  }
  // an empty history still gets finite scores for every candidate
  const empty = scoresOf(model, singleUserBatch(-1, new Int32Array(0)), n);
  for (const i of train.candidates) assert.ok(Number.isFinite(empty[i]!));
});

test('multvae: schema defaults and strictness', () => {
  const m = createModel('multvae') as MultVae;
  assert.equal(m.params.hidden, 600);
  assert.equal(m.params.latent, 200);
  assert.equal(m.params.anneal, 0.2);
  assert.equal(m.params.dropout, 0.5);
  assert.equal(m.params.batch, 500);
  assert.throws(() => createModel('multvae', { hiden: 10 }), /hiden|unrecognized/i);
  assert.throws(() => createModel('multvae', { dropout: 1 }), /dropout/);
  for (const p of multVaeSpec.tuningGrid) assert.ok(multVaeSpec.schema.safeParse(p).success);
});
