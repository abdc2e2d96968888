/**
 * Group commit of feedback (src/store/group-commit.ts, sqlite-writer.ts, postgres-feedback.ts):
 * requests queued during a commit go in the next one; outcomes come back per request and in queue
 * order; a failing request fails alone. On the stores: concurrent writes are all durable (another
 * connection reads them once acknowledged) with increasing seqs in submission order; a bad request
 * in a group is rolled back alone. Through the service: concurrent POSTs, one naming an unknown
 * item, on SQLite and PostgreSQL (PERSONAE_TEST_PG).
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startService } from '../src/serve/index.js';
import { storeFailure } from '../src/store/errors.js';
import { GroupCommit, type Outcome } from '../src/store/group-commit.js';
import { PgStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { FeedbackRecord, Store } from '../src/store/types.js';
import { caller } from './service-helpers.js';
import { storeCases } from './service-stores.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-group-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pgUrl = process.env.PERSONAE_TEST_PG;

describe('GroupCommit', () => {
  /** A commit function that holds each group until released, recording the groups. */
  function gated(fail: (req: number) => boolean = () => false) {
    const groups: number[][] = [];
    const gates: (() => void)[] = [];
    const commit = async (group: readonly number[]): Promise<Outcome<number>[]> => {
      groups.push([...group]);
      await new Promise<void>((r) => gates.push(r));
      return group.map((q) => (fail(q) ? { ok: false, error: new Error(`bad ${q}`) } : { ok: true, value: q * 10 }));
    };
    return { groups, gates, commit };
  }
  const ticks = async (n = 5): Promise<void> => {
    for (let k = 0; k < n; k++) await new Promise((r) => setImmediate(r));
  };

  it('commits a lone request at once and everything queued during a commit in the next group, outcomes in queue order', async () => {
    const g = gated();
    const gc = new GroupCommit(g.commit);
    const order: number[] = [];
    const first = gc.submit(1).then((v) => order.push(v));
    await ticks();
    assert.deepEqual(g.groups, [[1]]);
    const rest = [2, 3, 4, 5].map((q) => gc.submit(q).then((v) => order.push(v)));
    await ticks();
    assert.deepEqual(g.groups, [[1]]); // nothing starts while a commit is in flight
    g.gates.shift()!();
    await first;
    await ticks();
    assert.deepEqual(g.groups, [[1], [2, 3, 4, 5]]);
    g.gates.shift()!();
    await Promise.all(rest);
    assert.deepEqual(order, [10, 20, 30, 40, 50]);
    assert.deepEqual([gc.groups, gc.requests], [2, 5]);
  });

  it('a failing request rejects alone; a failing commit rejects its whole group and the next group still commits', async () => {
    const g = gated((q) => q === 3);
    const gc = new GroupCommit(g.commit);
    const head = gc.submit(1);
    await ticks();
    const mid = [2, 3, 4].map((q) => gc.submit(q).then((v) => `ok ${v}`, (e: Error) => e.message));
    g.gates.shift()!();
    await head;
    await ticks();
    g.gates.shift()!();
    assert.deepEqual(await Promise.all(mid), ['ok 20', 'bad 3', 'ok 40']);

    let calls = 0;
    const flaky = new GroupCommit<number, number>(async (group) => {
      if (calls++ === 0) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      return group.map((q) => ({ ok: true, value: q }));
    });
    const a = flaky.submit(1).catch((e: { code: string }) => e.code);
    const b = flaky.submit(2).catch((e: { code: string }) => e.code);
    assert.deepEqual(await Promise.all([a, b]), ['SQLITE_FULL', 'SQLITE_FULL']);
    assert.equal(await flaky.submit(3), 3);
  });

  it('a group stops at the weight limit (one request always goes)', async () => {
    const g = gated();
    const gc = new GroupCommit<number, number>(g.commit, { weight: (q) => q, maxWeight: 10 });
    const all = [20, 4, 5, 2, 7].map((q) => gc.submit(q));
    for (let k = 0; k < 4; k++) {
      await ticks();
      g.gates.shift()?.();
    }
    await Promise.all(all);
    assert.deepEqual(g.groups, [[20], [4, 5], [2, 7]]);
  });
});

const like = (user: string, item: string, ts: number): FeedbackRecord => ({ user, item, type: 'like', value: 1, ts });

