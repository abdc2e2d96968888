/**
 * The recommender contract, run over every model in the registry (ARCHITECTURE.md shape 10): a
 * model registered later is covered without touching this file, and fails here until
 * test/model-cases.ts has its entry. On a small seeded planted world (users-holdout, so held-out
 * users are scored by fold-in, and some items have no training positive):
 *
 * - every batch row is written, nothing beyond; candidates score finite, nothing scores NaN; the
 *   protocol's selection lists only unseen candidates;
 * - an artifact through bytes (`encodeArtifact` -> `decodeArtifact` -> `modelFromArtifact`) scores
 *   bit-identically and re-encodes to the same bytes;
 * - a batch scores as each of its users alone;
 * - the same seed gives identical scores, another seed other scores (or the same for models
 *   without randomness); 1 and 2 threads give identical scores for models with threads;
 * - held-out users score finite, and a training user's history scored as an unknown user (-1) is
 *   identical to, or close in ranking to, the user's own scores, as the model's entry declares.
 *
 * The ml-latest-small quality bands are in test/quality.test.ts (they take minutes), driven by the
 * same map.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { rowOf } from '../src/data/csr.js';
import { makeSplit, type Split } from '../src/data/split.js';
import { rankTestUsers } from '../src/eval/evaluate.js';
import { Rng } from '../src/math/rng.js';
import { TopKSelector } from '../src/math/topk.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import { isFoldIn, singleUserBatch, trainUserBatch, type ModelArtifact, type Recommender, type UserBatch } from '../src/models/model.js';
import { createModel, modelFromArtifact, modelNames } from '../src/models/registry.js';
import { worldToLog } from '../src/synth/world.js';
import { MODEL_CASES, modelCase, type ModelCase } from './model-cases.js';

/** 200 users x 400 items, ~3,200 training positives; the steep popularity leaves ~26 items without one. */
const WORLD = { seed: 5, users: 200, items: 400, categories: 6, meanInteractions: 25, popularityExponent: 1.2 } as const;
const SEED = 11;
const K = 20;

const split: Split = makeSplit(worldToLog(WORLD).log, { protocol: 'users-holdout', seed: WORLD.seed });
const train = split.train;
const nItems = train.nItems;
const isCandidate = new Uint8Array(nItems);
for (const i of train.candidates) isCandidate[i] = 1;

/** Training users probed (spread over the index range, first and last included). */
const probeTrain: number[] = [];
for (let u = 0; u < train.nUsers; u += 13) if (rowOf(train.userItems, u).length > 0) probeTrain.push(u);
if (rowOf(train.userItems, train.nUsers - 1).length > 0 && !probeTrain.includes(train.nUsers - 1)) probeTrain.push(train.nUsers - 1);

/**
 * The probe batch: training users with their rows, interleaved with held-out users (-1) and their
 * histories, and a new user with an empty history at the end.
 */
function probeBatch(): { batch: UserBatch; heldOutRows: number[] } {
  const users: number[] = [];
  const hists: Int32Array[] = [];
  const heldOutRows: number[] = [];
  const heldOut = Array.from(split.testUsers).slice(0, 10);
  for (let p = 0; p < Math.max(probeTrain.length, heldOut.length); p++) {
    if (p < probeTrain.length) {
      users.push(probeTrain[p]!);
      hists.push(rowOf(train.userItems, probeTrain[p]!));
    }
    if (p < heldOut.length) {
      heldOutRows.push(users.length);
      users.push(-1);
      hists.push(rowOf(split.history, heldOut[p]!));
    }
  }
  users.push(-1);
  hists.push(new Int32Array(0));
  const indptr = new Int32Array(users.length + 1);
  hists.forEach((h, b) => (indptr[b + 1] = indptr[b]! + h.length));
  const items = new Int32Array(indptr[users.length]!);
  hists.forEach((h, b) => items.set(h, indptr[b]!));
  return { batch: { users: Int32Array.from(users), indptr, items }, heldOutRows };
}

const probe = probeBatch();

function scores(model: Recommender, batch: UserBatch = probe.batch): Float32Array {
  const out = new Float32Array(batch.users.length * nItems);
  model.scoreBatch(batch, out);
  return out;
}

