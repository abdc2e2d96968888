/**
 * Races of the bounded user cache (src/serve/live.ts, user-cache.ts) with a store whose reads take
 * time, as PostgreSQL's do: a MemoryStore behind a proxy holds chosen reads until released. In every
 * case the cache must hold what the mirror of every user (`userCache: 0`) holds after the same
 * steps: the per-item positive-user counts, the event count, each user's history and settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';
import { refreshCounts } from '../src/serve/count-refresh.js';
import { itemList, REBUILD_EVERY_MS } from '../src/serve/lists.js';
import { positiveRules } from '../src/serve/user-cache.js';
import { MemoryStore } from '../src/store/memory.js';
import type { FeedbackRecord, Store } from '../src/store/types.js';

const policy = DEFAULT_FEEDBACK_TYPES;
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
});
