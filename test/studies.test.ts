import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/math/rng.js';
import { aggregationVerdict, type GroupRow } from '../src/study/aggregation.js';
import { crowdingVerdict } from '../src/study/crowding.js';
import { dimsVerdict } from '../src/study/dims.js';
import { collisionStats, hashIds, hashingVerdict, type HashingPoint } from '../src/study/hashing.js';
import { findStudy, STUDIES, studyNames } from '../src/study/index.js';
import { kmeans } from '../src/math/kmeans.js';
import { profileSwapVerdict, type SwapPoint } from '../src/study/profile-swap.js';
import { bestMatch, recoveryVerdict, userRecovery, type RecoveryCell } from '../src/study/recovery.js';
import { lineChartSvg, studyHtml } from '../src/study/report.js';
import { barChartSvg, labelWidthPx } from '../src/eval/report/html.js';
import { executeStudy } from '../src/study/run.js';
import type { StudyJson } from '../src/study/types.js';
import { worldToLog } from '../src/synth/world.js';
import { studyReportPath } from '../src/cli/commands/study.js';
import { fitModel, QUICK_WORLD, rerankerFor, scoreModel, scoreModelMany, studyData } from '../src/study/common.js';

const SEED = 5;

/** n per-user values around `mean` (deterministic, spread +-spread). */
function values(n: number, mean: number, spread = 0.1, seed = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + (rng.next() - 0.5) * 2 * spread);
}

test('registry: the six studies by name, each with a claim', () => {
  for (const name of ['crowding', 'aggregation', 'recovery', 'dims', 'hashing', 'profile-swap']) {
    assert.ok(studyNames().includes(name), name);
    assert.ok(findStudy(name)!.claim.length > 40);
  }
  assert.equal(findStudy('nope'), undefined);
  assert.equal(new Set(STUDIES.map((s) => s.name)).size, STUDIES.length);
});

test('crowding verdict: holds, mixed and does-not-hold follow the numbers', () => {
  const n = 300;
  const per = (ds: number, ndcg: number, ckl: number, seed: number) => ({
    'dominantShare@20': values(n, ds, 0.1, seed),
    'ndcg@20': values(n, ndcg, 0.05, seed + 1),
    'ckl@20': values(n, ckl, 0.05, seed + 2),
  });
  const holds = crowdingVerdict({ bpr: per(1.25, 0.2, 0.35, 1), personas: per(1.1, 0.2, 0.25, 4), bprCalibrated: per(1.2, 0.195, 0.18, 7), seed: SEED });
  assert.equal(holds.verdict, 'holds');
  assert.deepEqual(holds.checks, { bprCrowds: true, personasCloser: true, calibrationRestores: true });
  // personas crowd more than bpr: mixed
  const mixed = crowdingVerdict({ bpr: per(1.1, 0.2, 0.35, 1), personas: per(1.3, 0.2, 0.25, 4), bprCalibrated: per(1.1, 0.195, 0.18, 7), seed: SEED });
  assert.equal(mixed.verdict, 'mixed');
  assert.equal(mixed.checks.personasCloser, false);
  // calibration costs 30% of ndcg: not "small"
  const costly = crowdingVerdict({ bpr: per(1.25, 0.2, 0.35, 1), personas: per(1.1, 0.2, 0.25, 4), bprCalibrated: per(1.2, 0.14, 0.18, 7), seed: SEED });
  assert.equal(costly.checks.calibrationRestores, false);
  assert.equal(costly.verdict, 'mixed');
  // bpr under-represents the dominant taste: the claim does not hold
  const none = crowdingVerdict({ bpr: per(0.9, 0.2, 0.35, 1), personas: per(1.0, 0.2, 0.25, 4), bprCalibrated: per(0.9, 0.195, 0.18, 7), seed: SEED });
  assert.equal(none.verdict, 'does-not-hold');
  assert.match(none.reason, /crowding needs it above 0: no/);
});

