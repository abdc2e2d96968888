/**
 * The cluster router (`router`): routing on a tiny world whose right answer is known, the routing
 * rule, artifact round trip (nested specialists), batch = single, unknown users routed by their
 * history's cluster, and seed determinism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { Rng } from '../src/math/rng.js';
import { decodeArtifact, encodeArtifact } from '../src/models/artifact.js';
import { singleUserBatch, trainUserBatch, type Recommender, type TrainSet, type UserBatch } from '../src/models/model.js';
import { createModel, modelFromArtifact } from '../src/models/registry.js';
import { chooseCandidate, ClusterRouter, ndcgOfScores, restrictTrain, routerCandidates } from '../src/models/router.js';

/**
 * Two kinds of users on disjoint items. Group X (users 0..nX-1): 2 items of their own (nobody else
 * has them) and 3 of 20 shared items drawn by a steep popularity: a held-out item is either their
 * own (no model can find it) or a shared one, which popularity ranks in its top 20 while item-kNN
 * spreads its scores over the own items of other users. Group Y: 3 of 40 item pairs, both items
 * of each pair, popularity flat: a held-out item's partner is in the history, which item-kNN finds
 * and popularity cannot. So X is served best by pop, Y by itemknn.
 */
function knownWorld(seed = 3, nX = 120, nY = 120): { train: TrainSet; groupX: (u: number) => boolean } {
  const rng = new Rng(seed);
  const pairs: [number, number][] = [];
  const nPairs = 40;
  const ownBase = 2 * nPairs;
  const shared = ownBase + 2 * nX;
  const nShared = 20;
  const weights = Array.from({ length: nShared }, (_, j) => Math.pow(j + 1, -1.2));
  for (let u = 0; u < nX; u++) {
    pairs.push([u, ownBase + 2 * u], [u, ownBase + 2 * u + 1]);
    const got = new Set<number>();
    while (got.size < 3) {
      let x = rng.next() * weights.reduce((a, b) => a + b, 0);
      let j = 0;
      while ((x -= weights[j]!) > 0 && j < nShared - 1) j++;
      got.add(j);
    }
    for (const j of got) pairs.push([u, shared + j]);
  }
  for (let v = 0; v < nY; v++) {
    const u = nX + v;
    const got = new Set<number>();
    while (got.size < 3) got.add(rng.int(nPairs));
    for (const p of got) pairs.push([u, 2 * p], [u, 2 * p + 1]);
  }
  const nItems = shared + nShared;
  const train = trainSetFromPairs(nX + nY, nItems, Int32Array.from(pairs, (p) => p[0]), Int32Array.from(pairs, (p) => p[1]), Int32Array.from({ length: nItems }, (_, i) => i), null);
  return { train, groupX: (u) => u < nX };
}

const ROUTER = { clusters: 2, candidates: 'pop,itemknn', scope: 'global', minValidationPositives: 5, validationShare: 0.2 };

function ctx(seed = 1) {
  return { rng: new Rng(seed), threads: 1 };
}

function scoresOf(m: Recommender, batch: UserBatch, nItems: number): Float32Array {
  const out = new Float32Array(batch.users.length * nItems);
  m.scoreBatch(batch, out);
  return out;
}

function allUsers(train: TrainSet): UserBatch {
  return trainUserBatch(train, Int32Array.from({ length: train.nUsers }, (_, u) => u));
}

test('router: the routing rule takes the best, or the cheapest within the tolerance; ties go to the cheaper', () => {
  assert.equal(chooseCandidate([0.1, 0.3, 0.29], [0, 1, 2], 0), 1);
  assert.equal(chooseCandidate([0.1, 0.3, 0.29], [2, 1, 0], 0.05), 2, 'within 5% of the best and cheapest');
  assert.equal(chooseCandidate([0.1, 0.3, 0.29], [0, 2, 1], 0.01), 1, '0.29 is 3.3% below: outside 1%');
  assert.equal(chooseCandidate([0.2, 0.2], [1, 0], 0), 1, 'a tie goes to the cheaper');
  assert.deepEqual(
    routerCandidates({ candidates: 'pop, itemknn', scope: 'both' }).map((c) => `${c.model}@${c.scope}`),
    ['pop@global', 'pop@cluster', 'itemknn@global', 'itemknn@cluster'],
  );
});

