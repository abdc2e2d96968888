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
const DIM = 4;

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
  warmEpochs: 10,
  itemsPerPersona: 8,
  negatives: 0,
  l2Item: 1,
  l2User: 0.1,
  batchSize: 16,
  foldInSteps: 60,
  // the attention score without snapshot averaging; the defaults (mixture score, averaging,
  // category vectors) are tested separately below
  scoring: 'attention',
  avgEpochs: 1,
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

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= a.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('personas model', () => {
  const world = makeWorld(7);
  let model: PersonaModel;

  before(async () => {
    model = new PersonaModel(CFG);
    await model.fit(world.train, { rng: new Rng(42), threads: 1 });
  });

  it('validates its config and exposes a spec', () => {
    assert.equal(personasSpec.name, 'personas');
    assert.ok(personasSpec.schema.safeParse({}).success);
    assert.ok(!personasSpec.schema.safeParse({ k: 0 }).success);
    assert.ok(!personasSpec.schema.safeParse({ bogus: 1 }).success);
    assert.ok(personasSpec.tuningGrid.length <= 6);
  });

  it('adaptive K: one persona per itemsPerPersona items, at least 1, at most k', () => {
    assert.equal(adaptiveK(0, { k: 4, itemsPerPersona: 8 }), 0);
    assert.equal(adaptiveK(6, { k: 4, itemsPerPersona: 8 }), 1);
    assert.equal(adaptiveK(17, { k: 4, itemsPerPersona: 8 }), 2);
    assert.equal(adaptiveK(500, { k: 4, itemsPerPersona: 8 }), 4);
    assert.equal(rowOf(world.train.userItems, 0).length, 6);
    assert.equal(model.personaCount(0), 1);
    assert.equal(model.personaVectors(0).length, DIM);
    assert.equal(model.foldIn(rowOf(world.train.userItems, 0)).length, DIM);
    let multi = 0;
    for (let u = 1; u < N_USERS; u++) if (model.personaCount(u) > 1) multi++;
    assert.ok(multi > N_USERS / 2, `most users with 24+ items have several personas (${multi})`);
  });

  it('attention sums to 1 and its arg-max persona follows the planted block', () => {
    let agree = 0;
    let total = 0;
    for (let u = 1; u < N_USERS; u++) {
      const k = model.personaCount(u);
      if (k < 2) continue;
      const hist = rowOf(world.train.userItems, u);
      const arg = Array.from(hist, (i) => {
        const a = model.attention(u, i);
        assert.equal(a.length, k);
        assert.ok(Math.abs(a.reduce((s, x) => s + x, 0) - 1) < 1e-5);
        return a.indexOf(Math.max(...a));
      });
      // each persona stands for the block most of its items come from
      const votes = Array.from({ length: k }, () => new Array<number>(BLOCKS).fill(0));
      hist.forEach((i, r) => votes[arg[r]!]![Math.floor(i / PER_BLOCK)]!++);
      const label = votes.map((v) => v.indexOf(Math.max(...v)));
      hist.forEach((i, r) => {
        if (label[arg[r]!] === Math.floor(i / PER_BLOCK)) agree++;
        total++;
      });
    }
    const rate = agree / total;
    assert.ok(rate > 0.7, `arg-max persona agrees with the planted block for ${(100 * rate).toFixed(1)}% of items`);
  });

  it('beats a single-vector model on the minority block', async () => {
    const single = new PersonaModel({ ...CFG, k: 1 });
    await single.fit(world.train, { rng: new Rng(42), threads: 1 });
    const mp = minorityRecall(model, world, 10);
    const ms = minorityRecall(single, world, 10);
    assert.ok(mp > ms, `minority-block recall@10: personas ${mp.toFixed(4)} vs single ${ms.toFixed(4)}`);
  });

  it('is deterministic for a seed, whatever the thread count', async () => {
    const users = [0, 1, 2, 50, 159];
    const ref = allScores(model, world.train, users);
    const again = new PersonaModel(CFG);
    await again.fit(world.train, { rng: new Rng(42), threads: 1 });
    assert.deepEqual(allScores(again, world.train, users), ref);
    const two = new PersonaModel(CFG);
    await two.fit(world.train, { rng: new Rng(42), threads: 2 });
    assert.deepEqual(allScores(two, world.train, users), ref);
    const other = new PersonaModel(CFG);
    await other.fit(world.train, { rng: new Rng(43), threads: 1 });
    assert.notDeepEqual(allScores(other, world.train, users), ref);
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

  it('folds a training history in to similar scores, deterministically (its speed is benchmarked, not tested)', () => {
    const cand = world.train.candidates;
    const corr: number[] = [];
    const users = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    for (const u of users) {
      const trained = allScores(model, world.train, [u]);
      const ps = model.foldIn(rowOf(world.train.userItems, u));
      assert.equal(ps.length % DIM, 0);
      const folded = new Float32Array(N_ITEMS);
      model.scorePersonas(ps, folded);
      corr.push(pearson(Array.from(cand, (i) => trained[i]!), Array.from(cand, (i) => folded[i]!)));
    }
    const mean = corr.reduce((s, x) => s + x, 0) / corr.length;
    assert.ok(mean > 0.9, `mean score correlation ${mean.toFixed(3)} (${corr.map((c) => c.toFixed(2)).join(' ')})`);
    // unknown users (-1) are scored by fold-in of the batch history
    const hist = rowOf(world.train.userItems, 3);
    const out = new Float32Array(N_ITEMS);
    model.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, hist.length), items: hist }, out);
    const expect = new Float32Array(N_ITEMS);
    model.scorePersonas(model.foldIn(hist), expect, hist);
    assert.deepEqual(out, expect);
  });

  it('with the defaults (category vectors, mixture score, averaging): deterministic, round-trips, folds in', async () => {
    // the planted blocks, coarsened to 4 categories (each block also carries its own small one)
    const ptr = new Int32Array(N_ITEMS + 1);
    const idx: number[] = [];
    for (let i = 0; i < N_ITEMS; i++) {
      const b = Math.floor(i / PER_BLOCK);
      idx.push(b % 4, 4 + b);
      ptr[i + 1] = idx.length;
    }
    const names = Array.from({ length: 4 + BLOCKS }, (_, c) => `c${c}`);
    const train: TrainSet = { ...world.train, categories: { names, ptr, idx: Int32Array.from(idx) } };
    const cfg: Partial<PersonasConfig> = { ...CFG, scoring: 'mixture', avgEpochs: 5, catEmb: true, epochs: 20 };
    const users = [0, 1, 2, 50, 159];
    const one = new PersonaModel(cfg);
    await one.fit(train, { rng: new Rng(42), threads: 1 });
    const two = new PersonaModel(cfg);
    await two.fit(train, { rng: new Rng(42), threads: 2 });
    const ref = allScores(one, train, users);
    assert.deepEqual(allScores(two, train, users), ref);
    const noCats = new PersonaModel(cfg);
    await noCats.fit(world.train, { rng: new Rng(42), threads: 1 });
    assert.notDeepEqual(allScores(noCats, world.train, users), ref);
    const back = personasSpec.fromArtifact(decodeArtifact(encodeArtifact(one.toArtifact())));
    assert.deepEqual(allScores(back as PersonaModel, train, users), ref);
    const corr: number[] = [];
    for (const u of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      const trained = allScores(one, train, [u]);
      const h = rowOf(train.userItems, u);
      const folded = new Float32Array(N_ITEMS);
      one.scorePersonas(one.foldIn(h), folded, h);
      corr.push(pearson(Array.from(train.candidates, (i) => trained[i]!), Array.from(train.candidates, (i) => folded[i]!)));
    }
    // the optional mixture-of-multinomials training loss: finite, deterministic across threads
    const mixCfg: Partial<PersonasConfig> = { ...cfg, loss: 'mixture', epochs: 12 };
    const m1 = new PersonaModel(mixCfg);
    await m1.fit(train, { rng: new Rng(42), threads: 1 });
    const m2 = new PersonaModel(mixCfg);
    await m2.fit(train, { rng: new Rng(42), threads: 2 });
    const mixScores = allScores(m1, train, users);
    assert.deepEqual(allScores(m2, train, users), mixScores);
    assert.ok(Array.from(train.candidates).every((i) => Number.isFinite(mixScores[i]!)));
    const mean = corr.reduce((s, x) => s + x, 0) / corr.length;
    assert.ok(mean > 0.8, `mean score correlation ${mean.toFixed(3)} (${corr.map((c) => c.toFixed(2)).join(' ')})`);
  });
});
