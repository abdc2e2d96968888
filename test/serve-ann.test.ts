/**
 * Per-persona ANN retrieval in the service (src/serve/ann-retrieval.ts): with retrieval forced on
 * over a small persona model, the served answers are the exact engine's whenever each persona
 * retrieves the whole catalogue (and the normaliser sample covers it), through exclusions, muted and
 * boosted personas, new items, deleted items, category filters and sessions; with a small pool the
 * items that must stay reachable (new items' peers, a category's candidates) are scored exactly;
 * each model version builds its own index, in `warm`; below the size nothing changes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/math/rng.js';
import { PersonaModel } from '../src/models/personas.js';
import { PersonaRetriever } from '../src/models/persona-ann.js';
import { Engine } from '../src/serve/engine.js';
import { isAnnRow, type ServeAnnOptions } from '../src/serve/ann-retrieval.js';
import { parseServeConfig } from '../src/serve/config.js';
import type { LiveData } from '../src/serve/live.js';
import { extractPositives } from '../src/data/split.js';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { worldToLog } from '../src/synth/world.js';
import { liveFromTraining } from './serve-live.js';

const { log } = worldToLog({ users: 200, items: 150, categories: 5, meanInteractions: 40, seed: 11 });
const positives = extractPositives(log, 4);
const train = trainSetFromPairs(log.users.size, log.items.size, positives.user, positives.item, log.items.ranks(), log.categories);
const model = new PersonaModel({ epochs: 10, warmEpochs: 1, dim: 8, k: 3, itemsPerPersona: 4 });
await model.fit(train, { rng: new Rng(5).derive('model', 'personas'), threads: 1 });
const nCand = model.candidateItems().length;

/** Each persona retrieves the whole catalogue; the normaliser sample is the whole catalogue. */
const COVERING: ServeAnnOptions = { minItems: 1, retrieval: { perPersona: log.items.size } };
const EXACT: ServeAnnOptions = { minItems: 0 };

/** An engine serving `m` over `live`, warmed, its index (if any) ready. */
async function engineOf(m: PersonaModel, live: LiveData, feedbackSeq: number, ann: ServeAnnOptions, version = 1): Promise<Engine> {
  const meta = { items: log.items.toArray(), users: log.users.toArray(), feedbackSeq, erasureGen: 0 };
  const record = { version, name: 'personas', path: '', sha256: '', trainedAt: '', params: {}, feedbackSeq, evaluation: null };
  const e = new Engine({ record, model: m, meta, popularity: train.itemPopularity }, live, ann);
  e.warm();
  await e.ann.ready;
  assert.equal(e.ann.error, null);
  return e;
}

function liveData(): { live: LiveData; seq: number } {
  return liveFromTraining(log, train);
}

interface Item {
  id: string;
  score: number;
  explanation?: { persona: number } | null;
  [k: string]: unknown;
}
const itemsOf = (json: string): Item[] => (JSON.parse(json) as { items: Item[] }).items;

/** Same items in the same order, scores within float32 rounding, every other field equal. */
function assertSameAnswer(ann: string, exact: string, what: string): void {
  const a = JSON.parse(ann) as { items: Item[] };
  const b = JSON.parse(exact) as { items: Item[] };
  assert.deepEqual(a.items.map((x) => x.id), b.items.map((x) => x.id), `${what}: items`);
  for (let r = 0; r < a.items.length; r++) assert.ok(Math.abs(a.items[r]!.score - b.items[r]!.score) <= 1e-4, `${what}: score of ${a.items[r]!.id} ${a.items[r]!.score} vs ${b.items[r]!.score}`);
  const strip = (x: { items: Item[] }): unknown => ({ ...x, items: x.items.map(({ score: _s, ...rest }) => rest) });
  assert.deepEqual(strip(a), strip(b), what);
}

/** The score row of a user's cached state. */
const rowOf = (e: Engine, id: string): Float32Array | null => (e as unknown as { states: { peek(id: string): { scores: Float32Array | null } | undefined } }).states.peek(id)?.scores ?? null;

const multi = Array.from({ length: log.users.size }, (_, u) => u).filter((u) => model.personaCount(u) >= 2);
const opts = (n: number, explain = true) => ({ n, offset: 0, rerank: 'none', explain });

