import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { csrFromPairs, columnCounts, rowOf, transpose } from '../src/data/csr.js';
import { Rng } from '../src/math/rng.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import type { TrainSet, UserBatch } from '../src/models/model.js';
import { PersonaModel, adaptiveK, personasSpec, type PersonasConfig } from '../src/models/personas.js';

/**
 * A small world with planted tastes: items fall into BLOCKS blocks; each user likes 2 or 3 blocks
 * (a dominant one and minor ones) and draws items from them with a within-block popularity skew.
 * Every user's last 20% of draws are held out. User 0 has only 6 interactions. With more blocks
 * than dimensions no single user vector can score an arbitrary 2-3 of the blocks above the rest,
 * which is the situation personas are for.
 */
const BLOCKS = 16;
const PER_BLOCK = 20;
const N_ITEMS = BLOCKS * PER_BLOCK;
const N_USERS = 160;
/** Fewer dimensions than blocks: one vector cannot single out a user's 2-3 blocks, personas can. */
const DIM = 8;

interface World {
  train: TrainSet;
  test: Int32Array[];
  blocksOf: number[][];
  minorOf: number[];
}

function makeWorld(seed: number): World {
  const rng = new Rng(seed);
  const users: number[] = [];
  const items: number[] = [];
  const test: Int32Array[] = [];
  const blocksOf: number[][] = [];
  const minorOf: number[] = [];
  for (let u = 0; u < N_USERS; u++) {
    const nb = 2 + (rng.next() < 0.4 ? 1 : 0);
    const blocks: number[] = [];
    while (blocks.length < nb) {
      const b = rng.int(BLOCKS);
      if (!blocks.includes(b)) blocks.push(b);
    }
    const weights = nb === 2 ? [0.65, 0.35] : [0.5, 0.3, 0.2];
    blocksOf.push(blocks);
    minorOf.push(blocks[1]!);
    const n = u === 0 ? 6 : 30 + rng.int(30);
    const seen = new Set<number>();
    const order: number[] = [];
    for (let t = 0; seen.size < n && t < 10 * n; t++) {
      let r = rng.next();
      let bi = 0;
      while (bi < nb - 1 && r >= weights[bi]!) r -= weights[bi++]!;
      // within-block popularity: item rank ~ floor(PER_BLOCK * x^2)
      const x = rng.next();
      const item = blocks[bi]! * PER_BLOCK + Math.floor(PER_BLOCK * x * x);
      if (seen.has(item)) continue;
      seen.add(item);
      order.push(item);
    }
    const nTest = u === 0 ? 0 : Math.ceil(0.2 * order.length);
    const cut = order.length - nTest;
    for (let j = 0; j < cut; j++) {
      users.push(u);
      items.push(order[j]!);
    }
    test.push(Int32Array.from(order.slice(cut)).sort());
  }
  const userItems = csrFromPairs(N_USERS, N_ITEMS, Int32Array.from(users), Int32Array.from(items));
  const itemPopularity = columnCounts(userItems);
  const candidates: number[] = [];
  for (let i = 0; i < N_ITEMS; i++) if (itemPopularity[i]! > 0) candidates.push(i);
  const train: TrainSet = {
    nUsers: N_USERS,
    nItems: N_ITEMS,
    userItems,
    itemUsers: transpose(userItems),
    itemPopularity,
    candidates: Int32Array.from(candidates),
    itemRanks: Int32Array.from({ length: N_ITEMS }, (_, i) => i),
    categories: null,
  };
  return { train, test, blocksOf, minorOf };
}

const CFG: Partial<PersonasConfig> = {
  dim: DIM,
  k: 4,
  epochs: 30,
  warmEpochs: 5,
  itemsPerPersona: 8,
  negatives: 100,
  lr: 0.03,
  batchSize: 16,
};

function batchOf(train: TrainSet, users: number[]): UserBatch {
  const indptr = new Int32Array(users.length + 1);
  const parts = users.map((u) => rowOf(train.userItems, u));
  parts.forEach((p, b) => (indptr[b + 1] = indptr[b]! + p.length));
  const items = new Int32Array(indptr[users.length]!);
  parts.forEach((p, b) => items.set(p, indptr[b]!));
  return { users: Int32Array.from(users), indptr, items };
}

function allScores(m: PersonaModel, train: TrainSet, users: number[]): Float32Array {
  const out = new Float32Array(users.length * train.nItems);
  m.scoreBatch(batchOf(train, users), out);
  return out;
}

