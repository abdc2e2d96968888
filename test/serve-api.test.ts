/**
 * The HTTP API on a small synthetic world: shapes, the bad-input matrix (each case gets the right
 * 4xx with a message naming the field, never a stack), API keys, online fold-in, persona mute and
 * boost, training jobs with an atomic swap, and the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTrainSet, extractPositives } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import { startService, type RunningService } from '../src/serve/index.js';
import { Personas, Recommendations } from '../src/serve/schemas.js';
import { worldToLog } from '../src/synth/world.js';
import { request, serveWorld, type Answer, type CallOptions } from './service-helpers.js';

const KEY = 'test-admin-key';
let svc: RunningService;

const call = (method: string, path: string, opts: CallOptions = {}): Promise<Answer> => request(svc.url, method, path, { ...opts, key: opts.key === undefined ? KEY : opts.key });

const errMessage = (r: { json: Record<string, unknown> }): string => ((r.json.error as { message?: string } | undefined)?.message ?? '');

interface RecItem {
  id: string;
  categories: string[];
  explanation?: { persona: number; label: string; weights: number[]; anchors: { id: string; title: string }[] } | null;
  explanationWithheld?: string;
  /** A hedged list's filler: why it is there (explanation null). */
  reason?: string;
}
const explainedOrWithheld = (i: RecItem): boolean => (i.explanation ? true : i.explanation === null && typeof (i.explanationWithheld ?? i.reason) === 'string');
interface PersonaJson {
  index: number;
  share: number;
  label: string;
  muted: boolean;
  boost: number;
}

before(async () => {
  svc = await serveWorld(
    { users: 200, items: 300, categories: 10, meanInteractions: 40, seed: 7, itemCategoryCounts: [0.7, 0.3, 0], noise: 0.02 },
    { modelParams: { epochs: 20, warmEpochs: 5, dim: 16 }, apiKey: KEY, bodyLimit: 64 * 1024 },
  );
});

after(async () => {
  await svc.close();
});