interface Backend {
  name: string;
  skip: string | false;
  open: (tag: string) => Promise<Store>;
  /** The (user, item, seq) rows of the store read through another connection. */
  rowsElsewhere: (tag: string) => Promise<[string, string, number][]>;
  cleanup: (tag: string) => Promise<void>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    open: async (tag) => {
      const s = new SqliteStore(join(dir, `${tag}.db`));
      await s.init();
      return s;
    },
    rowsElsewhere: async (tag) => {
      const db = new Database(join(dir, `${tag}.db`), { readonly: true });
      try {
        return (db.prepare('SELECT user_id, item_id, seq FROM feedback ORDER BY seq').raw().all() as [string, string, number][]);
      } finally {
        db.close();
      }
    },
    cleanup: async () => {},
  },
  {
    name: 'postgres',
    skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)',
    open: async (tag) => {
      const s = new PgStore(pgUrl!, `group_${tag}_${process.pid}`);
      await s.init();
      return s;
    },
    rowsElsewhere: async (tag) => {
      const other = new PgStore(pgUrl!, `group_${tag}_${process.pid}`);
      try {
        return (await other.allFeedback()).map((f) => [f.user, f.item, f.seq]);
      } finally {
        await other.close();
      }
    },
    cleanup: async (tag) => {
      const s = new PgStore(pgUrl!, `group_${tag}_${process.pid}`);
      await s.dropSchema();
      await s.close();
    },
  },
];

for (const b of backends) {
  describe(`group commit on ${b.name}`, () => {
    it('concurrent writes: every one acknowledged is durable, seqs increase in submission order', { skip: b.skip }, async () => {
      const tag = 'concurrent';
      const store = await b.open(tag);
      try {
        const first = store.addFeedback([like('u0', 'a', 1)]);
        // 40 requests (1 to 3 events each) while the first commits: they share the next group(s)
        const rest = Array.from({ length: 40 }, (_, r) => store.addFeedback(Array.from({ length: 1 + (r % 3) }, (_, k) => like(`u${r + 1}`, `i${k}`, r + 2))));
        const seqs = [await first, ...(await Promise.all(rest))];
        const flat = seqs.flat();
        assert.equal(flat.length, 1 + 14 * 1 + 13 * 2 + 13 * 3); // r % 3 = 0, 1, 2: 14, 13, 13 requests of 1, 2, 3 events
        for (let k = 1; k < flat.length; k++) assert.equal(flat[k], flat[k - 1]! + 1, `seq ${k} follows ${k - 1}`);
        if (store instanceof SqliteStore) {
          const st = store.writerStats()!;
          assert.equal(st.requests, 41);
          assert.ok(st.groups < 41, `${st.groups} groups for 41 requests`);
        }
        // acknowledged = committed: another connection sees every row, in the same order
        const rows = await b.rowsElsewhere(tag);
        const expected: [string, string][] = [['u0', 'a'], ...Array.from({ length: 40 }, (_, r) => Array.from({ length: 1 + (r % 3) }, (_, k): [string, string] => [`u${r + 1}`, `i${k}`])).flat()];
        assert.deepEqual(rows.map(([u, i]) => [u, i]), expected);
        assert.deepEqual(rows.map(([, , s]) => s), flat);
        // and this store's own reads too (the main connection, after the writer committed)
        assert.deepEqual((await store.feedbackOf('u3')).map((f) => [f.item, f.seq]), [['i0', seqs[3]![0]], ['i1', seqs[3]![1]], ['i2', seqs[3]![2]]]);
        assert.ok(await store.getUser('u40'));
      } finally {
        await store.close();
        await b.cleanup(tag);
      }
    });

    it('a bad request in a group fails alone: rolled back (no user, no seq used), the others stored', { skip: b.skip }, async () => {
      const tag = 'bad';
      const store = await b.open(tag);
      try {
        const head = store.addFeedback([like('h', 'a', 1)]);
        // a null value breaks NOT NULL (the route refuses it; here it goes straight to the store)
        const bad = { user: 'ghost', item: 'a', type: 'like', value: null as unknown as number, ts: 2 };
        const group = [store.addFeedback([like('x', 'a', 3)]), store.addFeedback([like('ghost', 'b', 4), bad]), store.addFeedback([like('y', 'a', 5)])];
        const settled = await Promise.allSettled([head, ...group]);
        assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        assert.match(String((settled[2] as PromiseRejectedResult).reason), /null|NOT NULL/i);
        const [h, x, , y] = settled.map((s) => (s.status === 'fulfilled' ? s.value : []));
        assert.deepEqual([x![0]! - h![0]!, y![0]! - x![0]!].map((d) => d > 0), [true, true]);
        assert.deepEqual((await store.allFeedback()).map((f) => f.user), ['h', 'x', 'y']);
        assert.equal(await store.getUser('ghost'), null);
        if (store.kind === 'sqlite') assert.equal(y![0], x![0]! + 1); // the savepoint's rollback gave the seq back
      } finally {
        await store.close();
        await b.cleanup(tag);
      }
    });
  });
}

