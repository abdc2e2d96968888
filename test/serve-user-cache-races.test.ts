/**
 * Races of the bounded user cache (src/serve/live.ts, user-cache.ts) with a store whose reads take
 * time, as PostgreSQL's do: a MemoryStore behind a proxy holds chosen reads until released. In every
 * case the cache must hold what the mirror of every user (`userCache: 0`) holds after the same
 * steps: the per-item positive-user counts, the event count, each user's history and settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';
import { refreshCounts } from '../src/serve/count-refresh.js';
import { itemList, REBUILD_EVERY_MS } from '../src/serve/lists.js';
import { positiveRules } from '../src/serve/user-cache.js';
import { MemoryStore } from '../src/store/memory.js';
import { PgStore } from '../src/store/postgres.js';
import type { FeedbackRecord, Store } from '../src/store/types.js';

const policy = DEFAULT_FEEDBACK_TYPES;
const pgUrl = process.env.PERSONAE_TEST_PG;
const like = (user: string, item: string): FeedbackRecord => ({ user, item, type: 'like', value: 1, ts: 1 });
const view = (user: string, item: string): FeedbackRecord => ({ user, item, type: 'view', value: 1, ts: 1 });

/** A store whose methods named in `gate` answer (from what they read at once) only when released. */
function gated(store: MemoryStore): { s: Store; gate: (name: keyof Store) => () => void; calls: Map<string, number> } {
  const gates = new Map<string, Promise<void>>();
  const calls = new Map<string, number>();
  const s = new Proxy(store, {
    get(t, k, r) {
      const v: unknown = Reflect.get(t, k, r);
      if (typeof v !== 'function') return v;
      return async (...a: unknown[]) => {
        calls.set(String(k), (calls.get(String(k)) ?? 0) + 1);
        const out: unknown = await (v as (...x: unknown[]) => Promise<unknown>).apply(t, a);
        const g = gates.get(String(k));
        if (g) await g;
        return out;
      };
    },
  }) as unknown as Store;
  const gate = (name: keyof Store): (() => void) => {
    let open: () => void = () => {};
    gates.set(name, new Promise<void>((r) => (open = r)));
    return () => {
      gates.delete(name);
      open();
    };
  };
  return { s, gate, calls };
}

async function setup(rows: FeedbackRecord[], userCache = 2): Promise<{ store: MemoryStore; live: LiveData }> {
  const store = new MemoryStore();
  await store.init();
  await store.upsertItems(['a', 'b', 'c', 'x'].map((id) => ({ id, title: id, categories: [] })));
  if (rows.length > 0) await store.addFeedback(rows);
  return { store, live: await LiveData.load(store, policy, { userCache }) };
}

/** POST /v1/feedback's steps. */
async function post(live: LiveData, store: Store, events: FeedbackRecord[]): Promise<void> {
  await live.prepareFeedback(store, events);
  const seqs = await store.addFeedback(events);
  live.applyFeedback(events.map((e, r) => ({ ...e, seq: seqs[r]! })));
}

/** Requests for `a` and `b` with a cache of 2: every other user leaves it (once the users handed out are released). */
async function evictAllBut(live: LiveData, store: Store, a: string, b: string): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await live.ensureUser(store, a);
  await live.ensureUser(store, b);
  await new Promise((r) => setImmediate(r));
}

/** The store's per-item positive-user counts and event count (what a mirror loaded now holds). */
async function truth(store: Store): Promise<{ positives: Record<string, number>; events: number }> {
  const st = await store.feedbackStats(positiveRules(policy));
  return { positives: Object.fromEntries([...st.positiveUsers].sort()), events: st.events };
}

function counts(live: LiveData): { positives: Record<string, number>; events: number } {
  return { positives: Object.fromEntries([...live.cache!.positiveUsers].sort()), events: live.feedbackCount };
}