/** Recall@k over the test items in each user's minority block. */
function minorityRecall(m: PersonaModel, w: World, k: number): number {
  const users = Array.from({ length: N_USERS - 1 }, (_, i) => i + 1);
  const scores = allScores(m, w.train, users);
  let sum = 0;
  let count = 0;
  users.forEach((u, b) => {
    const row = scores.subarray(b * N_ITEMS, (b + 1) * N_ITEMS);
    const hist = new Set(rowOf(w.train.userItems, u));
    const ranked = Array.from({ length: N_ITEMS }, (_, i) => i)
      .filter((i) => !hist.has(i) && row[i]! > -Infinity)
      .sort((a, c) => row[c]! - row[a]! || a - c)
      .slice(0, k);
    const minor = Array.from(w.test[u]!).filter((i) => Math.floor(i / PER_BLOCK) === w.minorOf[u]);
    if (minor.length === 0) return;
    sum += ranked.filter((i) => minor.includes(i)).length / Math.min(k, minor.length);
    count++;
  });
  return sum / count;
}

function cosine(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let x = 0; x < d; x++) {
    ab += a[ao + x]! * b[bo + x]!;
    aa += a[ao + x]! ** 2;
    bb += b[bo + x]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('personas model', () => {
  const world = makeWorld(7);
  let model: PersonaModel;

  before(async () => {
    model = new PersonaModel(CFG);
    await model.fit(world.train, { rng: new Rng(42), threads: 1 });
  });

  it('validates its config, uses no categories and keeps k out of the tuning grid', () => {
    assert.equal(personasSpec.name, 'personas');
    assert.ok(personasSpec.schema.safeParse({}).success);
    assert.ok(!personasSpec.schema.safeParse({ k: 0 }).success);
    assert.ok(!personasSpec.schema.safeParse({ bogus: 1 }).success);
    assert.ok(!personasSpec.schema.safeParse({ catEmb: true }).success, 'no category option');
    assert.ok(personasSpec.tuningGrid.length <= 6);
    for (const g of personasSpec.tuningGrid) assert.ok(!('k' in g), 'the twin (k = 1) is tuned with the same grid');
  });

  it('adaptive K: one persona per itemsPerPersona items, at least 1, at most k', () => {
    assert.equal(adaptiveK(0, { k: 4, itemsPerPersona: 8 }), 0);
    assert.equal(adaptiveK(6, { k: 4, itemsPerPersona: 8 }), 1);
    assert.equal(adaptiveK(17, { k: 4, itemsPerPersona: 8 }), 2);
    assert.equal(adaptiveK(500, { k: 4, itemsPerPersona: 8 }), 4);
    assert.equal(rowOf(world.train.userItems, 0).length, 6);
    assert.equal(model.personaCount(0), 1);
    assert.equal(model.personaVectors(0).length, DIM);
    let multi = 0;
    for (let u = 1; u < N_USERS; u++) if (model.personaCount(u) > 1) multi++;
    assert.ok(multi > N_USERS / 2, `most users with 24+ items have several personas (${multi})`);
  });

  it('personas are different tastes: members follow the planted blocks, within-user cosine is low', () => {
    let agree = 0;
    let total = 0;
    let cos = 0;
    let users = 0;
    for (let u = 1; u < N_USERS; u++) {
      const k = model.personaCount(u);
      if (k < 2) continue;
      const hist = rowOf(world.train.userItems, u);
      const mem = model.personaMembers(hist);
      assert.equal(mem.length, hist.length);
      assert.ok(mem.every((q) => q >= 0 && q < k));
      // each persona stands for the block most of its items come from
      const votes = Array.from({ length: k }, () => new Array<number>(BLOCKS).fill(0));
      hist.forEach((i, r) => votes[mem[r]!]![Math.floor(i / PER_BLOCK)]!++);
      const label = votes.map((v) => v.indexOf(Math.max(...v)));
      hist.forEach((i, r) => {
        if (label[mem[r]!] === Math.floor(i / PER_BLOCK)) agree++;
        total++;
      });
      const P = model.personaVectors(u);
      let s = 0;
      let n = 0;
      for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++, n++) s += cosine(P, a * DIM, P, b * DIM, DIM);
      cos += s / n;
      users++;
    }
    const rate = agree / total;
    assert.ok(rate > 0.95, `a persona's items come from its planted block for ${(100 * rate).toFixed(1)}% of items`);
    assert.ok(cos / users < 0.5, `mean within-user persona cosine ${(cos / users).toFixed(3)}`);
  });

  it('beats its one-vector twin (k = 1, same everything) on the minority block', async () => {
    const single = new PersonaModel({ ...CFG, k: 1 });
    await single.fit(world.train, { rng: new Rng(42), threads: 1 });
    for (let u = 0; u < N_USERS; u++) assert.ok(single.personaCount(u) <= 1);
    const mp = minorityRecall(model, world, 10);
    const ms = minorityRecall(single, world, 10);
    assert.ok(mp > ms + 0.05, `minority-block recall@10: personas ${mp.toFixed(4)} vs single ${ms.toFixed(4)}`);
  });

  it('a training user scores exactly as the fold-in of their own history, and a persona is an exact sum over its items', () => {
    const d = DIM;
    for (const u of [0, 1, 2, 3, 77]) {
      const hist = rowOf(world.train.userItems, u);
      const folded = model.foldIn(hist);
      assert.deepEqual(folded, model.personaVectors(u));
      const trained = allScores(model, world.train, [u]);
      const viaFold = new Float32Array(N_ITEMS);
      model.scorePersonas(folded, viaFold, hist);
      assert.deepEqual(viaFold, trained);
      const unknown = new Float32Array(N_ITEMS);
      model.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, hist.length), items: hist }, unknown);
      assert.deepEqual(unknown, trained);
      // p_k = |C_k|^-alpha sum_{j in C_k} W_j, with C_k = personaMembers
      const mem = model.personaMembers(hist);
      const k = folded.length / d;
      for (let q = 0; q < k; q++) {
        const items = Array.from(hist).filter((_, r) => mem[r] === q);
        assert.ok(items.length > 0);
        const f = Math.pow(items.length, -model.params.alpha);
        for (let x = 0; x < d; x++) {
          const sum = items.reduce((s, j) => s + model.itemVector(j)[x]!, 0);
          assert.ok(Math.abs(f * sum - folded[q * d + x]!) < 1e-4);
        }
      }
    }
  });

  it('the score is the log of a mixture of per-persona softmaxes over the candidates outside the history, plus the whole-history component', () => {
    const u = 5;
    const P = model.personaVectors(u);
    const k = P.length / DIM;
    assert.ok(k >= 2);
    const hist = rowOf(world.train.userItems, u);
    const inHist = new Set(hist);
    const scores = allScores(model, world.train, [u]);
    const cand = world.train.candidates;
    const rest = Array.from(cand).filter((i) => !inHist.has(i));
    const probs = new Array<number>(N_ITEMS).fill(0);
    // mixture weights pi_q = (1 - lambda) |C_q|^gamma / sum, C_q = the history items of persona q
    const lambda = model.params.whole;
    assert.ok(lambda > 0 && lambda < 1);
    const size = new Array<number>(k).fill(0);
    for (const q of model.personaMembers(hist)) size[q]!++;
    const pw = size.map((c) => Math.pow(c, model.params.gamma));
    const pi = pw.map((x) => ((1 - lambda) * x) / pw.reduce((a, b) => a + b, 0));
    // the whole-history persona: |H|^-alpha sum_{j in H} W_j
    const all = new Float32Array(DIM);
    for (const j of hist) for (let x = 0; x < DIM; x++) all[x] += model.itemVector(j)[x]! * Math.pow(hist.length, -model.params.alpha);
    const parts: [Float32Array, number][] = [...Array.from({ length: k }, (_, q): [Float32Array, number] => [P.slice(q * DIM, (q + 1) * DIM), pi[q]!]), [all, lambda]];
    for (const [p, w] of parts) {
      const single = new Float32Array(N_ITEMS);
      model.scorePersonas(p, single);
      // a lone persona without a history scores its log-softmax over all candidates
      const total = Array.from(cand).reduce((s, i) => s + Math.exp(single[i]!), 0);
      assert.ok(Math.abs(total - 1) < 1e-3);
      // with the history, the softmax runs over the candidates outside it
      const z = rest.reduce((s, i) => s + Math.exp(single[i]!), 0);
      for (const i of cand) probs[i]! += (w * Math.exp(single[i]!)) / z;
    }
    for (const i of cand) assert.ok(Math.abs(Math.log(probs[i]!) - scores[i]!) < 1e-3, `item ${i}: ${Math.log(probs[i]!)} vs ${scores[i]}`);
    // the probabilities of the items outside the history sum to 1
    assert.ok(Math.abs(rest.reduce((s, i) => s + Math.exp(scores[i]!), 0) - 1) < 1e-3);
    // responsibilities sum to 1 and name the persona whose softmax puts the most mass on the item
    const item = cand[0]!;
    const w = model.personaWeights(P, item);
    assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) - 1) < 1e-5);
    assert.deepEqual(model.attention(u, item), w);
  });

  it('with one persona the whole-history component changes nothing: the twin is the same model with k = 1', async () => {
    const cfg: Partial<PersonasConfig> = { ...CFG, k: 1, epochs: 8 };
    const a = new PersonaModel({ ...cfg, whole: 0 });
    await a.fit(world.train, { rng: new Rng(42), threads: 1 });
    const b = new PersonaModel({ ...cfg, whole: 0.7 });
    await b.fit(world.train, { rng: new Rng(42), threads: 1 });
    const users = [0, 1, 2, 50, 159];
    assert.deepEqual(allScores(b, world.train, users), allScores(a, world.train, users));
  });

  it('is deterministic for a seed, whatever the thread count', async () => {
    const users = [0, 1, 2, 50, 159];
    const ref = allScores(model, world.train, users);
    const two = new PersonaModel(CFG);
    await two.fit(world.train, { rng: new Rng(42), threads: 2 });
    assert.deepEqual(allScores(two, world.train, users), ref);
    const other = new PersonaModel(CFG);
    await other.fit(world.train, { rng: new Rng(43), threads: 1 });
    assert.notDeepEqual(allScores(other, world.train, users), ref);
  });

  it('with the sampled softmax (batches of drawn negatives, a ragged last batch): the same fit for 1, 2 and 3 threads', async () => {
    const cfg: Partial<PersonasConfig> = { ...CFG, epochs: 7, warmEpochs: 2, fullSoftmax: 0, batchSize: 27, negatives: 40 };
    const users = [0, 1, 2, 50, 159];
    const one = new PersonaModel(cfg);
    await one.fit(world.train, { rng: new Rng(42), threads: 1 });
    const ref = allScores(one, world.train, users);
    for (const threads of [2, 3]) {
      const many = new PersonaModel(cfg);
      await many.fit(world.train, { rng: new Rng(42), threads });
      assert.deepEqual(allScores(many, world.train, users), ref, `${threads} threads`);
    }
    assert.notDeepEqual(ref, allScores(model, world.train, users), 'not the 30-epoch fit');
  });

  it('round-trips through an artifact', () => {
    const users = [0, 3, 77];
    const back = personasSpec.fromArtifact(decodeArtifact(encodeArtifact(model.toArtifact())));
    const out = new Float32Array(users.length * N_ITEMS);
    back.scoreBatch(batchOf(world.train, users), out);
    assert.deepEqual(out, allScores(model, world.train, users));
    const pm = back as PersonaModel;
    assert.deepEqual(pm.personaVectors(3), model.personaVectors(3));
    assert.deepEqual(pm.attention(3, 5), model.attention(3, 5));
  });

  it('with the sparse neighbour term: deterministic across threads, round-trips, never items^2', async () => {
    const cfg: Partial<PersonasConfig> = { ...CFG, epochs: 10, itemItem: 2, neighbours: 10 };
    const users = [0, 1, 2, 50, 159];
    const one = new PersonaModel(cfg);
    await one.fit(world.train, { rng: new Rng(42), threads: 1 });
    const two = new PersonaModel(cfg);
    await two.fit(world.train, { rng: new Rng(42), threads: 2 });
    const ref = allScores(one, world.train, users);
    assert.deepEqual(allScores(two, world.train, users), ref);
    const art = one.toArtifact();
    const neighbours = art.arrays.sIdx!.length;
    assert.ok(neighbours > 0 && neighbours <= N_ITEMS * 10, `${neighbours} kept neighbours`);
    const back = personasSpec.fromArtifact(decodeArtifact(encodeArtifact(art)));
    assert.deepEqual(allScores(back as PersonaModel, world.train, users), ref);
    // the term is history-dependent: a training user still scores as the fold-in of their history
    const h = rowOf(world.train.userItems, 1);
    const f = new Float32Array(N_ITEMS);
    one.scorePersonas(one.foldIn(h), f, h);
    assert.deepEqual(f, allScores(one, world.train, [1]));
  });
});
