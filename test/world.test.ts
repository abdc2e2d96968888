import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSplit } from '../src/data/split.js';
import { readDataset } from '../src/data/readers/index.js';
import { forEachRow } from '../src/data/readers/csv-parse.js';
import { ConfigError } from '../src/errors.js';
import { evaluateLists, rankTestUsers } from '../src/eval/evaluate.js';
import { Rng } from '../src/math/rng.js';
import { itemKnnSpec } from '../src/models/itemknn.js';
import { PopularityScorer } from '../src/models/pop.js';
import {
  DEFAULT_WORLD,
  WORLD_FILES,
  WorldConfigSchema,
  generateWorld,
  parsePopulation,
  resolveWorldConfig,
  worldToLog,
  writeWorld,
  type PlantedPersona,
  type WorldConfigInput,
} from '../src/synth/world.js';

const SMALL: WorldConfigInput = { seed: 7, users: 300, items: 400, categories: 8, meanInteractions: 40 };

function rowsOf(config: WorldConfigInput, from?: number, to?: number): string[] {
  const rows: string[] = [];
  generateWorld(
    config,
    {
      item: () => {},
      interaction: (u, i, r, t, p) => rows.push(`${u},${i},${r},${t},${p}`),
      user: (u, personas, group) => rows.push(`# ${u} ${group ?? '-'} ${JSON.stringify(personas)}`),
    },
    { from, to, items: false },
  );
  return rows;
}

test('config: defaults are the default world, round-trip through JSON, bad values name the field', () => {
  assert.deepEqual(resolveWorldConfig({}), DEFAULT_WORLD);
  assert.deepEqual(WorldConfigSchema.parse(JSON.parse(JSON.stringify(DEFAULT_WORLD))), DEFAULT_WORLD);
  assert.ok(DEFAULT_WORLD.users >= 2000 && DEFAULT_WORLD.users <= 3000);
  assert.ok(DEFAULT_WORLD.items >= 1500 && DEFAULT_WORLD.items <= 2000);
  assert.throws(() => resolveWorldConfig({ minorityWeight: [0.1, 0.3] }), (e: unknown) => e instanceof ConfigError && /world\.minorityWeight/.test(e.message));
  assert.throws(() => resolveWorldConfig({ population: 'split:abc' }), (e: unknown) => e instanceof ConfigError && /world\.population/.test(e.message));
  assert.throws(() => resolveWorldConfig({ users: 10, colour: 'red' } as WorldConfigInput), ConfigError);
  assert.deepEqual(parsePopulation('split:51/49'), { kind: 'split', shareA: 0.51 });
  assert.deepEqual(parsePopulation('mixed'), { kind: 'mixed' });
});

test('deterministic per seed, and the same rows in any chunking of the users', () => {
  const a = worldToLog(SMALL);
  const b = worldToLog(SMALL);
  assert.deepEqual(a.log.user, b.log.user);
  assert.deepEqual(a.log.item, b.log.item);
  assert.deepEqual(a.log.rating, b.log.rating);
  assert.deepEqual(a.log.timestamp, b.log.timestamp);
  assert.deepEqual(a.truth.rowPersona, b.truth.rowPersona);
  assert.deepEqual(a.truth.users, b.truth.users);
  assert.deepEqual(a.log.titles, b.log.titles);

  const c = worldToLog({ ...SMALL, seed: 8 });
  assert.notDeepEqual(c.log.item, a.log.item);
  assert.notDeepEqual(c.log.titles, a.log.titles);

  const whole = rowsOf(SMALL);
  const chunked = [...rowsOf(SMALL, 0, 37), ...rowsOf(SMALL, 37, 200), ...rowsOf(SMALL, 200)];
  assert.deepEqual(chunked, whole);
});

