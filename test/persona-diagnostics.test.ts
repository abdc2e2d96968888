import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csrFromPairs, rowOf, transpose, type Csr } from '../src/data/csr.js';
import { personaDiagnostics, personaDiagnosticsLine, personaDiagnosticsMarkdown, meanPairwiseCosine } from '../src/eval/persona-diagnostics.js';
import { explanationFidelity, mostSimilar, type FidelitySplit } from '../src/explain/fidelity.js';
import { withheldByWeights } from '../src/explain/withhold.js';
import { Rng } from '../src/math/rng.js';
import { historyMembers, type HasPersonas, type Recommender, type TrainSet, type UserBatch } from '../src/models/model.js';

const close = (a: number | null | undefined, b: number, eps = 1e-9, what = ''): void => {
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < eps, `${what}: ${a} vs ${b}`);
};

function csr(rows: number, cols: number, data: readonly (readonly number[])[]): Csr {
  const r: number[] = [];
  const c: number[] = [];
  data.forEach((items, u) => items.forEach((i) => (r.push(u), c.push(i))));
  return csrFromPairs(rows, cols, Int32Array.from(r), Int32Array.from(c));
}

function trainSet(nUsers: number, nItems: number, rows: readonly (readonly number[])[]): TrainSet {
  const userItems = csr(nUsers, nItems, rows);
  const itemUsers = transpose(userItems);
  const itemPopularity = Int32Array.from({ length: nItems }, (_, i) => itemUsers.indptr[i + 1]! - itemUsers.indptr[i]!);
  return {
    nUsers,
    nItems,
    userItems,
    itemUsers,
    itemPopularity,
    candidates: Int32Array.from({ length: nItems }, (_, i) => i),
    itemRanks: Int32Array.from({ length: nItems }, (_, i) => i),
    categories: null,
  };
}

/**
 * A persona model whose personas and persona of each item are given outright: user u has the
 * persona rows `rows[u]` (dim 2); every item belongs (one-hot weights) to persona `owner[item]`.
 */
class FixedPersonas implements HasPersonas {
  constructor(
    private readonly rows: readonly (readonly number[])[],
    private readonly owner: readonly number[],
  ) {}
  personaCount(user: number): number {
    return (this.rows[user]?.length ?? 0) / 2;
  }
  personaVectors(user: number): Float32Array {
    return Float32Array.from(this.rows[user] ?? []);
  }
  attention(user: number, item: number): Float32Array {
    return this.attentionFor(this.personaVectors(user), item);
  }
  foldIn(): Float32Array {
    return new Float32Array(0);
  }
  attentionFor(personas: Float32Array, item: number): Float32Array {
    const w = new Float32Array(personas.length / 2);
    w[this.owner[item]!] = 1;
    return w;
  }
  scorePersonas(_personas: Float32Array, out: Float32Array): void {
    out.fill(0);
  }
}

