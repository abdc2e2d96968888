/**
 * The store contract: the same cases against every backend (SQLite, memory, PostgreSQL), each case
 * on a fresh store so one failure cannot cascade. The PostgreSQL half needs PERSONAE_TEST_PG
 * (`source scripts/test-services.sh`); each case uses its own schema, dropped afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { MemoryStore } from '../src/store/memory.js';
import { openStore, sqliteFile, storeScheme } from '../src/store/open.js';
import { PgStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';

interface Backend {
  name: string;
  /** A new, empty, initialised store; `close` closes it and removes what it left behind. */
  fresh: () => Promise<{ store: Store; close: () => Promise<void> }>;
  /** Why the backend is skipped here, or null. */
  skip: string | null;
}

const dir = mkdtempSync(join(tmpdir(), 'personae-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const pgUrl = process.env.PERSONAE_TEST_PG;

const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    skip: null,
    fresh: async () => {
      const store = new SqliteStore(join(dir, `store-${serial++}.db`));
      await store.init();
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'memory',
    skip: null,
    fresh: async () => {
      const store = new MemoryStore();
      await store.init();
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'postgres',
    skip: pgUrl ? null : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)',
    fresh: async () => {
      const store = new PgStore(pgUrl!, `contract_${process.pid}_${serial++}`);
      await store.init();
      return {
        store,
        close: async () => {
          await store.dropSchema();
          await store.close();
        },
      };
    },
  },
];

/** Three items a, b, c; users u1 (no attributes) and u2; feedback u1: a like, b rating 4.5, a view; u3: a view. */
async function seedFeedback(store: Store): Promise<number[]> {
  await store.upsertItems([
    { id: 'a', title: 'Alpha', categories: ['x', 'y'] },
    { id: 'b', title: 'Beta', categories: [] },
    { id: 'c', title: 'Gamma', categories: ['y'] },
  ]);
  await store.upsertUsers([
    { id: 'u2', attributes: { plan: 'pro', age: 31, beta: true } },
    { id: 'u1', attributes: {} },
  ]);
  return [
    ...(await store.addFeedback([
      { user: 'u1', item: 'a', type: 'like', value: 1, ts: 1000 },
      { user: 'u1', item: 'b', type: 'rating', value: 4.5, ts: 2000 },
      { user: 'u3', item: 'a', type: 'view', value: 1, ts: 3000 },
    ])),
    ...(await store.addFeedback([{ user: 'u1', item: 'a', type: 'view', value: 1, ts: 4000 }])),
  ];
}

function contract(b: Backend): void {
  describe(`store contract: ${b.name}`, () => {
    /** One contract case on its own fresh store. */
    const check = (what: string, body: (store: Store) => Promise<void>): void => {
      it(what, { skip: b.skip ?? false }, async () => {
        const { store, close } = await b.fresh();
        try {
          await body(store);
        } finally {
          await close();
        }
      });
    };
    check('opens empty and creates its tables (twice is fine)', async (store) => {
      await store.init();
      assert.equal(store.kind, b.name);
      assert.equal(await store.countItems(), 0);
      assert.equal(await store.countFeedback(), 0);
      assert.deepEqual(await store.listUsers(10, 0), { users: [], total: 0 });
    });
    check('upserts, reads and deletes items (the order of first insertion stays)', async (store) => {
      await store.upsertItems([
        { id: 'a', title: 'Alpha', categories: ['x', 'y'] },
        { id: 'b', title: 'Beta', categories: [] },
        { id: 'c', title: 'Gamma', categories: ['y'] },
      ]);
      await store.upsertItems([{ id: 'a', title: 'Alpha 2', categories: ['z'] }]);
      assert.deepEqual(await store.getItem('a'), { id: 'a', title: 'Alpha 2', categories: ['z'] });
      assert.equal(await store.getItem('nope'), null);
      assert.deepEqual(
        (await store.allItems()).map((i) => i.id),
        ['a', 'b', 'c'],
      );
      assert.equal(await store.countItems(), 3);
      assert.equal(await store.deleteItem('c'), true);
      assert.equal(await store.deleteItem('c'), false);
      assert.equal(await store.countItems(), 2);
    });
    check('records come back as copies: changing a returned record changes nothing stored', async (store) => {
      await store.upsertItems([{ id: 'a', title: 'Alpha', categories: ['x'] }]);
      (await store.getItem('a'))!.categories.push('changed');
      assert.deepEqual((await store.allItems())[0], { id: 'a', title: 'Alpha', categories: ['x'] });
    });
    check('upserts users with attributes', async (store) => {
      await store.upsertUsers([
        { id: 'u2', attributes: { plan: 'pro', age: 31, beta: true } },
        { id: 'u1', attributes: {} },
      ]);
      assert.deepEqual(await store.getUser('u2'), { id: 'u2', attributes: { plan: 'pro', age: 31, beta: true } });
      await store.upsertUsers([{ id: 'u2', attributes: { plan: 'free' } }]);
      assert.deepEqual(await store.getUser('u2'), { id: 'u2', attributes: { plan: 'free' } });
      assert.equal(await store.getUser('nobody'), null);
    });
    check('appends feedback in order, creates unknown users, returns increasing seqs', async (store) => {
      const [s0, s1, s2, s3] = await seedFeedback(store);
      assert.ok(s0! < s1! && s1! < s2! && s2! < s3!);
      const f = await store.feedbackOf('u1');
      assert.deepEqual(
        f.map((x) => [x.item, x.type, x.value, x.ts]),
        [
          ['a', 'like', 1, 1000],
          ['b', 'rating', 4.5, 2000],
          ['a', 'view', 1, 4000],
        ],
      );
      assert.equal((await store.allFeedback()).length, 4);
      assert.deepEqual(
        (await store.feedbackSince(s0!, 2)).map((x) => x.seq),
        [s1, s2],
      );
      assert.deepEqual(await store.feedbackSince(s3!, 10), []);
      assert.deepEqual(
        (await store.feedbackBySeqs([s2!, s0!, 999_999])).map((x) => [x.seq, x.user, x.item]),
        [
          [s0, 'u1', 'a'],
          [s2, 'u3', 'a'],
        ],
      );
      assert.deepEqual(await store.feedbackBySeqs([]), []);
      assert.equal(await store.countFeedback(), 4);
      assert.deepEqual(await store.getUser('u3'), { id: 'u3', attributes: {} });
      assert.deepEqual(await store.addFeedback([]), []);
    });
    check('whole-log aggregates: users with feedback, events, highest seq, positive users per item; likers\' positives', async (store) => {
      const seqs = await seedFeedback(store);
      await store.addFeedback([
        { user: 'u3', item: 'a', type: 'like', value: 1, ts: 5000 },
        { user: 'u3', item: 'a', type: 'like', value: 1, ts: 5001 },
        { user: 'u2', item: 'c', type: 'rating', value: 3, ts: 5002 },
      ]);
      const rules = [{ type: 'like' }, { type: 'rating', minValue: 4 }];
      const st = await store.feedbackStats(rules);
      assert.deepEqual([...st.users].sort(), ['u1', 'u2', 'u3']);
      assert.equal(st.events, 7);
      assert.equal(st.maxSeq, Math.max(...seqs) + 3);
      // a: u1's like and u3's two likes (one user); b: u1's 4.5; c: u2's 3 is below 4
      assert.deepEqual([...st.positiveUsers].sort(), [
        ['a', 2],
        ['b', 1],
      ]);
      assert.deepEqual((await store.feedbackStats([])).positiveUsers.size, 0);
      // the users with a positive on b: u1, whose positives are a (like) and b (rating 4.5), not the view
      assert.deepEqual(
        (await store.positivesOfLikers(['b'], rules)).map((e) => [e.user, e.item, e.type]),
        [
          ['u1', 'a', 'like'],
          ['u1', 'b', 'rating'],
        ],
      );
      assert.deepEqual((await store.positivesOfLikers(['c'], rules)).length, 0);
      assert.deepEqual((await store.positivesOfLikers(['a', 'zz'], rules)).map((e) => e.user), ['u1', 'u1', 'u3', 'u3']);
      // the rows a service has applied: up to a seq, without the seqs it still awaits; with the newest erasure
      const top = Math.max(...seqs) + 3;
      const applied = async (upTo: number, skip: number[]): Promise<unknown> => {
        const got = await store.appliedCounts(rules, upTo, skip);
        return [got.events, [...got.positiveUsers].sort(), got.erasureGen];
      };
      assert.deepEqual(await applied(seqs[3]!, []), [4, [['a', 1], ['b', 1]], 0]);
      // without u1's like of a (seqs[0]) and u3's first like of a: u3's second like still counts u3 on a
      assert.deepEqual(await applied(top, [seqs[0]!, top - 2]), [5, [['a', 1], ['b', 1]], 0]);
      assert.deepEqual(await applied(top, []), [7, [['a', 2], ['b', 1]], 0]);
      assert.equal(await store.deleteUser('u3'), true);
      assert.deepEqual(await applied(top, []), [4, [['a', 1], ['b', 1]], await store.erasureGeneration()]);
      assert.ok((await store.erasureGeneration()) > 0);
    });
    check('lists users ordered by id (bytes) with their interaction counts', async (store) => {
      await seedFeedback(store);
      await store.upsertUsers([{ id: 'U0', attributes: {} }]);
      const list = await store.listUsers(10, 0);
      assert.equal(list.total, 4);
      assert.deepEqual(list.users, [
        { id: 'U0', interactions: 0 },
        { id: 'u1', interactions: 3 },
        { id: 'u2', interactions: 0 },
        { id: 'u3', interactions: 1 },
      ]);
      assert.deepEqual((await store.listUsers(1, 2)).users, [{ id: 'u2', interactions: 0 }]);
    });
    check('deleting an item deletes its feedback; deleting a user deletes theirs and their overrides', async (store) => {
      await seedFeedback(store);
      await store.upsertItems([{ id: 'd', title: 'Delta', categories: [] }]);
      await store.addFeedback([{ user: 'u2', item: 'd', type: 'like', value: 1, ts: 5 }]);
      assert.equal(await store.deleteItem('d'), true);
      assert.equal((await store.feedbackOf('u2')).length, 0);
      assert.equal(await store.countFeedback(), 4);
      await store.setOverride({ user: 'u3', persona: 0, muted: true, boost: 1 });
      assert.equal(await store.deleteUser('u3'), true);
      assert.equal(await store.deleteUser('u3'), false);
      assert.equal((await store.feedbackOf('u3')).length, 0);
      assert.deepEqual(await store.overridesOf('u3'), []);
      assert.equal(await store.countFeedback(), 3);
      assert.deepEqual(
        (await store.feedbackOf('u1')).map((x) => x.item),
        ['a', 'b', 'a'],
      );
    });
    check('persona overrides upsert per (user, persona)', async (store) => {
      await store.setOverride({ user: 'u1', persona: 1, muted: true, boost: 1 });
      await store.setOverride({ user: 'u1', persona: 0, muted: false, boost: 2.5 });
      await store.setOverride({ user: 'u1', persona: 1, muted: false, boost: 0.5 });
      assert.deepEqual(await store.overridesOf('u1'), [
        { user: 'u1', persona: 0, muted: false, boost: 2.5 },
        { user: 'u1', persona: 1, muted: false, boost: 0.5 },
      ]);
      assert.deepEqual(await store.overridesOf('u2'), []);
    });
    check('API keys are found by hash only', async (store) => {
      await store.addApiKey('h1', 'read', 'reader');
      await store.addApiKey('h2', 'admin', 'boss');
      assert.equal(await store.findApiKey('h1'), 'read');
      assert.equal(await store.findApiKey('h2'), 'admin');
      assert.equal(await store.findApiKey('h3'), null);
      assert.equal(await store.countApiKeys(), 2);
    });
    check('the env key replaces every earlier env row; keys are listed without secrets and deleted by id', async (store) => {
      const h = (c: string): string => c.repeat(64);
      await store.addApiKey('h1', 'read', 'reader');
      await store.addApiKey(h('a'), 'write', 'app', 'pk_abcde');
      // a row from before rows had a source: label PERSONAE_API_KEY and no prefix
      await store.addApiKey(h('b'), 'admin', 'PERSONAE_API_KEY');
      await store.replaceEnvApiKey(h('c'), 'env1');
      assert.equal(await store.findApiKey(h('b')), null, 'the earlier env key is gone');
      assert.equal(await store.findApiKey(h('c')), 'admin');
      await store.replaceEnvApiKey(h('d'), 'env2');
      assert.equal(await store.findApiKey(h('c')), null);
      const list = (await store.listApiKeys()).filter((k) => k.id === 'a'.repeat(16) || k.id === 'd'.repeat(16));
      assert.deepEqual(
        list.map((k) => [k.id, k.prefix, k.scope, k.label, k.source]).sort(),
        [
          ['aaaaaaaaaaaaaaaa', 'pk_abcde', 'write', 'app', 'api'],
          ['dddddddddddddddd', 'env2', 'admin', 'PERSONAE_API_KEY', 'env'],
        ],
      );
      assert.ok(list.every((k) => typeof k.created === 'number' && k.created > 0 && !('hash' in k)));
      assert.equal(await store.countApiKeys(), 3); // h1, a, d
      assert.equal(await store.deleteApiKey('a'.repeat(16)), true);
      assert.equal(await store.deleteApiKey('a'.repeat(16)), false);
      assert.equal(await store.findApiKey(h('a')), null);
      assert.equal(await store.countApiKeys(), 2);
    });
    check('a user deletion leaves a tombstone with an increasing generation', async (store) => {
      assert.equal(await store.erasureGeneration(), 0);
      await store.addFeedback([{ user: 'gone1', item: 'a', type: 'like', value: 1, ts: 1 }]);
      await store.addFeedback([{ user: 'gone2', item: 'a', type: 'like', value: 1, ts: 2 }]);
      assert.equal(await store.deleteUser('gone1'), true);
      assert.equal(await store.deleteUser('gone1'), false, 'no tombstone for a user that is not there');
      assert.equal(await store.deleteUser('gone2'), true);
      const rows = await store.erasuresSince(0, 10);
      assert.deepEqual(rows.map((e) => e.user), ['gone1', 'gone2']);
      assert.ok(rows[0]!.gen > 0 && rows[1]!.gen > rows[0]!.gen);
      assert.equal(await store.erasureGeneration(), rows[1]!.gen);
      assert.deepEqual(await store.erasuresSince(rows[1]!.gen, 10), []);
      assert.deepEqual((await store.erasuresSince(0, 1)).map((e) => e.user), ['gone1']);
    });
    check('models get increasing versions; the latest is returned', async (store) => {
      assert.equal(await store.latestModel(), null);
      const m1 = await store.addModel({ name: 'pop', path: '/x/1', sha256: 'aa', trainedAt: '2026-01-01T00:00:00.000Z', params: {}, feedbackSeq: 3, evaluation: null });
      const m2 = await store.addModel({ name: 'personas', path: '/x/2', sha256: 'bb', trainedAt: '2026-01-02T00:00:00.000Z', params: { k: 4, loss: 'attention', itemBias: true }, feedbackSeq: 4, evaluation: '{"a":1}' });
      assert.ok(m2.version > m1.version);
      assert.deepEqual(await store.latestModel(), m2);
      assert.deepEqual(await store.listModels(), [m2, m1]);
      assert.equal(await store.deleteModel(m1.version), true);
      assert.equal(await store.deleteModel(m1.version), false);
      assert.deepEqual(await store.listModels(), [m2]);
      // a deleted version is never given again
      const m3 = await store.addModel({ name: 'pop', path: '/x/3', sha256: 'cc', trainedAt: '2026-01-03T00:00:00.000Z', params: {}, feedbackSeq: 5, evaluation: null });
      await store.deleteModel(m3.version);
      assert.ok((await store.addModel({ name: 'pop', path: '/x/4', sha256: 'dd', trainedAt: '2026-01-04T00:00:00.000Z', params: {}, feedbackSeq: 5, evaluation: null })).version > m3.version);
    });
    check('jobs are saved, updated and read back; stale running jobs are marked failed', async (store) => {
      assert.equal(await store.getJob('j1'), null);
      const job = { id: 'j1', kind: 'train' as const, state: 'running' as const, progress: { stage: 'fit', done: 2, total: 10 }, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: null, error: null, model: null };
      await store.saveJob(job, 1000);
      assert.deepEqual(await store.getJob('j1'), job);
      const done = { ...job, state: 'done' as const, progress: { stage: 'fit', done: 10, total: 10 }, finishedAt: '2026-01-01T00:01:00.000Z', model: { name: 'pop', version: 3 } };
      await store.saveJob(done, 2000);
      assert.deepEqual(await store.getJob('j1'), done);
      await store.saveJob({ ...job, id: 'old' }, 1000);
      await store.saveJob({ ...job, id: 'fresh' }, 5000);
      // only running jobs last stamped before the cut
      assert.equal(await store.failStaleJobs(3000, 'interrupted'), 1);
      const old = await store.getJob('old');
      assert.equal(old?.state, 'failed');
      assert.equal(old?.error, 'interrupted');
      assert.equal((await store.getJob('fresh'))?.state, 'running');
      assert.equal((await store.getJob('j1'))?.state, 'done');
    });
    check('onboarding sessions are saved, replaced, read back and pruned by age', async (store) => {
      assert.equal(await store.getOnboarding('s1'), null);
      await store.saveOnboarding({ id: 's1', state: '{"answers":[]}', updatedAt: 1000 });
      await store.saveOnboarding({ id: 's1', state: '{"answers":[1]}', updatedAt: 3000 });
      await store.saveOnboarding({ id: 's2', state: '{}', updatedAt: 1500 });
      assert.deepEqual(await store.getOnboarding('s1'), { id: 's1', state: '{"answers":[1]}', updatedAt: 3000 });
      assert.equal(await store.pruneOnboarding(2000), 1);
      assert.equal(await store.getOnboarding('s2'), null);
      assert.equal((await store.getOnboarding('s1'))?.updatedAt, 3000);
    });
    check('social edges: friend edges are stored once either way, follows keep their direction, unknown users are created', async (store) => {
      assert.equal(await store.countEdges(), 0);
      assert.deepEqual(await store.edgesOf('b'), []);
      const added = await store.addEdges([
        { user: 'b', friend: 'a', kind: 'friend', ts: 10 },
        { user: 'a', friend: 'b', kind: 'friend', ts: 11 }, // the same friendship: kept once, first ts
        { user: 'b', friend: 'c', kind: 'follow', ts: 12 },
        { user: 'c', friend: 'b', kind: 'follow', ts: 12 },
        { user: 'b', friend: 'c', kind: 'follow', ts: 13 }, // again in the batch
      ]);
      assert.equal(added, 3);
      assert.equal(await store.addEdges([{ user: 'a', friend: 'b', kind: 'friend', ts: 99 }]), 0, 'already stored: nothing new, ts kept');
      assert.equal(await store.addEdges([]), 0);
      assert.equal(await store.countEdges(), 3);
      assert.deepEqual(await store.getUser('c'), { id: 'c', attributes: {} });
      const all = [
        { user: 'a', friend: 'b', kind: 'friend', ts: 10 },
        { user: 'b', friend: 'c', kind: 'follow', ts: 12 },
        { user: 'c', friend: 'b', kind: 'follow', ts: 12 },
      ];
      assert.deepEqual(await store.allEdges(), all);
      assert.deepEqual(await store.edgesOf('b'), all);
      assert.deepEqual(await store.edgesOf('a'), [all[0]]);
      assert.deepEqual(await store.edgesOf('nobody'), []);
    });
    check('social edges: deleting removes what the user holds (follows, friendships either way), not the follows of others', async (store) => {
      await store.addEdges([
        { user: 'b', friend: 'a', kind: 'friend', ts: 1 },
        { user: 'b', friend: 'c', kind: 'follow', ts: 2 },
        { user: 'c', friend: 'b', kind: 'follow', ts: 3 },
        { user: 'b', friend: 'd', kind: 'friend', ts: 4 },
        { user: 'x', friend: 'y', kind: 'follow', ts: 5 },
      ]);
      // b's friendship with a is stored as (a, b): b deletes it all the same
      assert.equal(await store.deleteEdges('b', ['a', 'zzz', 'a']), 1);
      assert.equal(await store.deleteEdges('b', ['a']), 0);
      // c follows b: b cannot delete c's follow by naming c, only b's own follow of c
      assert.equal(await store.deleteEdges('b', ['c']), 1);
      assert.deepEqual((await store.edgesOf('b')).map((e) => [e.user, e.friend, e.kind]), [
        ['c', 'b', 'follow'],
        ['b', 'd', 'friend'],
      ]);
      assert.equal(await store.deleteEdges('b', null), 1, 'the friendship with d; c still follows b');
      assert.deepEqual((await store.edgesOf('b')).map((e) => [e.user, e.friend]), [['c', 'b']]);
      assert.equal(await store.countEdges(), 2);
    });
    check('deleting a user deletes their social edges both ways', async (store) => {
      await store.addEdges([
        { user: 'u', friend: 'v', kind: 'friend', ts: 1 },
        { user: 'w', friend: 'u', kind: 'follow', ts: 2 },
        { user: 'u', friend: 'w', kind: 'follow', ts: 3 },
        { user: 'v', friend: 'w', kind: 'friend', ts: 4 },
      ]);
      assert.equal(await store.deleteUser('u'), true);
      assert.deepEqual(await store.edgesOf('u'), []);
      assert.deepEqual(await store.allEdges(), [{ user: 'v', friend: 'w', kind: 'friend', ts: 4 }]);
    });
    check('the write probe commits, again and again', async (store) => {
      await store.probeWrite();
      await store.probeWrite();
    });
    check('jobs are listed newest first, at most the limit', async (store) => {
      const base = { kind: 'train' as const, state: 'done' as const, progress: { stage: 'fit', done: 1, total: 1 }, finishedAt: null, error: null, model: null };
      await store.saveJob({ ...base, id: 'l1', startedAt: '2027-01-01T00:00:00.000Z' }, 1);
      await store.saveJob({ ...base, id: 'l3', startedAt: '2027-01-03T00:00:00.000Z' }, 1);
      await store.saveJob({ ...base, id: 'l2', startedAt: '2027-01-02T00:00:00.000Z' }, 1);
      assert.deepEqual((await store.listJobs(2)).map((j) => j.id), ['l3', 'l2']);
      assert.deepEqual((await store.listJobs(100)).map((j) => j.id), ['l3', 'l2', 'l1']);
    });
    check('settings are set, replaced and deleted', async (store) => {
      assert.equal(await store.getSetting('pin'), null);
      await store.setSetting('pin', '{"version":2}');
      await store.setSetting('pin', '{"version":3}');
      assert.equal(await store.getSetting('pin'), '{"version":3}');
      await store.setSetting('pin', null);
      assert.equal(await store.getSetting('pin'), null);
    });
  });
}

for (const b of BACKENDS) contract(b);

describe('openStore: the --db value picks the backend by its scheme', () => {
  it('plain paths and sqlite: are SQLite, memory: is the memory store, postgres URLs are PostgreSQL', async () => {
    assert.equal(storeScheme('personae.db'), 'sqlite:');
    assert.equal(storeScheme('/var/lib/personae/x.db'), 'sqlite:');
    assert.equal(storeScheme(':memory:'), 'sqlite:');
    assert.equal(storeScheme('sqlite:x.db'), 'sqlite:');
    assert.equal(storeScheme('memory:'), 'memory:');
    assert.equal(storeScheme('postgres://u@h/db'), 'postgres:');
    assert.equal(storeScheme('postgresql://u@h/db'), 'postgresql:');
    assert.equal(sqliteFile('sqlite:x.db'), 'x.db');
    assert.equal(sqliteFile('sqlite:///abs/x.db'), '/abs/x.db');
    assert.equal(sqliteFile('dir/x.db'), 'dir/x.db');
    assert.throws(() => storeScheme('mysql://root:secret@h/db'), (e: unknown) => e instanceof ConfigError && /--db: unknown store scheme "mysql:" in mysql:\/\/\*\*\*@h\/db/.test(e.message) && !e.message.includes('secret'));
    const mem = await openStore('memory:');
    assert.equal(mem.kind, 'memory');
    await mem.close();
    const file = join(dir, 'opened.db');
    const lite = await openStore(`sqlite:${file}`);
    assert.equal(lite.kind, 'sqlite');
    await lite.upsertItems([{ id: 'a', title: 'A', categories: [] }]);
    await lite.close();
    const again = await openStore(file);
    assert.equal(await again.countItems(), 1, 'sqlite:FILE and FILE are the same database');
    await again.close();
  });
  it('a closed memory store refuses with a store failure (a 503), not a bug (a 500)', async () => {
    const { storeFailure } = await import('../src/store/errors.js');
    const mem = new MemoryStore();
    await mem.init();
    await mem.close();
    const err = await mem.countItems().then(() => null, (e: unknown) => e);
    assert.equal(storeFailure(err)?.code, 'store_unavailable');
  });
});

describe('feedback policy', () => {
  it('parses the positive types and keeps the other default types as not positive', async () => {
    const { parseFeedbackPolicy, isPositive } = await import('../src/serve/live.js');
    const p = parseFeedbackPolicy('like, purchase,rating>=4.5,star');
    assert.deepEqual(p.rating, { positive: true, minValue: 4.5 });
    assert.deepEqual(p.view, { positive: false });
    assert.equal(isPositive(p, 'rating', 4), false);
    assert.equal(isPositive(p, 'rating', 5), true);
    assert.equal(isPositive(p, 'star', 0), true);
    assert.equal(isPositive(p, 'view', 1), false);
    assert.equal(isPositive(p, 'unknown', 1), false);
    assert.throws(() => parseFeedbackPolicy('a b'), /--positive: "a b"/);
  });
});

describe('live mirror erasures', () => {
  it('drops a deleted user, keeps what was written for the id after the deletion, and marks the id erased', async () => {
    const { LiveData, DEFAULT_FEEDBACK_TYPES } = await import('../src/serve/live.js');
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsertItems([{ id: 'a', title: 'A', categories: [] }, { id: 'b', title: 'B', categories: [] }]);
    await store.addFeedback([{ user: 'u', item: 'a', type: 'like', value: 1, ts: 1 }, { user: 'w', item: 'a', type: 'like', value: 1, ts: 1 }]);
    const live = await LiveData.load(store, DEFAULT_FEEDBACK_TYPES);
    // another replica deletes u, then u comes back with a new like that this mirror applies first
    await store.deleteUser('u');
    const [seq] = await store.addFeedback([{ user: 'u', item: 'b', type: 'like', value: 1, ts: 2 }]);
    live.applyFeedback([{ seq: seq!, user: 'u', item: 'b', type: 'like', value: 1, ts: 2 }]);
    assert.equal(live.users.get('u')!.events, 2);
    assert.equal(live.erasedAfter('u', 0), false);
    assert.equal(await live.catchUp(store), 0);
    const u = live.users.get('u')!;
    assert.deepEqual([...u.seen.keys()], ['b'], 'only the event after the deletion');
    assert.deepEqual(u.positives.map((p) => p.item), ['b']);
    assert.equal(live.feedbackCount, 2); // w's like and u's new one
    assert.equal(live.erasedAfter('u', 0), true);
    assert.equal(live.erasedAfter('u', live.erasureGen), false);
    assert.equal(live.erasedAfter('w', 0), false);
    // a fresh mirror loaded after the deletion knows the erasure too
    const again = await LiveData.load(store, DEFAULT_FEEDBACK_TYPES);
    assert.equal(again.erasedAfter('u', 0), true);
    await store.close();
  });
});

describe('live mirror catching up', () => {
  it('applies late commits below the highest seq once, and nothing twice', async () => {
    const { LiveData, DEFAULT_FEEDBACK_TYPES } = await import('../src/serve/live.js');
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsertItems([{ id: 'a', title: 'A', categories: [] }]);
    await store.addFeedback([{ user: 'u', item: 'a', type: 'like', value: 1, ts: 1 }]);
    const live = await LiveData.load(store, DEFAULT_FEEDBACK_TYPES);
    assert.equal(live.maxSeq, 1);
    const ev = (seq: number) => ({ seq, user: 'u', item: 'a', type: 'view', value: 1, ts: seq });
    live.applyFeedback([ev(4)]); // 2 and 3 are gaps: maybe still committing elsewhere
    assert.equal(live.feedbackCount, 2);
    live.applyFeedback([ev(4), ev(3)]); // 4 again is ignored, 3 fills a gap
    assert.equal(live.feedbackCount, 3);
    live.applyFeedback([ev(3)]);
    assert.equal(live.feedbackCount, 3);
    // another process commits seqs 2..5 now: catching up takes 2 (a gap) and 5 (new), not 3 or 4
    await store.addFeedback([2, 3, 4, 5].map((q) => ({ user: 'v', item: 'a', type: 'view', value: 1, ts: q })));
    assert.equal(await live.catchUp(store), 2);
    assert.equal(live.maxSeq, 5);
    assert.equal(await live.catchUp(store), 0);
    await store.close();
  });
});
