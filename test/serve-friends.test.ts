/**
 * Social edges in the service (src/serve/routes-friends.ts): POST/GET/DELETE /v1/users/{id}/friends
 * validated at the boundary with the one error shape, stored in the store (durable before the 200)
 * and gone with a user's erasure both ways; `serve --social FILE` stores an edge file with the
 * data; the `social` model trains on the store's graph and names the friend an item came through
 * (`via`), never a friend deleted since. On SQLite, and PostgreSQL when PERSONAE_TEST_PG is set.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LogBuilder } from '../src/data/dataset.js';
import { startService, type RunningService } from '../src/serve/index.js';
import { worldToLog } from '../src/synth/memory.js';
import { friendsCsv, plantFriends, type SocialWorld } from '../src/synth/social.js';
import { storeCases } from './service-stores.js';

const KEY = 'friends-key';
const dir = mkdtempSync(join(tmpdir(), 'personae-friends-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Reply<T> {
  status: number;
  json: T;
}

async function call<T = Record<string, unknown>>(svc: RunningService, method: string, path: string, body?: unknown, key: string | null = KEY): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(svc.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: (await r.json()) as T };
}

interface FriendList {
  user: string;
  friends: { id: string; kind: string; since: string }[];
  followers: { id: string; since: string }[];
}
interface ErrorReply {
  error: { status: number; code: string; message: string };
}
interface Recs {
  model: { name: string };
  items: { id: string; via?: { friend: string; friends: number; contribution: number } }[];
}

/** Six users u1..u6 with a few likes on items a..d. */
function tinyLog() {
  const b = new LogBuilder('tiny');
  let t = 1_600_000_000;
  for (const u of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) for (const i of ['a', 'b', 'c', 'd']) if ((u.charCodeAt(1) + i.charCodeAt(0)) % 3 !== 0) b.add(u, i, 5, t++);
  return b.build();
}

const ids = (l: FriendList): string[][] => l.friends.map((f) => [f.id, f.kind]);