test('aggregation verdict: global model failing group B, personas serving both', () => {
  const n = 400;
  const group = Int8Array.from({ length: n }, (_, i) => (i < 204 ? 0 : 1));
  const hits = (a: number, b: number, seed: number): number[] => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, (_, i) => (rng.next() < (group[i] === 0 ? a : b) ? 1 : 0));
  };
  const rows = (pop: [number, number], personas: [number, number], cluster: [number, number], calCluster: [number, number]): GroupRow[] => [
    { name: 'pop', calibrated: false, hits: hits(...pop, 1) },
    { name: 'pop', calibrated: true, hits: hits(...pop, 2) },
    { name: 'clusters-pop:2', calibrated: false, hits: hits(...cluster, 3) },
    { name: 'clusters-pop:2', calibrated: true, hits: hits(...calCluster, 4) },
    { name: 'ials', calibrated: false, hits: hits(0.75, 0.72, 5) },
    { name: 'personas', calibrated: false, hits: hits(...personas, 6) },
  ];
  const holds = aggregationVerdict(rows([0.65, 0.35], [0.78, 0.76], [0.6, 0.5], [0.75, 0.7]), group, SEED);
  assert.equal(holds.verdict, 'holds');
  assert.equal(holds.served.pop!.servesB, false);
  assert.equal(holds.served.personas!.servesB, true);
  assert.equal(holds.checks.calibrationHelpsClusters, true);
  // the global model serves B as well as anyone: the claim does not hold
  const none = aggregationVerdict(rows([0.7, 0.7], [0.72, 0.4], [0.7, 0.7], [0.7, 0.7]), group, SEED);
  assert.equal(none.verdict, 'does-not-hold');
  assert.equal(none.checks.globalUnderservesMinority, false);
  assert.equal(none.checks.personasServesBoth, false);
  // the global model fails both groups alike (B no worse than A): not the majority bias the claim names
  const alike = aggregationVerdict(rows([0.3, 0.4], [0.78, 0.76], [0.5, 0.5], [0.55, 0.55]), group, SEED);
  assert.equal(alike.checks.minorityDisadvantaged, false);
  assert.equal(alike.verdict, 'mixed');
  // global fails B, but so do personas: mixed
  const mixed = aggregationVerdict(rows([0.7, 0.3], [0.75, 0.45], [0.7, 0.6], [0.7, 0.6]), group, SEED);
  assert.equal(mixed.verdict, 'mixed');
});

test('profile-swap verdict: harm largest at the nearest profile holds, smallest does not', () => {
  const n = 300;
  const point = (rank: number | 'random', loss: number, ckl: number, seed: number): SwapPoint => ({ rank, ndcgLoss: values(n, loss, 0.05, seed), cklGain: values(n, ckl, 0.05, seed + 9) });
  const near = profileSwapVerdict([point(1, 0.1, 0.1, 1), point(10, 0.15, 0.2, 2), point('random', 0.2, 0.4, 3)], SEED);
  assert.equal(near.verdict, 'does-not-hold');
  assert.equal(near.mostHarmful, 'random');
  const claim = profileSwapVerdict([point(1, 0.3, 0.5, 1), point(10, 0.15, 0.2, 2), point('random', 0.1, 0.2, 3)], SEED);
  assert.equal(claim.verdict, 'holds');
  assert.equal(claim.mostHarmful, 1);
  const flat = profileSwapVerdict([point(1, 0.2, 0.2, 1), point('random', 0.2, 0.2, 1)], SEED);
  assert.equal(flat.verdict, 'mixed');
});

