/**
 * The service under writes and failures (issue 11 parts 1 and 5). What a write invalidates: a
 * view or click only the user's exclusions, a persona setting only the scores, a new positive the
 * persona set; an item upsert only what the item changes. The incremental posterior spread stays
 * close to the exact refit. Requests over the budget are a 400 naming the field. Recovery, on
 * SQLite and PostgreSQL (PERSONAE_TEST_PG): boot serves the newest artifact that loads (a corrupt
 * newest one is skipped and said, never a retrain of another model type), retention keeps N
 * versions, stale temp files go, jobs are persisted and cancellable, full / read-only /
 * unreachable stores answer 503 with a code (logged once per interval) and /readyz says writes
 * fail; startup errors are one line with exit code 2 and create nothing.
 */
import { storeCases, type StoreCase as BaseStoreCase } from './service-stores.js';
import { caller, serveWorld, type Answer } from './service-helpers.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { posteriorSpread, type PosteriorWarmStart } from '../src/confidence/index.js';
import { onboardingBasis } from '../src/onboard/basis.js';
import type { Engine } from '../src/serve/engine.js';
import { startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import { StoreHealth } from '../src/store/errors.js';
import type { Store } from '../src/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-traffic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'traffic-admin-key';


const call = caller(KEY);

const errorOf = (a: Answer): { code: string; message: string } => a.json.error as { code: string; message: string };

/** The engine's cached state of a user (private: read to prove what was and was not recomputed). */
interface StateView {
  personas: { k: number } | null;
  confidence: object | null;
  profile: object | null;
  scores: Float32Array | null;
  exclude: Int32Array;
  answers: Map<string, string>;
}
const stateOf = (e: Engine, user: string): StateView => (e as unknown as { states: { peek(user: string): StateView | undefined } }).states.peek(user)!;

interface RecItem {
  id: string;
  title: string;
}

describe('what a write invalidates', () => {
  let svc: RunningService;
  before(async () => {
    svc = await serveWorld({ users: 80, items: 120, categories: 6, meanInteractions: 30, seed: 11 }, { modelParams: { epochs: 4, warmEpochs: 2, dim: 8 }, apiKey: KEY });
  });
  after(() => svc.close());

  it('a view changes the exclusions only; a like changes the persona set; an item title patches the answers only', async () => {
    const e = svc.state.engine!;
    const user = '3';
    const first = await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.equal(first.status, 200);
    const before = stateOf(e, user);
    const { personas, confidence, profile, scores } = before;
    assert.ok(personas && confidence && profile && scores);
    const top = (first.json.items as RecItem[])[0]!.id;

    // a view of the top item: excluded at once, nothing else recomputed
    assert.equal((await call(svc, 'POST', '/v1/feedback', { feedback: [{ user, item: top, type: 'view' }] })).status, 200);
    const afterView = await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.ok(!(afterView.json.items as RecItem[]).some((i) => i.id === top), 'the viewed item is excluded');
    const sv = stateOf(e, user);
    assert.equal(sv.personas, personas);
    assert.equal(sv.confidence, confidence);
    assert.equal(sv.profile, profile);
    assert.equal(sv.scores, scores);
    assert.equal(afterView.json.confidence, first.json.confidence);

    // a title change of an item in the model: the persona set, scores and profile stay; the answer shows the title
    const shown = (afterView.json.items as RecItem[])[0]!.id;
    assert.equal((await call(svc, 'POST', '/v1/items', [{ id: shown, title: 'Renamed', categories: (await call(svc, 'GET', `/v1/items/${shown}`)).json.categories }])).status, 200);
    const renamed = await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.equal((renamed.json.items as RecItem[]).find((i) => i.id === shown)?.title, 'Renamed');
    const st = stateOf(e, user);
    assert.equal(st.personas, personas);
    assert.equal(st.profile, profile);
    assert.equal(st.scores, scores);

    // an item the model does not know: the cached answers stay
    const cached = stateOf(e, user).answers.size;
    assert.ok(cached > 0);
    assert.equal((await call(svc, 'POST', '/v1/items', [{ id: 'brand-new-item', title: 'New' }])).status, 200);
    await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.equal(stateOf(e, user).answers.size, cached);

    // another user's erasure: this model's answers name no other user, so the cached answer stays
    assert.equal((await call(svc, 'DELETE', '/v1/users/7')).status, 200);
    await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.equal(stateOf(e, user).answers.size, cached);

    // a new positive: a new persona set (the trained one plus the recent persona)
    const liked = (renamed.json.items as RecItem[])[1]!.id;
    assert.equal((await call(svc, 'POST', '/v1/feedback', { feedback: [{ user, item: liked, type: 'like' }] })).status, 200);
    await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    const sl = stateOf(e, user);
    assert.notEqual(sl.personas, personas);
    assert.equal(sl.personas!.k, personas.k + 1);
    // the same like again changes nothing the model sees: the state stays
    assert.equal((await call(svc, 'POST', '/v1/feedback', { feedback: [{ user, item: liked, type: 'like' }] })).status, 200);
    await call(svc, 'GET', `/v1/users/${user}/recommendations?n=5&explain=true`);
    assert.equal(stateOf(e, user).personas, sl.personas);
  });

  it('the incremental posterior spread stays within 0.02 of the exact refit, and refits exactly every 8th time', () => {
    const e = svc.state.engine!;
    const train = e.trainSet();
    const basis = onboardingBasis(e.personas!, train, { size: 16 });
    const row = (u: number): number[] => Array.from(train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!));
    for (const u of [0, 7, 21]) {
      const hist = row(u);
      const warm: PosteriorWarmStart = { anchor: null };
      posteriorSpread(basis, Int32Array.from(hist.slice(0, Math.max(1, hist.length - 5))).sort(), warm);
      assert.ok(warm.anchor);
      for (let extra = 4; extra >= 0; extra--) {
        const h = Int32Array.from(hist.slice(0, hist.length - extra)).sort();
        const inc = posteriorSpread(basis, h, warm);
        const exact = posteriorSpread(basis, h);
        assert.ok(Math.abs(inc - exact) < 0.02, `user ${u}: incremental ${inc} vs exact ${exact}`);
      }
      assert.equal(warm.anchor.updates, 5);
      // after 7 incremental answers the next is an exact refit (a new anchor)
      const h = Int32Array.from(hist).sort();
      posteriorSpread(basis, h, warm);
      posteriorSpread(basis, h, warm);
      const exact = posteriorSpread(basis, h);
      assert.equal(posteriorSpread(basis, h, warm), exact);
      assert.equal(warm.anchor.updates, 0);
    }
  });

  it('requests over the budget are a 400 over_budget naming the field', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/v1/users/3/recommendations?n=101&explain=true', undefined, /^query\.n: with explain=true, n must be <= 100/],
      ['GET', '/v1/users/3/recommendations?n=10&offset=995', undefined, /^query\.offset: offset \+ n must be <= 1000/],
      ['GET', '/v1/users/3/recommendations?n=150&offset=60&rerank=calibrated:0.5', undefined, /^query\.n: with a reranker, offset \+ n must be <= 200/],
      ['GET', '/v1/users/3/taste-mix?n=300&rerank=calibrated:0.5', undefined, /^query\.n: with a reranker/],
      ['GET', '/v1/items/1/similar?n=10&offset=999', undefined, /^query\.offset: /],
      ['POST', '/v1/sessions/recommend', { items: ['1'], n: 200, explain: true }, /^body\.n: with explain=true/],
    ];
    for (const [method, path, body, message] of cases) {
      const r = await call(svc, method, path, body);
      assert.equal(r.status, 400, path);
      assert.equal(errorOf(r).code, 'over_budget', path);
      assert.match(errorOf(r).message, message);
    }
    // the largest legal ones are answered
    assert.equal((await call(svc, 'GET', '/v1/users/3/recommendations?n=100&explain=true')).status, 200);
    assert.equal((await call(svc, 'GET', '/v1/users/3/recommendations?n=10&offset=990')).status, 200);
    assert.equal((await call(svc, 'GET', '/v1/users/3/recommendations?n=100&offset=100&rerank=calibrated:0.5')).status, 200);
  });
});