for (const sc of storeCases(dir, 'friends')) {
  describe(`friends routes (${sc.name})`, () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ port: 0, db: sc.db('routes'), ...sc.schema('routes'), modelsDir: join(dir, `models-routes-${sc.name}`), data: tinyLog(), model: 'pop', apiKey: KEY, quiet: true, threads: 1, syncIntervalMs: 0 });
      await svc.ready;
    });
    after(async () => {
      await svc.close();
      await sc.cleanup('routes');
    });

    it('adds friendships and follows once, creates unknown users, lists both directions', async () => {
      const a = await call(svc, 'POST', '/v1/users/u1/friends', { friends: ['u2', 'u3', 'u2'] });
      assert.equal(a.status, 200);
      assert.deepEqual(a.json, { user: 'u1', kind: 'friend', friends: 2, added: 2 });
      // the same friendship from the other side is the one edge already stored
      assert.deepEqual((await call(svc, 'POST', '/v1/users/u2/friends', { friend: 'u1' })).json, { user: 'u2', kind: 'friend', friends: 1, added: 0 });
      assert.deepEqual((await call(svc, 'POST', '/v1/users/u1/friends', { friend: 'newcomer', kind: 'follow' })).json, { user: 'u1', kind: 'follow', friends: 1, added: 1 });
      assert.equal((await call(svc, 'POST', '/v1/users/u5/friends', { friend: 'u1', kind: 'follow' })).json.added, 1);
      const l = await call<FriendList>(svc, 'GET', '/v1/users/u1/friends');
      assert.equal(l.status, 200);
      assert.deepEqual(ids(l.json).sort(), [['newcomer', 'follow'], ['u2', 'friend'], ['u3', 'friend']]);
      assert.deepEqual(l.json.followers.map((f) => f.id), ['u5']);
      assert.ok(l.json.friends.every((f) => !Number.isNaN(Date.parse(f.since))));
      // the other ends see the edges from their side
      assert.deepEqual(ids((await call<FriendList>(svc, 'GET', '/v1/users/u2/friends')).json), [['u1', 'friend']]);
      const n = (await call<FriendList>(svc, 'GET', '/v1/users/newcomer/friends')).json;
      assert.deepEqual([n.friends, n.followers.map((f) => f.id)], [[], ['u1']]);
      assert.equal((await call(svc, 'GET', '/v1/users/newcomer')).status, 200, 'an unknown friend became a user');
      assert.equal((await call(svc, 'GET', '/v1/users/nobody/friends')).status, 404);
    });

    it('rejects bad bodies with the one error shape naming the field', async () => {
      const bad = async (path: string, body: unknown, field: RegExp): Promise<void> => {
        const r = await call<ErrorReply>(svc, 'POST', path, body);
        assert.equal(r.status, 400, JSON.stringify(r.json));
        assert.equal(r.json.error.status, 400);
        assert.equal(r.json.error.code, 'invalid_input');
        assert.match(r.json.error.message, field);
      };
      await bad('/v1/users/u1/friends', { friend: 'u1' }, /^body\.friend: a user cannot be their own friend/);
      await bad('/v1/users/u1/friends', { friends: ['u4', 'u1'] }, /^body\.friends\[1\]: a user cannot be their own friend/);
      await bad('/v1/users/u1/friends', { friends: [] }, /body\.friends/);
      await bad('/v1/users/u1/friends', {}, /body\.friends: give either friend \(one id\) or friends/);
      await bad('/v1/users/u1/friends', { friend: 'u4', friends: ['u5'] }, /body\.friends: give either/);
      await bad('/v1/users/u1/friends', { friend: 'u4', kind: 'enemy' }, /body\.kind/);
      await bad('/v1/users/u1/friends', { friend: 'u4', since: 1 }, /since/);
      await bad('/v1/users/u1/friends', { friends: ['ok', 'x\u0000y'] }, /body\.friends\.1|body\.friends\[1\]/);
      await bad('/v1/users/u1/friends', { friend: 'x'.repeat(257) }, /body\.friend: at most 256/);
      // writes need a write key
      assert.equal((await call(svc, 'POST', '/v1/users/u1/friends', { friend: 'u4' }, null)).status, 401);
      // nothing of the above was stored
      assert.deepEqual(ids((await call<FriendList>(svc, 'GET', '/v1/users/u4/friends')).json), []);
    });

    it('deletes one edge (404 when there is none) or all the user holds; erasure removes edges both ways', async () => {
      await call(svc, 'POST', '/v1/users/u4/friends', { friends: ['u5', 'u6'] });
      await call(svc, 'POST', '/v1/users/u6/friends', { friend: 'u4', kind: 'follow' });
      // u4's friendship with u5 is stored once; u4 deletes it by naming u5
      assert.deepEqual((await call(svc, 'DELETE', '/v1/users/u4/friends/u5')).json, { user: 'u4', deleted: 1 });
      const again = await call<ErrorReply>(svc, 'DELETE', '/v1/users/u4/friends/u5');
      assert.equal(again.status, 404);
      assert.equal(again.json.error.code, 'not_found');
      assert.deepEqual(ids((await call<FriendList>(svc, 'GET', '/v1/users/u5/friends')).json), [['u1', 'follow']], 'only the follow of u1 (first case) is left');
      // all u6 holds: the friendship with u4 and the follow of u4; u4's side then has nothing
      assert.deepEqual((await call(svc, 'DELETE', '/v1/users/u6/friends')).json, { user: 'u6', deleted: 2 });
      assert.deepEqual((await call<FriendList>(svc, 'GET', '/v1/users/u4/friends')).json, { user: 'u4', friends: [], followers: [] });
      // erasure: u3 goes, and with them the friendship u1 had
      await call(svc, 'POST', '/v1/users/u3/friends', { friend: 'u4', kind: 'follow' });
      assert.equal((await call(svc, 'DELETE', '/v1/users/u3')).status, 200);
      assert.ok(!ids((await call<FriendList>(svc, 'GET', '/v1/users/u1/friends')).json).some(([id]) => id === 'u3'));
      assert.deepEqual((await call<FriendList>(svc, 'GET', '/v1/users/u4/friends')).json.followers, []);
    });

    it('documents the routes in /openapi.json, with the via field of a recommended item', async () => {
      const doc = (await call<{ paths: Record<string, Record<string, unknown>>; }>(svc, 'GET', '/openapi.json')).json;
      assert.deepEqual(Object.keys(doc.paths['/v1/users/{id}/friends']!).sort(), ['delete', 'get', 'post']);
      assert.deepEqual(Object.keys(doc.paths['/v1/users/{id}/friends/{friend}']!), ['delete']);
      assert.match(JSON.stringify(doc.paths['/v1/users/{id}/recommendations']), /"via"/);
    });
  });
}