describe('persona diagnostics (hand-computed)', () => {
  // items 0..9 belong to personas 0 0 1 1 1 0 0 2 2 0
  const owner = [0, 0, 1, 1, 1, 0, 0, 2, 2, 0];
  // A: rows (1,0),(0,1): cosine 0; B: (1,0),(1,1): 1/sqrt 2; C: three rows, cosines 0, 1/sqrt 2, 1/sqrt 2; D: one row
  const rows = [[1, 0, 0, 1], [1, 0, 1, 1], [1, 0, 0, 1, 1, 1], [2, 0]];
  const model = new FixedPersonas(rows, owner);
  const split = {
    testUsers: Int32Array.of(0, 1, 2, 3),
    testUserModelIndex: Int32Array.of(0, 1, 2, 3),
    // A owns 0,0,1 -> p = (2/3, 1/3); B owns 1,1 (one persona owns its history); C owns 0,1,2,2 -> p = (1/4, 1/4, 1/2); D one
    history: csr(4, 10, [[0, 1, 2], [3, 4], [0, 3, 7, 8], [1]]),
  };
  // top 2: A gets two persona-0 items (q = (1, 0)); C gets persona 2 and persona 0 (q = (1/2, 0, 1/2))
  const lists = [Int32Array.of(5, 6, 2), Int32Array.of(5, 6, 7), Int32Array.of(7, 9, 3), Int32Array.of(5, 6)];
  const d = personaDiagnostics(model, split, lists, [2, 3]);

  it('counts personas per user, owned personas, and the mean within-user cosine', () => {
    assert.equal(d.users, 4);
    assert.deepEqual(d.personasPerUser, { '1': 1, '2': 2, '3': 1 });
    assert.deepEqual(d.ownedPersonasPerUser, { '1': 2, '2': 1, '3': 1 });
    close(d.meanPersonas, 2);
    close(d.meanOwnedPersonas, 7 / 4);
    assert.equal(d.cosine.users, 3);
    close(d.cosine.mean, (0 + Math.SQRT1_2 + (2 * Math.SQRT1_2) / 3) / 3, 1e-6, 'cosine');
    close(meanPairwiseCosine(Float32Array.of(1, 0, -1, 0), 2), -1);
    assert.equal(meanPairwiseCosine(Float32Array.of(1, 0, 0, 0), 2), null, 'a zero row has no cosine');
  });

  it('persona coverage of the top K and persona-level calibration over users with 2+ owned personas', () => {
    const at = d.atK['2']!;
    assert.equal(at.users, 2);
    assert.deepEqual(at.personasInTopK, { '1': 1, '2': 1 });
    close(at.meanShareInTopK, (1 / 2 + 2 / 3) / 2);
    // A: (|1 - 2/3| + |0 - 1/3|) / 2 = 1/3; C: (1/4 + 1/4 + 0) / 3 = 1/6
    close(at.meanAbsShareGap, (1 / 3 + 1 / 6) / 2);
    const kl = (p: number[], q: number[]): number => p.reduce((s, pg, g) => (pg > 0 ? s + pg * Math.log(pg / (0.99 * q[g]! + 0.01 * pg)) : s), 0);
    close(at.personaCkl, (kl([2 / 3, 1 / 3], [1, 0]) + kl([1 / 4, 1 / 4, 1 / 2], [1 / 2, 0, 1 / 2])) / 2, 1e-9, 'ckl');
    // JS (base 2): A: 1/2 [1 log2(1/(5/6))] + 1/2 [2/3 log2((2/3)/(5/6)) + 1/3 log2((1/3)/(1/6))]
    const jsA = 0.5 * Math.log2(6 / 5) + 0.5 * ((2 / 3) * Math.log2(4 / 5) + (1 / 3) * 1);
    const jsC = 0.5 * (0.5 * Math.log2(0.5 / 0.375)) + 0.5 * (0.25 * Math.log2(0.25 / 0.375) + 0.25 * 1);
    close(at.personaJs, (jsA + jsC) / 2, 1e-9, 'js');
    // rank 1: A persona 0 (2/3 -> 1), C persona 2 (1/2 -> 1/2); rank 2: A persona 1 (1/3 -> 0), C persona 0 (1/4, the lower index of a tie -> 1/2)
    assert.equal(at.shareByRank.length, 3);
    close(at.shareByRank[0]!.historyShare, 7 / 12);
    close(at.shareByRank[0]!.topKShare, 3 / 4);
    close(at.shareByRank[1]!.historyShare, 7 / 24);
    close(at.shareByRank[1]!.topKShare, 1 / 4);
    assert.equal(at.shareByRank[2]!.users, 1);
    close(at.shareByRank[2]!.topKShare, 0);
    // at K = 3, A's third item is persona 1's: both of A's personas are in the list
    assert.deepEqual(d.atK['3']!.personasInTopK, { '2': 1, '3': 1 });
    assert.match(personaDiagnosticsLine('stub', d, 2), /personas per user 1:1 2:2 3:1 .*within-user cosine 0\.393 over 3 users/);
    assert.match(personaDiagnosticsMarkdown([{ name: 'stub', personaDiagnostics: d }], 2), /\| stub \| 4 \| 1: 1, 2: 2, 3: 1 \| 0\.393 \|/);
  });

  it('history members come from personaMembers when the model has it', () => {
    const h = Int32Array.of(0, 1, 2);
    assert.deepEqual(Array.from(historyMembers(model, model.personaVectors(0), h)), [0, 0, 1]);
    const withMembers: HasPersonas = Object.assign(new FixedPersonas(rows, owner), { personaMembers: (x: Int32Array) => x.map((i) => (i >= 7 ? 2 : 1)) });
    assert.deepEqual(Array.from(historyMembers(withMembers, withMembers.personaVectors(0), h)), [1, 1, 1]);
    // A's history now belongs to one persona (A drops out of the per-K numbers); C's to two
    assert.equal(personaDiagnostics(withMembers, split, lists, [2]).atK['2']!.users, 1);
  });
});

