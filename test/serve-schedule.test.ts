/**
 * Operations (issue 16 part 2): `--retrain-after n` retrains after n feedback events and serves
 * the new version, the job history is persisted (GET /v1/jobs, also after a restart), on SQLite
 * and PostgreSQL (PERSONAE_TEST_PG); `--retrain-every` is due only when the model is that old and
 * feedback arrived since; training can tune first (`tune`); `personae.config.json` is validated
 * (errors name the file and the key) and flags override it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { mergeConfig } from '../src/cli/commands/serve.js';
import { parseServeConfig, retrainEveryMs } from '../src/serve/config.js';
import { startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import { parseDuration, RetrainScheduler } from '../src/serve/schedule.js';
import { storeCases } from './service-stores.js';
import { caller } from './service-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-schedule-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'schedule-admin-key';

const call = caller(KEY);

interface JobView {
  id: string;
  state: string;
  model: { name: string; version: number } | null;
}

async function until<T>(what: string, f: () => Promise<T | null>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const version = async (svc: RunningService): Promise<number> => (await call<{ active: { version: number } | null }>(svc, 'GET', '/v1/models')).json.active?.version ?? 0;

for (const sc of storeCases(dir, 'schedule')) {
  describe(`--retrain-after (${sc.name})`, () => {
    const base = (): ServiceOptions => ({
      port: 0,
      db: sc.db('after'),
      ...sc.schema('after'),
      modelsDir: join(dir, `models-${sc.name}`),
      data: 'world',
      world: { users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 3 },
      model: 'ease',
      apiKey: KEY,
      quiet: true,
      threads: 1,
      syncIntervalMs: 0,
    });
    after(() => sc.cleanup('after'));

    it('retrains after n events, serves the new version, and a restart keeps the job history', async () => {
      const svc = await startService({ ...base(), retrain: { afterEvents: 20, checkMs: 20 } });
      let jobId: string;
      try {
        await svc.ready;
        const v0 = await version(svc);
        const items = (await call<{ items: { id: string }[] }>(svc, 'GET', '/v1/popular?n=20')).json.items.map((i) => i.id);
        const like = (n: number, user: string) => call(svc, 'POST', '/v1/feedback', { feedback: items.slice(0, n).map((item) => ({ user, item, type: 'like' })) });
        assert.equal((await like(19, 'newcomer')).status, 200);
        // 19 < 20: several checks pass without a job
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual((await call<{ jobs: JobView[] }>(svc, 'GET', '/v1/jobs')).json.jobs, []);
        assert.equal(svc.retrain!.due(), null);
        assert.equal((await like(1, 'another')).status, 200);
        const done = await until('the scheduled job', async () => {
          const jobs = (await call<{ jobs: JobView[] }>(svc, 'GET', '/v1/jobs')).json;
          return jobs.jobs[0]?.state === 'done' ? jobs : null;
        });
        assert.equal(done.jobs.length, 1);
        jobId = done.jobs[0]!.id;
        assert.equal(svc.retrain!.started[0], jobId);
        assert.equal(done.jobs[0]!.model!.version, v0 + 1);
        assert.equal(await version(svc), v0 + 1);
        // the new model knows the newcomer: nothing more is due
        assert.equal(svc.retrain!.due(), null);
      } finally {
        await svc.close();
      }
      const again = await startService(base());
      try {
        await again.ready;
        const jobs = (await call<{ jobs: JobView[] }>(again, 'GET', '/v1/jobs')).json;
        assert.equal(jobs.jobs.length, 1);
        assert.equal(jobs.jobs[0]!.id, jobId);
        assert.equal(jobs.jobs[0]!.state, 'done');
        assert.equal((await call<JobView>(again, 'GET', `/v1/jobs/${jobId}`)).json.state, 'done');
        assert.equal(await version(again), jobs.jobs[0]!.model!.version);
        // --retrain-every: due when the model is that old and feedback arrived since
        const every = new RetrainScheduler(again.state, { everyMs: 3_600_000 });
        assert.equal(every.due(Date.now() + 7_200_000), null, 'no feedback since the model');
        assert.equal((await call(again, 'POST', '/v1/feedback', { feedback: [{ user: 'late', item: '1', type: 'view' }] })).status, 200);
        assert.equal(every.due(Date.now()), null, 'the model is younger than an hour');
        assert.match(every.due(Date.now() + 7_200_000) ?? '', /--retrain-every 3600 s/);
      } finally {
        await again.close();
      }
    });
  });
}

describe('personae serve --retrain-after (the command line)', () => {
  const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
  const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
  /** Starts `personae serve ...` and resolves with its URL (the first line on stdout). */
  const serve = (args: string[]): Promise<{ child: ChildProcess; url: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', boot, 'serve', ...args], { cwd: join(import.meta.dirname, '..'), env: { ...process.env, PERSONAE_API_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n')[0]!;
        if (out.includes('\n')) resolve({ child, url: line.trim() });
      });
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
  const stop = (child: ChildProcess): Promise<void> =>
    new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const get = async <T>(url: string, path: string, init: RequestInit = {}): Promise<T> => {
    const r = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } });
    return (await r.json()) as T;
  };

  it('retrains after n events and serves the new version; a restart keeps the job history', async () => {
    const cwd = mkdtempSync(join(dir, 'serve-cli-'));
    // 30 users, 40 items: user u likes items u .. u + 7 (mod 40)
    const rows = ['user,item'];
    for (let u = 0; u < 30; u++) for (let j = 0; j < 8; j++) rows.push(`u${u},i${(u + j) % 40}`);
    writeFileSync(join(cwd, 'data.csv'), `${rows.join('\n')}\n`);
    const args = ['--port', '0', '--db', join(cwd, 'p.db'), '--data', join(cwd, 'data.csv'), '--model', 'pop', '--quiet'];
    let { child, url } = await serve([...args, '--retrain-after', '5']);
    let jobId = '';
    try {
      await until('ready', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : null));
      assert.equal((await get<{ active: { version: number } }>(url, '/v1/models')).active.version, 1);
      await get(url, '/v1/feedback', { method: 'POST', body: JSON.stringify({ feedback: [0, 1, 2, 3, 4].map((j) => ({ user: 'fresh', item: `i${j}`, type: 'like' })) }) });
      const jobs = await until('the scheduled job', async () => {
        const j = await get<{ jobs: JobView[] }>(url, '/v1/jobs');
        return j.jobs[0]?.state === 'done' ? j : null;
      });
      jobId = jobs.jobs[0]!.id;
      assert.equal(jobs.jobs[0]!.model!.version, 2);
      assert.equal((await get<{ active: { version: number } }>(url, '/v1/models')).active.version, 2);
    } finally {
      await stop(child);
    }
    ({ child, url } = await serve(args));
    try {
      await until('ready', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : null));
      const jobs = await get<{ jobs: JobView[] }>(url, '/v1/jobs');
      assert.equal(jobs.jobs.length, 1);
      assert.equal(jobs.jobs[0]!.id, jobId);
      assert.equal(jobs.jobs[0]!.state, 'done');
      assert.equal((await get<{ active: { version: number } }>(url, '/v1/models')).active.version, 2);
    } finally {
      await stop(child);
    }
  });
});