test('hashing: a uniform hash collides at the birthday rate regardless of frequency; verdict from the numbers', () => {
  const n = 4000;
  const rng = new Rng(9);
  const h = hashIds(n, n, rng);
  assert.ok(h.every((b) => b >= 0 && b < n));
  const freq = Float64Array.from({ length: n }, (_, i) => 1000 / (i + 1));
  const head = Uint8Array.from({ length: n }, (_, i) => (i < n / 5 ? 1 : 0));
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  const s = collisionStats(ids, freq, h, n, head);
  // 1 - (1 - 1/n)^(n-1) ~ 1 - 1/e = 0.632
  assert.ok(Math.abs(s.all - (1 - Math.exp(-1))) < 0.03, `collision rate ${s.all}`);
  assert.ok(Math.abs(s.head - s.tail) < 0.05);
  // a rare ID sharing a bucket with a frequent one is swamped: tail contamination is larger
  assert.ok(s.tailContamination > s.headContamination);
  // exact collision counting on a hand-made map
  const tiny = collisionStats(Int32Array.of(0, 1, 2, 3), [5, 1, 1, 1], Int32Array.of(0, 0, 1, 2), 3, Uint8Array.of(1, 0, 0, 0));
  assert.equal(tiny.head, 1);
  assert.equal(tiny.tail, 1 / 3);
  assert.equal(tiny.headContamination, 1 / 6);

  const base = values(300, 0.2, 0.05, 1);
  const point = (fraction: number, loss: number, head: number, tail: number): HashingPoint => {
    const c = { head, tail, all: tail, headContamination: 0, tailContamination: 0, nHead: 1, nTail: 1 };
    return { fraction, users: c, items: c, ndcg: base.map((v) => v - loss) };
  };
  assert.equal(hashingVerdict(base, [point(0.5, 0.05, 0.8, 0.8), point(1, 0.02, 0.63, 0.63)], SEED).verdict, 'mixed');
  assert.equal(hashingVerdict(base, [point(0.5, 0.05, 0.9, 0.6), point(1, 0.02, 0.7, 0.5)], SEED).verdict, 'holds');
  assert.equal(hashingVerdict(base, [point(0.5, 0, 0.8, 0.8), point(1, 0, 0.63, 0.63)], SEED).verdict, 'does-not-hold');
});

test('dims verdict: small embeddings listing popular items hold', () => {
  const p = (d: number, arp: number, coverage: number, seed: number) => ({ d, arp: values(200, arp, 5, seed), ndcg: values(200, 0.2, 0.05, seed + 1), coverage });
  assert.equal(dimsVerdict([p(4, 120, 0.2, 1), p(64, 90, 0.6, 2), p(256, 85, 0.7, 3)], SEED).verdict, 'holds');
  assert.equal(dimsVerdict([p(4, 80, 0.8, 1), p(256, 90, 0.6, 3)], SEED).verdict, 'does-not-hold');
  assert.equal(dimsVerdict([p(4, 120, 0.8, 1), p(256, 90, 0.6, 3)], SEED).verdict, 'mixed');
});

test('recovery: best one-to-one match, per-user agreement and the verdict', () => {
  // learned 0 explains planted 1, learned 1 explains planted 0, learned 2 splits
  const table = [
    [1, 8],
    [6, 0],
    [2, 1],
  ];
  assert.deepEqual(bestMatch(table, 3, 2), { matched: 14, map: [1, 0] });
  // more planted than learned: one planted persona stays unmatched
  assert.deepEqual(bestMatch([[5, 3, 1]], 1, 3), { matched: 5, map: [0, -1, -1] });
  const r = userRecovery([0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1], 2, 2, 1);
  assert.equal(r.agreement, 5 / 6);
  assert.equal(r.baseline, 0.5);
  assert.equal(r.minorityRecovered, 1); // 2 of the minority's 3 rows >= 50%
  assert.equal(userRecovery([0, 0, 0, 0], [0, 0, 1, 1], 1, 2, 1).minorityRecovered, 0);
  assert.equal(userRecovery([0, 0], [0, 0], 1, 1, -1).minorityRecovered, null);

  const cell = (k: number, mw: [number, number], agreement: number, baseline: number, rec: number): RecoveryCell => ({
    k,
    minorityWeight: mw,
    agreement: values(200, agreement, 0.05, k),
    baseline: values(200, baseline, 0.05, k + 50),
    minorityRecovered: Array.from({ length: 200 }, (_, i) => (i < rec * 200 ? 1 : 0)),
  });
  const good = recoveryVerdict([cell(1, [0.1, 0.15], 0.7, 0.7, 0), cell(4, [0.1, 0.15], 0.85, 0.7, 0.7), cell(4, [0.2, 0.25], 0.8, 0.6, 0.8)], SEED);
  assert.equal(good.verdict, 'holds');
  assert.equal(good.settings[0]!.bestK, 4, 'K = 1 is never the best K');
  const bad = recoveryVerdict([cell(1, [0.1, 0.15], 0.7, 0.7, 0), cell(4, [0.1, 0.15], 0.65, 0.7, 0.2)], SEED);
  assert.equal(bad.verdict, 'does-not-hold');
  const mixed = recoveryVerdict([cell(4, [0.1, 0.15], 0.85, 0.7, 0.2), cell(4, [0.2, 0.25], 0.85, 0.6, 0.8)], SEED);
  assert.equal(mixed.verdict, 'mixed');
});