function rowHistory(batch: UserBatch, b: number): Int32Array {
  return batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!);
}

/** The protocol's top-K of a row: unseen candidates, ties by item rank. */
function topK(row: Float32Array, history: Int32Array): Int32Array {
  const out = new Int32Array(K);
  const n = new TopKSelector(K).select(row, train.candidates, train.itemRanks, Int32Array.from(history).sort(), out);
  return out.slice(0, n);
}

/** The first index where two score arrays differ bit for bit (NaN = NaN), or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const ab = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const bb = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let x = 0; x < ab.length; x++) if (ab[x] !== bb[x]) return x;
  return -1;
}

function assertSameScores(got: Float32Array, want: Float32Array, what: string): void {
  const x = firstDifference(got, want);
  if (x < 0) return;
  const b = Math.floor(x / nItems);
  assert.fail(`${what}: batch row ${b} (user ${probe.batch.users[b]}), item ${x % nItems}: ${got[x]} != ${want[x]}`);
}

/** Every cell of the batch's rows is written and nothing beyond; candidates score finite, nothing NaN. */
function checkRows(model: Recommender): void {
  const n = probe.batch.users.length * nItems;
  const out = new Float32Array(n + nItems).fill(NaN);
  out.fill(7.25, n);
  model.scoreBatch(probe.batch, out);
  for (let x = n; x < out.length; x++) assert.equal(out[x], 7.25, `wrote past its ${probe.batch.users.length} rows (index ${x})`);
  for (let x = 0; x < n; x++) {
    const item = x % nItems;
    const where = `row ${Math.floor(x / nItems)} (user ${probe.batch.users[Math.floor(x / nItems)]}), item ${item}`;
    assert.ok(!Number.isNaN(out[x]), `${where}: NaN (or not written)`);
    if (isCandidate[item]) assert.ok(Number.isFinite(out[x]), `${where}: candidate scored ${out[x]}`);
  }
}

/** Through bytes and back: same name, params and scores, and the same bytes again. */
function checkRoundTrip(model: Recommender, ref: Float32Array, load: (a: ModelArtifact) => Recommender): void {
  const bytes = encodeArtifact(model.toArtifact());
  const back = load(decodeArtifact(bytes));
  assert.equal(back.name, model.name);
  assert.deepEqual(back.params, model.params);
  assertSameScores(scores(back), ref, 'reloaded model');
  assert.ok(encodeArtifact(back.toArtifact()).equals(bytes), 'the reloaded model re-encodes to the same bytes');
}

/** Each row of the probe batch scored alone equals its row in the batch; scoring twice changes nothing. */
function checkBatchEqualsSingle(model: Recommender, ref: Float32Array): void {
  const { batch } = probe;
  for (let b = 0; b < batch.users.length; b++) {
    const one = scores(model, singleUserBatch(batch.users[b]!, rowHistory(batch, b)));
    const x = firstDifference(one, ref.subarray(b * nItems, (b + 1) * nItems));
    assert.equal(x, -1, `row ${b} (user ${batch.users[b]}) alone differs at item ${x}: ${one[x]} vs ${ref[b * nItems + x]}`);
  }
  assertSameScores(scores(model), ref, 'second scoring of the same batch');
}

async function fitted(name: string, c: ModelCase | undefined, seed: number, threads = 1): Promise<Recommender> {
  const m = createModel(name, c?.small ?? {});
  await m.fit(train, { rng: new Rng(seed), threads });
  return m;
}

describe('the contract world', () => {
  it('has items without a training positive, held-out users and probed training users', () => {
    assert.ok(train.candidates.length < nItems - 10, `${nItems - train.candidates.length} non-candidates`);
    assert.ok(split.testUsers.length >= 10 && split.testUserModelIndex.every((u) => u === -1), 'held-out users are unknown to the model');
    assert.ok(probeTrain.length >= 10);
  });

  it('every model case is of a registered model (a removed model leaves no stale entry)', () => {
    const names = modelNames();
    for (const name of Object.keys(MODEL_CASES)) assert.ok(names.includes(name), `MODEL_CASES has "${name}", which is not registered`);
  });
});