describe('training with tune', () => {
  it('POST /v1/models/train {tune: true} fits with a value of the model\'s grid; a bad tune is a 400', async () => {
    const svc = await startService({
      port: 0,
      db: ':memory:',
      data: 'world',
      world: { users: 60, items: 50, categories: 4, meanInteractions: 15, seed: 4 },
      model: 'ease',
      modelParams: { lambda: 123 },
      apiKey: KEY,
      quiet: true,
      threads: 1,
    });
    try {
      await svc.ready;
      const bad = await call<{ error: { message: string } }>(svc, 'POST', '/v1/models/train', { tune: 'yes' });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /body\.tune/);
      const job = await call<JobView>(svc, 'POST', '/v1/models/train', { model: 'ease', params: {}, tune: true });
      assert.equal(job.status, 202);
      const done = await until('the tuned job', async () => {
        const j = (await call<JobView & { error: string | null }>(svc, 'GET', `/v1/jobs/${job.json.id}`)).json;
        return j.state === 'running' ? null : j;
      });
      assert.equal(done.state, 'done', JSON.stringify(done));
      const active = (await call<{ active: { params: { lambda: number } } }>(svc, 'GET', '/v1/models')).json.active;
      assert.ok([50, 100, 200, 300, 500, 750, 1000, 1500, 2000].includes(active.params.lambda), `lambda ${active.params.lambda}`);
    } finally {
      await svc.close();
    }
  });
});

