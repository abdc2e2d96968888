/**
 * The store contract: the same tests against SQLite and PostgreSQL. The PostgreSQL half needs
 * PERSONAE_TEST_PG (`source scripts/test-services.sh`); each run uses its own schema.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PgStore } from '../src/serve/store-pg.js';
import { SqliteStore } from '../src/serve/store-sqlite.js';
import type { Store } from '../src/serve/store.js';

function contract(name: string, open: () => Promise<Store>, cleanup: (s: Store) => Promise<void>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    it('opens and creates its tables (twice is fine)', async () => {
      store = await open();
      await store.init();
      assert.equal(await store.countItems(), 0);
      assert.equal(await store.countFeedback(), 0);
    });
    it('upserts, reads and deletes items', async () => {
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
    it('upserts users with attributes and lists them with interaction counts', async () => {
      await store.upsertUsers([
        { id: 'u2', attributes: { plan: 'pro', age: 31, beta: true } },
        { id: 'u1', attributes: {} },
      ]);
      assert.deepEqual(await store.getUser('u2'), { id: 'u2', attributes: { plan: 'pro', age: 31, beta: true } });
      assert.equal(await store.getUser('nobody'), null);
    });
    it('appends feedback in order, creates unknown users, returns increasing seqs', async () => {
      const seqs = await store.addFeedback([
        { user: 'u1', item: 'a', type: 'like', value: 1, ts: 1000 },
        { user: 'u1', item: 'b', type: 'rating', value: 4.5, ts: 2000 },
        { user: 'u3', item: 'a', type: 'view', value: 1, ts: 3000 },
      ]);
      assert.equal(seqs.length, 3);
      assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!);
      const more = await store.addFeedback([{ user: 'u1', item: 'a', type: 'view', value: 1, ts: 4000 }]);
      assert.ok(more[0]! > seqs[2]!);
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
        (await store.feedbackSince(seqs[0]!, 2)).map((x) => x.seq),
        [seqs[1], seqs[2]],
      );
      assert.deepEqual(await store.feedbackSince(more[0]!, 10), []);
      assert.deepEqual(
        (await store.feedbackBySeqs([seqs[2]!, seqs[0]!, 999_999])).map((x) => [x.seq, x.user, x.item]),
        [
          [seqs[0], 'u1', 'a'],
          [seqs[2], 'u3', 'a'],
        ],
      );
      assert.deepEqual(await store.feedbackBySeqs([]), []);
      assert.equal(await store.countFeedback(), 4);
      assert.deepEqual(await store.getUser('u3'), { id: 'u3', attributes: {} });
      const list = await store.listUsers(10, 0);
      assert.equal(list.total, 3);
      assert.deepEqual(list.users, [
        { id: 'u1', interactions: 3 },
        { id: 'u2', interactions: 0 },
        { id: 'u3', interactions: 1 },
      ]);
      assert.deepEqual((await store.listUsers(1, 1)).users, [{ id: 'u2', interactions: 0 }]);
      assert.deepEqual(await store.addFeedback([]), []);
    });
    it('deleting an item deletes its feedback; deleting a user deletes theirs', async () => {
      await store.upsertItems([{ id: 'd', title: 'Delta', categories: [] }]);
      await store.addFeedback([{ user: 'u2', item: 'd', type: 'like', value: 1, ts: 5 }]);
      assert.equal(await store.deleteItem('d'), true);
      assert.equal((await store.feedbackOf('u2')).length, 0);
      await store.setOverride({ user: 'u3', persona: 0, muted: true, boost: 1 });
      assert.equal(await store.deleteUser('u3'), true);
      assert.equal(await store.deleteUser('u3'), false);
      assert.equal((await store.feedbackOf('u3')).length, 0);
      assert.deepEqual(await store.overridesOf('u3'), []);
    });
    it('persona overrides upsert per (user, persona)', async () => {
      await store.setOverride({ user: 'u1', persona: 1, muted: true, boost: 1 });
      await store.setOverride({ user: 'u1', persona: 0, muted: false, boost: 2.5 });
      await store.setOverride({ user: 'u1', persona: 1, muted: false, boost: 0.5 });
      assert.deepEqual(await store.overridesOf('u1'), [
        { user: 'u1', persona: 0, muted: false, boost: 2.5 },
        { user: 'u1', persona: 1, muted: false, boost: 0.5 },
      ]);
    });
    it('API keys are found by hash only', async () => {
      await store.addApiKey('h1', 'read', 'reader');
      await store.addApiKey('h2', 'admin', 'boss');
      assert.equal(await store.findApiKey('h1'), 'read');
      assert.equal(await store.findApiKey('h2'), 'admin');
      assert.equal(await store.findApiKey('h3'), null);
    });
    it('the env key replaces every earlier env row; keys are listed without secrets and deleted by id', async () => {
      const h = (c: string): string => c.repeat(64);
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
      assert.equal(await store.countApiKeys(), 4); // h1, h2, a, d
      assert.equal(await store.deleteApiKey('a'.repeat(16)), true);
      assert.equal(await store.deleteApiKey('a'.repeat(16)), false);
      assert.equal(await store.findApiKey(h('a')), null);
      assert.equal(await store.countApiKeys(), 3);
    });
    it('a user deletion leaves a tombstone with an increasing generation', async () => {
      const g0 = await store.erasureGeneration();
      await store.addFeedback([{ user: 'gone1', item: 'a', type: 'like', value: 1, ts: 1 }]);
      await store.addFeedback([{ user: 'gone2', item: 'a', type: 'like', value: 1, ts: 2 }]);
      assert.equal(await store.deleteUser('gone1'), true);
      assert.equal(await store.deleteUser('gone1'), false, 'no tombstone for a user that is not there');
      assert.equal(await store.deleteUser('gone2'), true);
      const rows = await store.erasuresSince(g0, 10);
      assert.deepEqual(rows.map((e) => e.user), ['gone1', 'gone2']);
      assert.ok(rows[0]!.gen > g0 && rows[1]!.gen > rows[0]!.gen);
      assert.equal(await store.erasureGeneration(), rows[1]!.gen);
      assert.deepEqual(await store.erasuresSince(rows[1]!.gen, 10), []);
      assert.deepEqual((await store.erasuresSince(g0, 1)).map((e) => e.user), ['gone1']);
    });
    it('models get increasing versions; the latest is returned', async () => {
      assert.equal(await store.latestModel(), null);
      const m1 = await store.addModel({ name: 'pop', path: '/x/1', sha256: 'aa', trainedAt: '2026-01-01T00:00:00.000Z', params: {}, feedbackSeq: 3, evaluation: null });
      const m2 = await store.addModel({ name: 'personas', path: '/x/2', sha256: 'bb', trainedAt: '2026-01-02T00:00:00.000Z', params: { k: 4, loss: 'attention', itemBias: true }, feedbackSeq: 4, evaluation: '{"a":1}' });
      assert.ok(m2.version > m1.version);
      assert.deepEqual(await store.latestModel(), m2);
      assert.deepEqual(await store.listModels(), [m2, m1]);
      assert.equal(await store.deleteModel(m1.version), true);
      assert.equal(await store.deleteModel(m1.version), false);
      assert.deepEqual(await store.listModels(), [m2]);
    });
    it('jobs are saved, updated and read back; stale running jobs are marked failed', async () => {
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
      await store.probeWrite();
      await store.probeWrite();
    });
    it('closes', async () => {
      await cleanup(store);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'personae-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

contract(
  'sqlite',
  async () => new SqliteStore(join(dir, 'store.db')),
  async (s) => s.close(),
);

const pgUrl = process.env.PERSONAE_TEST_PG;
if (pgUrl) {
  const schema = `contract_${process.pid}_${Date.now()}`;
  contract(
    'postgres',
    async () => new PgStore(pgUrl, schema),
    async (s) => {
      await (s as PgStore).dropSchema();
      await s.close();
    },
  );
} else {
  describe('store contract: postgres', () => {
    it('SKIPPED: PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)', { skip: 'PERSONAE_TEST_PG is not set' }, () => {});
  });
}

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
