/**
 * The store contract of named leases (Store.acquireLease / releaseLease, the training lease of
 * src/serve/train-lease.ts) on every backend: one holder at a time, renewal by the same holder and
 * job only, release by the holder only, an expired lease taken by another, and concurrent takes
 * won by exactly one. The PostgreSQL half needs PERSONAE_TEST_PG (`source scripts/test-services.sh`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../src/store/memory.js';
import { PgStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-lease-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const pgUrl = process.env.PERSONAE_TEST_PG;

const BACKENDS: { name: string; skip: string | null; fresh: () => Promise<{ store: Store; close: () => Promise<void> }> }[] = [
  {
    name: 'sqlite',
    skip: null,
    fresh: async () => {
      const store = new SqliteStore(join(dir, `lease-${serial++}.db`));
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
      const store = new PgStore(pgUrl!, `lease_${process.pid}_${serial++}`);
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

const HOUR = 3_600_000;

for (const b of BACKENDS) {
  describe(`leases (${b.name})`, { skip: b.skip ?? false }, () => {
    const on = (fn: (s: Store) => Promise<void>) => async () => {
      const { store, close } = await b.fresh();
      try {
        await fn(store);
      } finally {
        await close();
      }
    };

    it('one holder at a time; renewal by the same holder and job only', on(async (s) => {
      const first = await s.acquireLease('train', 'A', 'j1', HOUR);
      assert.deepEqual([first.name, first.holder, first.job], ['train', 'A', 'j1']);
      assert.ok(first.expires > Date.now() + HOUR / 2, `expires ${first.expires}`);
      // another holder, and the same holder for another job, get the lease as it stands
      const other = await s.acquireLease('train', 'B', 'j2', HOUR);
      assert.deepEqual([other.holder, other.job, other.expires], ['A', 'j1', first.expires]);
      assert.equal((await s.acquireLease('train', 'A', 'j9', HOUR)).job, 'j1');
      // a renewal moves the expiry
      const renewed = await s.acquireLease('train', 'A', 'j1', 2 * HOUR);
      assert.deepEqual([renewed.holder, renewed.job], ['A', 'j1']);
      assert.ok(renewed.expires >= first.expires + HOUR / 2, `${renewed.expires} vs ${first.expires}`);
      // leases are by name
      assert.equal((await s.acquireLease('other', 'B', 'j2', HOUR)).holder, 'B');
    }));

    it('only the holder releases; then another takes it', on(async (s) => {
      await s.acquireLease('train', 'A', 'j1', HOUR);
      assert.equal(await s.releaseLease('train', 'B', 'j1'), false);
      assert.equal(await s.releaseLease('train', 'A', 'j2'), false);
      assert.equal((await s.acquireLease('train', 'B', 'j2', HOUR)).holder, 'A');
      assert.equal(await s.releaseLease('train', 'A', 'j1'), true);
      assert.equal(await s.releaseLease('train', 'A', 'j1'), false);
      const taken = await s.acquireLease('train', 'B', 'j2', HOUR);
      assert.deepEqual([taken.holder, taken.job], ['B', 'j2']);
    }));

    it('a lease its holder stopped renewing is taken once it expired', on(async (s) => {
      // a holder that died: its last lease ran out (ttl 0: expired as soon as taken)
      const dead = await s.acquireLease('train', 'dead', 'jd', 0);
      assert.equal(dead.holder, 'dead');
      const taken = await s.acquireLease('train', 'B', 'j2', HOUR);
      assert.deepEqual([taken.holder, taken.job], ['B', 'j2']);
      // the dead holder cannot renew what it lost, nor release it
      assert.equal((await s.acquireLease('train', 'dead', 'jd', HOUR)).holder, 'B');
      assert.equal(await s.releaseLease('train', 'dead', 'jd'), false);
    }));

    it('concurrent takes: exactly one wins, and every caller is told the winner', on(async (s) => {
      const all = await Promise.all(Array.from({ length: 12 }, (_, r) => s.acquireLease('train', `R${r}`, `j${r}`, HOUR)));
      const winners = all.filter((l, r) => l.holder === `R${r}` && l.job === `j${r}`);
      assert.equal(winners.length, 1);
      for (const l of all) assert.equal(l.holder, winners[0]!.holder);
    }));
  });
}