describe('personae.config.json', () => {
  it('is validated: errors name the file and the key', () => {
    assert.throws(() => parseServeConfig({ prot: 8080 }, 'personae.config.json'), /personae\.config\.json: unknown field "prot"/);
    assert.throws(() => parseServeConfig({ port: 70000 }, 'c.json'), /c\.json: port: /);
    assert.throws(() => parseServeConfig({ model: 'nope' }, 'c.json'), /c\.json: model: unknown model "nope"/);
    assert.throws(() => parseServeConfig({ model: 'ease', params: { lambda: 'x' } }, 'c.json'), /c\.json: params\.lambda/);
    assert.throws(() => parseServeConfig({ model: 'personas', params: { epochs: 5000 } }, 'c.json'), /params\.epochs: must be <= 1000/);
    assert.throws(() => parseServeConfig({ retrainEvery: 'soon' }, 'c.json'), /c\.json: retrainEvery: expected a duration/);
    assert.throws(() => parseServeConfig({ positive: 'like', feedbackTypes: { like: { positive: true } } }, 'c.json'), /either positive or feedbackTypes/);
    const ok = parseServeConfig({ port: 0, model: 'ease', params: { lambda: 300 }, retrainEvery: '6h', retrainAfter: 1000, tune: true, feedbackTypes: { like: { positive: true }, rating: { positive: true, minValue: 4 } } }, 'c.json');
    assert.equal(retrainEveryMs(ok.retrainEvery, 'retrainEvery'), 6 * 3_600_000);
  });

  it('flags given on the command line override it; the others come from it', () => {
    const flags = { host: '127.0.0.1', port: 8080, db: 'personae.db', model: 'personas', param: [], seed: 42, keepModels: 3, rateLimit: 60_000, rateLimitAddress: 6_000, requestTimeout: 30_000, shutdownTimeout: 10_000 };
    const merged = mergeConfig({ ...flags, port: 9000 }, { port: 7000, seed: 7, model: 'ease', retrainAfter: 50 }, (name) => name === 'port');
    assert.equal(merged.port, 9000);
    assert.equal(merged.seed, 7);
    assert.equal(merged.model, 'ease');
    assert.equal(merged.retrainAfter, 50);
    assert.equal(merged.db, 'personae.db');
  });

  it('durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('2000'), 2000);
    assert.throws(() => parseDuration('500ms'), /--retrain-every: must be at least 1s/);
    assert.throws(() => parseDuration('6 hours'), /--retrain-every: expected a duration/);
  });

  it('the CLI reads it: a bad key is one line, exit code 2, and no store is made', () => {
    const cwd = mkdtempSync(join(dir, 'cli-'));
    const config = join(cwd, 'personae.config.json');
    writeFileSync(config, JSON.stringify({ port: 0, db: join(cwd, 'p.db'), retrainAfter: 0 }));
    const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
    const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', boot, 'serve', '--config', config], { cwd: join(import.meta.dirname, '..'), encoding: 'utf8', env: { ...process.env, PERSONAE_API_KEY: '' }, timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^personae: .*personae\.config\.json: retrainAfter: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.deepEqual(readdirSync(cwd), ['personae.config.json']);
  });
});