// ---- counterfactual fidelity on a world of three item clusters ----

const N_ITEMS = 60;
const cluster = (i: number): number => Math.floor(i / 20);
/** A fixed pseudo-random number in [0, 1) per (a, b), symmetric. */
function h(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  let x = Math.imul(lo + 1, 0x9e3779b1) ^ Math.imul(hi + 7, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
  x ^= x >>> 13;
  return (x >>> 0) / 4294967296;
}

/**
 * Scores really come from the user's per-cluster personas: s_i = sum over history items j of
 * [same cluster] + 0.4 h(i, j) for other clusters, + 0.05 h(i, i). The personas of a history are
 * one row per cluster present (count on that cluster's axis); an item's weights are a softmax of
 * its cluster's count over the rows, so the explaining persona is the item's cluster.
 */
class ClusterModel implements HasPersonas, Pick<Recommender, 'scoreBatch'> {
  foldIn(items: Int32Array): Float32Array {
    const counts = [0, 0, 0];
    for (const i of items) counts[cluster(i)]!++;
    const rows: number[] = [];
    counts.forEach((n, c) => {
      if (n > 0) rows.push(...[0, 1, 2].map((x) => (x === c ? n : 0)));
    });
    return Float32Array.from(rows);
  }
  personaCount(): number {
    return 0;
  }
  personaVectors(): Float32Array {
    return new Float32Array(0);
  }
  attention(): Float32Array {
    return new Float32Array(0);
  }
  attentionFor(personas: Float32Array, item: number): Float32Array {
    const k = personas.length / 3;
    const w = new Float32Array(k);
    let sum = 0;
    for (let r = 0; r < k; r++) sum += w[r] = Math.exp(personas[r * 3 + cluster(item)]!);
    for (let r = 0; r < k; r++) w[r] = w[r]! / sum;
    return w;
  }
  scorePersonas(personas: Float32Array, out: Float32Array): void {
    for (let i = 0; i < N_ITEMS; i++) {
      let s = 0;
      for (let r = 0; r < personas.length / 3; r++) s += personas[r * 3 + cluster(i)]!;
      out[i] = s;
    }
  }
  scoreBatch(batch: UserBatch, out: Float32Array): void {
    for (let b = 0; b < batch.users.length; b++) {
      const hist = batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!);
      for (let i = 0; i < N_ITEMS; i++) {
        let s = 0.05 * h(i, i);
        for (const j of hist) s += cluster(i) === cluster(j) ? 1 : 0.4 * h(i, j);
        out[b * N_ITEMS + i] = s;
      }
    }
  }
}

/** The same scores, but each item's "explaining persona" is a fixed pseudo-random one (a broken explainer). */
class ShuffledLabels extends ClusterModel {
  personaWeights(personas: Float32Array, item: number): Float32Array {
    const w = new Float32Array(personas.length / 3);
    w[Math.floor(h(item, 1000) * w.length)] = 1;
    return w;
  }
}

