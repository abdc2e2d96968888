/**
 * The bounded user cache (`--user-cache`, src/serve/user-cache.ts) answers exactly as the mirror
 * of every user's feedback: two services over identical stores and the same fitted model, one
 * keeping 2 users' feedback (every other read is a miss read from the store), one mirroring every
 * user's (`userCache: 0`), get the same requests (recommendations with explanations, personas,
 * taste mixes, sessions, lists with a user's items left out, item audiences, counts) before and
 * after likes (of a new item without categories among them),
 * a view, a new user, a persona mute, a user's erasure and an item's deletion, and give the same
 * answers. On SQLite, memory and, with PERSONAE_TEST_PG (`source scripts/test-services.sh`),
 * PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { buildTrainSet, extractPositives } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import { startService, type RunningService } from '../src/serve/index.js';
import { worldToLog } from '../src/synth/world.js';
import { caller } from './service-helpers.js';

const call = caller(null);
const pgUrl = process.env.PERSONAE_TEST_PG;
const dir = mkdtempSync(join(tmpdir(), 'personae-ucache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const { log } = worldToLog({ users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 21 });
const model = createModel('personas', { epochs: 3, warmEpochs: 1, dim: 8 });
const fitted = model.fit(buildTrainSet(log, extractPositives(log, 4)), { rng: new Rng(7), threads: 1 });

async function fittedModel(): Promise<typeof model> {
  await fitted;
  return model;
}

/** Waits past the lists' and new items' rebuild throttles (lists.ts, new-items.ts), so both services rebuild. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 1100));

/** The same requests, writes among them; every answer (status and body) in order. */
async function script(svc: RunningService): Promise<unknown[]> {
  const out: unknown[] = [];
  const users = Array.from({ length: 8 }, (_, u) => log.users.id(u));
  const items = Array.from({ length: log.items.size }, (_, i) => log.items.id(i));
  const get = async (path: string): Promise<void> => {
    const r = await call(svc, 'GET', path);
    out.push([path, r.status, r.json]);
  };
  const readAll = async (who: readonly string[]): Promise<void> => {
    for (const u of who) {
      await get(`/v1/users/${u}/recommendations?n=8&explain=true`);
      await get(`/v1/users/${u}/personas`);
      await get(`/v1/users/${u}/taste-mix?n=8`);
      await get(`/v1/popular?n=6&user=${u}`);
      await get(`/v1/latest?n=4&user=${u}`);
      await get(`/v1/users/${u}`);
    }
    await get('/v1/popular?n=10');
    const session = await call(svc, 'POST', '/v1/sessions/recommend', { items: [items[1], items[2], items[3]], n: 50, hedge: false, explain: true });
    out.push(['session', session.status, session.json]);
    await get(`/v1/items/${items[0]}/audience?n=5`);
    const ov = (await call(svc, 'GET', '/v1/overview')).json as { users: number; items: number; events: number };
    out.push(['overview', ov.users, ov.items, ov.events]);
  };
  await readAll(users);
  // the same users again, in another order: every one a miss again with a budget of 2
  await readAll([...users].reverse());
  const post = async (feedback: unknown[]): Promise<void> => {
    const r = await call(svc, 'POST', '/v1/feedback', { feedback });
    out.push(['feedback', r.status, (r.json as { accepted?: number }).accepted]);
  };
  // an item the model does not know, without categories: scored from what its first users liked (new-items.ts)
  out.push(['new item', (await call(svc, 'POST', '/v1/items', [{ id: 'fresh', title: 'Fresh' }])).status]);
  await post([
    { user: users[4], item: 'fresh', type: 'like' },
    { user: 'newcomer', item: 'fresh', type: 'like' },
    { user: users[0], item: items[5], type: 'like' },
    { user: users[0], item: items[7], type: 'like' },
    { user: users[3], item: items[5], type: 'like' },
    { user: 'newcomer', item: items[5], type: 'like' },
    { user: 'newcomer', item: items[9], type: 'rating', value: 5 },
    { user: users[5], item: items[11], type: 'view' },
  ]);
  await settle();
  await readAll([...users, 'newcomer']);
  const patch = await call(svc, 'PATCH', `/v1/users/${users[1]}/personas/0`, { muted: true });
  out.push(['patch', patch.status, patch.json]);
  await readAll(users);
  out.push(['delete user', (await call(svc, 'DELETE', `/v1/users/${users[2]}`)).status]);
  await settle();
  await readAll(users);
  // still muted: a muted persona's scores mix in the catalogue's cold scores, which a state cached
  // across the deletion (the mirror) must make anew, as a state rebuilt after a miss does
  out.push(['delete item', (await call(svc, 'DELETE', `/v1/items/${items[5]}`)).status]);
  await settle();
  await readAll([...users, 'newcomer']);
  return out;
}

async function answers(db: string, userCache: number, extra: { pgSchema?: string } = {}): Promise<unknown[]> {
  const svc = await startService({ port: 0, db, data: log, fitted: await fittedModel(), userCache, quiet: true, threads: 1, modelsDir: join(dir, `models-${userCache}`), ...extra });
  try {
    await svc.ready;
    assert.equal(svc.state.live.cache?.budget ?? 0, userCache);
    const out = await script(svc);
    if (userCache > 0) assert.ok(svc.state.live.users.size <= userCache, `at most ${userCache} users cached, got ${svc.state.live.users.size}`);
    return out;
  } finally {
    await svc.close();
  }
}

describe('the user cache answers as the mirror of every user', () => {
  it('on SQLite: a cache of 2 users and the mirror give the same answers', async () => {
    const small = await answers(join(dir, 'small.db'), 2);
    const mirror = await answers(join(dir, 'mirror.db'), 0);
    assert.ok(small.length > 200);
    const scored = small.filter((x) => Array.isArray(x) && x[0] === 'session' && JSON.stringify(x[2]).includes('"fresh"'));
    assert.ok(scored.length > 0, 'the new item is scored from its likers in some session list');
    assert.deepEqual(small, mirror);
  });
  it('in memory: the same', async () => {
    assert.deepEqual(await answers('memory:', 2), await answers('memory:', 0));
  });
  it('on PostgreSQL: the same', { skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)' }, async () => {
    const schemas = [`ucache_small_${process.pid}`, `ucache_mirror_${process.pid}`];
    try {
      const small = await answers(pgUrl!, 2, { pgSchema: schemas[0]! });
      const mirror = await answers(pgUrl!, 0, { pgSchema: schemas[1]! });
      assert.deepEqual(small, mirror);
    } finally {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await c.end();
    }
  });
});