test('every item has 1-3 distinct, readably named categories and a title', () => {
  const { log } = worldToLog(SMALL);
  const cats = log.categories!;
  const seen = new Set<number>();
  for (let i = 0; i < log.items.size; i++) {
    const list = cats.idx.subarray(cats.ptr[i]!, cats.ptr[i + 1]!);
    assert.ok(list.length >= 1 && list.length <= 3, `item ${log.items.id(i)} has ${list.length} categories`);
    assert.equal(new Set(list).size, list.length);
    seen.add(list.length);
    assert.ok((log.titles![i] ?? '').length > 0);
  }
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
  assert.ok(cats.names.includes('Space Opera') && cats.names.includes('Courtroom Drama'));
  assert.equal(cats.names.length, 8);
});

test('personas: 1-4 per user, minority weight in range, realised shares match the planted weights', () => {
  const config: WorldConfigInput = { seed: 11, users: 600, items: 1500, categories: 12, meanInteractions: 80, minorityWeight: [0.12, 0.2] };
  const { log, truth } = worldToLog(config);
  const counts = [0, 0, 0, 0, 0];
  for (const u of truth.users) {
    const ps = u.personas;
    counts[ps.length]!++;
    assert.ok(ps.length >= 1 && ps.length <= 4);
    const sum = ps.reduce((s, p) => s + p.weight, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `weights of user ${u.user} sum to ${sum}`);
    if (ps.length > 1) {
      const m = ps.at(-1)!.weight;
      assert.ok(m >= 0.12 && m <= 0.2, `minority weight ${m}`);
      for (const p of ps) assert.ok(p.weight >= m - 1e-12, 'the minority persona is the smallest');
    }
    // distinct main categories
    assert.equal(new Set(ps.map((p) => p.categories[0])).size, ps.length);
  }
  assert.ok(counts.slice(1).every((c) => c > 0), `persona counts ${counts}`);

  // realised share of each persona among the user's persona rows
  const perUser = new Map<number, number[]>();
  for (let r = 0; r < log.length; r++) {
    const k = truth.rowPersona[r]!;
    if (k < 0) continue;
    const u = log.user[r]!;
    let c = perUser.get(u);
    if (!c) perUser.set(u, (c = [0, 0, 0, 0]));
    c[k]!++;
  }
  let checked = 0;
  let minorityRows = 0;
  let personaRows = 0;
  for (const [u, c] of perUser) {
    const total = c.reduce((s, v) => s + v, 0);
    const ps = truth.users[u]!.personas;
    if (ps.length > 1) {
      minorityRows += c[ps.length - 1]!;
      personaRows += total;
    }
    if (total < 40) continue;
    ps.forEach((p: PlantedPersona, k) => {
      assert.ok(Math.abs(c[k]! / total - p.weight) <= 0.03, `user ${u} persona ${k}: ${c[k]! / total} vs planted ${p.weight}`);
    });
    checked++;
  }
  assert.ok(checked > 200, `checked ${checked} users`);
  const share = minorityRows / personaRows;
  assert.ok(share > 0.12 && share < 0.2, `minority share of rows ${share}`);
});

test('ratings: persona rows are mostly >= 4, noise rows <= 3; timestamps increase per user', () => {
  const { log, truth } = worldToLog(SMALL);
  let personaRows = 0;
  let high = 0;
  let noise = 0;
  for (let r = 0; r < log.length; r++) {
    const rating = log.rating![r]!;
    assert.ok(Number.isInteger(rating) && rating >= 1 && rating <= 5);
    if (truth.rowPersona[r]! < 0) {
      noise++;
      assert.ok(rating <= 3);
    } else {
      personaRows++;
      if (rating >= 4) high++;
    }
    if (r > 0 && log.user[r] === log.user[r - 1]) assert.ok(log.timestamp![r]! > log.timestamp![r - 1]!);
  }
  assert.ok(high / personaRows > 0.85, `persona rows >= 4: ${high / personaRows}`);
  assert.ok(noise / log.length > 0.05 && noise / log.length < 0.15);
  // activity: heavy-tailed, at least 5 rows each
  const n = new Int32Array(log.users.size);
  for (let r = 0; r < log.length; r++) n[log.user[r]!]!++;
  const sorted = Array.from(n).sort((a, b) => a - b);
  assert.ok(sorted[0]! >= 5);
  assert.ok(sorted.at(-1)! > 4 * sorted[sorted.length >> 1]!, 'a heavy tail');
});

