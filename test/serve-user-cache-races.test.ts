/**
 * Races of the bounded user cache (src/serve/live.ts, user-cache.ts) with a store whose reads take
 * time, as PostgreSQL's do: a MemoryStore behind a proxy holds chosen reads until released. In every
 * case the cache must hold what the mirror of every user (`userCache: 0`) holds after the same
 * steps: the per-item positive-user counts, the event count, each user's history and settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';
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
      await live.cache!.refresh(s, policy);
    }
    assert.equal(calls.get('feedbackStats') ?? 0, 0);
    assert.deepEqual(counts(live), await truth(store));
    assert.deepEqual(counts(live), { positives: { a: 1, b: 3 }, events: 4 });
  });
});
