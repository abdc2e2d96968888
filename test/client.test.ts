/**
 * `personae/client` against a real service started in-process (as test/serve-api.test.ts does):
 * typed answers equal to the raw HTTP answers, errors as values (http, network), API keys and
 * scopes, and compile-time checks that the request types come from the server's schemas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, PersonaeClient, type ApiError, type Recommendations, type Result } from '../src/client/index.js';
import type { RunningService } from '../src/serve/index.js';
import { serveWorld } from './service-helpers.js';

const KEY = 'client-test-admin-key';
let svc: RunningService;
let client: PersonaeClient;

before(async () => {
  svc = await serveWorld({ users: 120, items: 150, categories: 6, meanInteractions: 30, seed: 11 }, { modelParams: { epochs: 4, warmEpochs: 2, dim: 16 }, apiKey: KEY, readApiKey: true });
  client = createClient({ url: svc.url, apiKey: KEY });
});

after(async () => {
  await svc.close();
});

/** The value of an ok result (fails the test with the error otherwise). */
function value<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

function httpError(r: Result<unknown>): Extract<ApiError, { kind: 'http' }> {
  assert.equal(r.ok, false);
  if (r.ok || r.error.kind !== 'http') assert.fail(`expected an http error, got ${JSON.stringify(r)}`);
  return r.error;
}

describe('personae/client', () => {
  it('answers what the HTTP API answers, typed', async () => {
    const recs: Recommendations = value(await client.recommend('1', { n: 6, explain: true, hedge: false }));
    const raw = await fetch(`${svc.url}/v1/users/1/recommendations?n=6&explain=true&hedge=false`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.deepEqual(recs, await raw.json());
    assert.equal(recs.items.length, 6);
    assert.equal(recs.model.name, 'personas');
    // exclude as a list: the first item is gone, the rest move up
    const without = value(await client.recommend('1', { n: 5, hedge: false, exclude: [recs.items[0]!.id] }));
    assert.deepEqual(without.items.map((i) => i.id), recs.items.slice(1, 6).map((i) => i.id));

    const personas = value(await client.personas('1'));
    assert.equal(personas.user, '1');
    assert.ok(personas.personas.length >= 1);
    const users = value(await client.users({ limit: 3, offset: 1 }));
    assert.equal(users.total, 120);
    assert.equal(users.users.length, 3);
    const models = value(await client.models());
    assert.equal(models.active?.name, 'personas');
    const ready = value(await client.ready());
    assert.equal(ready.ready, true);
  });

  it('writes: items, feedback, sessions, similar items, persona settings', async () => {
    assert.deepEqual(value(await client.upsertItems([{ id: 'new-1', title: 'A new item', categories: ['Fresh'] }])), { upserted: 1 });
    assert.deepEqual(value(await client.item('new-1')), { id: 'new-1', title: 'A new item', categories: ['Fresh'] });
    const accepted = value(await client.sendFeedback([{ user: 'visitor', item: '5', type: 'rating', value: 5 }]));
    assert.equal(accepted.accepted, 1);
    assert.equal(accepted.seqs.length, 1);
    const fb = value(await client.feedbackOf('visitor'));
    assert.deepEqual(fb.feedback.map((f) => f.item), ['5']);
    const session = value(await client.recommendSession({ items: ['5', '9', '12'], n: 4 }));
    assert.equal(session.items.length, 4);
    const similar = value(await client.similarItems('5', { n: 3 }));
    assert.equal(similar.items.length, 3);
    const before = value(await client.personas('1'));
    const after = value(await client.setPersona('1', 0, { boost: 2 }));
    assert.equal(after.personas[0]!.boost, 2);
    assert.equal(after.personas.length, before.personas.length);
    assert.deepEqual(value(await client.deleteItem('new-1')), { deleted: 'new-1' });
  });

  it('errors are values: 404, 400 naming the field, 401, 403, network', async () => {
    const missing = httpError(await client.item('no-such-item'));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'not_found');
    const bad = httpError(await client.recommend('1', { n: 0 }));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 'invalid_input');
    assert.match(bad.message, /query\.n/);
    const anonymous = httpError(await client.withApiKey(undefined).recommend('1'));
    assert.equal(anonymous.status, 401);
    const wrong = httpError(await client.withApiKey('not-a-key').personas('1'));
    assert.equal(wrong.status, 403);

    // a read-only key made through the client reads but cannot write
    const { key, scope } = value(await client.createApiKey({ scope: 'read', label: 'client test' }));
    assert.equal(scope, 'read');
    const reader = client.withApiKey(key);
    assert.equal(value(await reader.recommend('2', { n: 2 })).items.length, 2);
    const denied = httpError(await reader.upsertItems([{ id: 'x' }]));
    assert.equal(denied.status, 403);
    assert.match(denied.message, /scope "write"/);

    const offline = createClient({ url: 'http://127.0.0.1:9', apiKey: KEY });
    const r = await offline.models();
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.kind, 'network');
    assert.throws(() => createClient({ url: 'localhost:8080' }), TypeError);
    assert.throws(() => client.item(''), TypeError);
  });

  it('request types are the server schemas (checked by tsc)', () => {
    const typed = (c: PersonaeClient): void => {
      // @ts-expect-error n is a number in the recommendations query schema
      void c.recommend('1', { n: 'ten' });
      // @ts-expect-error the feedback schema requires a type
      void c.sendFeedback([{ user: 'u', item: 'i' }]);
      // @ts-expect-error scope is one of read, write, admin
      void c.createApiKey({ scope: 'root' });
      // @ts-expect-error the session body has no "history" field (it is "items")
      void c.recommendSession({ history: ['1'] });
    };
    assert.equal(typeof typed, 'function');
  });
});