for (const name of modelNames()) {
  describe(`model contract: ${name}`, () => {
    const c: ModelCase | undefined = MODEL_CASES[name];
    let model: Recommender;
    let ref: Float32Array;

    before(async () => {
      model = await fitted(name, c, SEED);
      ref = scores(model);
    });

    it('has an entry in test/model-cases.ts', () => {
      modelCase(name);
    });

    it('writes every cell of its rows and nothing beyond; candidates finite, nothing NaN', () => {
      checkRows(model);
    });

    it('the protocol ranks only unseen candidates, K of them', () => {
      // held-out users through the evaluation path
      const lists = rankTestUsers(model, split, { k: K, batchSize: 7 });
      assert.equal(lists.length, split.testUsers.length);
      lists.forEach((list, b) => {
        const history = new Set(rowOf(split.history, split.testUsers[b]!));
        assert.equal(list.length, K);
        for (const i of list) {
          assert.ok(isCandidate[i], `held-out user ${split.testUsers[b]}: non-candidate ${i} listed`);
          assert.ok(!history.has(i), `held-out user ${split.testUsers[b]}: history item ${i} listed`);
        }
        assert.equal(new Set(list).size, list.length, 'no item twice');
      });
      // non-candidates can only reach a list by outscoring candidates if a model skips the
      // protocol's filter; -Infinity (or any finite value) is fine, the filter keeps them out
      for (let b = 0; b < probe.batch.users.length; b++) {
        const list = topK(ref.subarray(b * nItems, (b + 1) * nItems), rowHistory(probe.batch, b));
        assert.equal(list.length, K);
        for (const i of list) assert.ok(isCandidate[i]);
      }
    });

    it('round-trips through artifact bytes and modelFromArtifact with bit-identical scores', () => {
      checkRoundTrip(model, ref, modelFromArtifact);
    });

    it('scores a batch as each of its users alone, and the same batch twice alike', () => {
      checkBatchEqualsSingle(model, ref);
    });

    const otherSeed = c === undefined ? 'not checked (no entry)' : c.randomised ? 'other scores' : 'the same (no randomness)';
    it(`same seed, same scores; another seed: ${otherSeed}`, async () => {
      assertSameScores(scores(await fitted(name, c, SEED)), ref, 'refit with the same seed');
      if (c === undefined) return;
      const other = scores(await fitted(name, c, SEED + 1));
      if (!c.randomised) assertSameScores(other, ref, 'a model without randomness, refit with another seed');
      else assert.notEqual(firstDifference(other, ref), -1, 'another seed gave identical scores: the fit ignores ctx.rng');
    });

    it('1 and 2 threads give identical scores', async (t) => {
      const threads = c?.threads;
      if (!threads) return void t.skip(`${name} has no entry in test/model-cases.ts`);
      if ('skip' in threads) return void t.skip(threads.skip);
      const undo = threads.forceParallel();
      try {
        assertSameScores(scores(await fitted(name, c, SEED, 2)), ref, '2 threads');
      } finally {
        undo();
      }
    });

    it(`held-out users score finite; a training history as an unknown user: ${c?.foldIn.kind ?? '(no entry)'}`, async (t) => {
      for (const b of probe.heldOutRows) {
        const row = ref.subarray(b * nItems, (b + 1) * nItems);
        for (const i of train.candidates) assert.ok(Number.isFinite(row[i]!), `held-out row ${b}, item ${i}: ${row[i]}`);
      }
      if (isFoldIn(model)) {
        const v = model.foldIn(rowOf(train.userItems, probeTrain[0]!));
        assert.ok(v.length > 0 && v.every(Number.isFinite), 'foldIn gives a finite vector');
      }
      if (!c) return void t.skip(`${name} has no entry in test/model-cases.ts: no fold-in property to check`);
      const own = trainUserBatch(train, Int32Array.from(probeTrain));
      const asUnknown = scores(model, { ...own, users: new Int32Array(probeTrain.length).fill(-1) });
      const ownScores = scores(model, own);
      if (c.foldIn.kind === 'identical') {
        const x = firstDifference(asUnknown, ownScores);
        assert.equal(x, -1, `user ${probeTrain[Math.floor(x / nItems)]} as unknown differs at item ${x % nItems} (${c.foldIn.why})`);
        return;
      }
      const overlaps = probeTrain.map((u, b) => {
        const h = rowOf(train.userItems, u);
        const a = topK(asUnknown.subarray(b * nItems, (b + 1) * nItems), h);
        const o = new Set(topK(ownScores.subarray(b * nItems, (b + 1) * nItems), h));
        return a.filter((i) => o.has(i)).length / K;
      });
      const mean = overlaps.reduce((s, x) => s + x, 0) / overlaps.length;
      t.diagnostic(`mean top-${K} overlap ${mean.toFixed(3)} (${overlaps.map((x) => x.toFixed(2)).join(' ')})`);
      assert.ok(mean >= c.foldIn.minTop20Overlap, `mean top-${K} overlap ${mean.toFixed(3)} < ${c.foldIn.minTop20Overlap}: ${overlaps.map((x) => x.toFixed(2)).join(' ')}`);
    });
  });
}

