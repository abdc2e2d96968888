/**
 * The `din` model (src/models/din.ts): attention and scores on a hand-computed case, the recent
 * window in time order, explanations that add up to the score, and the training gradient against
 * finite differences of the training loss.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { attend, userGrad, type DinState, type DinStep } from '../src/models/din-train.js';
import { DinModel } from '../src/models/din.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Three items in d = 2: e_0 = (1, 0), e_1 = (0, 1), e_2 = (1, 1); the unit c = (2, 1), v = (0, 0.5);
 * Q_2 = (2, 4). For candidate 2 the query is c ⊙ e_2 + v = (2, 1.5): a_20 = 2, a_21 = 1.5, so
 * w_20 = sigmoid(0.5), w_21 = 1 - sigmoid(0.5); the values are Q_2 . e_0 = 2 and Q_2 . e_1 = 4.
 */
const W = Float32Array.of(1, 0, 0, 1, 1, 1);
const Q = Float32Array.of(0.5, 0, 0, 0.5, 2, 4);
const B = Float32Array.of(0.1, 0.2, 0.3);
const ATT = Float32Array.of(2, 1, 0, 0.5);
const W20 = sigmoid(0.5);
const Z2 = W20 * 2 + (1 - W20) * 4;

function tinyModel(params: Record<string, number> = {}): DinModel {
  return DinModel.fromArtifact({
    kind: 'din',
    version: 1,
    config: { dim: 2, ...params, nUsers: 1, nItems: 4 },
    // item 3 is not a candidate; user 0's training row is item 1, then item 0 (oldest first)
    arrays: {
      W: Float32Array.of(...W, 0, 0),
      Q: Float32Array.of(...Q, 0, 0),
      B: Float32Array.of(...B, 0),
      att: ATT,
      cand: Int32Array.of(0, 1, 2),
      hptr: Int32Array.of(0, 2),
      hidx: Int32Array.of(1, 0),
    },
  });
}

describe('din attention', () => {
  it('weighs each behaviour by the unit on the candidate, the behaviour and their product', () => {
    const w = new Float64Array(2);
    const s = new Float64Array(2);
    const z = attend(W, Q, ATT, 2, 2, Int32Array.of(0, 1), 2, w, s);
    assert.ok(Math.abs(w[0]! - W20) < 1e-12 && Math.abs(w[1]! - (1 - W20)) < 1e-12, `weights ${w[0]}, ${w[1]}`);
    assert.deepEqual(Array.from(s), [2, 4]);
    assert.ok(Math.abs(z - Z2) < 1e-12, `attended value ${z}, want ${Z2}`);
  });

  it('scores |H|^(1-alpha) Q_i . sum_j w_ij e_j + B_i; non-candidates -Infinity, the bias alone without history', () => {
    const m = tinyModel();
    const out = new Float32Array(4);
    m.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1) }, out);
    assert.ok(Math.abs(out[2]! - (Math.SQRT2 * Z2 + 0.3)) < 1e-5, `score ${out[2]}`);
    assert.equal(out[3], -Infinity);
    // item 0 as candidate: query (2, 0.5), a = (2, 0.5); values Q_0 . e = (0.5, 0)
    const w00 = sigmoid(1.5);
    assert.ok(Math.abs(out[0]! - (Math.SQRT2 * w00 * 0.5 + 0.1)) < 1e-5, `score of item 0 ${out[0]}`);
    const alpha1 = tinyModel({ alpha: 1 });
    alpha1.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1) }, out);
    assert.ok(Math.abs(out[2]! - (Z2 + 0.3)) < 1e-5, `alpha = 1 (weighted mean): ${out[2]}`);
    m.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, 0), items: new Int32Array(0) }, out);
    assert.deepEqual(Array.from(out), [Math.fround(0.1), Math.fround(0.2), Math.fround(0.3), -Infinity]);
  });

  it('recent = 1 attends over the newest behaviour: by training time for a training user, as given otherwise', () => {
    const m = tinyModel({ recent: 1 });
    const out = new Float32Array(4);
    // user 0 consumed item 1 before item 0: the newest is item 0, Q_2 . e_0 = 2
    m.scoreBatch({ users: Int32Array.of(0), indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1) }, out);
    assert.ok(Math.abs(out[2]! - 2.3) < 1e-6, `training user ${out[2]}`);
    // an unknown user with the history as given (0 then 1): the newest is item 1, Q_2 . e_1 = 4
    m.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1) }, out);
    assert.ok(Math.abs(out[2]! - 4.3) < 1e-6, `unknown user ${out[2]}`);
    assert.deepEqual(Array.from(m.behaviours(0, Int32Array.of(3, 0, 1, 1))), [0], 'non-candidates and repeats dropped');
  });

  it('explanations name the behaviours with their weights, largest contribution first, adding up to the score', () => {
    const m = tinyModel();
    const e = m.explain(-1, Int32Array.of(0, 1), 2);
    assert.deepEqual(e.map((x) => x.item), [1, 0]);
    assert.ok(Math.abs(e[0]!.weight - (1 - W20)) < 1e-12);
    assert.ok(Math.abs(e[0]!.contribution - Math.SQRT2 * (1 - W20) * 4) < 1e-9);
    const out = new Float32Array(4);
    m.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1) }, out);
    assert.ok(Math.abs(e[0]!.contribution + e[1]!.contribution + 0.3 - out[2]!) < 1e-5);
    assert.deepEqual(m.explain(-1, Int32Array.of(0, 1), 3), [], 'a non-candidate has no explanation');
  });
});

