/**
 * `npm run bench:serve-writes`: the write path alone. Closed-loop clients (autocannon, one request
 * in flight each) POST one like each for random users and items to `personae serve` on the store
 * `npm run bench:serve` builds (ml-latest-small, personas, SQLite; run that first, or this run
 * fills and trains it), with no reads: write req/s (what one write costs the server), latency, and
 * the server's event-loop delay.
 *
 * Options (env): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (writers, default 4), BENCH_DATA
 * (dataset), BENCH_SEED (default 1), BENCH_SERVER_NODE_ARGS (e.g. `--cpu-prof`).
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DATA = process.env.BENCH_DATA ?? fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
let seed = Number(process.env.BENCH_SEED ?? 1) >>> 0 || 1;
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
  const args = ['serve', '--port', '0', '--db', join(dir, 'ml-small.db'), '--data', DATA, '--public-reads', '--rate-limit', '0', '--rate-limit-address', '0'];
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', '-e', boot, ...args], { env: { ...process.env, PERSONAE_API_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
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

const { proc, url } = await startServer();
try {
  const users: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = (await (await fetch(`${url}/v1/users?limit=1000&offset=${offset}`)).json()) as { users: { id: string }[]; total: number };
    users.push(...r.users.map((u) => u.id));
    if (users.length >= r.total || r.users.length === 0) break;
  }
  // the dataset's items (a MovieLens folder: movies.csv, id first)
  const items = readFileSync(join(DATA, 'movies.csv'), 'utf8').split('\n').slice(1).map((l) => l.split(',')[0]!).filter((x) => x !== '');
  const body = (): string => JSON.stringify({ feedback: [{ user: users[rand(users.length)]!, item: items[rand(items.length)]!, type: 'like' }] });
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'POST', path: '/v1/feedback', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  const metricsText = await (await fetch(`${url}/metrics`)).text();
  const loopDelay = (q: string): number => {
    const m = new RegExp(`personae_event_loop_delay_seconds\\{quantile="${q}"\\} (\\S+)`).exec(metricsText);
    return m ? +(Number(m[1]) * 1000).toFixed(1) : Number.NaN;
  };
  const line = {
    dataset: DATA,
    cpus: cpus().length,
    loadAverage: +loadavg()[0]!.toFixed(2),
    writers: CONNECTIONS,
    seconds: SECONDS,
    writes: result.requests.total,
    writesPerSec: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    eventLoopDelayMs: { p50: loopDelay('0.5'), p99: loopDelay('0.99'), max: loopDelay('1') },
  };
  process.stdout.write(`${JSON.stringify(line, null, 2)}\n`);
} finally {
  proc.kill('SIGTERM');
}