test('kmeans: separates two far clusters, deterministic per seed', () => {
  const pts = new Float32Array(200 * 2);
  const rng = new Rng(3);
  for (let i = 0; i < 200; i++) {
    pts[2 * i] = (i < 120 ? 0 : 10) + rng.normal() * 0.5;
    pts[2 * i + 1] = rng.normal() * 0.5;
  }
  const a = kmeans(pts, 200, 2, 2, new Rng(1));
  const b = kmeans(pts, 200, 2, 2, new Rng(1));
  assert.deepEqual(a.assign, b.assign);
  for (let i = 0; i < 200; i++) assert.equal(a.assign[i] === a.assign[0], i < 120);
});

test('the worlds the studies use: requested minority weights and the 51/49 split are met', () => {
  for (const mw of [
    [0.1, 0.15],
    [0.2, 0.25],
  ] as [number, number][]) {
    const { log, truth } = worldToLog({ ...QUICK_WORLD, seed: 21, minorityWeight: mw });
    let minority = 0;
    let rows = 0;
    const multi = new Uint8Array(truth.users.length);
    truth.users.forEach((u, i) => (multi[i] = u.personas.length >= 2 ? 1 : 0));
    for (let r = 0; r < log.length; r++) {
      const p = truth.rowPersona[r]!;
      const u = log.user[r]!;
      if (p < 0 || !multi[u]) continue;
      rows++;
      if (p === truth.users[u]!.personas.length - 1) minority++;
    }
    for (const u of truth.users) if (u.personas.length >= 2) assert.ok(u.personas.at(-1)!.weight >= mw[0] - 1e-12 && u.personas.at(-1)!.weight <= mw[1] + 1e-12);
    const share = minority / rows;
    assert.ok(share > mw[0] - 0.01 && share < mw[1] + 0.01, `minority share ${share} for ${mw}`);
  }
  const { truth } = worldToLog({ ...QUICK_WORLD, users: 2000, population: 'split:51/49' });
  const a = truth.userGroup.filter((g) => g === 0).length / truth.userGroup.length;
  assert.ok(Math.abs(a - 0.51) < 0.025, `group A share ${a}`);
});

test('report: line charts and the study HTML are self-contained SVG', () => {
  const svg = lineChartSvg({ title: 'a <b>', kind: 'line', x: [4, 8, 256], xLabel: 'd', yLabel: 'y', series: [{ name: 's', y: [1, null, 3], ci: [[0.5, 1.5], null, null] }] });
  assert.match(svg, /^<svg[^>]*>.*<\/svg>$/s);
  assert.match(svg, /log scale/);
  assert.match(svg, /a &lt;b&gt;/);
  assert.equal((svg.match(/<circle/g) ?? []).length, 2);
});

