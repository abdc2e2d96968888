/**
 * Per-persona ANN retrieval (src/models/ann.ts, src/models/persona-ann.ts; docs/scale.md): the
 * Euclidean transform by hand, the HNSW index against brute force on seeded vectors, and the
 * persona retriever against exact scoring on a seeded world (recall of the top 100; the reranked
 * scores equal the model's when the normaliser is exact).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { makeSplit } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { AnnIndex, euclideanTransform } from '../src/models/ann.js';
import { singleUserBatch } from '../src/models/model.js';
import { PersonaRetriever, useAnn, DEFAULT_ANN_MIN_ITEMS } from '../src/models/persona-ann.js';
import { PersonaModel } from '../src/models/personas.js';
import { worldToLog } from '../src/synth/world.js';
import { exactTop } from '../bench/ann.js';
import { batchScorer } from '../src/cli/ann-scoring.js';
import { ItemKnn } from '../src/models/itemknn.js';

function bruteTop(vectors: Float32Array, dim: number, q: Float32Array, n: number): number[] {
  const rows = vectors.length / dim;
  const s = Array.from({ length: rows }, (_, r) => {
    let x = 0;
    for (let k = 0; k < dim; k++) x += q[k]! * vectors[r * dim + k]!;
    return x;
  });
  return Array.from({ length: rows }, (_, r) => r).sort((a, b) => s[b]! - s[a]! || a - b).slice(0, n);
}

describe('the Euclidean transform (inner product to distance)', () => {
  it('appends sqrt(M^2 - |x|^2), M the largest norm', () => {
    const out = euclideanTransform(Float32Array.of(3, 4, 1, 0, 0, 0), 3, 2);
    assert.deepEqual(Array.from(out), [3, 4, 0, 1, 0, Math.fround(Math.sqrt(24)), 0, 0, 5]);
  });

  it('orders items by distance to [q, 0] exactly as by inner product with q', () => {
    const rng = new Rng(3);
    const v = Float32Array.from({ length: 50 * 4 }, () => rng.normal() * (1 + rng.next()));
    const t = euclideanTransform(v, 50, 4);
    const q = Float32Array.from({ length: 4 }, () => rng.normal());
    const dist = (r: number): number => {
      let s = 0;
      for (let k = 0; k < 5; k++) s += ((k < 4 ? q[k]! : 0) - t[r * 5 + k]!) ** 2;
      return s;
    };
    const byDist = Array.from({ length: 50 }, (_, r) => r).sort((a, b) => dist(a) - dist(b) || a - b).slice(0, 10);
    assert.deepEqual(byDist, bruteTop(v, 4, q, 10));
  });
});

describe('AnnIndex', () => {
  const rng = new Rng(1);
  const n = 3000;
  const d = 17;
  // vectors of unequal lengths, like item vectors with a bias coordinate
  const v = Float32Array.from({ length: n * d }, (_, x) => rng.normal() * (x % d === d - 1 ? 3 : 1));
  const items = Int32Array.from({ length: n }, (_, i) => i);

  it('finds at least 95% of the true top 50 by inner product (mean over 30 seeded queries), deterministically', () => {
    const a = new AnnIndex(items, v, d);
    const b = new AnnIndex(items, v, d);
    let recall = 0;
    for (let t = 0; t < 30; t++) {
      const q = Float32Array.from({ length: d }, () => rng.normal());
      const truth = new Set(bruteTop(v, d, q, 50));
      const got = a.search(q, 50);
      assert.equal(got.length, 50);
      assert.deepEqual(Array.from(b.search(q, 50)), Array.from(got), 'a second build answers the same');
      recall += got.filter((j) => truth.has(j)).length / 50;
    }
    assert.ok(recall / 30 >= 0.95, `recall ${recall / 30}`);
  });

  it('returns item keys, at most the index size, and rejects a query of the wrong width', () => {
    const small = new AnnIndex(Int32Array.of(7, 9, 12), Float32Array.of(1, 0, 0, 1, 1, 1), 2);
    assert.deepEqual(Array.from(small.search(Float32Array.of(1, 1), 10)).sort((x, y) => x - y), [7, 9, 12]);
    assert.equal(small.search(Float32Array.of(1, 1), 1)[0], 12);
    assert.throws(() => small.search(Float32Array.of(1, 1, 1), 1), /query has 3 values, the index 2/);
    assert.throws(() => new AnnIndex(Int32Array.of(1), Float32Array.of(1, 2, 3), 2), /3 vector values for 1 items x 2/);
  });

  it('useAnn switches at the catalogue size, and 0 turns retrieval off', () => {
    assert.equal(useAnn(DEFAULT_ANN_MIN_ITEMS - 1), false);
    assert.equal(useAnn(DEFAULT_ANN_MIN_ITEMS), true);
    assert.equal(useAnn(10, 10), true);
    assert.equal(useAnn(1e9, 0), false);
  });
});

describe('PersonaRetriever on a seeded world', () => {
  const split = makeSplit(worldToLog({ seed: 9, users: 300, items: 800, categories: 8, meanInteractions: 40 }).log, { seed: 9 });
  const train = split.train;
  const model = new PersonaModel({ dim: 16, epochs: 4, warmEpochs: 1, negatives: 100 });
  const users: number[] = [];
  before(async () => {
    await model.fit(train, { rng: new Rng(5), threads: 1 });
    for (let u = 0; u < train.nUsers && users.length < 60; u++) if (model.personaCount(u) > 0) users.push(u);
  });
  const history = (u: number): Int32Array => train.userItems.indices.slice(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!);

  it('reranks with the model score itself when the normaliser is exact', () => {
    const r = new PersonaRetriever(model, { perPersona: 40 });
    assert.ok(r.exactNormaliser, `${model.candidateItems().length} candidates are within the default sample`);
    const full = new Float32Array(train.nItems);
    const row = new Float32Array(train.nItems);
    let multi = 0;
    for (const u of users) {
      const h = history(u);
      model.scoreBatch(singleUserBatch(u, h), full);
      const pool = r.scoreRow(u, h, row);
      assert.ok(pool >= 40 && pool <= model.candidateItems().length);
      let seen = 0;
      for (let j = 0; j < train.nItems; j++) {
        if (row[j] === -Infinity) continue;
        seen++;
        assert.ok(Math.abs(row[j]! - full[j]!) <= 1e-4 * Math.max(1, Math.abs(full[j]!)), `user ${u} item ${j}: ${row[j]} vs ${full[j]}`);
      }
      assert.equal(seen, pool);
      if (model.personaCount(u) > 1) multi++;
    }
    assert.ok(multi >= 10, `${multi} probed users have several personas`);
  });

  it('recall@100 of retrieval + rerank against exact scoring is at least 0.95 (exact and sampled normaliser)', () => {
    const full = new Float32Array(train.nItems);
    for (const normaliserSample of [4096, 200]) {
      const r = new PersonaRetriever(model, { perPersona: 150, normaliserSample });
      assert.equal(r.exactNormaliser, normaliserSample >= model.candidateItems().length);
      let sum = 0;
      for (const u of users) {
        const h = history(u);
        model.scoreBatch(singleUserBatch(u, h), full);
        const exact = new Set(exactTop(full, model.candidateItems(), h, 100));
        const got = r.recommend(u, h, 100);
        assert.equal(got.items.length, 100);
        for (let x = 1; x < got.scores.length; x++) assert.ok(got.scores[x - 1]! >= got.scores[x]!, 'best first');
        for (const j of got.items) assert.ok(!h.includes(j), `history item ${j} listed`);
        sum += got.items.filter((j) => exact.has(j)).length / 100;
      }
      assert.ok(sum / users.length >= 0.95, `sample ${normaliserSample}: recall@100 ${sum / users.length}`);
    }
  });

  it('a fold-in history (user -1) retrieves like the training user with that history', () => {
    const r = new PersonaRetriever(model, { perPersona: 60 });
    const u = users[0]!;
    const h = history(u);
    const a = r.recommend(u, h, 20);
    const b = r.recommend(-1, h, 20);
    assert.deepEqual(Array.from(b.items), Array.from(a.items));
    const none = r.recommend(-1, new Int32Array(0), 5);
    assert.equal(none.items.length, 5);
    assert.deepEqual(Array.from(none.scores), Array.from(none.items, (j) => Math.fround(model.itemBias(j))), 'no history: the bias alone');
  });

  it('the CLI scorer (--ann-min-items) retrieves at or above the threshold and scores every candidate below it', () => {
    const nItems = train.nItems;
    const nc = model.candidateItems().length;
    const h = history(users[0]!);
    const batch = { users: Int32Array.of(users[0]!), indptr: Int32Array.of(0, h.length), items: h };
    const exact = batchScorer(model, nc, nc + 1);
    const ann = batchScorer(model, nc, nc);
    assert.equal(exact.ann, false);
    assert.equal(ann.ann, true);
    assert.equal(batchScorer(model, nc, 0).ann, false, '0 turns it off');
    assert.equal(batchScorer(new ItemKnn(), nc, 1).ann, false, 'only persona models retrieve');
    const a = new Float32Array(nItems);
    const b = new Float32Array(nItems);
    exact.score(batch, a, nItems);
    ann.score(batch, b, nItems);
    const want = new Float32Array(nItems);
    new PersonaRetriever(model).scoreRow(users[0]!, h, want);
    assert.deepEqual(b, want);
    const finite = Array.from(b).filter(Number.isFinite).length;
    assert.ok(finite > 0 && finite < nc, `${finite} retrieved of ${nc}`);
    assert.equal(Array.from(a).filter(Number.isFinite).length, nc);
  });
});
