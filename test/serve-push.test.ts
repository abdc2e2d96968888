/**
 * Replicas sharing one PostgreSQL store learn of each other's writes by LISTEN/NOTIFY (push), not
 * by polling: every case runs with the safety poll set to 60 s, so a change seen within the wait
 * below (10 s at most, far under the poll) arrived by push. A like, an erasure, a key revocation, a
 * persona mute, an item and a trained model made through replica A reach replica B; a dropped
 * LISTEN connection reconnects and catches up; two replicas asked to train at once run exactly one
 * job (the training lease), a lease left by a dead holder is taken once it expires, replicas
 * running the schedule train a tick once, and replicas starting together without a model train one. Needs
 * PERSONAE_TEST_PG (`source scripts/test-services.sh`); skipped without it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { importLog, startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import { worldToLog } from '../src/synth/world.js';
import { PgStore } from '../src/store/postgres.js';
import { caller } from './service-helpers.js';

const pgUrl = process.env.PERSONAE_TEST_PG;
const KEY = 'push-admin-key';
const call = caller(KEY);
/** Longest wait for a pushed change: far under the 60 s safety poll. */
const PUSH_WAIT_MS = 10_000;

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = PUSH_WAIT_MS): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One statement on the test database (outside the services). */
async function sql(text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

interface Recs {
  coldStart: boolean;
  items: { id: string }[];
}
interface PersonaView {
  index: number;
  share: number;
  muted: boolean;
}
interface JobView {
  id: string;
  state: string;
  error: string | null;
  model: { version: number } | null;
}

describe('replicas on PostgreSQL: push (LISTEN/NOTIFY) and the training lease', { skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-push-'));
  const schema = `push_${process.pid}`;
  let a: RunningService;
  let b: RunningService;
  const common = (): ServiceOptions => ({
    port: 0,
    db: pgUrl!,
    pgSchema: schema,
    modelsDir: join(dir, 'models'),
    model: 'personas',
    modelParams: { epochs: 20, warmEpochs: 5, dim: 16 },
    threads: 1,
    quiet: true,
    apiKey: KEY,
    // the safety poll out of the way, keys trusted for long: only push can deliver in time
    syncIntervalMs: 60_000,
    keyCacheTtlMs: 600_000,
  });
  before(async () => {
    a = await startService({ ...common(), data: 'world', world: { users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 5 } });
    await a.ready;
    b = await startService(common());
    await b.ready;
    await until('B listening', async () => b.replica.connects >= 1);
  });
  after(async () => {
    await b?.close();
    await a?.close();
    const s = new PgStore(pgUrl!, schema);
    await s.dropSchema();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const recs = async (svc: RunningService, user: string): Promise<Recs> => (await call<Recs>(svc, 'GET', `/v1/users/${user}/recommendations?n=5`)).json;
  const version = async (svc: RunningService): Promise<number> => (await call<{ active: { version: number } | null }>(svc, 'GET', '/v1/models')).json.active?.version ?? 0;

  it('B serves the version A trained at start, and push is on with the 60 s safety poll', async () => {
    assert.equal(b.replica.feed !== null, true);
    assert.equal(b.replica.pollMs, 60_000);
    assert.equal(await version(b), await version(a));
  });

  it('a like on A changes B\'s answer; a deletion on A erases the user on B', async () => {
    assert.equal((await recs(b, 'pushed-user')).coldStart, true);
    const liked = (await recs(a, 'pushed-user')).items[0]!.id;
    assert.equal((await call(a, 'POST', '/v1/feedback', { feedback: [{ user: 'pushed-user', item: liked, type: 'like' }] })).status, 200);
    const warm = await until('B to answer from the like', async () => {
      const r = await recs(b, 'pushed-user');
      return r.coldStart ? null : r;
    });
    assert.ok(warm.items.every((i) => i.id !== liked), 'the liked item is not recommended back');
    assert.equal((await b.state.live.ensureUser(b.state.store, 'pushed-user'))?.events, 1);
    assert.equal((await call(a, 'DELETE', '/v1/users/pushed-user')).status, 200);
    await until('B to erase the user', async () => !b.state.live.hasUser('pushed-user'));
    assert.equal((await recs(b, 'pushed-user')).coldStart, true);
  });

  it('a key revoked on A is refused on B (with B\'s key cache trusting keys for 10 minutes)', async () => {
    const made = await call<{ key: string; id: string }>(a, 'POST', '/v1/keys', { scope: 'read', label: 'push' });
    assert.equal(made.status, 200);
    // B looks the key up (and caches it)
    assert.equal((await call(b, 'GET', '/v1/models', undefined, made.json.key)).status, 200);
    assert.equal((await call(a, 'DELETE', `/v1/keys/${made.json.id}`)).status, 200);
    await until('B to refuse the revoked key', async () => (await call(b, 'GET', '/v1/models', undefined, made.json.key)).status === 403);
  });

  it('a persona mute on A is applied on B', async () => {
    const user = '2';
    const before = (await call<{ personas: PersonaView[] }>(b, 'GET', `/v1/users/${user}/personas`)).json.personas;
    assert.ok(before.length >= 1 && before.every((p) => !p.muted));
    const top = [...before].sort((x, y) => y.share - x.share)[0]!;
    const recsBefore = (await recs(b, user)).items.map((i) => i.id);
    assert.equal((await call(a, 'PATCH', `/v1/users/${user}/personas/${top.index}`, { muted: true })).status, 200);
    const after = await until('B to mute the persona', async () => {
      const p = (await call<{ personas: PersonaView[] }>(b, 'GET', `/v1/users/${user}/personas`)).json.personas;
      return p[top.index]!.muted ? p : null;
    });
    assert.equal(after.filter((p) => p.muted).length, 1);
    assert.deepEqual((await recs(b, user)).items.map((i) => i.id), (await recs(a, user)).items.map((i) => i.id));
    assert.notDeepEqual((await recs(b, user)).items.map((i) => i.id), recsBefore);
  });

  it('an item created and then deleted on A appears and goes on B', async () => {
    assert.equal((await call(a, 'POST', '/v1/items', [{ id: 'pushed-item', title: 'Pushed', categories: ['c1'] }])).status, 200);
    await until('B to know the item', async () => (await call(b, 'GET', '/v1/items/pushed-item')).status === 200);
    assert.equal((await call<{ title: string }>(b, 'GET', '/v1/items/pushed-item')).json.title, 'Pushed');
    assert.equal((await call(a, 'DELETE', '/v1/items/pushed-item')).status, 200);
    await until('B to drop the item', async () => (await call(b, 'GET', '/v1/items/pushed-item')).status === 404);
  });

  it('a dropped LISTEN connection reconnects and catches up on what was written meanwhile', async () => {
    const connects = b.replica.connects;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    try {
      const r = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, [`personae-listen:${schema}`]);
      assert.equal(r.rowCount, 2, 'A and B each hold one LISTEN connection');
    } finally {
      await admin.end();
    }
    // written while B's connection is down (or coming back): the catch-up on reconnecting applies it
    assert.equal((await call(a, 'POST', '/v1/feedback', { feedback: [{ user: 'while-down', item: '1', type: 'like' }] })).status, 200);
    await until('B to reconnect', async () => b.replica.connects > connects);
    await until('B to apply the like written meanwhile', async () => (await b.state.live.ensureUser(b.state.store, 'while-down'))?.events === 1);
  });

  it('two train requests at once (one per replica): exactly one job, and both replicas serve its version', async () => {
    const v0 = await version(a);
    const [ra, rb] = await Promise.all([a, b].map((svc) => call<JobView & { error: { code: string; message: string } }>(svc, 'POST', '/v1/models/train', {})));
    const statuses = [ra!.status, rb!.status].sort();
    assert.deepEqual(statuses, [202, 409]);
    const [won, lost] = ra!.status === 202 ? [a, rb!] : [b, ra!];
    const job = (ra!.status === 202 ? ra! : rb!).json;
    assert.equal(lost.json.error.code, 'busy');
    assert.ok(lost.json.error.message.includes(job.id), lost.json.error.message);
    const done = await until('the job', async () => {
      const j = (await call<JobView>(won, 'GET', `/v1/jobs/${job.id}`)).json;
      return j.state === 'running' ? null : j;
    }, 120_000);
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(done.model!.version, v0 + 1);
    // both replicas serve the new version: one swapped it in, the other loaded it on its notification
    await until('both to serve the new version', async () => (await version(a)) === v0 + 1 && (await version(b)) === v0 + 1);
    const jobs = (await call<{ jobs: JobView[] }>(a, 'GET', '/v1/jobs')).json.jobs;
    assert.equal(jobs.filter((j) => j.model?.version === v0 + 1).length, 1);
    assert.deepEqual((await recs(a, '3')).items.map((i) => i.id), (await recs(b, '3')).items.map((i) => i.id));
  });

  it('a training lease left by a dead holder refuses training until it expires, then is taken', async () => {
    const s = new PgStore(pgUrl!, schema);
    try {
      // a replica took the lease and died: nobody renews it
      assert.equal((await s.acquireLease('train', 'dead-replica', 'dead-job', 3_600_000)).holder, 'dead-replica');
      const refused = await call<{ error: { code: string; message: string } }>(b, 'POST', '/v1/models/train', {});
      assert.equal(refused.status, 409);
      assert.equal(refused.json.error.code, 'busy');
      assert.match(refused.json.error.message, /job dead-job on replica dead-replica/);
      // its TTL runs out (the expiry moved to the past, as an hour without renewal would)
      await sql(`UPDATE ${schema}.leases SET expires = expires - 7200000 WHERE name = 'train'`);
      const started = await call<JobView>(b, 'POST', '/v1/models/train', {});
      assert.equal(started.status, 202);
      const done = await until('the job', async () => {
        const j = (await call<JobView>(b, 'GET', `/v1/jobs/${started.json.id}`)).json;
        return j.state === 'running' ? null : j;
      }, 120_000);
      assert.equal(done.state, 'done', JSON.stringify(done));
      await until('A to serve B\'s version', async () => (await version(a)) === done.model!.version);
      // released when the job ended
      assert.equal((await sql(`SELECT 1 FROM ${schema}.leases`)).rowCount, 0);
    } finally {
      await s.close();
    }
  });
});

describe('replicas on PostgreSQL both running the retraining schedule', { skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)' }, () => {
  it('train each tick once: one job for the events, and both replicas serve its version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'personae-push-schedule-'));
    const schema = `push_schedule_${process.pid}`;
    const common: ServiceOptions = {
      port: 0,
      db: pgUrl!,
      pgSchema: schema,
      modelsDir: join(dir, 'models'),
      model: 'pop',
      threads: 1,
      quiet: true,
      apiKey: KEY,
      syncIntervalMs: 60_000,
      retrain: { afterEvents: 5, checkMs: 20 },
    };
    const a = await startService({ ...common, data: 'world', world: { users: 30, items: 40, categories: 3, meanInteractions: 10, seed: 6 } });
    let b: RunningService | null = null;
    try {
      await a.ready;
      b = await startService(common);
      await b.ready;
      const v0 = (await call<{ active: { version: number } }>(a, 'GET', '/v1/models')).json.active.version;
      const likes = ['1', '2', '3', '4', '5'].map((item) => ({ user: 'tick-user', item, type: 'like' }));
      assert.equal((await call(a, 'POST', '/v1/feedback', { feedback: likes })).status, 200);
      const served = async (svc: RunningService): Promise<number> => (await call<{ active: { version: number } }>(svc, 'GET', '/v1/models')).json.active.version;
      await until('both replicas to serve the retrained version', async () => (await served(a)) === v0 + 1 && (await served(b!)) === v0 + 1, 120_000);
      // more ticks pass on both replicas (every 20 ms): nothing else is due, nothing else starts
      await new Promise((r) => setTimeout(r, 500));
      const jobs = (await call<{ jobs: JobView[] }>(a, 'GET', '/v1/jobs')).json.jobs;
      assert.equal(jobs.length, 1, JSON.stringify(jobs));
      assert.equal(jobs[0]!.model!.version, v0 + 1);
      assert.equal(a.retrain!.started.length + b.retrain!.started.length, 1);
      assert.equal(a.retrain!.due(), null);
      assert.equal(b.retrain!.due(), null);
    } finally {
      await b?.close();
      await a.close();
      const s = new PgStore(pgUrl!, schema);
      await s.dropSchema();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replicas on PostgreSQL starting together on a store with feedback and no model', { skip: pgUrl ? false : 'PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)' }, () => {
  it('train it once (the lease): the other serves that version when it is recorded; behind a dead holder\'s lease a replica waits, then trains', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'personae-push-start-'));
    const schema = `push_start_${process.pid}`;
    const store = new PgStore(pgUrl!, schema);
    await store.init();
    await importLog(store, worldToLog({ users: 30, items: 40, categories: 3, meanInteractions: 10, seed: 7 }).log);
    const common: ServiceOptions = { port: 0, db: pgUrl!, pgSchema: schema, modelsDir: join(dir, 'models'), model: 'pop', threads: 1, quiet: true, apiKey: KEY, syncIntervalMs: 60_000 };
    const [a, b] = await Promise.all([startService(common), startService(common)]);
    try {
      await Promise.all([a.ready, b.ready]);
      const served = async (svc: RunningService): Promise<number> => (await call<{ active: { version: number } | null }>(svc, 'GET', '/v1/models')).json.active?.version ?? 0;
      await until('both replicas to serve a version', async () => (await served(a)) > 0 && (await served(b)) > 0, 120_000);
      assert.deepEqual((await store.listModels()).map((m) => m.version), [1]);
      assert.equal(await served(a), 1);
      assert.equal(await served(b), 1);
      // a replica starting while a dead holder's lease stands (no version to load) waits, then trains once it expired
      await store.deleteModel(1);
      await store.acquireLease('train', 'dead-replica', 'dead-job', 3_600_000);
      const c = await startService(common);
      try {
        const status = await until('C to wait for the lease', async () => {
          const r = await call<{ status?: string }>(c, 'GET', '/readyz');
          return r.json.status?.startsWith('no model yet: waiting for job dead-job on replica dead-replica') ? r.json.status : null;
        });
        assert.match(status, /to train$/);
        await sql(`UPDATE ${schema}.leases SET expires = expires - 7200000 WHERE name = 'train'`);
        await c.ready;
        assert.equal(await served(c), 2);
      } finally {
        await c.close();
      }
    } finally {
      await b.close();
      await a.close();
      await store.dropSchema();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