/** The same model, but items 0, 4, 8, ... are carried by the first two personas almost equally. */
class SharedItems extends ClusterModel {
  personaWeights(personas: Float32Array, item: number): Float32Array {
    const w = this.attentionFor(personas, item);
    if (item % 4 !== 0 || w.length < 2) return w;
    w.fill(0);
    w[0] = 0.52;
    w[1] = 0.48;
    return w;
  }
}

function clusterWorld(): { split: FidelitySplit; lists: Int32Array[] } {
  const rng = new Rng(7);
  // training users each live in one cluster: items of a cluster co-occur
  const trainRows: number[][] = [];
  for (let u = 0; u < 90; u++) {
    const c = u % 3;
    trainRows.push(Array.from(new Set(Array.from({ length: 8 }, () => c * 20 + rng.int(20)))));
  }
  // test users (90..119): 2 or 3 clusters, of 10 / 6 / 4 items
  const histories: number[][] = [];
  for (let t = 0; t < 30; t++) {
    const order = rng.shuffle([0, 1, 2]);
    const sizes = t % 2 === 0 ? [10, 6, 4] : [9, 6];
    const items = new Set<number>();
    sizes.forEach((n, s) => {
      const pool = rng.shuffle(Array.from({ length: 20 }, (_, x) => order[s]! * 20 + x));
      pool.slice(0, n).forEach((i) => items.add(i));
    });
    histories.push([...items]);
  }
  const nUsers = 120;
  const train = trainSet(nUsers, N_ITEMS, [...trainRows, ...histories]);
  const history = csr(nUsers, N_ITEMS, [...trainRows.map(() => []), ...histories]);
  const testUsers = Int32Array.from({ length: 30 }, (_, t) => 90 + t);
  const split: FidelitySplit = { train, history, testUsers, testUserModelIndex: new Int32Array(30).fill(-1) };
  // each user's top 10 under the model (history excluded, ties by index)
  const model = new ClusterModel();
  const scores = new Float32Array(N_ITEMS);
  const lists = Array.from(testUsers, (u) => {
    const hist = rowOf(history, u);
    model.scoreBatch({ users: Int32Array.of(-1), indptr: Int32Array.of(0, hist.length), items: hist }, scores);
    const cand = Array.from({ length: N_ITEMS }, (_, i) => i).filter((i) => !hist.includes(i));
    cand.sort((a, b) => scores[b]! - scores[a]! || a - b);
    return Int32Array.from(cand.slice(0, 10));
  });
  return { split, lists };
}

