/**
 * `npm run bench:serve`: load-tests GET /v1/users/:id/recommendations?n=10&explain=true with
 * autocannon on loopback, against `personae serve` on ml-latest-small (personas model). The
 * server runs in its own process (the load generator shares the machine); the store and the
 * trained model are kept in the temp folder, so only the first run pays for import and training.
 *
 * Reports:
 * - cold pass: every user once right after the server started (nothing cached: each request
 *   computes the persona set's scores, the confidence, the profile and the explanations) — the
 *   cold reads after a restart;
 * - steady: a timed autocannon run cycling through the users (cache hits: per-user answers are
 *   cached until the user's data changes);
 * - mixed: BENCH_WRITERS (default 4) closed-loop writers posting likes for random users while
 *   the connections read recommendations (explain=true) for random users: read req/s and
 *   latency (a mix of cache hits and of the first read after a like), write latency;
 * - first read after a like: 50 random users, one like each, then one read (never a cache hit).
 *
 * Options (env): BENCH_SECONDS (default 15), BENCH_CONNECTIONS (default 32), BENCH_WRITERS
 * (default 4), BENCH_DATA (dataset), BENCH_SEED (default 1).
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DATA = process.env.BENCH_DATA ?? fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 4);
let seed = Number(process.env.BENCH_SEED ?? 1) >>> 0 || 1;
/** xorshift32: the random users and items of the mixed pass. */
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
};
const KEY = 'bench-key';
const dir = join(tmpdir(), 'personae-bench-serve');
mkdirSync(dir, { recursive: true });
const cli = new URL('../src/cli/index.ts', import.meta.url).href;