describe('din memories', () => {
  it('similarity retrieval keeps the behaviours most similar to each candidate (ties: the later one)', () => {
    const m = tinyModel();
    const one = new Float32Array(4);
    const two = new Float32Array(4);
    const five = new Float32Array(4);
    m.scoreSimilar(Int32Array.of(0, 1), [1, 2, 5], [one, two, five]);
    // candidate 0: cos(e_0, e_0) = 1 > cos(e_0, e_1) = 0, so it keeps item 0: Q_0 . e_0 = 0.5
    assert.ok(Math.abs(one[0]! - 0.6) < 1e-6, `candidate 0 ${one[0]}`);
    // candidate 2: a tie (both 1/sqrt 2), the later behaviour (item 1) wins: Q_2 . e_1 = 4
    assert.ok(Math.abs(one[2]! - 4.3) < 1e-6, `candidate 2 ${one[2]}`);
    assert.equal(one[3], -Infinity);
    const all = new Float32Array(4);
    m.scoreBehaviours(Int32Array.of(0, 1), all);
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(two[i]! - all[i]!) < 1e-5, `budget 2 = the whole history at item ${i}`);
      assert.equal(five[i], two[i], `a budget beyond the history keeps it whole (item ${i})`);
    }
  });

  it('a summary vector with log-weight log n attends like n copies of itself', () => {
    const m = tinyModel();
    const summary = new Float32Array(4);
    m.scoreVectors(Float32Array.of(1, 0, 0, 1), Float64Array.of(Math.log(3), 0), 2, summary);
    const copies = new Float32Array(4);
    m.scoreVectors(Float32Array.of(1, 0, 1, 0, 1, 0, 0, 1), null, 2, copies);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(summary[i]! - copies[i]!) < 1e-5, `item ${i}: ${summary[i]} vs ${copies[i]}`);
    // candidate 2: logits 2 + log 3 and 1.5; values 2 and 4
    const w = 3 * Math.exp(2) / (3 * Math.exp(2) + Math.exp(1.5));
    assert.ok(Math.abs(summary[2]! - (2 * (w * 2 + (1 - w) * 4) + 0.3)) < 1e-5);
  });
});

describe('din training gradient', () => {
  it('matches central finite differences of the sampled-softmax loss', () => {
    const d = 3;
    const nItems = 6;
    const rnd = (k: number): number => Math.sin(12.9898 * k + 4.1414) * 0.5;
    const state = (): DinState => ({
      d,
      nItems,
      W: Float32Array.from({ length: nItems * d }, (_, k) => rnd(k)),
      Q: Float32Array.from({ length: nItems * d }, (_, k) => rnd(k + 100)),
      B: Float32Array.from({ length: nItems }, (_, k) => rnd(k + 200)),
      att: Float32Array.from({ length: 2 * d }, (_, k) => 1 + rnd(k + 300)),
      hptr: Int32Array.of(0, 4),
      hidx: Int32Array.of(0, 1, 2, 3),
      pool: Int32Array.of(4, 5, 1),
      poolLogW: Float32Array.of(-0.2, 0.3, 0.1),
      gW: [new Float32Array(nItems * d)],
      gQ: [new Float32Array(nItems * d)],
      gB: [new Float32Array(nItems)],
      gAtt: [new Float32Array(2 * d)],
      touched: [new Int32Array(nItems)],
      marks: [new Uint8Array(nItems)],
      nTouched: new Int32Array(1),
    });
    const prm: DinStep = { holdout: 0.5, seed: 7, recent: 0, skipEps: 0, alpha: 0.5 };
    const st = state();
    userGrad(st, prm, 0, 0);
    const checks: [keyof DinState & ('W' | 'Q' | 'B' | 'att'), Float32Array][] = [
      ['W', st.gW[0]!],
      ['Q', st.gQ[0]!],
      ['B', st.gB[0]!],
      ['att', st.gAtt[0]!],
    ];
    let compared = 0;
    for (const [name, grad] of checks) {
      for (let x = 0; x < grad.length; x++) {
        const lossAt = (delta: number): { loss: number; step: number } => {
          const s2 = state();
          const arr = s2[name] as Float32Array;
          const before = arr[x]!;
          arr[x] = before + delta;
          return { loss: userGrad(s2, prm, 0, 0), step: arr[x]! - before };
        };
        const up = lossAt(1e-3);
        const down = lossAt(-1e-3);
        const fd = (up.loss - down.loss) / (up.step - down.step);
        assert.ok(Math.abs(fd - grad[x]!) < 2e-3 + 1e-2 * Math.abs(fd), `${name}[${x}]: finite difference ${fd}, gradient ${grad[x]}`);
        if (grad[x] !== 0) compared++;
      }
    }
    assert.ok(compared > 20, `only ${compared} non-zero gradient entries were compared`);
  });
});

describe('training times', () => {
  it('trainSetFromPairs places each pair latest time at its position in the sorted row', () => {
    const t = trainSetFromPairs(2, 3, Int32Array.of(0, 0, 1, 0), Int32Array.of(2, 0, 1, 2), Int32Array.of(0, 1, 2), null, Float64Array.of(5, 9, 1, 7));
    assert.deepEqual(Array.from(t.userItems.indices), [0, 2, 1]);
    assert.deepEqual(Array.from(t.userItemTime!), [9, 7, 1]);
    assert.equal(trainSetFromPairs(1, 1, Int32Array.of(0), Int32Array.of(0), Int32Array.of(0), null).userItemTime, undefined);
  });
});