/**
 * A deliberately faulty model: popularity plus the count of history items, with one fault switched
 * on at a time. The contract's checks must reject each fault (a check that cannot fail is no check).
 */
type Fault = 'none' | 'writesPastRows' | 'nanForNonCandidates' | 'dependsOnBatchPosition' | 'loadsWithoutState';

class FaultyModel implements Recommender {
  readonly name = 'faulty';
  readonly params = {};
  private pop: Float32Array = new Float32Array(0);

  constructor(private readonly fault: Fault) {}

  async fit(t: typeof train): Promise<void> {
    this.pop = Float32Array.from(t.itemPopularity);
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.pop.length;
    const rows = batch.users.length + (this.fault === 'writesPastRows' ? 1 : 0);
    for (let b = 0; b < rows; b++) {
      for (let i = 0; i < n; i++) {
        const hist = b < batch.users.length ? batch.indptr[b + 1]! - batch.indptr[b]! : 0;
        let s = this.pop[i]! + hist;
        if (this.fault === 'dependsOnBatchPosition') s += b;
        if (this.fault === 'nanForNonCandidates' && this.pop[i] === 0) s = NaN;
        out[b * n + i] = s;
      }
    }
  }

  toArtifact(): ModelArtifact {
    return { kind: 'faulty', version: 1, config: {}, arrays: { pop: this.pop } };
  }

  static load(a: ModelArtifact, fault: Fault): FaultyModel {
    const m = new FaultyModel(fault);
    m.pop = fault === 'loadsWithoutState' ? new Float32Array((a.arrays.pop as Float32Array).length) : (a.arrays.pop as Float32Array);
    return m;
  }
}

describe('the contract rejects faulty models', () => {
  const make = async (fault: Fault): Promise<{ m: FaultyModel; ref: Float32Array }> => {
    const m = new FaultyModel(fault);
    await m.fit(train);
    return { m, ref: scores(m) };
  };

  it('a sound model passes every check', async () => {
    const { m, ref } = await make('none');
    checkRows(m);
    checkRoundTrip(m, ref, (a) => FaultyModel.load(a, 'none'));
    checkBatchEqualsSingle(m, ref);
  });

  it('writing past the batch rows, or NaN for non-candidates, fails the rows check', async () => {
    assert.throws(() => checkRows(new FaultyModel('none')), /NaN \(or not written\)/, 'an unfitted stub writes nothing');
    const past = (await make('writesPastRows')).m;
    assert.throws(() => checkRows(past), /wrote past/);
    const nan = (await make('nanForNonCandidates')).m;
    assert.throws(() => checkRows(nan), /item \d+: NaN/);
  });

  it('an artifact that loses state fails the round trip', async () => {
    const { m, ref } = await make('loadsWithoutState');
    assert.throws(() => checkRoundTrip(m, ref, (a) => FaultyModel.load(a, 'loadsWithoutState')), /reloaded model/);
  });

  it('scores that depend on the batch position fail batch = single', async () => {
    const { m, ref } = await make('dependsOnBatchPosition');
    assert.throws(() => checkBatchEqualsSingle(m, ref), /alone differs/);
  });
});