describe('service API', () => {
  it('health, readiness, metrics and the OpenAPI document', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json.model, { name: 'personas', version: 1 });
    const doc = await call('GET', '/openapi.json');
    assert.equal(doc.json.openapi, '3.1.0');
    const paths = doc.json.paths as Record<string, Record<string, { parameters?: { name: string }[] }>>;
    assert.ok(paths['/v1/users/{id}/recommendations']!.get!.parameters!.some((p) => p.name === 'rerank'));
    assert.ok(paths['/v1/feedback']!.post);
    const m = await call('GET', '/metrics');
    assert.match(m.text, /personae_http_request_duration_seconds_bucket\{method="GET",route="\/readyz",le="0.005"\}/);
    assert.match(m.text, /personae_model_version\{name="personas"\} 1/);
    assert.match(m.text, /personae_items 300/);
  });

  it('lists users with interaction counts and their feedback', async () => {
    const r = await call('GET', '/v1/users?limit=5&offset=2');
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 200);
    const users = r.json.users as { id: string; interactions: number }[];
    assert.equal(users.length, 5);
    assert.ok(users.every((u) => typeof u.id === 'string' && u.interactions > 0));
    const f = await call('GET', `/v1/users/${users[0]!.id}/feedback`);
    const fb = f.json.feedback as { item: string; title: string; categories: string[]; type: string; value: number; ts: string }[];
    assert.equal(fb.length, users[0]!.interactions);
    assert.equal(fb[0]!.type, 'rating');
    assert.ok(fb[0]!.title.length > 0 && Array.isArray(fb[0]!.categories));
    assert.match(fb[0]!.ts, /^\d{4}-\d\d-\d\dT/);
  });

  it('recommends with explanations, excluding what the user has seen', async () => {
    const r = await call('GET', '/v1/users/1/recommendations?n=10&explain=true');
    assert.equal(r.status, 200);
    assert.equal(r.json.user, '1');
    assert.equal(r.json.coldStart, false);
    assert.deepEqual(r.json.model, { name: 'personas', version: 1 });
    const items = r.json.items as RecItem[];
    assert.equal(items.length, 10);
    const seen = new Set(((await call('GET', '/v1/users/1/feedback')).json.feedback as { item: string }[]).map((f) => f.item));
    for (const it of items) {
      assert.ok(!seen.has(it.id), `item ${it.id} was already seen`);
      if (it.explanation === null) {
        // withheld when the explaining persona is uncertain, or a hedged list's filler: with the reason
        const why = it.explanationWithheld ?? it.reason;
        assert.ok(typeof why === 'string' && why.length > 0);
        continue;
      }
      assert.ok(it.explanation);
      assert.ok(it.explanation.label.length > 0);
      assert.ok(it.explanation.anchors.length > 0 && it.explanation.anchors.every((a) => seen.has(a.id)));
      assert.ok(Math.abs(it.explanation.weights.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    }
    // paging: offset 5 continues the list
    const page = await call('GET', '/v1/users/1/recommendations?n=5&offset=5');
    assert.deepEqual(
      (page.json.items as RecItem[]).map((i) => i.id),
      items.slice(5).map((i) => i.id),
    );
    // category filter and exclusions
    const cat = items[0]!.categories[0]!;
    const byCat = await call('GET', `/v1/users/1/recommendations?n=5&category=${encodeURIComponent(cat)}&exclude=${items[0]!.id}`);
    const catItems = byCat.json.items as RecItem[];
    assert.ok(catItems.length > 0 && catItems.every((i) => i.categories.includes(cat) && i.id !== items[0]!.id));
    // reranking is reported and changes the mix
    const cal = await call('GET', '/v1/users/1/recommendations?n=10&rerank=calibrated:0.9');
    assert.match(String(cal.json.rerank), /^calibrated/);
  });

  it('answers an unknown user with a flagged cold-start list', async () => {
    const r = await call('GET', '/v1/users/nobody-yet/recommendations?n=8');
    assert.equal(r.status, 200);
    assert.equal(r.json.coldStart, true);
    const items = r.json.items as RecItem[];
    assert.equal(items.length, 8);
    // diverse: the 8 items span more than 2 categories
    assert.ok(new Set(items.flatMap((i) => i.categories)).size > 2);
    const p = await call('GET', '/v1/users/nobody-yet/personas');
    assert.deepEqual(p.json, { user: 'nobody-yet', confidence: 0, personas: [] });
  });

  it('taste mix, similar items, sessions, models', async () => {
    const t = await call('GET', '/v1/users/1/taste-mix?n=20&rerank=calibrated:0.5');
    const cats = t.json.categories as string[];
    const h = t.json.history as number[];
    const l = t.json.list as number[];
    assert.equal(cats.length, 10);
    assert.equal(h.length, 10);
    assert.ok(Math.abs(h.reduce((a, b) => a + b, 0) - 1) < 1e-3 && Math.abs(l.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    const sim = await call('GET', '/v1/items/5/similar?n=4');
    assert.equal((sim.json.items as RecItem[]).length, 4);
    assert.ok((sim.json.items as RecItem[]).every((i) => i.id !== '5'));
    const sess = await call('POST', '/v1/sessions/recommend', { body: { items: ['5', '6', '7'], n: 5, explain: true } });
    assert.equal(sess.status, 200);
    const sItems = sess.json.items as RecItem[];
    assert.equal(sItems.length, 5);
    assert.ok(sItems.every((i) => !['5', '6', '7'].includes(i.id) && explainedOrWithheld(i)));
    const models = await call('GET', '/v1/models');
    const active = models.json.active as { name: string; version: number; params: Record<string, unknown> };
    assert.equal(active.name, 'personas');
    assert.equal(active.params.epochs, 20);
    assert.equal((await call('GET', '/v1/evaluation')).status, 404);
  });

  it('offset pages of a plain list are slices of one cached deeper list', async () => {
    const lists = svc.state.engine!.lists;
    const ids = async (q: string): Promise<string[]> => {
      const r = await call('GET', `/v1/users/3/recommendations?hedge=false&${q}`);
      assert.equal(r.status, 200, r.text);
      return (r.json.items as RecItem[]).map((i) => i.id);
    };
    const before = { hits: lists.hits, misses: lists.misses };
    const page1 = await ids('n=10&offset=0');
    assert.deepEqual([lists.hits - before.hits, lists.misses - before.misses], [0, 1], 'the first page computes the list (100 deep)');
    const page2 = await ids('n=10&offset=10&explain=true');
    assert.deepEqual([lists.hits - before.hits, lists.misses - before.misses], [1, 1], 'the second page is a slice of the cached list');
    const both = await ids('n=20');
    assert.deepEqual([lists.hits - before.hits, lists.misses - before.misses], [2, 1]);
    assert.deepEqual(both, [...page1, ...page2]);
    // deeper than the cached list: computed again (200 deep), and its head is the same pages
    const deep = await ids('n=120&offset=0');
    assert.deepEqual([lists.hits - before.hits, lists.misses - before.misses], [2, 2]);
    assert.equal(deep.length, 120);
    assert.deepEqual(deep.slice(0, 20), both);
    assert.equal(new Set(deep).size, 120);
  });

  it('bad input: each case gets the right 4xx naming the field, without a stack', async () => {
    const cases: { name: string; r: Promise<Awaited<ReturnType<typeof call>>>; status: number; message: RegExp }[] = [
      { name: 'malformed JSON', r: call('POST', '/v1/feedback', { raw: '{"feedback": [' }), status: 400, message: /malformed JSON/ },
      { name: 'unknown top-level field', r: call('POST', '/v1/feedback', { body: { feedback: [], extra: 1 } }), status: 400, message: /unknown field "extra"/ },
      {
        name: 'unknown nested field',
        r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', item: '1', type: 'like', colour: 'red' }] } }),
        status: 400,
        message: /feedback\[0\]: unknown field "colour"/,
      },
      { name: 'wrong type', r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', item: '1', type: 'like', value: 'x' }] } }), status: 400, message: /feedback\[0\]\.value/ },
      { name: 'missing field', r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', type: 'like' }] } }), status: 400, message: /feedback\[0\]\.item/ },
      { name: 'bad timestamp', r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', item: '1', type: 'like', timestamp: 'yesterday' }] } }), status: 400, message: /timestamp/ },
      { name: 'unknown feedback type', r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', item: '1', type: 'poke' }] } }), status: 400, message: /feedback\[0\]\.type: unknown type "poke"/ },
      { name: 'unknown item in feedback', r: call('POST', '/v1/feedback', { body: { feedback: [{ user: 'u', item: 'no-such-item', type: 'like' }] } }), status: 404, message: /no-such-item/ },
      { name: 'huge body', r: call('POST', '/v1/items', { raw: JSON.stringify([{ id: 'x', title: 'y'.repeat(100_000) }]) }), status: 413, message: /larger than the limit/ },
      { name: 'n = 1e9', r: call('GET', '/v1/users/1/recommendations?n=1000000000'), status: 400, message: /query\.n: must be <= 1000/ },
      { name: 'n not an integer', r: call('GET', '/v1/users/1/recommendations?n=1e9'), status: 400, message: /query\.n: must be an integer/ },
      { name: 'negative offset', r: call('GET', '/v1/users/1/recommendations?offset=-1'), status: 400, message: /query\.offset: must be >= 0/ },
      { name: 'negative list offset', r: call('GET', '/v1/users?offset=-5'), status: 400, message: /query\.offset/ },
      { name: 'unknown query parameter', r: call('GET', '/v1/users/1/recommendations?count=3'), status: 400, message: /unknown field "count"/ },
      { name: 'bad reranker', r: call('GET', '/v1/users/1/recommendations?rerank=calibrated:7'), status: 400, message: /rerank/ },
      { name: 'unknown category', r: call('GET', '/v1/users/1/recommendations?category=Polka'), status: 400, message: /query\.category: unknown category "Polka"/ },
      { name: 'bad boolean', r: call('GET', '/v1/users/1/recommendations?explain=maybe'), status: 400, message: /query\.explain/ },
      { name: 'unknown item', r: call('GET', '/v1/items/no-such-item'), status: 404, message: /no-such-item/ },
      { name: 'unknown item similar', r: call('GET', '/v1/items/no-such-item/similar'), status: 404, message: /no-such-item/ },
      { name: 'delete unknown user', r: call('DELETE', '/v1/users/no-such-user'), status: 404, message: /no-such-user/ },
      { name: 'unknown user feedback', r: call('GET', '/v1/users/no-such-user/feedback'), status: 404, message: /no-such-user/ },
      { name: 'unknown persona', r: call('PATCH', '/v1/users/1/personas/40', { body: { muted: true } }), status: 404, message: /no persona 40/ },
      { name: 'bad persona patch', r: call('PATCH', '/v1/users/1/personas/0', { body: { boost: -1 } }), status: 400, message: /body\.boost/ },
      { name: 'unknown job', r: call('GET', '/v1/jobs/nope'), status: 404, message: /nope/ },
      { name: 'unknown session item', r: call('POST', '/v1/sessions/recommend', { body: { items: ['zz'] } }), status: 404, message: /items\[0\]/ },
      { name: 'unknown route', r: call('GET', '/v2/things'), status: 404, message: /no route/ },
      { name: 'missing key', r: call('POST', '/v1/items', { body: [{ id: 'k1' }], key: null }), status: 401, message: /missing API key/ },
      { name: 'wrong key', r: call('POST', '/v1/items', { body: [{ id: 'k1' }], key: 'wrong' }), status: 403, message: /not valid/ },
      { name: 'wrong key on train', r: call('POST', '/v1/models/train', { body: {}, key: 'wrong' }), status: 403, message: /not valid/ },
      { name: 'unknown model', r: call('POST', '/v1/models/train', { body: { model: 'magic' } }), status: 400, message: /body\.model: unknown model "magic"/ },
      { name: 'bad evaluate spec', r: call('POST', '/v1/models/train', { body: { model: 'pop', evaluate: ['ease:lambda=-1'] } }), status: 400, message: /body\.evaluate\[0\]: "ease:lambda=-1": lambda/ },
      { name: 'repeated evaluate spec', r: call('POST', '/v1/models/train', { body: { model: 'pop', evaluate: ['ease', 'ease'] } }), status: 400, message: /body\.evaluate: "ease" is listed twice/ },
    ];
    for (const c of cases) {
      const r = await c.r;
      assert.equal(r.status, c.status, `${c.name}: status ${r.status} ${r.text}`);
      assert.match(errMessage(r), c.message, `${c.name}: ${r.text}`);
      assert.doesNotMatch(r.text, /\n\s+at |stack/, `${c.name}: leaks a stack`);
    }
  });

  it('read keys cannot write; keys are created by an admin', async () => {
    const k = await call('POST', '/v1/keys', { body: { scope: 'read', label: 'dashboard' } });
    assert.equal(k.status, 200);
    const readKey = String(k.json.key);
    const w = await call('POST', '/v1/items', { body: [{ id: 'k2' }], key: readKey });
    assert.equal(w.status, 403);
    assert.match(errMessage(w), /scope "write"/);
    // reads need a key whenever keys exist (no --public-reads here); a read key reads
    const anon = await call('GET', '/v1/items/1', { key: null });
    assert.equal(anon.status, 401);
    assert.match(errMessage(anon), /missing API key/);
    assert.equal((await call('GET', '/v1/items/1', { key: readKey })).status, 200);
    assert.equal((await call('GET', '/v1/users/1/feedback', { key: readKey })).status, 200);
  });

  it('bulk items and users: JSON array, wrapped, and JSONL', async () => {
    const a = await call('POST', '/v1/items', { body: [{ id: 'new-1', title: 'New one', categories: ['Fresh'] }] });
    assert.deepEqual(a.json, { upserted: 1 });
    const b = await call('POST', '/v1/items', { raw: '{"id":"new-2","title":"New two"}\n\n{"id":"new-3"}\n', type: 'application/x-ndjson' });
    assert.deepEqual(b.json, { upserted: 2 });
    assert.deepEqual((await call('GET', '/v1/items/new-3')).json, { id: 'new-3', title: 'new-3', categories: [] });
    const bad = await call('POST', '/v1/items', { raw: '{"id":"ok"}\n{oops\n', type: 'application/x-ndjson' });
    assert.equal(bad.status, 400);
    assert.match(errMessage(bad), /line 2/);
    const u = await call('POST', '/v1/users', { body: { users: [{ id: 'fresh-user', attributes: { plan: 'pro' } }] } });
    assert.deepEqual(u.json, { upserted: 1 });
    assert.deepEqual((await call('GET', '/v1/users/fresh-user')).json, { id: 'fresh-user', attributes: { plan: 'pro' }, interactions: 0 });
    assert.equal((await call('DELETE', '/v1/items/new-3')).status, 200);
    assert.equal((await call('GET', '/v1/items/new-3')).status, 404);
    assert.equal((await call('DELETE', '/v1/users/fresh-user')).status, 200);
  });

  it('online fold-in: a like in a category the user never had shows up in personas and recommendations', async () => {
    // a user whose history has no item of some category C, and a popular single-category item of C
    const catalogue = new Map<string, string[]>();
    for (let i = 1; i <= 300; i++) catalogue.set(String(i), ((await call('GET', `/v1/items/${i}`)).json.categories as string[]) ?? []);
    const cats = (await call('GET', '/v1/users/1/taste-mix')).json.categories as string[];
    let target: { user: string; cat: string; item: string } | null = null;
    for (let u = 1; u <= 200 && !target; u++) {
      const fb = (await call('GET', `/v1/users/${u}/feedback`)).json.feedback as { item: string; categories: string[] }[];
      if (fb.length < 25) continue;
      const had = new Set(fb.flatMap((f) => f.categories));
      const missing = cats.find((c) => !had.has(c));
      if (!missing) continue;
      const item = [...catalogue].find(([, cs]) => cs.length === 1 && cs[0] === missing);
      if (item) target = { user: String(u), cat: missing, item: item[0] };
    }
    assert.ok(target, 'the world has a user missing a category');
    const { user, cat, item } = target;
    const before = (await call('GET', `/v1/users/${user}/personas`)).json.personas as PersonaJson[];
    assert.ok(before.every((p) => !p.label.includes(cat)));
    const recBefore = (await call('GET', `/v1/users/${user}/recommendations?n=10`)).json.items as RecItem[];
    const countBefore = recBefore.filter((i) => i.categories.includes(cat)).length;
    const ack = await call('POST', '/v1/feedback', { body: { feedback: [{ user, item, type: 'like', timestamp: '2026-01-01T00:00:00Z' }] } });
    assert.equal(ack.status, 200);
    assert.equal(ack.json.accepted, 1);
    const afterP = (await call('GET', `/v1/users/${user}/personas`)).json.personas as PersonaJson[];
    assert.equal(afterP.length, before.length + 1, 'a new persona from the fold-in');
    assert.ok(afterP.some((p) => p.label.includes(cat)), `personas after: ${afterP.map((p) => p.label).join(', ')}`);
    const recAfter = (await call('GET', `/v1/users/${user}/recommendations?n=10&explain=true`)).json.items as RecItem[];
    const countAfter = recAfter.filter((i) => i.categories.includes(cat)).length;
    assert.ok(countAfter >= 1 && countAfter > countBefore, `category ${cat}: ${countBefore} -> ${countAfter}; ${JSON.stringify(afterP)} ${JSON.stringify(recAfter.map((i) => [i.categories, i.explanation?.persona]))}`);
    assert.ok(recAfter.every((i) => i.id !== item), 'the liked item is not recommended back');
  });

  it('muting a persona changes the next recommendations; boost is stored', async () => {
    const p = (await call('GET', '/v1/users/2/personas')).json.personas as PersonaJson[];
    assert.ok(p.length >= 1);
    const before = ((await call('GET', '/v1/users/2/recommendations?n=10&explain=true')).json.items as RecItem[]).map((i) => i.id);
    const top = [...p].sort((a, b) => b.share - a.share)[0]!;
    const r = await call('PATCH', `/v1/users/2/personas/${top.index}`, { body: { muted: true } });
    assert.equal(r.status, 200);
    assert.equal((r.json.personas as PersonaJson[])[top.index]!.muted, true);
    const after = ((await call('GET', '/v1/users/2/recommendations?n=10')).json.items as RecItem[]).map((i) => i.id);
    assert.notDeepEqual(after, before);
    const b = await call('PATCH', `/v1/users/2/personas/${top.index}`, { body: { muted: false, boost: 3 } });
    const again = (b.json.personas as PersonaJson[])[top.index]!;
    assert.equal(again.muted, false);
    assert.equal(again.boost, 3);
  });

  it('hedges a tiny-history user with reasons, not the heaviest user; hedge=false gives the plain list', async () => {
    // a new user with three likes: low confidence, a hedged list that says why
    const likes = ['11', '12', '13'];
    const ack = await call('POST', '/v1/feedback', { body: { feedback: likes.map((item) => ({ user: 'tiny-history', item, type: 'like', timestamp: '2026-01-02T00:00:00Z' })) } });
    assert.equal(ack.status, 200);
    const tiny = await call('GET', '/v1/users/tiny-history/recommendations?n=10&explain=true');
    assert.equal(tiny.status, 200);
    assert.equal(tiny.json.coldStart, false);
    assert.equal(tiny.json.hedged, true);
    const conf = tiny.json.confidence as number;
    assert.ok(conf >= 0 && conf < 0.5, `confidence ${conf}`);
    const reasons = tiny.json.hedgeReasons as string[];
    assert.ok(reasons.includes('only 3 interactions'), reasons.join('; '));
    assert.match(reasons[0]!, /^low confidence \(0\.\d\d < 0\.5\)$/);
    const hedgedIds = (tiny.json.items as RecItem[]).map((i) => i.id);
    assert.equal(hedgedIds.length, 10);
    assert.ok(hedgedIds.every((id) => !likes.includes(id)));
    // every item explained or withheld with a reason
    assert.ok((tiny.json.items as RecItem[]).every(explainedOrWithheld));
    // the schema the OpenAPI document is generated from validates the answer
    assert.ok(Recommendations.safeParse(tiny.json).success, JSON.stringify(Recommendations.safeParse(tiny.json).error?.issues));
    // hedge=false: the plain top-n by score, not flagged
    const plain = await call('GET', '/v1/users/tiny-history/recommendations?n=10&hedge=false');
    assert.equal(plain.json.hedged, false);
    assert.equal(plain.json.hedgeReasons, undefined);
    assert.equal(plain.json.confidence, conf);
    const plainItems = plain.json.items as (RecItem & { score: number })[];
    assert.equal(plainItems.length, 10);
    for (let r = 1; r < plainItems.length; r++) assert.ok(plainItems[r - 1]!.score >= plainItems[r]!.score, 'the plain list is in score order');
    assert.notDeepEqual(plainItems.map((i) => i.id), hedgedIds);
    // the hedged list holds items the plain top-10 does not (exploration)
    assert.ok(hedgedIds.some((id) => !plainItems.some((i) => i.id === id)));
    // paging the hedged list continues it
    const page = await call('GET', '/v1/users/tiny-history/recommendations?n=5&offset=5');
    assert.deepEqual((page.json.items as RecItem[]).map((i) => i.id), hedgedIds.slice(5));
    // personas carry the confidence too
    const tp = await call('GET', '/v1/users/tiny-history/personas');
    assert.equal(tp.json.confidence, conf);
    assert.ok(Personas.safeParse(tp.json).success);

    // heavy training users are more confident than the three-like user; the hedge follows the
    // threshold exactly, and a confident one (at or above 0.5) gets the plain list, not hedged
    const users = (await call('GET', '/v1/users?limit=1000')).json.users as { id: string; interactions: number }[];
    const heaviest = [...users].filter((u) => /^\d+$/.test(u.id)).sort((a, b) => b.interactions - a.interactions || Number(a.id) - Number(b.id)).slice(0, 5);
    assert.ok(heaviest[0]!.interactions >= 60);
    const answers = await Promise.all(heaviest.map((u) => call('GET', `/v1/users/${u.id}/recommendations?n=10`)));
    for (const a of answers) {
      const c = a.json.confidence as number;
      assert.ok(c > conf, `a heavy user's confidence ${c} is above the three-like user's ${conf}`);
      assert.equal(a.json.hedged, c < 0.5, `hedged exactly below the threshold (confidence ${c})`);
    }
    const confident = heaviest.findIndex((_, i) => (answers[i]!.json.confidence as number) >= 0.5);
    assert.ok(confident >= 0, `one of the five heaviest users reaches 0.5: ${answers.map((a) => String(a.json.confidence)).join(', ')}`);
    const h = answers[confident]!;
    assert.equal(h.json.hedgeReasons, undefined);
    const hp = await call('GET', `/v1/users/${heaviest[confident]!.id}/recommendations?n=10&hedge=false`);
    assert.deepEqual((hp.json.items as RecItem[]).map((i) => i.id), (h.json.items as RecItem[]).map((i) => i.id));
    assert.ok(Recommendations.safeParse(h.json).success);
    // the OpenAPI document has the flag and the new fields
    const doc = (await call('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, { content?: Record<string, { schema: { properties: Record<string, unknown> } }> }> }>> };
    const rec = doc.paths['/v1/users/{id}/recommendations']!.get!;
    assert.ok(rec.parameters!.some((p) => p.name === 'hedge'));
    const props = rec.responses['200']!.content!['application/json']!.schema.properties;
    for (const f of ['hedged', 'hedgeReasons', 'confidence']) assert.ok(f in props, f);
  });

  it('asks pairwise questions and recommends after each answer', async () => {
    const start = await call('POST', '/v1/onboarding', { body: { n: 5, seed: 3 } });
    assert.equal(start.status, 200, start.text);
    const id = String(start.json.id);
    let q = start.json.question as { a: { id: string }; b: { id: string } } | null;
    assert.ok(q && q.a.id !== q.b.id);
    assert.deepEqual(start.json.items, []);
    for (let step = 0; step < 3 && q; step++) {
      const r = await call('POST', `/v1/onboarding/${id}/answers`, { body: { answer: step === 1 ? 'b' : 'a', n: 5 } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.answered, step + 1);
      assert.equal((r.json.items as RecItem[]).length, 5);
      q = r.json.question as typeof q;
    }
    const bad = await call('POST', `/v1/onboarding/${id}/answers`, { body: { answer: 'maybe' } });
    assert.equal(bad.status, 400);
    assert.match(errMessage(bad), /body\.answer/);
    assert.equal((await call('POST', '/v1/onboarding/nope/answers', { body: { answer: 'a' } })).status, 404);
  });

  it('validates at the boundary: timestamps, ids, NUL, surrogates, content types and router errors, in the one shape', async () => {
    const fb = (f: Record<string, unknown>) => call('POST', '/v1/feedback', { body: { feedback: [{ user: 'v-user', item: '1', type: 'like', ...f }] } });
    const cases: { name: string; r: Promise<Awaited<ReturnType<typeof call>>>; status: number; code?: string; message: RegExp }[] = [
      { name: 'timestamp in milliseconds', r: fb({ timestamp: 1e13 }), status: 400, message: /body\.feedback\[0\]\.timestamp: must be seconds since the epoch, before 2100/ },
      { name: 'timestamp after 2100', r: fb({ timestamp: '2200-01-01T00:00:00Z' }), status: 400, message: /body\.feedback\[0\]\.timestamp: must be between 1970-01-01 and 2100-01-01/ },
      { name: 'negative timestamp', r: fb({ timestamp: -1 }), status: 400, message: /body\.feedback\[0\]\.timestamp/ },
      { name: 'NUL in a user id', r: fb({ user: 'a\u0000b' }), status: 400, message: /body\.feedback\[0\]\.user: must not contain NUL/ },
      { name: 'lone surrogate in a user id', r: fb({ user: 'a\uD800' }), status: 400, message: /body\.feedback\[0\]\.user: must not contain unpaired UTF-16 surrogates/ },
      { name: 'NUL in a feedback type', r: fb({ type: 'li\u0000ke' }), status: 400, message: /body\.feedback\[0\]\.type: must not contain NUL/ },
      { name: 'id over the limit', r: fb({ user: 'u'.repeat(257) }), status: 400, message: /body\.feedback\[0\]\.user: at most 256 characters/ },
      { name: 'item body, wrong type', r: call('POST', '/v1/items', { body: [{ id: 'ok' }, { id: 5 }] }), status: 400, message: /body\[1\]\.id: / },
      { name: 'item title with NUL', r: call('POST', '/v1/items', { body: { items: [{ id: 'nul-title', title: 'a\u0000' }] } }), status: 400, message: /body\.items\[0\]\.title: must not contain NUL/ },
      { name: 'user body, empty id', r: call('POST', '/v1/users', { body: { users: [{ id: '' }] } }), status: 400, message: /body\.users\[0\]\.id: must not be empty/ },
      { name: 'user attribute with a lone surrogate', r: call('POST', '/v1/users', { body: [{ id: 'attr-user', attributes: { plan: '\uDC00' } }] }), status: 400, message: /body\[0\]\.attributes\.plan: must not contain unpaired/ },
      { name: 'text/plain', r: call('POST', '/v1/items', { raw: 'hello', type: 'text/plain' }), status: 415, code: 'unsupported_media_type', message: /content-type: send application\/json/ },
      { name: 'path segment over the limit', r: call('GET', `/v1/items/${'p'.repeat(257)}`), status: 414, code: 'uri_too_long', message: /path: a path segment is longer than 256/ },
      { name: 'bad percent-encoding', r: call('GET', '/v1/items/%E0%A4%A'), status: 400, code: 'invalid_input', message: /path: malformed percent-encoding/ },
      { name: 'unknown route', r: call('GET', '/v1/nothing-here'), status: 404, code: 'not_found', message: /path: no route GET \/v1\/nothing-here/ },
    ];
    for (const c of cases) {
      const r = await c.r;
      assert.equal(r.status, c.status, `${c.name}: status ${r.status} ${r.text}`);
      const err = r.json.error as { status: number; code: string; message: string };
      assert.equal(err.status, c.status, `${c.name}: ${r.text}`);
      if (c.code) assert.equal(err.code, c.code, c.name);
      assert.match(err.message, c.message, `${c.name}: ${r.text}`);
    }
    // nothing of the rejected writes was stored
    assert.equal((await call('GET', '/v1/users/v-user')).status, 404);
    // the id limit is the router's limit: a 256-character id (here 256 two-byte characters,
    // percent-encoded in the URL) is written, read, and deleted by URL
    const long = 'é'.repeat(256);
    const enc = encodeURIComponent(long);
    assert.equal((await call('POST', '/v1/items', { body: [{ id: long, title: 'Long' }] })).status, 200);
    assert.equal((await call('GET', `/v1/items/${enc}`)).json.title, 'Long');
    assert.equal((await call('POST', '/v1/feedback', { body: { feedback: [{ user: long, item: long, type: 'view', timestamp: 4_102_444_799 }] } })).status, 200);
    const f = await call('GET', `/v1/users/${enc}/feedback`);
    assert.equal(f.status, 200, f.text);
    assert.equal((f.json.feedback as { ts: string }[])[0]!.ts, '2099-12-31T23:59:59.000Z');
    assert.equal((await call('DELETE', `/v1/users/${enc}`)).status, 200);
    assert.equal((await call('DELETE', `/v1/items/${enc}`)).status, 200);
  });

  it('checks training parameters before accepting the job', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: 'personas', params: { epochs: 1e9 } }, /body\.params\.epochs: must be <= 1000/],
      [{ model: 'personas', params: { epochs: 2.5 } }, /body\.params\.epochs: /],
      [{ model: 'personas', params: { colour: 1 } }, /body\.params\.colour: unknown parameter/],
      [{ model: 'personas', params: { l2Item: 1e300 } }, /body\.params\.l2Item: must be a finite number/],
      [{ model: 'bpr', params: { epochs: 5000 } }, /body\.params\.epochs: must be <= 1000/],
    ];
    for (const [body, message] of cases) {
      const r = await call('POST', '/v1/models/train', { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(errMessage(r), message);
    }
    // none of them started a job (the training test below gets its 202, not a 409)
  });

  it('API keys are listed without secrets and revoked at once', async () => {
    const made = await call('POST', '/v1/keys', { body: { scope: 'write', label: 'ingest' } });
    assert.equal(made.status, 200);
    const key = String(made.json.key);
    const id = String(made.json.id);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(made.json.prefix, key.slice(0, 8));
    assert.equal((await call('POST', '/v1/items', { body: [{ id: 'by-ingest' }], key })).status, 200);
    const list = await call('GET', '/v1/keys');
    assert.equal(list.status, 200);
    const keys = list.json.keys as { id: string; prefix: string; scope: string; label: string; created: string; source: string }[];
    const mine = keys.find((k) => k.id === id);
    assert.deepEqual(mine && { prefix: mine.prefix, scope: mine.scope, label: mine.label, source: mine.source }, { prefix: key.slice(0, 8), scope: 'write', label: 'ingest', source: 'api' });
    assert.match(mine!.created, /^\d{4}-\d\d-\d\dT/);
    assert.ok(keys.some((k) => k.source === 'env' && k.scope === 'admin'), 'the PERSONAE_API_KEY row is listed');
    assert.ok(!list.text.includes(key) && !list.text.includes(KEY), 'no key in the list');
    for (const k of keys) assert.deepEqual(Object.keys(k).sort(), ['created', 'id', 'label', 'prefix', 'scope', 'source']);
    // only admins list or revoke
    assert.equal((await call('GET', '/v1/keys', { key })).status, 403);
    const revoked = await call('DELETE', `/v1/keys/${id}`);
    assert.deepEqual(revoked.json, { revoked: id });
    const after = await call('POST', '/v1/items', { body: [{ id: 'by-ingest-2' }], key });
    assert.equal(after.status, 403, 'a revoked key stops working at once');
    assert.equal((await call('DELETE', `/v1/keys/${id}`)).status, 404);
    const bad = await call('DELETE', '/v1/keys/not-an-id');
    assert.equal(bad.status, 400);
    assert.match(errMessage(bad), /path\.id: a key id is 16 hex digits/);
  });

  it('muted personas never explain an item', async () => {
    // a confident user with several personas, and the persona that explains most of their list
    let chosen: { user: string; persona: number } | null = null;
    for (let u = 3; u <= 200 && !chosen; u++) {
      const p = await call('GET', `/v1/users/${u}/personas`);
      if ((p.json.personas as PersonaJson[]).length < 2 || (p.json.confidence as number) < 0.5) continue;
      const items = (await call('GET', `/v1/users/${u}/recommendations?n=20&explain=true`)).json.items as RecItem[];
      const counts = new Map<number, number>();
      for (const i of items) if (i.explanation) counts.set(i.explanation.persona, (counts.get(i.explanation.persona) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1])[0];
      if (top && counts.size >= 2) chosen = { user: String(u), persona: top[0] };
    }
    assert.ok(chosen, 'a user whose list is explained by two or more personas');
    const { user, persona } = chosen;
    assert.equal((await call('PATCH', `/v1/users/${user}/personas/${persona}`, { body: { muted: true } })).status, 200);
    const items = (await call('GET', `/v1/users/${user}/recommendations?n=20&explain=true`)).json.items as RecItem[];
    const explained = items.filter((i) => i.explanation);
    assert.ok(explained.length > 0, 'the other personas still explain items');
    for (const i of explained) {
      assert.notEqual(i.explanation!.persona, persona, `item ${i.id} is explained by the muted persona`);
      assert.equal(i.explanation!.weights[persona], 0);
      assert.ok(Math.abs(i.explanation!.weights.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    }
    assert.equal((await call('PATCH', `/v1/users/${user}/personas/${persona}`, { body: { muted: false } })).status, 200);
  });

  it("a hedged list's filler items say why they are there instead of naming a persona", async () => {
    const r = await call('GET', '/v1/users/tiny-history/recommendations?n=12&explain=true');
    assert.equal(r.json.hedged, true);
    const items = r.json.items as RecItem[];
    const fillers = items.filter((i) => i.reason !== undefined);
    // every third slot is a popular filler
    assert.deepEqual(items.flatMap((i, k) => (i.reason !== undefined ? [k] : [])), [2, 5, 8, 11]);
    for (const i of fillers) {
      assert.equal(i.explanation, null);
      assert.equal(i.explanationWithheld, undefined);
      assert.match(i.reason!, /^popular/);
    }
    assert.ok(fillers.some((i) => / and adds .+ to the list$/.test(i.reason!)), fillers.map((i) => i.reason).join('; '));
    assert.ok(Recommendations.safeParse(r.json).success);
    // without explain=true the answer carries no reasons
    const plain = await call('GET', '/v1/users/tiny-history/recommendations?n=12');
    assert.ok((plain.json.items as RecItem[]).every((i) => i.reason === undefined));
  });

  it('onboarding never recommends an item the user answered "neither" to', async () => {
    const start = await call('POST', '/v1/onboarding', { body: { n: 30, seed: 9 } });
    const id = String(start.json.id);
    let q = start.json.question as { a: { id: string }; b: { id: string } } | null;
    const rejected = new Set<string>();
    for (let step = 0; step < 4 && q; step++) {
      rejected.add(q.a.id);
      rejected.add(q.b.id);
      const r = await call('POST', `/v1/onboarding/${id}/answers`, { body: { answer: 'neither', n: 30 } });
      assert.equal(r.status, 200, r.text);
      const items = (r.json.items as RecItem[]).map((i) => i.id);
      assert.equal(items.length, 30);
      for (const x of rejected) assert.ok(!items.includes(x), `step ${step}: rejected item ${x} recommended`);
      q = r.json.question as typeof q;
    }
  });

  it('trains a new model as a job and swaps it in', async () => {
    const start = await call('POST', '/v1/models/train', { body: { model: 'pop', evaluate: ['itemknn', 'itemknn:k=5'] } });
    assert.equal(start.status, 202);
    const id = String(start.json.id);
    let job = start.json;
    while (job.state === 'running') {
      await new Promise((r) => setTimeout(r, 50));
      job = (await call('GET', `/v1/jobs/${id}`)).json;
    }
    assert.equal(job.state, 'done', String(job.error));
    assert.deepEqual(job.model, { name: 'pop', version: 2 });
    assert.deepEqual((await call('GET', '/v1/models')).json.active && ((await call('GET', '/v1/models')).json.active as { version: number }).version, 2);
    const r = await call('GET', '/v1/users/1/recommendations?n=3&explain=true');
    assert.deepEqual(r.json.model, { name: 'pop', version: 2 });
    assert.equal((r.json.items as RecItem[]).length, 3);
    assert.ok((r.json.items as RecItem[]).every((i) => i.explanation === undefined), 'pop has no personas to explain with');
    // onboarding needs personas: nothing in the request is wrong, so a 409 naming the served model
    const onboard = await call('POST', '/v1/onboarding', { body: { n: 5 } });
    assert.equal(onboard.status, 409);
    assert.equal((onboard.json.error as { code: string }).code, 'unsupported_model');
    assert.match(errMessage(onboard), /the served model "pop" has no personas/);
    // the job evaluated pop against itemknn and a spec of it under the default protocol first
    const ev = await call('GET', '/v1/evaluation');
    assert.equal(ev.status, 200);
    const models = ev.json.models as { name: string; model: string; params: { k?: number }; metrics: Record<string, { mean: number }> }[];
    assert.deepEqual(
      models.map((m) => [m.name, m.model, m.params.k]),
      [
        ['pop', 'pop', undefined],
        ['itemknn', 'itemknn', 100],
        ['itemknn:k=5', 'itemknn', 5],
      ],
    );
    assert.ok(models.every((m) => m.metrics['ndcg@10']!.mean > 0));
    assert.equal((ev.json.protocol as { name: string }).name, 'temporal-user');
  });
});

describe('serving a model fitted outside the service', () => {
  it('adopts the fitted model as version 1 without training', async () => {
    const { log } = worldToLog({ users: 60, items: 80, categories: 4, meanInteractions: 20, seed: 11 });
    const model = createModel('personas', { epochs: 3, warmEpochs: 1, dim: 8 });
    await model.fit(buildTrainSet(log, extractPositives(log, 4)), { rng: new Rng(5), threads: 1 });
    const own = await startService({ port: 0, db: ':memory:', data: log, fitted: model, quiet: true, threads: 1 });
    try {
      await own.ready;
      const m = (await (await fetch(`${own.url}/v1/models`)).json()) as { active: { name: string; version: number; params: Record<string, unknown> } };
      assert.equal(m.active.name, 'personas');
      assert.equal(m.active.version, 1);
      assert.equal(m.active.params.epochs, 3);
      const r = (await (await fetch(`${own.url}/v1/users/2/recommendations?n=5&explain=true`)).json()) as { coldStart: boolean; items: RecItem[] };
      assert.equal(r.coldStart, false);
      assert.equal(r.items.length, 5);
      assert.ok(r.items.every(explainedOrWithheld));
    } finally {
      await own.close();
    }
  });
});