test('report: bar labels are never clipped, however long', () => {
  const labels = ['pop', 'bpr + calibrated:0.5', 'personas:k=1 + proportional + consumption:3'];
  const svg = barChartSvg('ndcg@20', labels.map((label, i) => ({ label, value: 0.1 * (i + 1), ci: [0.05, 0.2] as [number, number] })));
  // each label is right-aligned at x = left - 6 and must start at x >= 0
  for (const label of labels) {
    const m = new RegExp(`<text x="([0-9.]+)" y="[0-9.]+" font-size="12" text-anchor="end">${label.replace(/[+.]/g, '\\$&')}</text>`).exec(svg);
    assert.ok(m, label);
    assert.ok(Number(m[1]) - labelWidthPx(label) >= 0, `${label} starts at ${Number(m[1]) - labelWidthPx(label)}`);
  }
  const width = Number(/<svg[^>]*width="([0-9]+)"/.exec(svg)![1]);
  assert.ok(width > 560, 'the chart grew to keep the plot area');
});

function checkJsonShape(json: StudyJson, name: string): void {
  const parsed = JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
  for (const key of ['study', 'claim', 'verdict', 'verdictReason', 'data', 'seed', 'results', 'table', 'charts', 'seconds', 'manifest']) assert.ok(key in parsed, `${name}: ${key}`);
  assert.equal(parsed.study, name);
  assert.ok(['holds', 'does-not-hold', 'mixed'].includes(parsed.verdict as string));
  assert.ok((parsed.verdictReason as string).length > 20);
  assert.equal(typeof parsed.results, 'object');
  assert.match(parsed.table as string, /^\|.*\|$/m);
  assert.ok(json.charts.length >= 1);
  for (const c of json.charts) for (const s of c.series) assert.equal(s.y.length, c.x.length, `${name}: ${c.title}`);
  const html = studyHtml(json);
  assert.match(html, /<svg/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
}

// End-to-end on quick worlds: every study runs, its JSON has the contract's shape, its verdict
// agrees with the verdict function on the numbers it reports.
for (const name of ['crowding', 'aggregation', 'profile-swap', 'hashing', 'dims', 'recovery', 'router']) {
  test(`study ${name} (quick): runs, JSON shape, verdict`, async () => {
    const json = await executeStudy(findStudy(name)!, { seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
    checkJsonShape(json, name);
    assert.match(json.data, /quick world|worlds of/);
    if (name === 'profile-swap') {
      // on the quick world the nearest profile is the least harmful one
      assert.equal(json.verdict, 'does-not-hold');
    }
    if (name === 'hashing') {
      const checks = json.results.checks as { accuracyLost: boolean };
      assert.equal(checks.accuracyLost, true);
    }
  });
}

test('a study writes its HTML report only where asked: --report, else beside --out', () => {
  assert.equal(studyReportPath({}), undefined);
  assert.equal(studyReportPath({ out: 'runs/crowding.json' }), 'runs/crowding.html');
  assert.equal(studyReportPath({ out: 'runs/crowding.JSON' }), 'runs/crowding.html');
  assert.equal(studyReportPath({ out: 'runs/crowding' }), 'runs/crowding.html');
  assert.equal(studyReportPath({ out: 'a.json', report: 'b.html' }), 'b.html');
});

test('scoreModelMany: the plain and calibrated lists of one scoring pass are those of separate passes', async () => {
  const ctx = { seed: 42, threads: 1, log: null, dataLabel: null, quick: true };
  const { split } = studyData(ctx, { users: 200, items: 150 });
  const model = await fitModel('itemknn', split, ctx);
  const cal = rerankerFor('calibrated:0.5:categories', split, model);
  const [plain, calibrated] = scoreModelMany(model, split, [10], 7, [null, cal]);
  const alone = scoreModel(model, split, [10], 7);
  const calAlone = scoreModel(model, split, [10], 7, cal);
  assert.deepEqual(plain!.lists, alone.lists);
  assert.deepEqual(calibrated!.lists, calAlone.lists);
  assert.deepEqual(calibrated!.perUser, calAlone.perUser);
  // the reranker changed some lists (else the check above could not fail)
  assert.ok(plain!.lists.some((l, b) => l.join() !== calibrated!.lists[b]!.join()));
});