describe('the social model in the service: trained on the store\'s graph, names the friend an item came through', () => {
  const sc = storeCases(dir, 'friends')[0]!;
  let svc: RunningService;
  let world: SocialWorld;
  const file = join(dir, 'friends.csv');
  before(async () => {
    world = plantFriends(worldToLog({ users: 80, items: 120, categories: 5, meanInteractions: 20, seed: 4 }), { friends: 4, diff: 0.5, influence: 0.4 }, 4);
    writeFileSync(file, friendsCsv(world));
    svc = await startService({ port: 0, db: sc.db('social'), modelsDir: join(dir, 'models-social'), data: world.log, social: file, model: 'social', modelParams: { factors: 8, iterations: 4 }, apiKey: KEY, quiet: true, threads: 1, seed: 7, syncIntervalMs: 0 });
    await svc.ready;
  });
  after(async () => {
    await svc.close();
    await sc.cleanup('social');
  });

  it('stores the edge file, and an item that came through friends names one of them who liked it', async () => {
    const u0 = world.log.users.id(0);
    const listed = (await call<FriendList>(svc, 'GET', `/v1/users/${u0}/friends`)).json;
    const planted = Array.from(world.friends[0]!, (f) => world.log.users.id(f)).sort();
    assert.deepEqual(listed.friends.filter((f) => f.kind === 'follow').map((f) => f.id).sort(), planted);
    let named = 0;
    for (let u = 0; u < 20; u++) {
      const user = world.log.users.id(u);
      const recs = (await call<Recs>(svc, 'GET', `/v1/users/${user}/recommendations?n=10&explain=true`)).json;
      assert.equal(recs.model.name, 'social');
      const friends = new Set(Array.from(world.friends[u]!, (f) => world.log.users.id(f)));
      for (const it of recs.items) {
        if (!it.via) continue;
        named++;
        assert.ok(friends.has(it.via.friend), `${it.via.friend} is a friend of ${user}`);
        assert.ok(it.via.friends >= 1 && it.via.friends <= friends.size && it.via.contribution > 0);
        const fb = (await call<{ feedback: { item: string }[] }>(svc, 'GET', `/v1/users/${it.via.friend}/feedback`)).json.feedback;
        assert.ok(fb.some((f) => f.item === it.id), `${it.via.friend} consumed ${it.id}`);
      }
      // without explain=true no item carries it
      const plain = (await call<Recs>(svc, 'GET', `/v1/users/${user}/recommendations?n=10`)).json;
      assert.ok(plain.items.every((it) => it.via === undefined));
    }
    assert.ok(named > 0, 'some item of 20 users came through a friend');
  });

  it('a friend deleted after training is never named', { timeout: 60_000 }, async () => {
    let user = '';
    let gone = '';
    for (let u = 0; u < 80 && gone === ''; u++) {
      const id = world.log.users.id(u);
      const via = (await call<Recs>(svc, 'GET', `/v1/users/${id}/recommendations?n=10&explain=true`)).json.items.find((it) => it.via);
      if (via) [user, gone] = [id, via.via!.friend];
    }
    assert.notEqual(gone, '');
    assert.equal((await call(svc, 'DELETE', `/v1/users/${gone}`)).status, 200);
    const recs = (await call<Recs>(svc, 'GET', `/v1/users/${user}/recommendations?n=10&explain=true`)).json;
    assert.ok(recs.items.every((it) => it.via?.friend !== gone));
  });
});
