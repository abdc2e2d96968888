/**
 * The public API (src/index.ts): the high-level Recommender over string ids (fit, recommend,
 * explain, fold-in, save/load with the same answers) and registering a model from outside.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import * as personae from '../src/index.js';
import {
  ConfigError,
  DataError,
  NotFoundError,
  Recommender,
  createModel,
  isBuiltInModel,
  modelNames,
  registerModel,
  saveArtifact,
  worldToLog,
  type Interaction,
  type Model,
  type ModelArtifact,
  type ModelSpec,
  type TrainSet,
  type UserBatch,
} from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'personae-api-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Popularity a 3, b 2, c 2, d 1 (u2's rating of e is under 4: not a positive, so e is no candidate). */
const SMALL: Interaction[] = [
  { user: 'u1', item: 'a', rating: 5 },
  { user: 'u1', item: 'b', rating: 4 },
  { user: 'u2', item: 'a', rating: 5 },
  { user: 'u2', item: 'c', rating: 4.5 },
  { user: 'u2', item: 'e', rating: 2 },
  { user: 'u3', item: 'a', rating: 4 },
  { user: 'u3', item: 'b', rating: 5 },
  { user: 'u3', item: 'd', rating: 4 },
  { user: 'u4', item: 'c', rating: 5 },
];