test('the temporal-user protocol splits every user with >= 5 positives, latest positives as test', () => {
  const { log } = worldToLog(SMALL);
  const split = makeSplit(log, { protocol: 'temporal-user', minRating: 4 });
  const positives = new Int32Array(log.users.size);
  for (let r = 0; r < log.length; r++) if (log.rating![r]! >= 4) positives[log.user[r]!]!++;
  const eligible = Array.from(positives).filter((p) => p >= 5).length;
  assert.equal(split.stats.testUsers, eligible);
  // test rows are later than every train row of the same user
  const lastTrain = new Float64Array(log.users.size).fill(-Infinity);
  const tp = split.trainPairs;
  for (let k = 0; k < tp.user.length; k++) lastTrain[tp.user[k]!] = Math.max(lastTrain[tp.user[k]!]!, tp.time[k]!);
  const te = split.testPairs;
  for (let k = 0; k < te.user.length; k++) assert.ok(te.time[k]! > lastTrain[te.user[k]!]!);
});

test('split:51/49: group sizes within tolerance; the groups are opposed on the shared items', () => {
  const { log, truth } = worldToLog({ seed: 3, users: 1500, items: 600, categories: 8, meanInteractions: 40, population: 'split:51/49' });
  let a = 0;
  for (const g of truth.userGroup) {
    assert.ok(g === 0 || g === 1);
    if (g === 0) a++;
  }
  assert.ok(Math.abs(a / truth.userGroup.length - 0.51) < 0.03, `group A share ${a / truth.userGroup.length}`);
  assert.equal(truth.users[0]!.group, truth.userGroup[0] === 0 ? 'A' : 'B');

  const contested = Array.from(truth.itemPolarity).filter((p) => p !== 0);
  assert.equal(contested.length, Math.round(0.3 * 600));
  assert.equal(contested.filter((p) => p > 0).length, contested.length / 2);

  const nItems = log.items.size;
  const sum = [new Float64Array(nItems), new Float64Array(nItems)];
  const cnt = [new Float64Array(nItems), new Float64Array(nItems)];
  const contestedRows = [0, 0];
  for (let r = 0; r < log.length; r++) {
    if (truth.rowPersona[r]! < 0) continue;
    const g = truth.userGroup[log.user[r]!]!;
    const i = log.item[r]!;
    sum[g]![i]! += log.rating![r]!;
    cnt[g]![i]!++;
    if (truth.itemPolarity[i] !== 0) contestedRows[g]!++;
  }
  let compared = 0;
  let lovedA = 0;
  let lovedB = 0;
  for (let i = 0; i < nItems; i++) {
    const p = truth.itemPolarity[i]!;
    if (p === 0 || cnt[0]![i]! < 3 || cnt[1]![i]! < 3) continue;
    const meanA = sum[0]![i]! / cnt[0]![i]!;
    const meanB = sum[1]![i]! / cnt[1]![i]!;
    // what one group loves the other dislikes
    if (p > 0) assert.ok(meanA >= 3.5 && meanB <= 2, `item ${i}: A ${meanA}, B ${meanB}`);
    else assert.ok(meanB >= 3.5 && meanA <= 2, `item ${i}: A ${meanA}, B ${meanB}`);
    if (p > 0) lovedA++;
    else lovedB++;
    compared++;
  }
  assert.ok(compared > 100 && lovedA > 40 && lovedB > 40, `compared ${compared}`);
  // shared exposure: both groups meet the contested items at about the same rate per user
  const perA = contestedRows[0]! / a;
  const perB = contestedRows[1]! / (truth.userGroup.length - a);
  assert.ok(Math.abs(perA / perB - 1) < 0.15, `contested rows per user: A ${perA}, B ${perB}`);
});

