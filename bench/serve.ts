/**
 * `npm run bench:serve`: load-tests GET /v1/users/:id/recommendations?n=10&explain=true with
 * autocannon on loopback, against `personae serve` on ml-latest-small (personas model). The
 * server runs in its own process (the load generator shares the machine); the store and the
 * trained model are kept in the temp folder, so only the first run pays for import and training.
 *
 * Reports: one pass over every user with an empty cache (each request computes the scores,
 * the persona profile and the explanations), then a timed autocannon run cycling through the
 * users (the steady state: per-user answers are cached until the user's data changes).
 *
 * Options (env): BENCH_SECONDS (default 15), BENCH_CONNECTIONS (default 32), BENCH_DATA (dataset).
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
const dir = join(tmpdir(), 'personae-bench-serve');
mkdirSync(dir, { recursive: true });
const cli = new URL('../src/cli/index.ts', import.meta.url).href;

function startServer(): Promise<{ proc: ChildProcess; url: string }> {
  const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '-e', boot, 'serve', '--port', '0', '--db', join(dir, 'ml-small.db'), '--data', DATA, '--public-reads', '--rate-limit', '0', '--rate-limit-address', '0'], {
    env: { ...process.env, PERSONAE_API_KEY: 'bench-key' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      process.stderr.write(d);
      const m = /ready at (http:\/\/\S+)/.exec(err);
      if (m) resolve({ proc, url: m[1]! });
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
  // pass 1: every user once, nothing cached
  const cold: number[] = [];
  for (const u of users) {
    const s = performance.now();
    const r = await fetch(url + path(u));
    await r.text();
    if (r.status !== 200) throw new Error(`status ${r.status} for user ${u}`);
    cold.push(performance.now() - s);
  }
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
  const line = {
    dataset: DATA,
    users: users.length,
    cpus: cpus().length,
    /** The machine's 1-minute load average when the timed run ended (other processes compete for the cores). */
    loadAverage: +loadavg()[0]!.toFixed(2),
    coldPass: { p50ms: +quantile(cold, 0.5).toFixed(2), p99ms: +quantile(cold, 0.99).toFixed(2), meanMs: +(cold.reduce((a, b) => a + b, 0) / cold.length).toFixed(2) },
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
  };
  process.stdout.write(`${JSON.stringify(line, null, 2)}\n`);
  process.stdout.write(
    `\nbench:serve  ${line.steady.reqPerSec} req/s, p50 ${line.steady.p50ms} ms, p99 ${line.steady.p99ms} ms (steady, ${CONNECTIONS} connections, explain=true); ` +
      `cold pass p50 ${line.coldPass.p50ms} ms, p99 ${line.coldPass.p99ms} ms\n`,
  );
} finally {
  proc.kill('SIGTERM');
}