function startServer(): Promise<{ proc: ChildProcess; url: string }> {
  const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((x) => x !== '');
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', '-e', boot, 'serve', '--port', '0', '--db', join(dir, 'ml-small.db'), '--data', DATA, '--public-reads', '--rate-limit', '0', '--rate-limit-address', '0'], {
    env: { ...process.env, PERSONAE_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      process.stderr.write(d);
      const m = /ready at (http:\/\/\S+)/.exec(err);
      if (m) resolve({ proc, url: m[1]! });
      else if (/: failed: |no model: /.test(err)) {
        proc.kill();
        reject(new Error(`the server did not become ready (store ${join(dir, 'ml-small.db')}; delete it to start over):\n${err}`));
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const t0 = performance.now();
const { proc, url } = await startServer();
try {
  process.stderr.write(`server ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const users: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = (await (await fetch(`${url}/v1/users?limit=1000&offset=${offset}`)).json()) as { users: { id: string }[]; total: number };
    users.push(...r.users.map((u) => u.id));
    if (users.length >= r.total || r.users.length === 0) break;
  }
  const path = (u: string): string => `/v1/users/${encodeURIComponent(u)}/recommendations?n=10&explain=true`;
  const marks: Record<string, [number, number][]> = { cold: [], steady: [], mixed: [], likeWrite: [], likeRead: [] };
  const now = (): number => Number(process.hrtime.bigint() / 1000n);
  let m0 = now();
  // pass 1: every user once, nothing cached
  const cold: number[] = [];
  const itemSet = new Set<string>();
  for (const u of users) {
    const s = performance.now();
    const r = await fetch(url + path(u));
    const text = await r.text();
    if (r.status !== 200) throw new Error(`status ${r.status} for user ${u}`);
    cold.push(performance.now() - s);
    for (const it of (JSON.parse(text) as { items: { id: string }[] }).items) itemSet.add(it.id);
  }
  const items = [...itemSet];
  marks.cold!.push([m0, now()]);
  m0 = now();
  cold.sort((a, b) => a - b);
  // pass 2: autocannon, cycling through the users
  let next = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: path(users[next++ % users.length]!) }),
      },
    ],
  });
  marks.steady!.push([m0, now()]);
  m0 = now();
  // pass 3: closed-loop writers (likes for random users) while the connections read random users
  const like = async (): Promise<number> => {
    const s = performance.now();
    const r = await fetch(`${url}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ feedback: [{ user: users[rand(users.length)]!, item: items[rand(items.length)]!, type: 'like' }] }),
    });
    await r.text();
    if (r.status !== 200) throw new Error(`write: status ${r.status}`);
    return performance.now() - s;
  };
  const writes: number[] = [];
  let writing = true;
  const writers = Array.from({ length: WRITERS }, async () => {
    while (writing) writes.push(await like());
  });
  const mixed = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path(users[rand(users.length)]!) }) }],
  });
  writing = false;
  await Promise.all(writers);
  marks.mixed!.push([m0, now()]);
  // the server's event-loop delay over its last complete 10 s window (inside the mixed pass)
  const metricsText = await (await fetch(`${url}/metrics`)).text();
  const loopDelay = (q: string): number => {
    const m = new RegExp(`personae_event_loop_delay_seconds\\{quantile="${q}"\\} (\\S+)`).exec(metricsText);
    return m ? +(Number(m[1]) * 1000).toFixed(1) : Number.NaN;
  };
  writes.sort((a, b) => a - b);
  // first read of a user after one like (sequential, quiet server): never a cache hit
  const afterLike: number[] = [];
  for (let j = 0; j < Number(process.env.BENCH_AFTER_LIKE ?? 50); j++) {
    const u = users[rand(users.length)]!;
    const w0 = now();
    const r0 = await fetch(`${url}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ feedback: [{ user: u, item: items[rand(items.length)]!, type: 'like' }] }),
    });
    await r0.text();
    marks.likeWrite!.push([w0, now()]);
    const s = performance.now();
    const q0 = now();
    const r = await fetch(url + path(u));
    await r.text();
    marks.likeRead!.push([q0, now()]);
    afterLike.push(performance.now() - s);
  }
  afterLike.sort((a, b) => a - b);
  if (process.env.BENCH_MARKS) (await import('node:fs')).writeFileSync(process.env.BENCH_MARKS, JSON.stringify(marks));
  const line = {
    dataset: DATA,
    users: users.length,
    cpus: cpus().length,
    /** The machine's 1-minute load average when the timed run ended (other processes compete for the cores). */
    loadAverage: +loadavg()[0]!.toFixed(2),
    /** Cold reads right after the server started: nothing cached (not cache hits). */
    coldPass: { p50ms: +quantile(cold, 0.5).toFixed(2), p99ms: +quantile(cold, 0.99).toFixed(2), meanMs: +(cold.reduce((a, b) => a + b, 0) / cold.length).toFixed(2) },
    /** Cache hits: every user's answer is cached after the cold pass. */
    steady: {
      connections: CONNECTIONS,
      seconds: SECONDS,
      requests: result.requests.total,
      reqPerSec: Math.round(result.requests.average),
      p50ms: result.latency.p50,
      p90ms: result.latency.p90,
      p99ms: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
    },
    /** Reads of random users while WRITERS post likes: cache hits, and first reads after a like. */
    mixed: {
      connections: CONNECTIONS,
      writers: WRITERS,
      seconds: SECONDS,
      readsPerSec: Math.round(mixed.requests.average),
      readP50ms: mixed.latency.p50,
      readP99ms: mixed.latency.p99,
      writes: writes.length,
      writeP50ms: +quantile(writes, 0.5).toFixed(2),
      writeP99ms: +quantile(writes, 0.99).toFixed(2),
      non2xx: mixed.non2xx,
      errors: mixed.errors,
      /** The server's event-loop delay (perf_hooks monitorEventLoopDelay) in its last 10 s window of the pass. */
      eventLoopDelayMs: { p50: loopDelay('0.5'), p99: loopDelay('0.99'), max: loopDelay('1') },
    },
    /** The first read of a user after one like (never a cache hit). */
    firstReadAfterLike: { p50ms: +quantile(afterLike, 0.5).toFixed(2), p99ms: +quantile(afterLike, 0.99).toFixed(2) },
  };
  process.stdout.write(`${JSON.stringify(line, null, 2)}\n`);
  process.stdout.write(
    `\nbench:serve  steady ${line.steady.reqPerSec} req/s, p50 ${line.steady.p50ms} ms, p99 ${line.steady.p99ms} ms (cache hits, ${CONNECTIONS} connections, explain=true); ` +
      `cold pass p50 ${line.coldPass.p50ms} ms, p99 ${line.coldPass.p99ms} ms; ` +
      `mixed ${line.mixed.readsPerSec} reads/s, p50 ${line.mixed.readP50ms} ms, p99 ${line.mixed.readP99ms} ms, writes p99 ${line.mixed.writeP99ms} ms (${WRITERS} writers), event loop delay p99 ${line.mixed.eventLoopDelayMs.p99} ms, max ${line.mixed.eventLoopDelayMs.max} ms; ` +
      `first read after a like p50 ${line.firstReadAfterLike.p50ms} ms, p99 ${line.firstReadAfterLike.p99ms} ms\n`,
  );
} finally {
  proc.kill('SIGTERM');
}