describe('Recommender over string ids', () => {
  test('pop: most popular unseen items, ties by item id, scores = training positives', async () => {
    const r = await Recommender.fit(SMALL, { model: 'pop' });
    assert.equal(r.model, 'pop');
    assert.equal(r.hasPersonas, false);
    assert.deepEqual(r.users(), ['u1', 'u2', 'u3', 'u4']);
    assert.deepEqual(r.candidates(), ['a', 'b', 'c', 'd']);
    const u4 = r.recommend('u4', { n: 3 });
    assert.deepEqual(u4.items.map((i) => [i.item, i.score]), [['a', 3], ['b', 2], ['d', 1]]);
    assert.equal(u4.user, 'u4');
    assert.equal(u4.tastes, undefined);
    // b and c tie at 2: b first by id; the user's own positives are left out
    assert.deepEqual(r.recommend('u1', { n: 10 }).items.map((i) => i.item), ['c', 'd']);
    assert.deepEqual(r.recommend('u4', { n: 3, exclude: ['a', 'zzz'] }).items.map((i) => i.item), ['b', 'd']);
    assert.deepEqual(r.history('u3'), ['a', 'b', 'd']);
    // fold-in: unknown items are ignored and listed
    const guest = r.foldIn(['b', 'nope', 'b']);
    assert.deepEqual(guest.history, ['b']);
    assert.deepEqual(guest.ignored, ['nope']);
    assert.deepEqual(guest.recommend({ n: 2 }).items.map((i) => i.item), ['a', 'c']);
    assert.equal(guest.recommend().user, null);
    assert.equal(guest.tastes(), null);
  });

  test('errors name the row, field or user', async () => {
    await assert.rejects(() => Recommender.fit([{ user: 'u1', item: '' }]), (e: unknown) => e instanceof DataError && /log\[0\]\.item/.test(e.message));
    await assert.rejects(
      () => Recommender.fit([{ user: 'u1', item: 'a' }, { user: 'u1', item: 'b', rating: Number.NaN }]),
      (e: unknown) => e instanceof DataError && /log\[1\]\.rating/.test(e.message),
    );
    await assert.rejects(() => Recommender.fit([]), (e: unknown) => e instanceof DataError && /empty/.test(e.message));
    await assert.rejects(() => Recommender.fit(SMALL, { model: 'nope' }), (e: unknown) => e instanceof ConfigError && /unknown model "nope"/.test(e.message));
    await assert.rejects(() => Recommender.fit(SMALL, { model: 'ease', params: { lamda: 1 } }), (e: unknown) => e instanceof ConfigError && /ease/.test(e.message));
    await assert.rejects(() => Recommender.fit(SMALL, { minRating: 6 }), (e: unknown) => e instanceof DataError && /minRating 6/.test(e.message));
    const r = await Recommender.fit(SMALL, { model: 'pop' });
    assert.throws(() => r.recommend('u9'), (e: unknown) => e instanceof NotFoundError && /no user "u9".*foldIn/.test(e.message));
    assert.throws(() => r.recommend('u1', { explain: true }), (e: unknown) => e instanceof ConfigError && /no personas/.test(e.message));
    assert.throws(() => r.recommend('u1', { n: 0 }), ConfigError);
  });

  test('implicit data (no ratings): every row is a positive', async () => {
    const r = await Recommender.fit(
      SMALL.map(({ user, item }) => ({ user, item })),
      { model: 'pop' },
    );
    assert.deepEqual(r.candidates(), ['a', 'b', 'c', 'e', 'd']);
    assert.deepEqual(r.recommend('u4', { n: 5 }).items.map((i) => i.item), ['a', 'b', 'd', 'e']);
  });

  test('personas on a generated world: explained lists, tastes, fold-in; save and load give the same answers', async () => {
    const { log } = worldToLog({ users: 200, items: 150, categories: 5, meanInteractions: 25, seed: 3 });
    const r = await Recommender.fit(log, { model: 'personas', seed: 42 });
    assert.equal(r.hasPersonas, true);
    const multi = r.users().find((u) => (r.tastes(u)?.length ?? 0) >= 2);
    assert.ok(multi, 'some user of the world has two or more tastes');
    const recs = r.recommend(multi, { n: 8, explain: true });
    assert.equal(recs.items.length, 8);
    const tastes = recs.tastes!;
    assert.ok(Math.abs(tastes.reduce((s, t) => s + t.share, 0) - 1) < 1e-9, 'shares of the history sum to 1');
    const history = new Set(r.history(multi));
    for (const item of recs.items) {
      assert.ok(!history.has(item.item), 'own positives are left out');
      assert.ok(item.categories.length > 0 && item.title !== null);
      if (item.explanation) {
        const e = item.explanation;
        assert.equal(e.label, tastes[e.taste]!.label);
        assert.ok(Math.abs(e.weights.reduce((s, w) => s + w, 0) - 1) < 1e-5);
        assert.equal(e.weight, Math.max(...e.weights));
        for (const a of e.anchors) assert.ok(history.has(a), 'anchors come from the history');
        assert.match(e.sentence, /^because of your /);
      } else {
        assert.match(item.withheld ?? '', /two tastes/);
      }
    }
    const scores = recs.items.map((i) => i.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'best first');

    const file = join(tmp, 'personas.model');
    await r.save(file);
    const loaded = await Recommender.load(file);
    assert.equal(loaded.model, 'personas');
    for (const u of [multi, '1', '2', '150']) assert.deepEqual(loaded.recommend(u, { n: 8, explain: true }), r.recommend(u, { n: 8, explain: true }));
    const seen = ['5', '17', '42', 'not-an-item'];
    assert.deepEqual(loaded.foldIn(seen).recommend({ n: 5, explain: true }), r.foldIn(seen).recommend({ n: 5, explain: true }));
    assert.deepEqual(loaded.foldIn(seen).tastes(), r.foldIn(seen).tastes());
    assert.deepEqual(Recommender.fromBytes(r.toBytes()).recommend('3', { n: 4 }), r.recommend('3', { n: 4 }));

    // the same seed fits the same model
    const again = await Recommender.fit(log, { model: 'personas', seed: 42 });
    assert.deepEqual(again.recommend(multi, { n: 8, explain: true }), recs);
  });

  test('load refuses a corrupt file and a model artifact without id maps', async () => {
    const r = await Recommender.fit(SMALL, { model: 'pop' });
    const file = join(tmp, 'pop.model');
    await r.save(file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(join(tmp, 'corrupt.model'), bytes);
    await assert.rejects(() => Recommender.load(join(tmp, 'corrupt.model')), (e: unknown) => e instanceof DataError && /checksum/.test(e.message));
    const plain = createModel('pop');
    saveArtifact(join(tmp, 'plain.model'), plain.toArtifact());
    await assert.rejects(() => Recommender.load(join(tmp, 'plain.model')), (e: unknown) => e instanceof DataError && /not a saved Recommender/.test(e.message));
  });
});

/** A model defined outside the library: scores items by how few users have them (a long-tail picker). */
class RarestFirst implements Model {
  readonly name = 'rarest-first';
  private scores: Float32Array = new Float32Array(0);
  constructor(readonly params: { weight: number }) {}
  async fit(train: TrainSet): Promise<void> {
    this.scores = Float32Array.from(train.itemPopularity, (p) => -this.params.weight * p);
  }
  scoreBatch(batch: UserBatch, out: Float32Array): void {
    for (let b = 0; b < batch.users.length; b++) out.set(this.scores, b * this.scores.length);
  }
  toArtifact(): ModelArtifact {
    return { kind: this.name, version: 1, config: { weight: this.params.weight }, arrays: { scores: this.scores } };
  }
  static fromArtifact(a: ModelArtifact): RarestFirst {
    const m = new RarestFirst({ weight: Number(a.config.weight) });
    m.scores = a.arrays.scores as Float32Array;
    return m;
  }
}

const RarestSchema = z.object({ weight: z.number().positive().default(1) }).strict();
const rarestSpec: ModelSpec = {
  name: 'rarest-first',
  description: 'least popular training items first (an example of a model registered from outside)',
  schema: RarestSchema,
  create: (p) => new RarestFirst(RarestSchema.parse(p)),
  fromArtifact: (a) => RarestFirst.fromArtifact(a),
  tuningGrid: [{ weight: 1 }],
};

describe('registerModel', () => {
  test('a registered model is fitted, saved and loaded like a built-in one', async () => {
    assert.equal(isBuiltInModel('rarest-first'), false);
    registerModel(rarestSpec);
    assert.ok(modelNames().includes('rarest-first'));
    const r = await Recommender.fit(SMALL, { model: 'rarest-first', params: { weight: 2 } });
    // -2 x popularity: d (1) first, then b and c (2) by id, then a (3)
    assert.deepEqual(r.recommend('u2', { n: 3 }).items.map((i) => [i.item, i.score]), [['d', -2], ['b', -4]]);
    assert.deepEqual(r.recommend('u4', { n: 4 }).items.map((i) => i.item), ['d', 'b', 'a']);
    const file = join(tmp, 'rarest.model');
    await r.save(file);
    assert.deepEqual((await Recommender.load(file)).recommend('u4', { n: 4 }), r.recommend('u4', { n: 4 }));
    await assert.rejects(() => Recommender.fit(SMALL, { model: 'rarest-first', params: { weight: -1 } }), (e: unknown) => e instanceof ConfigError && /rarest-first\.weight/.test(e.message));
  });

  test('duplicates, built-in names, bad names and incomplete specs are refused', () => {
    assert.throws(() => registerModel({ ...rarestSpec }), (e: unknown) => e instanceof ConfigError && /already registered/.test(e.message));
    assert.throws(() => registerModel({ ...rarestSpec, name: 'personas' }), (e: unknown) => e instanceof ConfigError && /already registered/.test(e.message));
    for (const name of ['', '9lives', 'a.b', 'a,b', 'a=b', 'a:b', 'has space', 'x'.repeat(65)]) {
      assert.throws(() => registerModel({ ...rarestSpec, name }), (e: unknown) => e instanceof ConfigError && /invalid model name/.test(e.message), name);
    }
    const broken = { ...rarestSpec, name: 'no-loader', fromArtifact: undefined } as unknown as ModelSpec;
    assert.throws(() => registerModel(broken), (e: unknown) => e instanceof ConfigError && /fromArtifact must be a function/.test(e.message));
    assert.equal(modelNames().includes('no-loader'), false);
  });
});

test("README's library section is examples/library.ts, verbatim", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../examples/library.ts', import.meta.url), 'utf8');
  assert.ok(readme.includes('```ts\n' + example + '```'), 'update the README code block from examples/library.ts');
});

test("docs/service.md's client snippet is examples/client.ts", () => {
  const doc = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../examples/client.ts', import.meta.url), 'utf8');
  const code = example.split('\n').filter((l) => !l.startsWith('//')).join('\n');
  assert.ok(doc.includes('```ts\n' + code + '```'), 'update the docs/service.md code block from examples/client.ts');
});

test('the package entry lists the public API', () => {
  const names = Object.keys(personae);
  for (const n of [
    'Recommender', 'logFromInteractions', 'registerModel', 'createModel', 'modelNames', 'readDataset', 'makeSplit',
    'buildReranker', 'ndcgAt', 'recallAt', 'giniIndex', 'dcgAt', 'bootstrapCI', 'pairedDifference', 'runExperiment',
    'executeStudy', 'STUDIES', 'worldToLog', 'explainItem', 'DataError', 'VERSION',
  ]) {
    assert.ok(names.includes(n), `personae exports ${n}`);
  }
});