describe('ANN retrieval in the service', () => {
  it('covering the catalogue, every training user gets the exact top 20 with the same explanations, and the row is retrieved', async () => {
    const { live, seq } = liveData();
    const ann = await engineOf(model, live, seq, COVERING);
    const exact = await engineOf(model, live, seq, EXACT);
    assert.equal(ann.ann.active, true);
    assert.equal(exact.ann.active, false);
    let compared = 0;
    for (let u = 0; u < log.users.size; u++) {
      const id = log.users.id(u);
      assertSameAnswer(ann.recommendJson(id, opts(20)), exact.recommendJson(id, opts(20)), `user ${id}`);
      compared++;
    }
    assert.equal(compared, 200);
    const row = rowOf(ann, log.users.id(multi[0]!))!;
    assert.equal(isAnnRow(row), true);
    assert.equal(isAnnRow(rowOf(exact, log.users.id(multi[0]!))), false);
    // the pool is every candidate: the row is finite exactly there
    let finite = 0;
    for (const v of row) if (Number.isFinite(v)) finite++;
    assert.equal(finite, nCand);
  });

  it('exclusions, a muted and a boosted persona, a deleted item: the same lists as exact scoring, the muted persona explains nothing', async () => {
    const { live, seq } = liveData();
    const ann = await engineOf(model, live, seq, COVERING);
    const exact = await engineOf(model, live, seq, EXACT);
    // a user with two or more personas and explained items (not withheld for low confidence)
    const u = multi.find((x) => itemsOf(exact.recommendJson(log.users.id(x), opts(20))).filter((i) => i.explanation).length >= 2)!;
    const id = log.users.id(u);
    const before = itemsOf(ann.recommendJson(id, opts(10)));
    // a view excludes the top item
    live.applyFeedback([{ user: id, item: before[0]!.id, type: 'view', value: 1, ts: 0, seq: seq + 1 }]);
    const afterView = ann.recommendJson(id, opts(10));
    assert.ok(!itemsOf(afterView).some((x) => x.id === before[0]!.id));
    assertSameAnswer(afterView, exact.recommendJson(id, opts(10)), 'after a view');
    // mute the persona that explains the new top item, boost another
    const unmuted = itemsOf(ann.recommendJson(id, opts(20))).map((x) => x.id);
    const muted = itemsOf(afterView).find((x) => x.explanation)?.explanation?.persona ?? 0;
    live.users.get(id)!.overrides ??= new Map(); // the settings as read from a store holding none
    live.setOverride({ user: id, persona: muted, muted: true, boost: 1 });
    live.setOverride({ user: id, persona: (muted + 1) % model.personaCount(u), muted: false, boost: 2 });
    const afterMute = ann.recommendJson(id, opts(20));
    assertSameAnswer(afterMute, exact.recommendJson(id, opts(20)), 'muted and boosted');
    assert.equal(isAnnRow(rowOf(ann, id)), true);
    assert.notDeepEqual(itemsOf(afterMute).map((x) => x.id), unmuted);
    let explained = 0;
    for (const x of itemsOf(afterMute)) {
      assert.notEqual(x.explanation?.persona, muted);
      if (x.explanation) explained++;
    }
    assert.ok(explained > 0);
    // delete the new top item from the catalogue
    const top = itemsOf(afterMute)[0]!.id;
    live.deleteItem(top);
    const afterDelete = ann.recommendJson(id, opts(20));
    assert.ok(!itemsOf(afterDelete).some((x) => x.id === top));
    assertSameAnswer(afterDelete, exact.recommendJson(id, opts(20)), 'after a deletion');
  });

  it('a like (a recent persona), a category filter and a session: the same answers as exact scoring', async () => {
    const { live, seq } = liveData();
    const ann = await engineOf(model, live, seq, COVERING);
    const exact = await engineOf(model, live, seq, EXACT);
    const id = log.users.id(multi[1]!);
    // both engines read the user first (the confidence's next spread is a step from that read's fit)
    assertSameAnswer(ann.recommendJson(id, opts(30)), exact.recommendJson(id, opts(30)), 'before a like');
    const liked = itemsOf(exact.recommendJson(id, opts(30)))[25]!.id;
    live.applyFeedback([{ user: id, item: liked, type: 'like', value: 1, ts: 0, seq: seq + 1 }]);
    assertSameAnswer(ann.recommendJson(id, opts(20)), exact.recommendJson(id, opts(20)), 'after a like');
    assert.equal(isAnnRow(rowOf(ann, id)), true);
    const cat = log.categories!.names[2]!;
    assertSameAnswer(ann.recommendJson(id, { ...opts(10), category: cat }), exact.recommendJson(id, { ...opts(10), category: cat }), 'category');
    const hist = [log.items.id(3), log.items.id(17), log.items.id(40)];
    assertSameAnswer(JSON.stringify(ann.session(hist, 15, 'none', true)), JSON.stringify(exact.session(hist, 15, 'none', true)), 'session');
  });

  it('a small pool: a new item scores from its peers exactly as in exact scoring, and a category list is ranked over all of it', async () => {
    const { live, seq } = liveData();
    const small: ServeAnnOptions = { minItems: 1, retrieval: { perPersona: 3 } };
    const ann = await engineOf(model, live, seq, small);
    const exact = await engineOf(model, live, seq, EXACT);
    // a user the model was not trained on, with three likes: a pool of a few items per persona
    const id = 'fresh-user';
    live.applyFeedback([3, 17, 40].map((i, r) => ({ user: id, item: log.items.id(i), type: 'like', value: 1, ts: 0, seq: seq + 1 + r })));
    const cat = log.categories!.names[1]!;
    live.upsertItems([{ id: 'posted-after-training', title: 'new', categories: [cat] }]);
    const n = 1000;
    const a = itemsOf(ann.recommendJson(id, opts(n, false)));
    const e = itemsOf(exact.recommendJson(id, opts(n, false)));
    const fa = a.find((x) => x.id === 'posted-after-training');
    const fe = e.find((x) => x.id === 'posted-after-training');
    assert.ok(fe && Number.isFinite(fe.score));
    assert.ok(fa, 'the new item is in the retrieved list');
    assert.ok(Math.abs(fa.score - fe.score) <= 1e-4, `${fa.score} vs ${fe.score}`);
    // the pool is small: the row is finite over a few dozen items (the pool and the new item's peers)
    let finite = 0;
    for (const v of rowOf(ann, id)!) if (Number.isFinite(v)) finite++;
    assert.ok(finite < nCand / 2, `${finite} of ${nCand}`);
    // a category filter scores every candidate of the category: the exact category list
    // (another category than the new item's, whose peers are that category's most popular items)
    const other = log.categories!.names[3]!;
    const catA = ann.recommendJson(id, { ...opts(15, false), category: other });
    const catE = exact.recommendJson(id, { ...opts(15, false), category: other });
    assertSameAnswer(catA, catE, 'category over a small pool');
    // match: the unscored candidates counted from the normaliser sample, here all of them: exact
    // every listed item (the hedged list of this low-confidence user takes some from each persona's
    // own ranking, outside the pool) has the exact score and match: the unscored candidates are
    // counted from the normaliser sample, here all of them
    assert.equal((JSON.parse(ann.recommendJson(id, opts(40, false))) as { hedged: boolean }).hedged, true);
    const exactOf = new Map(e.map((x) => [x.id, x]));
    for (const x of a.slice(0, 40)) {
      assert.ok(Math.abs(x.score - exactOf.get(x.id)!.score) <= 1e-4, `score of ${x.id}: ${x.score} vs ${exactOf.get(x.id)!.score}`);
      assert.equal(x.match, exactOf.get(x.id)!.match, `match of ${x.id}`);
    }
  });

  it('warm builds the index on a worker thread: reads are exact until it is ready, then retrieved; the graph is the one a build here gives', async () => {
    const { live, seq } = liveData();
    const meta = { items: log.items.toArray(), users: log.users.toArray(), feedbackSeq: seq, erasureGen: 0 };
    const record = { version: 1, name: 'personas', path: '', sha256: '', trainedAt: '', params: {}, feedbackSeq: seq, evaluation: null };
    const e = new Engine({ record, model, meta, popularity: train.itemPopularity }, live, COVERING);
    e.warm();
    const [first, second] = [log.users.id(multi[0]!), log.users.id(multi[1]!)];
    e.recommendJson(first, opts(10));
    assert.equal(e.ann.retriever, null);
    assert.equal(e.ann.state, 'building'); // what /readyz reports
    assert.equal(isAnnRow(rowOf(e, first)), false);
    await e.ann.ready;
    assert.equal(e.ann.error, null);
    assert.equal(e.ann.state, 'ready');
    e.recommendJson(second, opts(10));
    assert.equal(isAnnRow(rowOf(e, second)), true);
    const here = new PersonaRetriever(model, COVERING.retrieval);
    const d = model.dim;
    for (const u of multi.slice(0, 5)) {
      const p = model.personaVectors(u);
      const q = new Float32Array(d + 1);
      q.set(p.subarray(0, d));
      q[d] = 1;
      assert.deepEqual(e.ann.retriever!.index.search(q, 30), here.index.search(q, 30));
    }
  });

  it('each model version builds its own index in warm; below the size nothing is built and the answers are bit-identical', async () => {
    const { live, seq } = liveData();
    const v1 = await engineOf(model, live, seq, COVERING, 1);
    const model2 = PersonaModel.fromArtifact(model.toArtifact());
    const v2 = await engineOf(model2, live, seq, COVERING, 2);
    assert.ok(v1.ann.retriever && v2.ann.retriever);
    assert.notEqual(v1.ann.retriever, v2.ann.retriever);
    assert.equal(v1.ann.retriever.model, model);
    assert.equal(v2.ann.retriever.model, model2);
    assert.equal(v2.ann.retriever.index.size, nCand);
    // the default size (20,000 candidates) is far above this catalogue: no index, exact answers
    const byDefault = await engineOf(model, live, seq, {});
    const off = await engineOf(model, live, seq, EXACT);
    assert.equal(byDefault.ann.active, false);
    assert.equal(byDefault.ann.retriever, null);
    assert.equal(byDefault.ann.state, 'off');
    for (const u of multi.slice(0, 5)) assert.equal(byDefault.recommendJson(log.users.id(u), opts(10)), off.recommendJson(log.users.id(u), opts(10)));
  });

  it('annMinItems in the config file: a count from 0, else an error naming the key', () => {
    assert.equal(parseServeConfig({ annMinItems: 1 }, 'c.json').annMinItems, 1);
    assert.throws(() => parseServeConfig({ annMinItems: -1 }, 'c.json'), /annMinItems/);
  });
});