test('writeWorld: the files round-trip through the readers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-world-'));
  try {
    const config: WorldConfigInput = { ...SMALL, users: 120, population: 'split:51/49' };
    const progress: number[] = [];
    const summary = await writeWorld(config, dir, (p) => progress.push(p.users));
    assert.equal(progress.at(-1), 120);
    const { log, truth } = worldToLog(config);
    assert.equal(summary.interactions, log.length);

    const read = await readDataset(join(dir, WORLD_FILES.ratings), { format: 'csv', categories: join(dir, WORLD_FILES.items) });
    assert.equal(read.length, log.length);
    const key = (l: typeof log, r: number): string =>
      `${l.users.id(l.user[r]!)},${l.items.id(l.item[r]!)},${l.rating![r]!},${l.timestamp![r]!}`;
    for (let r = 0; r < log.length; r++) assert.equal(key(read, r), key(log, r));
    // categories and titles (some titles contain commas and are quoted)
    assert.equal(read.items.size, log.items.size);
    let commas = 0;
    for (let i = 0; i < log.items.size; i++) {
      const j = read.items.lookup(log.items.id(i));
      const names = (l: typeof log, x: number) => Array.from(l.categories!.idx.subarray(l.categories!.ptr[x]!, l.categories!.ptr[x + 1]!), (c) => l.categories!.names[c]);
      assert.deepEqual(names(read, j), names(log, i));
      assert.equal(read.titles![j], log.titles![i]);
      if (log.titles![i]!.includes(',')) commas++;
    }
    assert.ok(commas > 0, 'some titles contain commas');

    // truth.jsonl: one line per user
    const lines = readFileSync(join(dir, WORLD_FILES.truth), 'utf8').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      truth.users.map((u) => JSON.parse(JSON.stringify(u)) as unknown),
    );
    // interactions-truth.csv: aligned with ratings.csv
    const personas: number[] = [];
    let header: string[] = [];
    await forEachRow(join(dir, WORLD_FILES.interactionsTruth), (f, count, line) => {
      if (line === 1) header = f.slice(0, count);
      else {
        assert.equal(`${f[0]},${f[1]}`, `${log.users.id(log.user[personas.length]!)},${log.items.id(log.item[personas.length]!)}`);
        personas.push(Number(f[2]));
      }
    });
    assert.deepEqual(header, ['user', 'item', 'persona']);
    assert.deepEqual(Int8Array.from(personas), truth.rowPersona);
    const manifest = JSON.parse(readFileSync(join(dir, WORLD_FILES.manifest), 'utf8')) as { config: unknown; interactions: number };
    assert.deepEqual(manifest.config, resolveWorldConfig(config));
    assert.equal(manifest.interactions, log.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('item-level signal: a CF model clearly beats popularity on a default-like world', async () => {
  const { log } = worldToLog({ ...DEFAULT_WORLD, users: 1000 });
  const split = makeSplit(log);
  const ndcg = async (model: PopularityScorer | ReturnType<typeof itemKnnSpec.create>, name: string): Promise<number> => {
    await model.fit(split.train, { rng: new Rng(1).derive(name), threads: 1 });
    const lists = rankTestUsers(model, split, { k: 20 });
    return evaluateLists(split, lists, [20], 1).metrics['ndcg@20']!.mean!;
  };
  const pop = await ndcg(new PopularityScorer(), 'pop');
  const knn = await ndcg(itemKnnSpec.create({}), 'itemknn');
  assert.ok(knn > 1.5 * pop && knn - pop > 0.05, `itemknn ${knn} vs pop ${pop}`);
});
