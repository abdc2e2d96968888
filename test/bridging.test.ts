/**
 * Bridging users (`split:51/49,bridge:s` worlds) and the aggregation study's bridging verdict:
 * the planted truth (both sides, in the planted proportion; other users untouched), the sides of
 * held-out items, and `bridgingVerdict` on constructed numbers (holds, does-not-hold, mixed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSplit } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { bridgingVerdict, plantedSides, sideHits, type BridgeRow } from '../src/study/bridging.js';
import { parsePopulation, resolveWorldConfig, World, worldToLog, type WorldConfigInput } from '../src/synth/world.js';

const SMALL: WorldConfigInput = { seed: 11, users: 600, items: 500, categories: 8, meanInteractions: 60 };

test('population spec: bridge share parsed, validated, and absent when not given', () => {
  assert.deepEqual(parsePopulation('split:51/49,bridge:0.15'), { kind: 'split', shareA: 0.51, bridge: 0.15 });
  assert.deepEqual(parsePopulation('split:51/49'), { kind: 'split', shareA: 0.51 });
  assert.throws(() => resolveWorldConfig({ population: 'split:51/49,bridge:1.5' }), /bridge share 1.5 is above 1/);
  assert.throws(() => resolveWorldConfig({ population: 'mixed,bridge:0.1' }), /world\.population/);
  assert.throws(() => resolveWorldConfig({ population: 'split:1/1,bridge:0.2', personaCounts: [1, 0, 0, 0] }), /two or more personas/);
});

test('bridging users hold both sides in their planted proportion; everyone else is unchanged', () => {
  const { log, truth } = worldToLog({ ...SMALL, population: 'split:51/49,bridge:0.3' });
  const plain = worldToLog({ ...SMALL, population: 'split:51/49' });
  const bridging = Array.from(truth.userGroup.keys()).filter((u) => truth.userGroup[u] === 2);
  // about 30% bridge
  assert.ok(Math.abs(bridging.length / SMALL.users! - 0.3) < 0.05, `${bridging.length} bridging users`);
  const byUser = (l: typeof log): number[][] => {
    const out: number[][] = Array.from({ length: l.users.size }, () => []);
    for (let r = 0; r < l.length; r++) out[l.user[r]!]!.push(r);
    return out;
  };
  const rowsA = byUser(log);
  const rowsB = byUser(plain.log);
  const rowsOf = (l: typeof log, u: number): number[] => (l === log ? rowsA : rowsB)[u]!;
  let totalGap = 0;
  for (const u of bridging) {
    const personas = truth.users[u]!.personas;
    assert.ok(personas.length >= 2, `user ${u}: ${personas.length} personas`);
    assert.ok(personas.some((p) => p.side === 'A') && personas.some((p) => p.side === 'B'), `user ${u} holds both sides`);
    assert.notEqual(personas[0]!.side, personas[personas.length - 1]!.side, 'dominant and minority persona on opposite sides');
    const plantedA = personas.filter((p) => p.side === 'A').reduce((s, p) => s + p.weight, 0);
    const rows = rowsOf(log, u).filter((r) => truth.rowPersona[r]! >= 0);
    // each persona row carries its persona's side
    for (const r of rows) assert.equal(truth.rowSide[r], personas[truth.rowPersona[r]!]!.side === 'A' ? 0 : 1);
    const shareA = rows.filter((r) => truth.rowSide[r] === 0).length / rows.length;
    totalGap += Math.abs(shareA - plantedA);
    // a side-B persona dislikes A's contested favourites: none of its positives is loved by A only
    for (const r of rows) {
      if (log.rating![r]! < 4) continue;
      const pol = truth.itemPolarity[log.item[r]!]!;
      if (pol !== 0) assert.equal(pol, truth.rowSide[r] === 0 ? 1 : -1, `row ${r}: a positive on the other side's contested item`);
    }
  }
  // rows are allotted to personas by weight (largest remainder); only draw failures move the share
  assert.ok(totalGap / bridging.length < 0.03, `mean |row share - planted share| ${totalGap / bridging.length}`);
  // the other users' rows do not depend on the bridge share
  for (const u of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((x) => truth.userGroup[x] !== 2)) {
    const a = rowsOf(log, u).map((r) => `${log.item[r]}:${log.rating![r]}`);
    const b = rowsOf(plain.log, u).map((r) => `${plain.log.item[r]}:${plain.log.rating![r]}`);
    assert.deepEqual(a, b, `user ${u}`);
    assert.equal(truth.userGroup[u], plain.truth.userGroup[u]);
  }
  // the streamed truth line equals the truth record
  const world = new World({ ...SMALL, population: 'split:51/49,bridge:0.3' });
  const rows = world.newRows();
  const plan = world.generateUser(bridging[0]!, rows);
  assert.deepEqual(JSON.parse(world.userTruthJson(bridging[0]!, plan)), world.userTruth(bridging[0]!, plan));
  assert.equal(world.userTruth(bridging[0]!, plan).group, 'bridge');
});

test('held-out items carry the side of the row that produced them; side hits count them', () => {
  const { log, truth } = worldToLog({ ...SMALL, population: 'split:51/49,bridge:0.3' });
  const split = makeSplit(log, { protocol: 'temporal-user', minRating: 4, seed: 1 });
  const sides = plantedSides(split, truth);
  let checked = 0;
  const rowOfPair = new Map<number, number>();
  for (let r = 0; r < log.length; r++) rowOfPair.set(log.user[r]! * log.items.size + log.item[r]!, r);
  split.testUsers.forEach((u, pos) => {
    const items = split.test.indices.subarray(split.test.indptr[u]!, split.test.indptr[u + 1]!);
    items.forEach((i, j) => {
      const r = rowOfPair.get(u * log.items.size + i);
      if (r === undefined) return;
      assert.equal(sides.itemSide[pos]![j], truth.rowSide[r]);
      checked++;
    });
    if (truth.userGroup[u] === 2) assert.ok(sides.minoritySide[pos]! >= 0 && sides.minorityShare[pos]! <= 0.5);
    else assert.equal(sides.minoritySide[pos], -1);
  });
  assert.ok(checked > 1000, `${checked} held-out items checked`);
  // a list made of a bridging user's own held-out items hits both sides in their held-out proportion
  const pos = split.testUsers.findIndex((u, p) => truth.userGroup[u] === 2 && sides.itemSide[p]!.includes(0) && sides.itemSide[p]!.includes(1));
  const u = split.testUsers[pos]!;
  const own = split.test.indices.slice(split.test.indptr[u]!, split.test.indptr[u + 1]!);
  const lists = Array.from(split.testUsers, (_, p) => (p === pos ? own : new Int32Array(0)));
  const h = sideHits(split, sides, lists, own.length);
  assert.equal(h.minorityHit[pos], 1);
  assert.equal(h.majorityHit[pos], 1);
  assert.equal(h.minorityHitShare[pos], h.minorityHeldOutShare[pos]);
});

test('bridging verdict: holds, does-not-hold and mixed follow the numbers', () => {
  const n = 900;
  // 0 = A, 1 = B, 2 = bridging
  const group = Int8Array.from({ length: n }, (_, i) => (i < 360 ? 0 : i < 700 ? 1 : 2));
  const draw = (p: [number, number, number], minority: number, seed: number): { hits: number[]; minorityHits: (number | null)[] } => {
    const rng = new Rng(seed);
    return {
      hits: Array.from({ length: n }, (_, i) => (rng.next() < p[group[i]!]! ? 1 : 0)),
      minorityHits: Array.from({ length: n }, (_, i) => (group[i] === 2 ? (rng.next() < minority ? 1 : 0) : null)),
    };
  };
  const rows = (pop: [number, number, number, number], cluster: number, ials: number, twin: number, personas: [number, number, number, number]): BridgeRow[] => [
    { name: 'pop', role: 'global', ...draw([pop[0], pop[1], pop[2]], pop[3], 1) },
    { name: 'clusters-pop:4', role: 'cluster', ...draw([0.6, 0.6, 0.6], cluster, 2) },
    { name: 'ials', role: 'one-vector', ...draw([0.75, 0.75, 0.7], ials, 3) },
    { name: 'personas:k=1', role: 'one-vector', ...draw([0.75, 0.75, 0.7], twin, 4) },
    { name: 'personas', role: 'personas', ...draw([personas[0], personas[1], personas[2]], personas[3], 5) },
  ];
  const holds = bridgingVerdict(rows([0.5, 0.3, 0.4, 0.1], 0.2, 0.25, 0.25, [0.75, 0.75, 0.72, 0.5]), group, 5);
  assert.equal(holds.verdict, 'holds', holds.reason);
  assert.deepEqual(holds.checks.underservesBridging, { 'clusters-pop:4': true, ials: true, 'personas:k=1': true });
  assert.equal(holds.checks.personasServesAll, true);
  // nobody under-serves the bridging minority side: every model finds it as often as personas
  const none = bridgingVerdict(rows([0.5, 0.3, 0.4, 0.45], 0.5, 0.5, 0.5, [0.75, 0.75, 0.72, 0.5]), group, 5);
  assert.equal(none.verdict, 'does-not-hold', none.reason);
  assert.equal(none.checks.globalUnderservesMinority, true);
  // the one-vector models under-serve it, but personas do no better on it than the clusters: mixed
  const mixed = bridgingVerdict(rows([0.5, 0.3, 0.4, 0.1], 0.3, 0.1, 0.1, [0.75, 0.75, 0.72, 0.3]), group, 5);
  assert.equal(mixed.verdict, 'mixed', mixed.reason);
  assert.equal(mixed.checks.oneVectorUnderserveBridging, true);
  assert.equal(mixed.checks.clustersUnderserveBridging, false);
  // a model below the served-well line but not significantly below personas does not count
  assert.match(mixed.reason, /clusters-pop:4.*does not under-serve/);
});
