import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tasteDistribution, type ItemCategories } from '../src/data/categories.js';
import {
  arpAt,
  coverage,
  dcgAt,
  dominantCategory,
  giniIndex,
  evaluateUser,
  hitAt,
  metricKeys,
  mrrAt,
  ndcgAt,
  recallAt,
  type MetricContext,
} from '../src/eval/metrics.js';

const i32 = (xs: number[]) => Int32Array.from(xs);

function close(actual: number | null | undefined, expected: number, tol = 1e-12): void {
  assert.ok(typeof actual === 'number', `expected a number close to ${expected}, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

/** CSR from per-item category-name lists (names in first-seen order, like LogBuilder). */
function makeCategories(names: string[], perItem: string[][]): ItemCategories {
  const ptr = new Int32Array(perItem.length + 1);
  const idx: number[] = [];
  perItem.forEach((cats, i) => {
    for (const c of cats) idx.push(names.indexOf(c));
    ptr[i + 1] = idx.length;
  });
  return { names, ptr, idx: Int32Array.from(idx) };
}

// Names deliberately not in alphabetical order: '(none)' < 'Action' < 'Comedy' < 'Drama'.
const NAMES = ['Drama', 'Comedy', 'Action', '(none)'];
const CATS = makeCategories(NAMES, [
  ['Drama'], // 0
  ['Comedy'], // 1
  ['Drama', 'Comedy'], // 2
  ['Action'], // 3
  ['(none)'], // 4
  ['Action', 'Comedy', 'Drama'], // 5
  ['Comedy'], // 6
  ['Drama'], // 7
  ['Action'], // 8
  ['Comedy', 'Action'], // 9
]);
const POPULARITY = i32([5, 3, 0, 7, 1, 2, 4, 6, 9, 2]);
const ctx = (k: number, categories: ItemCategories | null = CATS): MetricContext => ({ k, categories, itemPopularity: POPULARITY });

test('fewer test items than K, a test item outside the list, multi-category items', () => {
  // K=4, L=[3,1,7,8], T={1,6,7}: hits at ranks 2 and 3, test item 6 is not in the list.
  const m = evaluateUser({ list: i32([3, 1, 7, 8]), test: i32([1, 6, 7]), train: i32([0, 2, 5, 9]) }, ctx(4));
  assert.deepEqual(Object.keys(m), metricKeys(4));
  close(m['recall@4'], 2 / 3); // 2 hits / min(4, 3)
  // (1/log2 3 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4)
  close(m['ndcg@4'], 0.5307212739772434);
  assert.equal(m['hit@4'], 1);
  close(m['mrr@4'], 0.5); // first hit at rank 2
  close(m['arp@4'], 6.25); // (7 + 3 + 6 + 9) / 4
  // p over H: item0 D=1; item2 D=C=1/2; item5 A=C=D=1/3; item9 C=A=1/2
  //   -> D = 11/6 / 4 = 11/24, C = 4/3 / 4 = 8/24, A = 5/6 / 4 = 5/24.
  // q over L: A = 2/4 (items 3, 8), C = 1/4, D = 1/4.
  // ckl = 11/24 ln(11/24 / (.99/4 + .01*11/24)) + 8/24 ln(8/24 / (.99/4 + .01*8/24)) + 5/24 ln(5/24 / (.99/2 + .01*5/24))
  close(m['ckl@4'], 0.1876229020335855);
  // JSD base 2 of p and q (= scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2)
  close(m['tdd@4'], 0.07137047469660072);
  // d_u = Drama; M = test items without Drama = {1, 6}; L ∩ M = {1} -> 1 / min(4, 2)
  close(m['minorityRecall@4'], 0.5);
  // share of L with Drama = 1/4 (item 7); share of H = 3/4 (items 0, 2, 5) -> 1/3
  close(m['dominantShare@4'], 1 / 3);
});

test('no hit: every accuracy metric is 0', () => {
  const list = i32([0, 2]);
  const t = i32([1]);
  assert.equal(recallAt(list, t, 2), 0);
  assert.equal(ndcgAt(list, t, 2), 0);
  assert.equal(hitAt(list, t, 2), 0);
  assert.equal(mrrAt(list, t, 2), 0);
});

test('more test items than K: denominators use K; a longer list is cut to K', () => {
  // K=2, L=[1,0,6] -> [1,0], T={1,6,7}: one hit at rank 1; recall 1/min(2,3); ideal = 1 + 1/log2 3.
  const m = evaluateUser({ list: i32([1, 0, 6]), test: i32([1, 6, 7]), train: i32([0]) }, ctx(2));
  close(m['recall@2'], 0.5);
  close(m['ndcg@2'], 1 / (1 + 1 / Math.log2(3)));
  close(m['mrr@2'], 1);
  close(m['arp@2'], 4); // (3 + 5) / 2, item 6 is beyond K
});

test('empty list: accuracy 0, arp 0, ckl = ln 100, tdd = 1', () => {
  const m = evaluateUser({ list: i32([]), test: i32([1]), train: i32([0]) }, ctx(10));
  for (const key of ['recall@10', 'ndcg@10', 'hit@10', 'mrr@10', 'arp@10']) assert.equal(m[key], 0, key);
  close(m['ckl@10'], 4.605170185988092); // p = {Drama: 1}, q = 0: 1 * ln(1 / 0.01)
  assert.equal(m['tdd@10'], 1);
  assert.equal(m['minorityRecall@10'], 0); // M = {1}, nothing recommended
  assert.equal(m['dominantShare@10'], 0);
});

test('categories null -> category metrics null, accuracy still computed', () => {
  const m = evaluateUser({ list: i32([1]), test: i32([1]), train: i32([0]) }, ctx(10, null));
  assert.equal(m['recall@10'], 1);
  for (const key of ['ckl@10', 'tdd@10', 'minorityRecall@10', 'dominantShare@10']) assert.equal(m[key], null, key);
});

test('no test items -> accuracy metrics null; no train items -> category metrics null', () => {
  const m = evaluateUser({ list: i32([1]), test: i32([]), train: i32([]) }, ctx(5));
  for (const key of ['recall@5', 'ndcg@5', 'hit@5', 'mrr@5', 'ckl@5', 'tdd@5', 'minorityRecall@5', 'dominantShare@5']) {
    assert.equal(m[key], null, key);
  }
  close(m['arp@5'], 3);
});

test('minorityRecall is null when every test item has the dominant category', () => {
  // H = {0} -> d_u = Drama; T = {2, 7} both include Drama -> |M| = 0.
  const m = evaluateUser({ list: i32([2, 1]), test: i32([2, 7]), train: i32([0]) }, ctx(10));
  assert.equal(m['minorityRecall@10'], null);
  close(m['dominantShare@10'], 0.5); // 1 of 2 list items has Drama; all of H has Drama
});

test('dominant-category tie is broken alphabetically, not by category index', () => {
  // H = {1 Comedy, 3 Action}: p = 1/2 each; 'Action' < 'Comedy' although Comedy has the lower index.
  // T = {6 Comedy, 8 Action} -> M = {6}; L = [6, 0] hits 6 -> 1 / min(2, 1) = 1 (it would be 0 with Comedy).
  const m = evaluateUser({ list: i32([6, 0]), test: i32([6, 8]), train: i32([1, 3]) }, ctx(2));
  close(m['minorityRecall@2'], 1);
  assert.equal(m['dominantShare@2'], 0); // no Action in L (it would be 1 with Comedy)
});

test('the (none) category is a category like any other (and sorts first)', () => {
  // H = {3 Action, 4 (none)}: tie at 1/2, '(none)' < 'Action' -> d_u = (none).
  // T = {4, 9}: M = {9}; L = [8, 4]: 4 is a hit but not in M -> minorityRecall 0 / min(2, 1) = 0.
  // q over L = {Action: 1/2, (none): 1/2} = p -> ckl 0, tdd 0; dominantShare (1/2) / (1/2) = 1.
  const m = evaluateUser({ list: i32([8, 4]), test: i32([4, 9]), train: i32([3, 4]) }, ctx(2));
  assert.equal(m['minorityRecall@2'], 0);
  close(m['ckl@2'], 0);
  close(m['tdd@2'], 0);
  close(m['dominantShare@2'], 1);
  close(m['recall@2'], 0.5);
});

test('tasteDistribution gives p(g|i) = 1/|G(i)|, averaged over items', () => {
  const out = new Float64Array(4);
  assert.equal(tasteDistribution(i32([5]), CATS, out), 1);
  assert.deepEqual(Array.from(out), [1 / 3, 1 / 3, 1 / 3, 0]); // Drama, Comedy, Action, (none)
  assert.equal(tasteDistribution(i32([0, 9]), CATS, out), 2);
  assert.deepEqual(Array.from(out), [0.5, 0.25, 0.25, 0]); // (1, 0, 0) and (0, 1/2, 1/2) averaged
  assert.equal(tasteDistribution(i32([]), CATS, out), 0);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0]);
});

test('a true tie survives floating-point summation (1/2 + 1/3 + 1/6 = 0.9999999999999999)', () => {
  const others = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
  const cats = makeCategories(['Zeta', 'Alpha', ...others], [['Alpha', 'c1'], ['Alpha', 'c2', 'c3'], ['Alpha', 'c4', 'c5', 'c6', 'c7', 'c8'], ['Zeta']]);
  const p = new Float64Array(10);
  tasteDistribution(i32([0, 1, 2, 3]), cats, p);
  assert.ok(p[1]! < p[0]!); // Alpha's float sum is 1 ulp below Zeta's ...
  assert.equal(cats.names[dominantCategory(p, cats.names)], 'Alpha'); // ... but it is a tie
});

test('coverage counts distinct items in the top-K of every list', () => {
  // K=2: {1,2} ∪ {3,4} ∪ {9} = 5 distinct items over 10 candidates (items 3 and 5 beyond K are ignored).
  assert.equal(coverage([i32([1, 2, 3]), i32([3, 4, 5]), i32([9])], 2, 10), 0.5);
  assert.equal(coverage([], 10, 4), 0);
});

// ------------------------------------------------------------------------- giniIndex, dcgAt

test('giniIndex: 0 for equal exposure, (n-1)/n for one item, zeros for items never shown', () => {
  close(giniIndex([i32([0, 1]), i32([2, 3])], 2, 4), 0);
  close(giniIndex([i32([5]), i32([5]), i32([5])], 1, 4), 3 / 4);
  // K = 1 keeps only item 7: one item has all the exposure
  close(giniIndex([i32([7, 2]), i32([7]), i32([7, 9])], 1, 4), 3 / 4);
  // K = 2: counts sorted [0, 1, 1, 3]: ((-3)0 + (-1)1 + 1*1 + 3*3) / (4 * 5) = 9/20
  close(giniIndex([i32([7, 2]), i32([7]), i32([7, 9])], 2, 4), 9 / 20);
  close(giniIndex([i32([7, 2]), i32([7]), i32([7, 2])], 2, 4), ((-3) * 0 + (-1) * 0 + 1 * 2 + 3 * 3) / (4 * 5));
  assert.equal(giniIndex([], 5, 10), 0);
  assert.throws(() => giniIndex([i32([0, 1, 2])], 3, 2), RangeError);
});

test('dcgAt: binary gain, discount 1/log2(r+1), cut to K; ndcg = dcg / ideal dcg', () => {
  close(dcgAt(i32([4, 1, 9]), i32([1, 4]), 10), 1 + 1 / Math.log2(3));
  close(dcgAt(i32([0, 4, 1]), i32([1, 4]), 2), 1 / Math.log2(3));
  assert.equal(dcgAt(i32([]), i32([1]), 3), 0);
  assert.equal(dcgAt(i32([1]), i32([]), 3), null);
  close(ndcgAt(i32([0, 4, 1]), i32([1, 4]), 3), dcgAt(i32([0, 4, 1]), i32([1, 4]), 3)! / dcgAt(i32([1, 4]), i32([1, 4]), 3)!);
});

// ------------------------------------------------------------- conformance with other toolkits
//
// The expected values other toolkits publish in their own metric tests, on the same inputs, each
// labelled by its convention: where personae's convention is the same, personae must give their
// number; where it differs, the test pins both numbers and the rule that converts between them.
// docs/protocol.md ("Conventions of other toolkits") summarises the outcome.

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A list of `hits` (1 = the item at that rank is a test item) and a test set of `nTest` items. */
function fromHitRow(hits: readonly number[], nTest: number): { list: Int32Array; test: Int32Array } {
  const test = Int32Array.from({ length: nTest }, (_, j) => j); // test items 0..nTest-1
  let nextHit = 0;
  let nextMiss = 100;
  const list = Int32Array.from(hits, (h) => (h ? nextHit++ : nextMiss++));
  assert.ok(nextHit <= nTest);
  return { list, test };
}

// RecBole, tests/metrics/test_topk_metrics.py (RUCAIBox/RecBole): pos_idx rows of hits at ranks
// 1..3 with pos_len = |T|; item_matrix = five lists of three over num_items = 8.
const RECBOLE_ROWS: readonly { hits: number[]; nTest: number }[] = [
  { hits: [0, 0, 0], nTest: 1 },
  { hits: [1, 1, 1], nTest: 3 },
  { hits: [1, 0, 1], nTest: 4 },
  { hits: [0, 0, 1], nTest: 2 },
];
const RECBOLE_ITEM_MATRIX = [[5, 7, 3], [4, 5, 2], [2, 3, 5], [1, 4, 6], [5, 3, 7]].map(i32);

test('RecBole conformance, same convention: NDCG (ideal over min(K, |T|)), hit, MRR', () => {
  const l2 = Math.log2;
  const ndcg = [
    [0, 0, 0],
    [1, 1, 1],
    [1, 1 / l2(2) / (1 / l2(2) + 1 / l2(3)), (1 / l2(2) + 1 / l2(4)) / (1 / l2(2) + 1 / l2(3) + 1 / l2(4))],
    [0, 0, 1 / l2(4) / (1 / l2(2) + 1 / l2(3))],
  ];
  const hit = [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1]];
  const mrr = [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1 / 3]];
  RECBOLE_ROWS.forEach(({ hits, nTest }, row) => {
    const { list, test: t } = fromHitRow(hits, nTest);
    for (let k = 1; k <= 3; k++) {
      close(ndcgAt(list, t, k), ndcg[row]![k - 1]!);
      close(hitAt(list, t, k), hit[row]![k - 1]!);
      close(mrrAt(list, t, k), mrr[row]![k - 1]!);
    }
  });
  // the rounded values RecBole reports (metric_decimal_place 4)
  const { list, test: t } = fromHitRow([1, 0, 1], 4);
  assert.deepEqual([1, 2, 3].map((k) => ndcgAt(list, t, k)!.toFixed(4)), ['1.0000', '0.6131', '0.7039']);
  const r4 = fromHitRow([0, 0, 1], 2);
  assert.equal(ndcgAt(r4.list, r4.test, 3)!.toFixed(4), '0.3066');
});

test('RecBole conformance, same convention: item coverage 7/8, average popularity, Gini index 41/120', () => {
  close(coverage(RECBOLE_ITEM_MATRIX, 3, 8), 7 / 8);
  // item_count {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}; item 7 has no count (0)
  const pop = i32([0, 0, 1, 2, 3, 4, 5, 0]);
  const arp = [[4 / 1, 4 / 2, 6 / 3], [3 / 1, 7 / 2, 8 / 3], [1 / 1, 3 / 2, 7 / 3], [0 / 1, 3 / 2, 8 / 3], [4 / 1, 6 / 2, 6 / 3]];
  RECBOLE_ITEM_MATRIX.forEach((l, row) => [1, 2, 3].forEach((k) => close(arpAt(l, pop, k), arp[row]![k - 1]!)));
  close(giniIndex(RECBOLE_ITEM_MATRIX, 3, 8), ((-7) * 0 + (-5) * 1 + (-3) * 1 + (-1) * 2 + 1 * 2 + 3 * 2 + 5 * 3 + 7 * 4) / (8 * (3 * 5)));
  close(giniIndex(RECBOLE_ITEM_MATRIX, 3, 8), 41 / 120);
});

test('RecBole conformance, different convention: recall divides by |T|, personae by min(K, |T|)', () => {
  const recboleRecall = [[0, 0, 0], [1 / 3, 2 / 3, 3 / 3], [1 / 4, 1 / 4, 2 / 4], [0, 0, 1 / 2]];
  RECBOLE_ROWS.forEach(({ hits, nTest }, row) => {
    const { list, test: t } = fromHitRow(hits, nTest);
    for (let k = 1; k <= 3; k++) {
      const ours = recallAt(list, t, k)!;
      // same hits, other denominator: RecBole's value = personae's x min(K, |T|) / |T|
      close(ours * (Math.min(k, nTest) / nTest), recboleRecall[row]![k - 1]!);
    }
  });
  const { list, test: t } = fromHitRow([1, 0, 1], 4);
  assert.deepEqual([1, 2, 3].map((k) => recallAt(list, t, k)), [1, 1 / 2, 2 / 3]); // RecBole: 1/4, 1/4, 2/4
});

// RecPack, recpack/tests/test_metrics/conftest.py, test_recall.py and test_dcg.py (LienM/recpack):
// predictions user 0 -> items 0 (.3), 2 (.2), 3 (.1); user 2 -> 1 (.23), 3 (.3), 4 (.5);
// truth user 0 {0, 2}, user 2 {0, 1, 3}; "unrecommended" adds user 3 {1} with no list.
const RECPACK_LISTS = [i32([0, 2, 3]), i32([4, 3, 1])];
const RECPACK_TRUTH = [i32([0, 2]), i32([0, 1, 3])];
const RECPACK_LISTS_U3 = [...RECPACK_LISTS, i32([])];
const RECPACK_TRUTH_U3 = [...RECPACK_TRUTH, i32([1])];
const overUsers = (f: (l: Int32Array, t: Int32Array, k: number) => number | null, lists: Int32Array[], truth: Int32Array[], k: number): number =>
  mean(lists.map((l, u) => f(l, truth[u]!, k)!));

test('RecPack conformance, same convention: CalibratedRecallK (min(K, |T|)), DCGK, NDCGK', () => {
  close(overUsers(recallAt, RECPACK_LISTS, RECPACK_TRUTH, 2), 3 / 4);
  close(overUsers(recallAt, RECPACK_LISTS, RECPACK_TRUTH, 1), 1 / 2);
  close(overUsers(recallAt, RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 2), 3 / 6);
  close(overUsers(recallAt, RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 1), 1 / 3);
  const l2 = Math.log2;
  close(overUsers(dcgAt, RECPACK_LISTS, RECPACK_TRUTH, 2), (1 / l2(2 + 1) + (1 + 1 / l2(2 + 1))) / 2);
  close(overUsers(dcgAt, RECPACK_LISTS, RECPACK_TRUTH, 3), (1 / l2(2 + 1) + 1 / l2(3 + 1) + (1 + 1 / l2(2 + 1))) / 2);
  close(overUsers(dcgAt, RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 2), (1 / l2(2 + 1) + (1 + 1 / l2(2 + 1))) / 3);
  const simplified = [i32([2]), i32([4])];
  close(overUsers(dcgAt, RECPACK_LISTS, simplified, 2), (1 / l2(2 + 1) + 1) / 2);
  close(overUsers(ndcgAt, RECPACK_LISTS, simplified, 2), (1 / l2(2 + 1) / 1 + 1) / 2);
  const idcg2 = 1 + 1 / l2(3);
  const idcg3 = idcg2 + 1 / l2(4);
  close(overUsers(ndcgAt, RECPACK_LISTS, RECPACK_TRUTH, 2), (1 / l2(2 + 1) / idcg2 + (1 + 1 / l2(2 + 1)) / idcg2) / 2);
  close(overUsers(ndcgAt, RECPACK_LISTS, RECPACK_TRUTH, 3), ((1 + 1 / l2(3)) / idcg2 + (1 / l2(3) + 1 / l2(4)) / idcg3) / 2);
  close(overUsers(ndcgAt, RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 2), (1 / l2(2 + 1) / idcg2 + (1 + 1 / l2(2 + 1)) / idcg2) / 3);
});

test('RecPack conformance, different convention: RecallK divides by |T|', () => {
  // RecPack's RecallK: 2/3 at K=2 and 1/4 at K=1; with user 3, 4/9 and 1/6. personae's recall is
  // RecPack's CalibratedRecallK; per user, RecallK = personae's recall x min(K, |T|) / |T|.
  const recallK = (lists: Int32Array[], truth: Int32Array[], k: number): number =>
    mean(lists.map((l, u) => recallAt(l, truth[u]!, k)! * (Math.min(k, truth[u]!.length) / truth[u]!.length)));
  close(recallK(RECPACK_LISTS, RECPACK_TRUTH, 2), 2 / 3);
  close(recallK(RECPACK_LISTS, RECPACK_TRUTH, 1), 1 / 4);
  close(recallK(RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 2), 4 / 9);
  close(recallK(RECPACK_LISTS_U3, RECPACK_TRUTH_U3, 1), 1 / 6);
  assert.notEqual(overUsers(recallAt, RECPACK_LISTS, RECPACK_TRUTH, 2), 2 / 3);
});

// LensKit, tests/eval/test_rank_recall.py, test_rank_dcg.py and test_rank_ndcg.py (lenskit/lkpy).
const range = (lo: number, hi: number): Int32Array => Int32Array.from({ length: hi - lo }, (_, j) => lo + j);

test('LensKit conformance, same convention: recall with k given divides by min(k, |T|); empty list 0, empty truth undefined', () => {
  const rel = range(0, 100);
  close(recallAt(i32([1, 0, 150, 3, 10]), rel, 5), 0.8);
  close(recallAt(i32([1, 0, 150, 3, 10, 30, 120, 4, 17]), rel, 5), 0.8);
  close(recallAt(i32([1, 0, 150, 3, 10]), rel, 10), 0.4);
  close(recallAt(i32([]), i32([1, 3]), 10), 0); // LensKit: 0
  assert.equal(recallAt(i32([1, 3]), i32([]), 10), null); // LensKit: NaN
  // without k, LensKit divides by |T|: personae's recall at any K >= |T|, |L|
  close(recallAt(i32([1, 2, 3, 4]), i32([1, 3, 5]), 5), 2 / 3);
  close(recallAt(i32([1, 2, 3, 4]), range(4, 9), 5), 0.2);
  close(recallAt(i32([1]), i32([1, 3]), 5), 0.5);
});

test('LensKit conformance, different convention: the clipped discount 1/max(1, log2 r) (ranks 1 and 2 both count 1)', () => {
  // LensKit's discount, as its own tests pin it: array_dcg([0, 0.5]) = 0.5, array_dcg([0, 0, 0.5]) = 0.5/log2(3),
  // array_dcg([e, 0, 0, pi]) = e + pi/log2(4)
  const lenskitDcg = (gains: readonly number[]): number => gains.reduce((s, g, r) => s + g / Math.max(1, Math.log2(r + 1)), 0);
  close(lenskitDcg([0.5]), 0.5);
  close(lenskitDcg([0, 0.5]), 0.5);
  close(lenskitDcg([0, 0, 0.5]), 0.5 / Math.log2(3));
  close(lenskitDcg([Math.E, 0, 0, Math.PI]), Math.E + Math.PI / Math.log2(4));
  // recs [2, 3, 1], truth {1, 2, 3}, binary gain: LensKit DCG = 1/log2(2) + 1/log2(2) + 1/log2(3); k = 2: 2.0
  close(lenskitDcg([1, 1, 1]), 1 + 1 + 1 / Math.log2(3));
  const truth = i32([1, 2, 3]);
  close(dcgAt(i32([2, 3, 1]), truth, 3), 1 + 1 / Math.log2(3) + 1 / 2); // personae: rank r counts 1/log2(r+1)
  close(dcgAt(i32([2, 3, 1]), truth, 2), 1 + 1 / Math.log2(3)); // LensKit: 2.0
  // nDCG agrees when every position is a hit (both are 1) and differs otherwise: recs [1, 2] of
  // truth {1, 2, 3}: LensKit fixed_dcg(2) / fixed_dcg(3) = 2 / (2 + 1/log2 3); personae (K = 3):
  close(lenskitDcg([1, 1]) / lenskitDcg([1, 1, 1]), 2 / (2 + 1 / Math.log2(3)));
  close(ndcgAt(i32([1, 2]), truth, 3), (1 + 1 / Math.log2(3)) / (1 + 1 / Math.log2(3) + 1 / 2));
  close(ndcgAt(i32([2, 3, 1]), truth, 3), 1);
  close(ndcgAt(i32([1, 2]), truth, 2), 1); // LensKit with n = 2: 1.0
  close(ndcgAt(i32([2, 3]), truth, 2), 1);
  assert.equal(ndcgAt(i32([4]), truth, 3), 0); // LensKit: 0.0
});

// ------------------------------------------------------------------------------------ properties

const N_ITEMS = 30;
const sortedSet = (min: number) => fc.uniqueArray(fc.integer({ min: 0, max: N_ITEMS - 1 }), { minLength: min, maxLength: 15 }).map((a) => Int32Array.from(a).sort());
const categoriesArb = fc
  .integer({ min: 1, max: 6 })
  .chain((nCat) =>
    fc.array(fc.uniqueArray(fc.integer({ min: 0, max: nCat - 1 }), { minLength: 1, maxLength: nCat }), { minLength: N_ITEMS, maxLength: N_ITEMS }).map((rows) => {
      const names = Array.from({ length: nCat }, (_, g) => `g${(g * 7) % nCat}-${g}`);
      return makeCategories(names, rows.map((r) => r.map((g) => names[g]!)));
    }),
  );
const userArb = fc.record({
  k: fc.integer({ min: 1, max: 12 }),
  list: fc.uniqueArray(fc.integer({ min: 0, max: N_ITEMS - 1 }), { maxLength: 15 }).map((a) => Int32Array.from(a)),
  test: sortedSet(1),
  train: sortedSet(0),
  cats: categoriesArb,
});

test('property: metrics stay in their ranges', () => {
  fc.assert(
    fc.property(userArb, ({ k, list, test: t, train, cats }) => {
      const m = evaluateUser({ list, test: t, train }, { k, categories: cats, itemPopularity: new Int32Array(N_ITEMS).fill(3) });
      for (const name of ['recall', 'ndcg', 'hit', 'mrr']) {
        const v = m[`${name}@${k}`]!;
        assert.ok(v >= 0 && v <= 1 + 1e-12, `${name} = ${v}`);
      }
      assert.ok(m[`arp@${k}`] === 0 || m[`arp@${k}`] === 3);
      if (train.length === 0) return;
      assert.ok(m[`ckl@${k}`]! >= 0);
      const tdd = m[`tdd@${k}`]!;
      assert.ok(tdd >= 0 && tdd <= 1, `tdd = ${tdd}`);
      const mr = m[`minorityRecall@${k}`];
      assert.ok(mr === null || (mr >= 0 && mr <= 1 + 1e-12), `minorityRecall = ${mr}`);
      assert.ok(m[`dominantShare@${k}`]! >= 0);
    }),
  );
});

test('property: a list equal to the test set (|T| <= K) has recall 1 and ndcg 1', () => {
  fc.assert(
    fc.property(sortedSet(1), fc.integer({ min: 0, max: 5 }), fc.integer(), (t, extra, seed) => {
      const list = Int32Array.from(t);
      // Any order of the test items is a perfect list.
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.abs(seed + i * 31) % (i + 1);
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      const k = t.length + extra;
      close(recallAt(list, t, k), 1);
      close(ndcgAt(list, t, k), 1);
    }),
  );
});

test('property: moving the hits to the top never lowers ndcg', () => {
  fc.assert(
    fc.property(userArb, ({ k, list, test: t }) => {
      const isHit = (i: number) => t.includes(i);
      const top = list.subarray(0, k);
      const reordered = Int32Array.from([...top].filter(isHit).concat([...top].filter((i) => !isHit(i))));
      assert.ok(ndcgAt(reordered, t, k)! >= ndcgAt(list, t, k)! - 1e-12);
    }),
  );
});
