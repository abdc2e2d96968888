/**
 * The social signal: edges into a TrainSet (src/data/social.ts), the `social` model
 * (src/models/social.ts), planted friend graphs (src/synth/social.ts) and `study social`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdMap } from '../src/data/ids.js';
import { rowOf } from '../src/data/csr.js';
import { categoriesOf } from '../src/data/dataset.js';
import { makeSplit } from '../src/data/split.js';
import { attachSocialFile, parseSocialEdges, socialGraph } from '../src/data/social.js';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { Rng } from '../src/math/rng.js';
import { Ials } from '../src/models/ials.js';
import { trainUserBatch } from '../src/models/model.js';
import { SocialModel, softmaxNewton } from '../src/models/social.js';
import { executeStudy } from '../src/study/run.js';
import { socialStudy, socialVerdict } from '../src/study/social.js';
import type { PairedResult } from '../src/eval/stats.js';
import { friendsCsv, parseFriends, plantedCategories, plantFriends } from '../src/synth/social.js';
import { worldToLog } from '../src/synth/world.js';

function ids(...xs: string[]): IdMap {
  const m = new IdMap();
  for (const x of xs) m.intern(x);
  return m;
}

test('socialGraph: a friend edge reaches both users, a follow only the follower; unknown ids name the line', () => {
  const e = parseSocialEdges('user,friend,kind\na,b,friend\nc,a,follow\n', 'g.csv', 'csv');
  const g = socialGraph(e, ids('a', 'b', 'c', 'd'), 'g.csv');
  assert.deepEqual([...rowOf(g, 0)], [1], 'a: friend b; a is followed by c, which does not reach a');
  assert.deepEqual([...rowOf(g, 1)], [0]);
  assert.deepEqual([...rowOf(g, 2)], [0], 'c follows a');
  assert.deepEqual([...rowOf(g, 3)], []);
  const bad = parseSocialEdges('user,friend\na,b\n\nb,zed\n', 'g.csv', 'csv');
  assert.throws(() => socialGraph(bad, ids('a', 'b'), 'g.csv'), /^DataError: g\.csv:4 field "friend": friend "zed" is not a user of the data$|g\.csv:4 field "friend": friend "zed" is not a user of the data/);
});

test('attachSocialFile: the split carries the graph in the log user space, and so does validationSplit', async () => {
  const { log } = worldToLog({ users: 60, items: 80, categories: 4, meanInteractions: 20 });
  const dir = mkdtempSync(join(tmpdir(), 'social-'));
  const file = join(dir, 'f.csv');
  writeFileSync(file, 'user,friend,kind\n1,2,follow\n3,1,friend\n');
  const split = attachSocialFile(makeSplit(log, { protocol: 'temporal-user', minRating: 4, seed: 1 }), file);
  const u = (id: string): number => log.users.lookup(id);
  assert.deepEqual([...rowOf(split.train.social!, u('1'))], [u('2'), u('3')].sort((a, b) => a - b));
  assert.deepEqual([...rowOf(split.train.social!, u('2'))], []);
  const { validationSplit } = await import('../src/data/split.js');
  assert.equal(validationSplit(split).train.social, split.train.social);
  writeFileSync(file, 'user,friend\n1,999\n');
  assert.throws(() => attachSocialFile(makeSplit(log, { protocol: 'temporal-user', minRating: 4, seed: 1 }), file), /f\.csv:2 field "friend": friend "999" is not a user/);
});

test('softmaxNewton: the optimum of w - log(e^w + 3) - w^2/2 (one positive with one friend, three candidates without)', () => {
  const row = { s: Float64Array.of(0, 0, 0, 0), c: Float64Array.of(1, 0, 0, 0), pos: Int32Array.of(0) };
  const w = softmaxNewton([row], 1, 0, 1, 50, false).weight;
  // the optimum solves 3 / (e^w + 3) = w; bisection gives it independently
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (3 / (Math.exp(mid) + 3) - mid > 0) lo = mid;
    else hi = mid;
  }
  assert.ok(Math.abs(w - lo) < 1e-9, `${w} vs ${lo}`);
  assert.ok(Math.abs(lo - 0.61791299) < 1e-8);
  // a friend count only on a non-positive: the weight stays at 0 (it is never negative)
  const against = { s: Float64Array.of(0, 0, 0), c: Float64Array.of(0, 1, 0), pos: Int32Array.of(0) };
  assert.equal(softmaxNewton([against], 1, 0, 1, 50, false).weight, 0);
  // fitting the temperature: base scores that separate the positive get a positive temperature
  const sep = { s: Float64Array.of(2, 0, 0, 0), c: Float64Array.of(0, 0, 0, 0), pos: Int32Array.of(0) };
  const two = softmaxNewton([sep, { ...sep, pos: Int32Array.of(1) }], 1, 0, 0, 50, true);
  // positives at s = 2 and s = 0 once each: the optimum t solves 2 - 2 * 2e^{2t}/(e^{2t}+3) = 0, e^{2t} = 3
  assert.ok(Math.abs(two.temperature - Math.log(3) / 2) < 1e-6, String(two.temperature));
});

test('social on a hand graph: ials scores plus the weight on friends\' items; explain names the friends; no graph = ials', async () => {
  // users 0..3, items 0..5; user 0's friends are users 1 and 2
  const pairs: [number, number][] = [
    [0, 0], [0, 1], [0, 4],
    [1, 1], [1, 2], [1, 4],
    [2, 2], [2, 3], [2, 4],
    [3, 0], [3, 5], [3, 1],
  ];
  const train0 = trainSetFromPairs(4, 6, Int32Array.from(pairs, (p) => p[0]), Int32Array.from(pairs, (p) => p[1]), Int32Array.from([0, 1, 2, 3, 4, 5]), null);
  const social = socialGraph({ user: ['0', '0'], friend: ['1', '2'], kind: ['follow', 'follow'] }, ids('0', '1', '2', '3'), 'hand');
  const train = { ...train0, social };
  const params = { factors: 2, iterations: 3 };
  const m = new SocialModel({ ...params, influenceReg: 0 });
  await m.fit(train, { rng: new Rng(5), threads: 1 });
  const base = new Ials(params);
  await base.fit(train0, { rng: new Rng(5), threads: 1 });
  const batch = trainUserBatch(train, Int32Array.of(0, 3));
  const got = new Float32Array(12);
  const want = new Float32Array(12);
  m.scoreBatch(batch, got);
  base.scoreBatch(batch, want);
  const w = m.influenceOf(0);
  assert.ok(w > 0, `user 0's positive item 4 is consumed by both friends: the weight is positive (${w})`);
  // friend counts of user 0: item 1: 1, item 2: 2, item 3: 1, item 4: 2
  const counts = [0, 1, 2, 1, 2, 0];
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(got[i]! - (want[i]! + Math.fround(w) * counts[i]!)) < 1e-5, `item ${i}`);
  for (let i = 0; i < 6; i++) assert.equal(got[6 + i], want[6 + i], 'user 3 has no friends: the base score');
  assert.deepEqual(m.explain(0, 2), [{ friend: 1, contribution: m.influenceOf(0) }, { friend: 2, contribution: m.influenceOf(0) }]);
  assert.deepEqual(m.explain(0, 3), [{ friend: 2, contribution: m.influenceOf(0) }]);
  assert.deepEqual(m.explain(0, 5), []);
  assert.deepEqual(m.explain(3, 0), []);
  // without a graph: exactly the ials fit on the same stream
  const plain = new SocialModel(params);
  await plain.fit(train0, { rng: new Rng(5), threads: 1 });
  const p = new Float32Array(12);
  plain.scoreBatch(batch, p);
  assert.deepEqual(p, want);
  assert.equal(plain.influenceOf(0), 0);
});

test('parseFriends: N, diff and influence; bad specs name the flag', () => {
  assert.deepEqual(parseFriends('5'), { friends: 5, diff: 0, influence: 0.2 });
  assert.deepEqual(parseFriends('3,diff:0.5,influence:0.1'), { friends: 3, diff: 0.5, influence: 0.1 });
  assert.throws(() => parseFriends('0'), /--friends/);
  assert.throws(() => parseFriends('5,diff:1.5'), /--friends.*shares are in \[0, 1\]|shares are in \[0, 1\]/);
  assert.throws(() => parseFriends('5,foo:1'), /--friends|expected/);
});

test('plantFriends: N friends each, the planted share with disjoint tastes, influenced rows come from a friend', () => {
  const world = worldToLog({ users: 300, items: 300, categories: 8, meanInteractions: 30, seed: 3 });
  const w = plantFriends(world, { friends: 4, diff: 0.5, influence: 0.3 }, 9);
  const cats = plantedCategories(w.log, w.truth);
  let diffCount = 0;
  w.friends.forEach((fs, u) => {
    assert.equal(fs.length, 4);
    assert.ok(!fs.includes(u));
    fs.forEach((f, k) => {
      const disjoint = ![...cats[f]!].some((c) => cats[u]!.has(c));
      if (w.differs[u]![k]) {
        diffCount++;
        assert.ok(disjoint, `user ${u}'s friend ${f} was planted with different tastes`);
      }
    });
  });
  // 0.5 x 4 = 2 different-taste friends per user where such users exist (8 categories: nearly always)
  assert.ok(diffCount >= 0.95 * 600 && diffCount <= 600, String(diffCount));
  let own = 0;
  let through = 0;
  for (let k = 0; k < w.log.length; k++) {
    const f = w.rowFriend[k]!;
    if (f >= 0) {
      through++;
      const u = w.log.user[k]!;
      assert.ok(w.friends[u]!.includes(f));
      assert.equal(w.truth.rowPersona[k], -2);
      assert.ok(w.log.rating![k]! >= 4);
      // the friend consumed the item (in their own rows)
      let found = false;
      for (let q = 0; q < world.log.length && !found; q++) found = world.log.user[q] === f && world.log.item[q] === w.log.item[k] && world.truth.rowPersona[q]! >= 0;
      assert.ok(found, `row ${k}`);
    } else if (w.truth.rowPersona[k]! >= 0 && w.log.rating![k]! >= 4) own++;
  }
  const share = through / (through + own);
  assert.ok(share > 0.25 && share < 0.32, `share of persona positives through a friend ${share}`);
  // a user never meets an item twice
  for (let u = 0; u < 300; u++) {
    const items: number[] = [];
    for (let k = 0; k < w.log.length; k++) if (w.log.user[k] === u) items.push(w.log.item[k]!);
    assert.equal(new Set(items).size, items.length);
  }
  // deterministic in the seed; the CSV carries the ground truth column
  assert.equal(friendsCsv(plantFriends(world, { friends: 4, diff: 0.5, influence: 0.3 }, 9)), friendsCsv(w));
  assert.notEqual(friendsCsv(plantFriends(world, { friends: 4, diff: 0.5, influence: 0.3 }, 10)), friendsCsv(w));
  assert.match(friendsCsv(w), /^user,friend,kind,different_tastes\n1,\d+,follow,[01]\n/);
  // categories of the log are the world's
  assert.ok(categoriesOf(w.log.categories!, 0).length >= 1);
});

test('socialVerdict: both intervals above 0 hold; an ndcg interval below 0 does not; one above is mixed', () => {
  const r = (lo: number, hi: number) => ({ mean: (lo + hi) / 2, ci95: [lo, hi] as [number, number], pValue: NaN } as PairedResult);
  assert.equal(socialVerdict(r(0.01, 0.02), r(0.1, 0.2)).verdict, 'holds');
  assert.equal(socialVerdict(r(-0.02, -0.01), r(0.1, 0.2)).verdict, 'does-not-hold');
  assert.equal(socialVerdict(r(-0.01, 0.01), r(-0.1, 0.2)).verdict, 'does-not-hold');
  assert.equal(socialVerdict(r(-0.01, 0.01), r(0.1, 0.2)).verdict, 'mixed');
  assert.equal(socialVerdict(r(0.01, 0.02), r(-0.1, 0.2)).verdict, 'mixed');
});

test('study social (quick): three worlds x two models, social = ials without a graph, verdict by the rule', async () => {
  const json = await executeStudy(socialStudy, { seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
  assert.equal(json.study, 'social');
  const res = json.results as { rows: { world: string; model: string; ndcg: number[] | null; outsideShare: number }[]; noGraphReducesToBase: boolean; different: { ndcg: { ci95: [number, number] }; outsideHits: { ci95: [number, number] } } };
  assert.equal(res.rows.length, 6);
  assert.equal(res.noGraphReducesToBase, true);
  const none = res.rows.filter((r) => r.world === 'none');
  assert.deepEqual(none[0]!.ndcg, none[1]!.ndcg);
  assert.equal(none[0]!.outsideShare, 0, 'without friends no list reaches outside the planted tastes in the quick world');
  const v = socialVerdict({ mean: 0, ci95: res.different.ndcg.ci95, pValue: NaN } as never, { mean: 0, ci95: res.different.outsideHits.ci95, pValue: NaN } as never);
  assert.equal(json.verdict, v.verdict);
  assert.equal(json.charts?.length, 3);
});

test('CLI: world --friends writes friends.csv and the friend truth; evaluate --social reads it; a bad edge names the line', () => {
  const entry = new URL('./fixtures/cli.ts', import.meta.url).pathname;
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'social-cli-'));
  const out = join(dir, 'w');
  const w = run('world', '--out', out, '--users', '200', '--items', '150', '--categories', '5', '--seed', '4', '--friends', '3,diff:0.5,influence:0.3', '--quiet');
  assert.equal(w.status, 0, w.stderr);
  const edges = readFileSync(join(out, 'friends.csv'), 'utf8').trim().split('\n');
  assert.equal(edges[0], 'user,friend,kind,different_tastes');
  assert.equal(edges.length, 1 + 200 * 3);
  const truth = readFileSync(join(out, 'interactions-truth.csv'), 'utf8').trim().split('\n');
  assert.equal(truth[0], 'user,item,persona,friend');
  const through = truth.slice(1).filter((l) => !l.endsWith(','));
  assert.ok(through.length > 0 && through.every((l) => l.split(',')[2] === '-2'));
  const ratings = readFileSync(join(out, 'ratings.csv'), 'utf8').trim().split('\n');
  assert.equal(ratings.length, truth.length, 'one truth row per rating row');
  const e = run('evaluate', '--data', out, '--social', join(out, 'friends.csv'), '--models', 'ials:factors=8,social:factors=8', '--quiet', '--out', join(dir, 'e.json'));
  assert.equal(e.status, 0, e.stderr);
  const json = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8')) as { models: { name: string }[] };
  assert.equal(json.models.length, 2);
  writeFileSync(join(dir, 'bad.csv'), 'user,friend\n1,2\n2,nobody\n');
  const bad = run('evaluate', '--data', out, '--social', join(dir, 'bad.csv'), '--models', 'social', '--quiet');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.csv:3 field "friend": friend "nobody" is not a user of the data/);
});