/** Each store case and how its driver reports a full disk / a read-only store. */
interface StoreCase extends BaseStoreCase {
  full: () => Error;
  readOnly: () => Error;
}
const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });
const FAILURES = {
  sqlite: { full: () => withCode('database or disk is full', 'SQLITE_FULL'), readOnly: () => withCode('attempt to write a readonly database', 'SQLITE_READONLY') },
  postgres: {
    full: () => withCode('could not extend file: No space left on device', '53100'),
    readOnly: () => withCode('cannot execute INSERT in a read-only transaction', '25006'),
  },
};
const stores: StoreCase[] = storeCases(dir, 'traffic').map((c) => ({ ...c, ...FAILURES[c.name] }));

const WORLD = { users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 5 };

/** Runs `fn` with the service's log lines (stderr) captured. */
async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), lines };
  } finally {
    process.stderr.write = write;
  }
}

async function trainAndWait(svc: RunningService, body: unknown): Promise<Record<string, unknown>> {
  const r = await call(svc, 'POST', '/v1/models/train', body);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  for (;;) {
    const j = await call(svc, 'GET', `/v1/jobs/${String(r.json.id)}`);
    if (j.json.state !== 'running') return j.json;
    await new Promise((res) => setTimeout(res, 50));
  }
}

for (const sc of stores) {
  describe(`recovery (${sc.name})`, () => {
    it('boot skips a corrupt newest artifact (and says so) for the newest that loads; retention keeps N; stale temp files go', async () => {
      const tag = `boot_${sc.name}`;
      const modelsDir = join(dir, `models-${tag}`);
      const base: ServiceOptions = { port: 0, db: sc.db(tag), ...sc.schema(tag), modelsDir, apiKey: KEY, quiet: true, syncIntervalMs: 0, threads: 1 };
      try {
        const a = await startService({ ...base, data: 'world', world: WORLD, model: 'pop', keepModels: 2 });
        await a.ready;
        assert.equal((await trainAndWait(a, { model: 'ease' })).state, 'done');
        assert.equal((await trainAndWait(a, { model: 'pop' })).state, 'done');
        // v1 pop, v2 ease, v3 pop: kept 2, v1's file and record are gone
        const models = await a.state.store.listModels();
        assert.deepEqual(models.map((m) => [m.version, m.name]), [[3, 'pop'], [2, 'ease']]);
        assert.deepEqual(readdirSync(modelsDir).sort(), models.map((m) => m.path.split('/').pop()!).sort());
        await a.close();

        // the newest artifact corrupt, a temp file of a dead process left behind
        writeFileSync(models[0]!.path, 'not a model');
        const tmp = join(modelsDir, 'pop-1-deadbeef.model.tmp-999999999');
        writeFileSync(tmp, 'half a model');
        const { value: b, lines } = await capture(async () => {
          const svc = await startService({ ...base, quiet: false, model: 'personas' });
          await svc.ready;
          return svc;
        });
        // served: v2 (ease), not a retrained personas model
        assert.deepEqual(b.state.engine!.info, { name: 'ease', version: 2 });
        assert.ok(lines.some((l) => /skipping model v3 \(pop\): /.test(l)), lines.join(''));
        assert.ok(!lines.some((l) => /training/.test(l)), lines.join(''));
        assert.ok(!existsSync(tmp));
        assert.equal((await b.state.store.listModels()).length, 2);
        await b.close();

        // every artifact corrupt: the newest's model type is retrained, not --model's
        writeFileSync(models[1]!.path, 'not a model either');
        const c = await startService({ ...base, model: 'personas', keepModels: 2 });
        await c.ready;
        assert.equal(c.state.engine!.info.name, 'pop');
        assert.equal(c.state.engine!.info.version, 4);
        assert.deepEqual((await c.state.store.listModels()).map((m) => m.version), [4, 3]);
        // a newest record from an older release: its artifact does not load and its parameters are
        // no longer the model's (here `tau`): the configured model is trained instead of failing
        const newest = (await c.state.store.listModels())[0]!;
        await c.state.store.addModel({ ...newest, name: 'ease', path: join(modelsDir, 'old.model'), params: { tau: 0.5 } });
        writeFileSync(join(modelsDir, 'old.model'), 'an older format');
        for (const m of await c.state.store.listModels()) writeFileSync(m.path, 'not loadable');
        await c.close();
        const { value: d, lines: dLines } = await capture(async () => {
          const svc = await startService({ ...base, quiet: false, model: 'pop', keepModels: 2 });
          await svc.ready;
          return svc;
        });
        assert.equal(d.state.engine!.info.name, 'pop');
        assert.ok(dLines.some((l) => /the newest version's parameters no longer apply \(model v5 params\.tau: unknown parameter of model "ease"\); training pop/.test(l)), dLines.join(''));
        await d.close();
      } finally {
        await sc.cleanup(tag);
      }
    });

    it('jobs are persisted with their state and can be cancelled; a job interrupted by a restart is marked failed', async () => {
      const tag = `jobs_${sc.name}`;
      const modelsDir = join(dir, `models-${tag}`);
      mkdirSync(modelsDir, { recursive: true });
      const base: ServiceOptions = { port: 0, db: sc.db(tag), ...sc.schema(tag), modelsDir, apiKey: KEY, quiet: true, syncIntervalMs: 0, threads: 1 };
      try {
        const a = await startService({ ...base, data: 'world', world: WORLD, model: 'pop' });
        await a.ready;
        const started = await call(a, 'POST', '/v1/models/train', { model: 'personas', params: { epochs: 1000 } });
        assert.equal(started.status, 202);
        const id = String(started.json.id);
        // the row is in the store while it runs
        for (let t = 0; t < 100 && (await a.state.store.getJob(id))?.state !== 'running'; t++) await new Promise((r) => setTimeout(r, 20));
        assert.equal((await a.state.store.getJob(id))?.state, 'running');
        const cancelled = await call(a, 'DELETE', `/v1/jobs/${id}`);
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
        assert.equal(cancelled.json.state, 'cancelled');
        assert.equal((await call(a, 'GET', `/v1/jobs/${id}`)).json.state, 'cancelled');
        const again = await call(a, 'DELETE', `/v1/jobs/${id}`);
        assert.equal(again.status, 409);
        assert.equal(errorOf(again).code, 'not_running');
        assert.equal((await call(a, 'DELETE', '/v1/jobs/no-such-job')).status, 404);
        // no version recorded, no file left behind, the next training is accepted
        for (let t = 0; t < 100 && (await a.state.store.getJob(id))?.state !== 'cancelled'; t++) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual((await a.state.store.listModels()).map((m) => m.version), [1]);
        assert.equal(readdirSync(modelsDir).length, 1);
        // a job left 'running' by a process that died
        await a.state.store.saveJob({ id: 'ghost', kind: 'train', state: 'running', progress: { stage: 'fit', done: 1, total: 9 }, startedAt: new Date(0).toISOString(), finishedAt: null, error: null, model: null }, Date.now() - 3_600_000);
        await a.close();

        const b = await startService(base);
        await b.ready;
        assert.equal((await call(b, 'GET', `/v1/jobs/${id}`)).json.state, 'cancelled'); // from the store, after a restart
        const ghost = await call(b, 'GET', '/v1/jobs/ghost');
        assert.equal(ghost.json.state, 'failed');
        assert.match(String(ghost.json.error), /interrupted/);
        await b.close();
      } finally {
        await sc.cleanup(tag);
      }
    });

    it('a full or read-only store: 503 with a code, logged once per interval; /readyz says writes fail until one works', async () => {
      const tag = `fail_${sc.name}`;
      const base: ServiceOptions = { port: 0, db: sc.db(tag), ...sc.schema(tag), modelsDir: join(dir, `models-${tag}`), apiKey: KEY, quiet: true, syncIntervalMs: 0, threads: 1 };
      try {
        const a = await startService({ ...base, data: 'world', world: WORLD, model: 'pop' });
        await a.ready;
        assert.deepEqual((await call(a, 'GET', '/readyz')).json, { ready: true, writes: true, model: { name: 'pop', version: 1 }, ann: 'off' });
        const lines: string[] = [];
        a.state.storeHealth = new StoreHealth((l) => lines.push(l), 60_000);
        const store = a.state.store as Store & Record<string, unknown>;
        const saved = { addFeedback: store.addFeedback, probeWrite: store.probeWrite, upsertItems: store.upsertItems };
        for (const [make, code] of [[sc.full, 'store_full'], [sc.readOnly, 'store_read_only']] as const) {
          store.addFeedback = () => Promise.reject(make());
          store.upsertItems = () => Promise.reject(make());
          store.probeWrite = () => Promise.reject(make());
          for (let r = 0; r < 20; r++) {
            const w = await call(a, 'POST', '/v1/feedback', { feedback: [{ user: '1', item: '1', type: 'like' }] });
            assert.equal(w.status, 503);
            assert.equal(errorOf(w).code, code);
          }
          const it = await call(a, 'POST', '/v1/items', [{ id: 'x', title: 'X' }]);
          assert.equal(it.status, 503);
          // reads still work
          assert.equal((await call(a, 'GET', '/v1/users/1/recommendations?n=3')).status, 200);
        }
        // one line for 42 failures within the interval, no stack trace
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0]!, /^store failure store_full: POST \/v1\/feedback: /);
        assert.ok(!lines[0]!.includes('    at '));
        // /readyz: the write probe fails
        a.state.storeHealth = new StoreHealth(() => {}, 60_000);
        const ready = await call(a, 'GET', '/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.json.writes, false);
        assert.equal(ready.json.code, 'store_read_only');
        // writes work again: the next successful write clears it
        Object.assign(store, saved);
        assert.equal((await call(a, 'POST', '/v1/feedback', { feedback: [{ user: '1', item: '1', type: 'like' }] })).status, 200);
        assert.equal((await call(a, 'GET', '/readyz')).status, 200);
        await a.close();
      } finally {
        await sc.cleanup(tag);
      }
    });
  });
}

describe('startup errors', () => {
  const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
  const run = (args: string[], cwd: string): { status: number | null; stderr: string } => {
    const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', boot, ...args], { cwd, encoding: 'utf8', env: { ...process.env, PERSONAE_API_KEY: '' }, timeout: 60_000 });
    return { status: r.status, stderr: r.stderr };
  };
  it('a bad --port or a missing --db folder is one line and exit code 2, and creates no store', () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    // tsx resolves from the working folder: run from the repository, with the paths absolute
    const repo = join(import.meta.dirname, '..');
    for (const [args, message] of [
      [['serve', '--port', '99999', '--db', join(cwd, 'personae.db')], /^personae: --port: expected a port from 0 to 65535, got "99999"\n$/],
      [['serve', '--port', '0', '--db', join(cwd, 'missing', 'x.db')], /^personae: --db: the folder .*missing does not exist/],
      [['serve', '--keep-models', '0', '--db', join(cwd, 'personae.db')], /^personae: --keep-models: /],
    ] as const) {
      const r = run([...args], repo);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.deepEqual(readdirSync(cwd), []);
  });
});