describe('counterfactual explanation fidelity', () => {
  const { split, lists } = clusterWorld();

  it('the item-level withholding rule: a lead under 0.1 withholds, one persona always explains', () => {
    assert.equal(withheldByWeights([1], 0), null);
    assert.equal(withheldByWeights([0.6, 0.3, 0.1], 0), null);
    assert.match(withheldByWeights([0.52, 0.48], 0)!, /two tastes carry this item almost equally \(52% and 48%\)/);
    assert.match(withheldByWeights([0.6, 0.4], 0, { minWeight: 0.7 })!, /no single persona carries this item/);
  });

  it('most similar history items: cosine of the TRAIN user sets, ties by item index', () => {
    // item 0: users {0,1,2}; item 1: {0,1}; item 2: {2,3}; item 3: {2}; item 4: none
    const train = trainSet(4, 5, [[0, 1], [0, 1], [0, 2, 3], [2]]);
    const mark = new Uint8Array(4);
    // cos(0,1) = 2/sqrt 6, cos(0,2) = 1/sqrt 6, cos(0,3) = 1/sqrt 3, cos(0,4) = 0
    assert.deepEqual(Array.from(mostSimilar(train, 0, Int32Array.of(1, 2, 3, 4), 3, mark)), [1, 3, 2]);
    assert.deepEqual(Array.from(mark), [0, 0, 0, 0], 'scratch marks are cleared');
    assert.deepEqual(Array.from(mostSimilar(train, 4, Int32Array.of(3, 1, 2), 2, mark)), [1, 2], 'no overlap: lowest item ids');
  });

  it('a model whose scores come from the explaining persona: its removal costs >= 5x the rank of random removals', () => {
    const f = explanationFidelity(new ClusterModel(), split, lists, { maxUsers: 0 });
    assert.equal(f.eligibleUsers, 30);
    assert.equal(f.users, 30);
    assert.equal(f.listItems, 300);
    assert.equal(f.explainedShare, 1);
    // users of two clusters (9 + 6 items): their top items' persona outnumbers the other one, no matched control
    assert.ok(f.items >= 150 && f.unmatchedItems > 0, `${f.items} items (${f.unmatchedItems} unmatched)`);
    assert.equal(f.items + f.unmatchedItems, 300);
    assert.ok(f.unmatched.meanRankDrop > 10, `unmatched ${f.unmatched.meanRankDrop}`);
    assert.ok(f.meanRankDrop > 20, `explaining ${f.meanRankDrop}`);
    assert.ok(f.meanRankDrop >= 5 * Math.max(1, f.control.meanRankDrop), `explaining ${f.meanRankDrop} vs random ${f.control.meanRankDrop}`);
    close(f.ratioToRandom, f.meanRankDrop / Math.max(1, f.control.meanRankDrop), 1e-9, 'ratio');
    assert.ok(f.leftTopKShare > 0.9 && f.control.leftTopKShare < 0.3, `left top 10: ${f.leftTopKShare} vs ${f.control.leftTopKShare}`);
    // the explaining persona's items are the same-cluster items: as costly as the most similar ones
    assert.ok(f.similar.meanRankDrop > 0.5 * f.meanRankDrop, `similar ${f.similar.meanRankDrop}`);
    close(f.meanRemoved, f.control.meanRemoved, 1e-9, 'controls remove as many items');
  });

  it('a broken explainer (shuffled persona labels, same scores) cannot reach the ratio', () => {
    const good = explanationFidelity(new ClusterModel(), split, lists, { maxUsers: 0 });
    const f = explanationFidelity(new ShuffledLabels(), split, lists, { maxUsers: 0 });
    assert.equal(f.explainedShare, 1);
    assert.ok(f.items > 100, `${f.items} items`);
    assert.ok(f.meanRankDrop < 0.5 * good.meanRankDrop, `shuffled ${f.meanRankDrop} vs faithful ${good.meanRankDrop}`);
    assert.ok(f.meanRankDrop < 5 * Math.max(1, f.control.meanRankDrop), `shuffled ${f.meanRankDrop} vs random ${f.control.meanRankDrop}`);
    assert.ok(f.ratioToRandom < 2, `ratio ${f.ratioToRandom}`);
  });

  it('explanations withheld for shared items lower the explained share; work is capped, seeded and repeatable', () => {
    const shared = explanationFidelity(new SharedItems(), split, lists, { maxUsers: 0 });
    const expected = lists.reduce((n, l) => n + l.filter((i) => i % 4 === 0).length, 0);
    close(shared.explainedShare, 1 - expected / 300);
    const a = explanationFidelity(new ClusterModel(), split, lists, { maxUsers: 5, seed: 3 });
    const b = explanationFidelity(new ClusterModel(), split, lists, { maxUsers: 5, seed: 3 });
    assert.equal(a.users, 5);
    assert.equal(a.eligibleUsers, 30);
    assert.equal(a.listItems, 300, 'the explained share is over every eligible user');
    assert.deepEqual(a, b);
    const c = explanationFidelity(new ClusterModel(), split, lists, { maxUsers: 5, seed: 4 });
    assert.notDeepEqual(a, c, 'another seed samples other users');
  });
});