describe('the SQLite writer thread', () => {
  it('dies with a write in flight: that write fails as store_unavailable (not acknowledged); the next write starts a new thread', async () => {
    const store = new SqliteStore(join(dir, 'writer-death.db'));
    await store.init();
    try {
      await store.addFeedback([like('a', 'x', 1)]);
      const writer = (store as unknown as { writer: { worker: { terminate(): Promise<number> } | null } }).writer;
      const dying = writer.worker!;
      const lost = store.addFeedback([like('b', 'x', 2)]);
      void dying.terminate();
      const err = (await lost.then(() => null, (e: unknown) => e)) as Error | null;
      assert.ok(err, 'the write in flight was not acknowledged');
      assert.deepEqual(storeFailure(err), { code: 'store_unavailable', message: 'the store is unavailable; retry shortly' });
      const [seq] = await store.addFeedback([like('c', 'x', 3)]);
      assert.notEqual(writer.worker, dying);
      assert.deepEqual((await store.allFeedback()).map((f) => [f.user, f.seq]).at(-1), ['c', seq]);
    } finally {
      await store.close();
    }
  });
});

describe('the SQLite writer thread: acknowledgements without waiting for the event loop', () => {
  it('pollWrites() delivers a committed group while the main thread never yields', async () => {
    const store = new SqliteStore(join(dir, 'writer-poll.db'));
    await store.init();
    try {
      await store.addFeedback([like('a', 'x', 1)]); // the thread is up
      const writer = (store as unknown as { writer: { inFlight: object | null } }).writer;
      let acked: number[] | null = null;
      const p = store.addFeedback([like('b', 'x', 2)]).then((seqs) => (acked = seqs));
      for (let k = 0; k < 10 && writer.inFlight === null; k++) await Promise.resolve();
      assert.notEqual(writer.inFlight, null, 'the group went to the thread');
      // synchronous from here: no 'message' event can run, only pollWrites takes the reply
      const deadline = Date.now() + 20_000;
      while (writer.inFlight !== null && Date.now() < deadline) store.pollWrites();
      assert.equal(writer.inFlight, null, 'the reply was taken synchronously');
      assert.equal(acked, null); // resolved, its continuation not yet run (a microtask)
      assert.deepEqual(await p, [2]);
    } finally {
      await store.close();
    }
  });
});

describe('group commit through the service', () => {
  const KEY = 'group-key';
  const call = caller(KEY);
  for (const sc of storeCases(dir, 'group_http')) {
    it(`${sc.name}: concurrent POSTs, one naming an unknown item: that one is a 404 naming the field, the others are stored and served in seq order`, async () => {
      const tag = `http_${sc.name}`;
      const svc = await startService({ port: 0, db: sc.db(tag), ...sc.schema(tag), modelsDir: join(dir, `models-${tag}`), data: 'world', world: { users: 20, items: 30, seed: 5 }, model: 'pop', apiKey: KEY, quiet: true, syncIntervalMs: 0, threads: 1 });
      try {
        await svc.ready;
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, r) => call(svc, 'POST', '/v1/feedback', { feedback: [{ user: 'g', item: r === 5 ? 'no-such-item' : String(1 + r), type: 'view', value: r }] })),
        );
        assert.deepEqual(answers.map((a) => a.status), answers.map((_, r) => (r === 5 ? 404 : 200)));
        const err = answers[5]!.json.error as { code: string; message: string };
        assert.equal(err.code, 'not_found');
        assert.match(err.message, /^body\.feedback\[0\]\.item: unknown item "no-such-item"/);
        const acked = answers.flatMap((a, r) => (r === 5 ? [] : [{ r, seq: (a.json.seqs as number[])[0]! }]));
        const seqs = acked.map((x) => x.seq);
        const fb = await call(svc, 'GET', '/v1/users/g/feedback');
        const values = (fb.json.feedback as { value: number }[]).map((f) => f.value);
        // the store's order (seq) is the order of the seqs the writers were given
        assert.deepEqual(values, [...acked].sort((p, q) => p.seq - q.seq).map((x) => x.r));
        assert.equal(new Set(seqs).size, 11);
        // the live mirror got every acknowledged event (no gaps left behind)
        assert.equal((await call(svc, 'GET', '/v1/users/g')).json.interactions, 11);
      } finally {
        await svc.close();
        await sc.cleanup(tag);
      }
    });
  }
});