test('router: ndcg of a score row and a restricted training set, by hand', () => {
  const scores = Float32Array.of(0.9, 0.8, 0.8, 0.1, 0.5);
  // item 0 is seen; top 2 among the rest: 1 (ties with 2, lower rank first), 2
  const ndcg = ndcgOfScores(scores, Int32Array.of(0, 1, 2, 3, 4), new Set([0]), new Set([2, 4]), 2, Int32Array.of(0, 1, 2, 3, 4));
  assert.ok(Math.abs(ndcg - (1 / Math.log2(3)) / (1 + 1 / Math.log2(3))) < 1e-12);
  const { train } = knownWorld();
  const sub = restrictTrain(train, (u) => u % 2 === 0, (u, i) => u === 0 && i === train.userItems.indices[0]);
  assert.equal(sub.userItems.indptr[1]! - sub.userItems.indptr[0]!, train.userItems.indptr[1]! - train.userItems.indptr[0]! - 1);
  assert.equal(sub.userItems.indptr[2], sub.userItems.indptr[1], 'user 1 dropped');
});

test('router: on a world with a known answer, the pop cluster goes to pop and the pair cluster to itemknn', async () => {
  const { train, groupX } = knownWorld();
  const m = createModel('router', ROUTER) as ClusterRouter;
  await m.fit(train, ctx());
  const table = m.routingTable();
  assert.equal(table.length, 2);
  // the clusters are the two groups
  const batch = allUsers(train);
  for (const entry of table) {
    const members = Array.from({ length: train.nUsers }, (_, u) => u).filter((u) => m.clusterOf(batch.items.subarray(batch.indptr[u]!, batch.indptr[u + 1]!)) === entry.cluster);
    const x = members.filter(groupX).length;
    const pure = x === members.length || x === 0;
    assert.ok(pure, `cluster ${entry.cluster}: ${x} of ${members.length} from X`);
    const expected = x > 0 ? 'pop@global' : 'itemknn@global';
    assert.equal(entry.chosen, expected, JSON.stringify(entry.scores));
    assert.equal(entry.best, expected);
  }
  assert.deepEqual(m.details().routing, table);
});

test('router: artifact round trip (nested specialists), batch = single, unknown users by their history, seed determinism', async () => {
  const { train } = knownWorld(5, 60, 60);
  const cfg = { ...ROUTER, scope: 'both', candidates: 'pop,itemknn,ials' };
  const m = createModel('router', cfg);
  await m.fit(train, ctx(7));
  const n = train.nItems;
  const batch = allUsers(train);
  const scores = scoresOf(m, batch, n);
  assert.ok(scores.every(Number.isFinite));
  const back = modelFromArtifact(decodeArtifact(encodeArtifact(m.toArtifact())));
  assert.deepEqual(scoresOf(back, batch, n), scores);
  assert.deepEqual(back.params, m.params);
  assert.deepEqual((back as ClusterRouter).routingTable().map((r) => r.chosen), (m as ClusterRouter).routingTable().map((r) => r.chosen));
  for (const u of [0, 59, 60, 119]) {
    const one = scoresOf(m, singleUserBatch(u, train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!)), n);
    assert.deepEqual(one, scores.subarray(u * n, (u + 1) * n));
  }
  // an unknown user goes to their history's cluster and scores as that cluster's specialist would
  const hist = train.userItems.indices.subarray(train.userItems.indptr[70]!, train.userItems.indptr[71]!);
  const mixed: UserBatch = { users: Int32Array.of(3, -1), indptr: Int32Array.of(0, 0, hist.length), items: Int32Array.from(hist) };
  const mixedOut = scoresOf(m, mixed, n);
  assert.deepEqual(mixedOut.subarray(n), scoresOf(m, singleUserBatch(-1, hist), n));
  assert.deepEqual(mixedOut.subarray(n), scoresOf(back, singleUserBatch(-1, hist), n));
  assert.equal((m as ClusterRouter).clusterOf(hist), (m as ClusterRouter).clusterOf(Int32Array.from(hist)));
  // same seed, same model; the fit does not depend on the thread count
  const again = createModel('router', cfg);
  await again.fit(train, { rng: new Rng(7), threads: 2 });
  assert.deepEqual(scoresOf(again, batch, n), scores);
  assert.deepEqual(again.toArtifact().config.table, m.toArtifact().config.table);
});

test('router: config errors name the field; a router cannot route to a router', () => {
  assert.throws(() => createModel('router', { candidates: 'pop,nope' }), /router\.candidates: unknown model "nope"/);
  assert.throws(() => createModel('router', { candidates: 'router' }), /cannot route to a router/);
  assert.throws(() => createModel('router', { clusters: 0 }), /router\.clusters/);
});
