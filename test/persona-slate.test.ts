import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import fc from 'fast-check';
import { columnCounts, csrFromPairs, rowOf, transpose } from '../src/data/csr.js';
import { Rng } from '../src/math/rng.js';
import { calibratedSlate, fillSlate, personaSlate, shareSequence, writeSlateScores } from '../src/models/persona-slate.js';
import type { TrainSet } from '../src/models/model.js';
import { PersonaModel, type PersonasConfig } from '../src/models/personas.js';
import { select } from '../src/rank/pipeline.js';

/** Places each persona holds after every prefix of `seq`. */
function prefixCounts(seq: Int32Array, k: number): number[][] {
  const c = new Array<number>(k).fill(0);
  return Array.from(seq, (q) => {
    c[q]!++;
    return c.slice();
  });
}

describe('share slate construction', () => {
  it('deals places by Tijdeman\'s rule (hand-computed: shares 1/2, 1/4, 1/4)', () => {
    // sigma = 1/4. t=1: all eligible, deadlines 1.5, 3, 3 -> 0. t=2: deficits 0, .5, .5 -> 1 and 2
    // eligible, deadlines 3, 3 -> 1. t=3: deficits .5, -.25, .75 -> 0 (deadline 3.5) or 2 (3) -> 2.
    // t=4: deficits 1, 0, 0 -> 0. Four places: 2, 1, 1, the largest-remainder allocation of 4.
    assert.deepEqual(Array.from(shareSequence([0.5, 0.25, 0.25], 4)), [0, 1, 2, 0]);
    // shares are normalised; a zero share never takes a place; one persona takes every place
    assert.deepEqual(Array.from(shareSequence([2, 1, 1], 4)), [0, 1, 2, 0]);
    assert.deepEqual(Array.from(shareSequence([0, 3], 3)), [1, 1, 1]);
    assert.deepEqual(Array.from(shareSequence([1], 3)), [0, 0, 0]);
    // 2/3, 1/3 (sigma 1/2): deficits 2/3, 1/3 -> 0; then 1/3, 2/3 -> 1; then 1, 0 -> 0
    assert.deepEqual(Array.from(shareSequence([2, 1], 6)), [0, 1, 0, 0, 1, 0]);
    assert.throws(() => shareSequence([0, 0], 2), /positive/);
    assert.throws(() => shareSequence([1, Number.NaN], 2), /finite/);
  });

  it('fills each place with its persona\'s best unused item (hand-computed dedupe)', () => {
    const rankings = [Int32Array.of(10, 11, 12, 13), Int32Array.of(11, 14), Int32Array.of(10, 15)];
    // places 0, 1, 2, 0: p0 takes 10; p1 takes 11; p2's 10 is taken -> 15; p0's 10, 11 taken -> 12
    assert.deepEqual(Array.from(fillSlate(rankings, Int32Array.of(0, 1, 2, 0))), [10, 11, 15, 12]);
    // a persona that runs out gives its place to the next persona in the sequence
    assert.deepEqual(Array.from(fillSlate([Int32Array.of(1), Int32Array.of(1, 2, 3)], Int32Array.of(0, 0, 1, 1))), [1, 2, 3]);
  });

  it('calibrated slate: trades the score against KL(shares || listed responsibilities) (hand-computed)', () => {
    // items 0, 1 belong to persona 0 alone, item 2 to persona 1; shares 1/2, 1/2
    const rel = Float32Array.of(-1, -1.1, -3);
    const own = [Float32Array.of(0, 0, -Infinity), Float32Array.of(-Infinity, -Infinity, 0)];
    const pool = Int32Array.of(0, 1, 2);
    // lambda 0: the score order
    assert.deepEqual(Array.from(calibratedSlate(rel, own, [1, 1], pool, 3, 0)), [0, 1, 2]);
    // lambda 0.5: place 1, any single item gives q~ = (0.995, 0.005) or its mirror, KL 1.958 for all -> item 0;
    // place 2: item 1 keeps KL 1.958 (value 0.5 (-1.1) - 0.979 = -1.529), item 2 makes q = p, KL 0 (value -1.5) -> item 2
    assert.deepEqual(Array.from(calibratedSlate(rel, own, [1, 1], pool, 3, 0.5)), [0, 2, 1]);
  });

  it('the slate heads the best-first order of the written scores; other items keep theirs', () => {
    const out = Float32Array.of(-1, -2, -Infinity, -0.5, -3);
    writeSlateScores(out, Int32Array.of(4, 1));
    assert.deepEqual(Array.from(out), [-1, 2, -Infinity, -0.5, 3]);
  });

  it('one persona without a whole-history row: the slate is that persona\'s ranking', () => {
    const scores = Float32Array.of(-2, -Infinity, -1, -4, -1.5, -3);
    const cand = Int32Array.of(0, 2, 3, 4, 5);
    const excl = new Uint8Array(6);
    excl[5] = 1;
    const inp = { nItems: 6, cand, personas: 1, hasWhole: false, wholeWeight: 0.7, excl, shares: [1], size: 3 };
    const slate = personaSlate(inp, (_row, out) => out.set(scores));
    assert.deepEqual(Array.from(slate), [2, 4, 0]);
  });

  it('property: after every prefix of n places, a persona with share s holds floor(n s) or ceil(n s), and the items are its best unused', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (w, n, seed) => {
        const total = w.reduce((a, b) => a + b, 0);
        const seq = shareSequence(w, n);
        prefixCounts(seq, w.length).forEach((c, t) => {
          c.forEach((have, q) => {
            const want = ((t + 1) * w[q]!) / total;
            assert.ok(have >= Math.floor(want + 1e-9) && have <= Math.ceil(want - 1e-9), `place ${t + 1}, persona ${q}: ${have} for ${want}`);
          });
        });
        // overlapping rankings, each long enough (n items of a shared pool): no persona runs out
        const rng = new Rng(seed >>> 0);
        const pool = 2 * n;
        const rankings = w.map(() => rng.shuffle(Int32Array.from({ length: pool }, (_, i) => i)).slice(0, n));
        const slate = fillSlate(rankings, seq);
        assert.equal(slate.length, n);
        assert.equal(new Set(slate).size, n);
        const used = new Set<number>();
        slate.forEach((item, t) => {
          const best = Array.from(rankings[seq[t]!]!).find((j) => !used.has(j));
          assert.equal(item, best);
          used.add(item);
        });
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

/** Users with 2-3 planted item blocks (as in test/personas.test.ts, smaller). */
function makeTrain(seed: number): TrainSet {
  const nBlocks = 8;
  const per = 15;
  const nUsers = 60;
  const nItems = nBlocks * per;
  const rng = new Rng(seed);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const blocks = [rng.int(nBlocks), rng.int(nBlocks), rng.int(nBlocks)];
    const seen = new Set<number>();
    const n = 25 + rng.int(15);
    for (let t = 0; seen.size < n && t < 10 * n; t++) {
      const r = rng.next();
      const b = blocks[r < 0.55 ? 0 : r < 0.85 ? 1 : 2]!;
      const j = b * per + rng.int(per);
      if (!seen.has(j)) {
        seen.add(j);
        users.push(u);
        items.push(j);
      }
    }
  }
  const userItems = csrFromPairs(nUsers, nItems, Int32Array.from(users), Int32Array.from(items));
  const itemPopularity = columnCounts(userItems);
  const candidates: number[] = [];
  for (let i = 0; i < nItems; i++) if (itemPopularity[i]! > 0) candidates.push(i);
  return {
    nUsers, nItems, userItems, itemUsers: transpose(userItems), itemPopularity,
    candidates: Int32Array.from(candidates), itemRanks: Int32Array.from({ length: nItems }, (_, i) => i), categories: null,
  };
}

const CFG: Partial<PersonasConfig> = { dim: 8, k: 3, epochs: 6, warmEpochs: 2, itemsPerPersona: 8, lr: 0.03, batchSize: 16 };

function scoresOf(m: PersonaModel, train: TrainSet, u: number): Float32Array {
  const hist = rowOf(train.userItems, u);
  const out = new Float32Array(train.nItems);
  m.scoreBatch({ users: Int32Array.of(u), indptr: Int32Array.of(0, hist.length), items: hist }, out);
  return out;
}

function withParams(m: PersonaModel, over: Partial<PersonasConfig>): PersonaModel {
  const a = m.toArtifact();
  return PersonaModel.fromArtifact({ ...a, config: { ...a.config, ...over } });
}

describe('personas with slate: shares', () => {
  const train = makeTrain(3);
  let mixture: PersonaModel;
  let twin: PersonaModel;

  before(async () => {
    mixture = new PersonaModel(CFG);
    await mixture.fit(train, { rng: new Rng(42), threads: 1 });
    twin = new PersonaModel({ ...CFG, k: 1 });
    await twin.fit(train, { rng: new Rng(42), threads: 1 });
  });

  it('with one persona (the twin) the scores are exactly the mixture ranking\'s', () => {
    const shares = withParams(twin, { slate: 'shares', slateGamma: 1, slateWhole: 0 });
    const calibrated = withParams(twin, { slate: 'calibrated', slateLambda: 0.9 });
    for (const u of [0, 1, 17, 59]) {
      assert.deepEqual(scoresOf(shares, train, u), scoresOf(twin, train, u));
      assert.deepEqual(scoresOf(calibrated, train, u), scoresOf(twin, train, u));
    }
  });

  it('deals the list to the personas by share; every persona fills its places from its own ranking', () => {
    const size = 12;
    const m = withParams(mixture, { slate: 'shares', slateSize: size, slateGamma: 1, slateWhole: 0 });
    let multi = 0;
    for (let u = 0; u < train.nUsers; u++) {
      const hist = rowOf(train.userItems, u);
      const ps = m.personaVectors(u);
      const k = ps.length / 8;
      if (k < 2) continue;
      multi++;
      const scores = scoresOf(m, train, u);
      const { list } = select(scores, { candidates: train.candidates, exclude: hist, itemRanks: train.itemRanks }, { user: u, history: hist }, { k: size });
      // each persona's share: its member count (slateGamma 1)
      const members = m.personaMembers(hist);
      const count = new Array<number>(k).fill(0);
      for (const q of members) if (q >= 0) count[q]!++;
      const seq = shareSequence(count, size);
      // persona q's own ranking (slateWhole 0): its own softmax, i.e. scorePersonas of that row alone with the history
      const own = Array.from({ length: k }, (_, q) => {
        const row = new Float32Array(train.nItems);
        const c = m.mixtureTerms(ps, hist);
        // log softmax of component q over candidates outside the history
        const z = Array.from(train.candidates, (j) => { let s = m.itemBias(j); for (let x = 0; x < 8; x++) s += c.components[q * 8 + x]! * m.targetVector(j)[x]!; return s; });
        let mx = -Infinity;
        z.forEach((s) => (mx = Math.max(mx, s)));
        let sum = 0;
        train.candidates.forEach((j, ci) => { if (!hist.includes(j)) sum += Math.exp(z[ci]! - mx); });
        train.candidates.forEach((j, ci) => (row[j] = z[ci]! - mx - Math.log(sum)));
        return Array.from(train.candidates).filter((j) => !hist.includes(j)).sort((a, b) => row[b]! - row[a]! || a - b);
      });
      const used = new Set<number>();
      assert.equal(list.length, size);
      list.forEach((item, t) => {
        assert.equal(item, own[seq[t]!]!.find((j) => !used.has(j)), `user ${u}, place ${t}`);
        used.add(item);
      });
      // and the same list when the history is folded in as an unknown user's
      const unknown = new Float32Array(train.nItems);
      m.scorePersonas(m.foldIn(hist), unknown, hist);
      assert.deepEqual(unknown, scores);
    }
    assert.ok(multi >= 10, `${multi} users with 2+ personas`);
  });

  it('below the slate, items keep the mixture order; the fit is untouched', () => {
    const m = withParams(mixture, { slate: 'shares', slateSize: 5 });
    const u = 3;
    const a = scoresOf(m, train, u);
    const b = scoresOf(mixture, train, u);
    let changed = 0;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) changed++;
    assert.ok(mixture.personaCount(u) > 1 && changed === 5, `${changed} scores changed`);
  });
});