describe('the user cache under store reads that take time', () => {
  it('a first-time user is cached at once: no whole-log re-read of the counts', async () => {
    const { store, live } = await setup([like('U', 'a')], 100);
    const { s, calls } = gated(store);
    for (let n = 0; n < 3; n++) {
      await post(live, s, [like(`new${n}`, 'b')]);
      assert.equal(live.cache!.dirty, false);
      assert.equal(live.users.get(`new${n}`)?.positives.length, 1);
      await refreshCounts(live, s);
    }
    assert.equal(calls.get('feedbackStats') ?? 0, 0);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1, b: 3 }, events: 4 });
  });

  it('counts re-read while a committed like is not applied yet: counted once', async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    await live.ensureUser(store, 'V');
    live.cache!.dirty = true; // as after a like of a user evicted between its read and its write
    const ev = [like('V', 'x')];
    await live.prepareFeedback(store, ev);
    const seqs = await store.addFeedback(ev); // committed (SQLite's writer thread, PostgreSQL) ...
    await refreshCounts(live, store); // ... a list request re-reads the counts before the route applies it
    live.applyFeedback(ev.map((e, r) => ({ ...e, seq: seqs[r]! })));
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 2, b: 1, x: 1 }, events: 4 });
  });
  it("another replica's rows re-read before the catch-up applies them: counted once", async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    await live.ensureUser(store, 'V');
    live.cache!.dirty = true;
    await store.addFeedback([like('V', 'x'), like('U', 'x'), view('W', 'x')]); // another replica's writes
    await refreshCounts(live, store);
    assert.deepEqual(counts(live), { positives: { a: 2, b: 1 }, events: 3 }, 'the rows not applied here are not counted yet');
    await live.catchUp(store);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 2, b: 1, x: 2 }, events: 6 });
  });
  it('the event count re-read after erasing a user not at hand, with a write committed and not applied', async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    const ev = [view('W', 'x')];
    const seqsP = store.addFeedback(ev); // committed, its reply not handled yet
    assert.equal(await store.deleteUser('V'), true); // DELETE of a user not cached
    live.deleteUser('V');
    await live.applyErasures(store);
    const seqs = await seqsP;
    live.applyFeedback(ev.map((e, r) => ({ ...e, seq: seqs[r]! })));
    await refreshCounts(live, store);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1, b: 1 }, events: 3 });
  });
  it("counts re-read after another replica's erasure committed: the erasure is applied first", async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    await live.ensureUser(store, 'V');
    live.cache!.dirty = true;
    await store.deleteUser('U'); // another replica
    const { s, gate } = gated(store);
    const release = gate('appliedCounts');
    const reading = refreshCounts(live, s);
    await new Promise((r) => setImmediate(r));
    await post(live, store, [like('V', 'b')]); // applied while the store answers: not in its snapshot
    release();
    await reading;
    assert.equal(live.hasUser('U'), false);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1, b: 1 }, events: 2 });
  });
  it('two requests while the counts are re-read both wait for them; a list built before is rebuilt after', async () => {
    const { store, live } = await setup([like('U', 'a'), like('V', 'a')], 100);
    // a like of a user not at hand (evicted between its read and its write): the counts are re-read
    const seqs = await store.addFeedback([like('V', 'b'), like('V', 'c')]);
    live.applyFeedback([like('V', 'b'), like('V', 'c')].map((e, r) => ({ ...e, seq: seqs[r]! })));
    assert.equal(live.cache!.dirty, true);
    const popular = (): string => itemList(live, 'popular', { n: 3, offset: 0 }).items.map((i) => `${i.id}:${i.positives}`).join(' ');
    const { s, gate } = gated(store);
    const release = gate('appliedCounts');
    const list = async (): Promise<string> => {
      await refreshCounts(live, s); // listInputs
      return popular();
    };
    const both = Promise.all([list(), list()]);
    await new Promise((r) => setTimeout(r, 20));
    release();
    assert.deepEqual(await both, ['a:2 b:1 c:1', 'a:2 b:1 c:1']);
    // a list built from counts not re-read yet is rebuilt once they are (past the lists' throttle)
    live.applyFeedback([{ ...like('U', 'c'), seq: (await store.addFeedback([like('U', 'c')]))[0]! }]);
    assert.equal(live.cache!.dirty, true);
    await new Promise((r) => setTimeout(r, REBUILD_EVERY_MS + 100));
    assert.equal(popular(), 'a:2 b:1 c:1', 'not yet re-read');
    await refreshCounts(live, store);
    await new Promise((r) => setTimeout(r, REBUILD_EVERY_MS + 100));
    assert.equal(popular(), 'a:2 c:2 b:1');
  });
  it('an erasure while the user is read, then a new write: the erased history stays gone', async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a'), like('W', 'b')]);
    const { s, gate } = gated(store);
    const release = gate('feedbackOf');
    const reading = live.ensureUser(s, 'U'); // a request for U
    await new Promise((r) => setImmediate(r));
    // DELETE /v1/users/U meanwhile, then U (a new user with the same id) likes c
    await store.deleteUser('U');
    live.deleteUser('U');
    await live.applyErasures(store);
    await post(live, store, [like('U', 'c')]);
    await evictAllBut(live, store, 'V', 'W'); // requests for others: U leaves the cache of 2
    assert.equal(live.users.has('U'), false);
    release();
    const u = await reading;
    assert.deepEqual(u?.positives.map((p) => p.item), ['c']);
    assert.deepEqual([...(live.users.get('U')?.seen.keys() ?? [])], ['c']);
    assert.equal(live.users.get('U')?.events, 1);
    assert.deepEqual(counts(live), await truth(store));
  });
  for (const userCache of [2, 0]) {
    it(`likes of the user rebuilt after an erasure, made while it is applied, are kept (userCache ${userCache})`, async () => {
      const { store, live } = await setup([like('U', 'a'), like('V', 'a'), like('W', 'b')], userCache);
      const { s, gate } = gated(store);
      await store.deleteUser('U'); // DELETE /v1/users/U
      live.deleteUser('U');
      const erasures = gate('erasuresSince');
      const kept = gate('feedbackOf');
      const erasing = live.applyErasures(s);
      await post(live, store, [like('U', 'c')]); // while the erasures are read
      erasures();
      await new Promise((r) => setTimeout(r, 20));
      await post(live, store, [like('U', 'x')]); // while U's kept rows are read
      await evictAllBut(live, store, 'V', 'W'); // requests for others meanwhile
      kept();
      await erasing;
      const u = await live.ensureUser(store, 'U');
      assert.deepEqual(u?.positives.map((p) => p.item), ['c', 'x']);
      assert.deepEqual([...(u?.seen.keys() ?? [])].sort(), ['c', 'x']);
      if (userCache) assert.deepEqual(counts(live), await truth(store));
    });
  }
  it("a user first seen here reads its persona settings once, and follows another replica's", async () => {
    const { store, live } = await setup([like('V', 'a')]);
    await post(live, store, [like('N', 'b')]); // N: first seen, cached at once with no settings read yet
    await store.setOverride({ user: 'N', persona: 0, muted: true, boost: 1 }); // another replica's PATCH
    live.cache!.settingsChanged('N'); // what its change feed does (replica-sync.ts)
    assert.equal((await live.overrides(store, 'N')).get(0)?.muted, true);
    assert.equal(live.users.get('N')?.overrides?.get(0)?.muted, true, 'kept with the user (what the engine reads)');
    await store.setOverride({ user: 'N', persona: 0, muted: false, boost: 2 });
    assert.equal(live.replaceOverrides('N', await store.overridesOf('N')), true);
    assert.deepEqual(live.users.get('N')?.overrides?.get(0), { muted: false, boost: 2 });
  });
  it("persona settings written while the user is read (here, or on another replica) are not lost", async () => {
    const { store, live } = await setup([like('U', 'a'), like('V', 'a')]);
    for (const where of ['here', 'another replica']) {
      live.users.clear(); // U not cached
      const { s, gate } = gated(store);
      const release = gate('feedbackOf');
      const reading = live.ensureUser(s, 'U');
      await new Promise((r) => setImmediate(r));
      const next = { user: 'U', persona: 0, muted: where === 'here', boost: where === 'here' ? 1 : 3 };
      await store.setOverride(next);
      if (where === 'here') live.setOverride(next); // PATCH /v1/users/U/personas/0
      else live.cache!.settingsChanged('U'); // the change feed (replica-sync.ts)
      release();
      await reading;
      assert.deepEqual(live.users.get('U')?.overrides?.get(0), { muted: next.muted, boost: next.boost }, where);
      assert.deepEqual((await live.overrides(store, 'U')).get(0), { muted: next.muted, boost: next.boost }, where);
    }
  });
  it("a user read after another replica's erasure committed, before it is applied here: the erased counts leave", async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    await store.deleteUser('U'); // another replica
    assert.equal(await live.ensureUser(store, 'U'), undefined, 'the erasure is applied before the read is used');
    await live.catchUp(store);
    assert.equal(live.hasUser('U'), false);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1 }, events: 1 });
  });
  it("a request while an erasure's own re-read of the counts is in flight waits for it", async () => {
    const { store, live } = await setup([like('U', 'a'), like('U', 'b'), like('V', 'a')]);
    const { s, gate } = gated(store);
    const release = gate('appliedCounts');
    await store.deleteUser('V'); // DELETE of a user not cached
    live.deleteUser('V');
    const erasing = live.applyErasures(s);
    await new Promise((r) => setTimeout(r, 20));
    const listed = refreshCounts(live, s).then(() => counts(live)); // a list request meanwhile
    await new Promise((r) => setTimeout(r, 20));
    release();
    await erasing;
    assert.deepEqual(await listed, { positives: { a: 1, b: 1 }, events: 2 });
    assert.deepEqual(counts(live), await truth(store));
  });
  it("an item's deletion: the event count and the counts follow the store's, as the mirror's do", async () => {
    const rows = [view('U', 'a'), like('U', 'b'), like('V', 'b'), like('W', 'a')];
    const { store, live } = await setup(rows);
    const mirror = await setup(rows, 0);
    await live.ensureUser(store, 'U');
    for (const x of [{ store, live }, mirror]) {
      assert.equal(await x.store.deleteItem('b'), true); // DELETE /v1/items/b
      x.live.deleteItem('b');
      await refreshCounts(x.live, x.store);
    }
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1 }, events: 2 });
    assert.equal(mirror.live.feedbackCount, 2);
  });
  it('on PostgreSQL: a persona setting written while the user is read is kept', { skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)' }, async () => {
    const schema = `ucache_races_${process.pid}`;
    const store = new PgStore(pgUrl!, schema);
    await store.init();
    const locker = new pg.Client({ connectionString: pgUrl });
    await locker.connect();
    try {
      await store.upsertItems(['a', 'b'].map((id) => ({ id, title: id, categories: [] })));
      await store.addFeedback([like('U', 'a')]);
      for (const userCache of [2, 0]) {
        await store.setOverride({ user: 'U', persona: 0, muted: false, boost: 1 });
        const live = await LiveData.load(store, policy, { userCache });
        // the feedback table locked: the read of U's history waits, its settings' read returns
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${schema}.feedback IN ACCESS EXCLUSIVE MODE`);
        const reading = live.overrides(store, 'U'); // GET /v1/users/U/recommendations
        await new Promise((r) => setTimeout(r, 200));
        const next = { user: 'U', persona: 0, muted: true, boost: 1 }; // PATCH /v1/users/U/personas/0
        await store.setOverride(next);
        live.setOverride(next);
        await locker.query('COMMIT');
        await reading;
        assert.equal((await live.overrides(store, 'U')).get(0)?.muted, true, `userCache ${userCache}`);
      }
    } finally {
      await locker.end();
      await store.dropSchema();
      await store.close();
    }
  });
});
