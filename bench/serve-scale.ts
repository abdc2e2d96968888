/**
 * `npm run bench:serve-scale`: `personae serve` over a large store (issue 10's service half).
 *
 *   npm run bench:serve-scale                                  # 100k users x 20k items, ~10M interactions, SQLite
 *   npm run bench:serve-scale -- --large --db postgres://...   # 1M users x 100k items, ~50M interactions, PostgreSQL
 *   npm run bench:serve-scale -- --users 5000 --items 2000     # a small setting (to check the bench works)
 *
 * Steps, each timed: write the world (streamed, as `npm run bench:scale`), fit the persona model on
 * it with `personae train` (one process), then start `personae serve --data <world> --model-file
 * <model>` on an empty store (the fill: the store is written from the world and the model adopted)
 * and read a seeded sample of users with `GET /v1/users/:id/recommendations?n=10&explain=true`,
 * one request at a time over loopback: the cold pass (each user's first read after the start: no
 * state cached) and the warm pass (the same users again: **cache hits**, a per-user answer cache).
 * The server is started again on the filled store with per-persona ANN retrieval forced on and
 * forced off (`--ann-min-items`), and the served top-100 lists of the sample are compared: recall@100
 * of the retrieved lists against the exact ones. With a PostgreSQL store, two replicas are started
 * on it and must serve the same lists. Each server's peak and current RSS come from
 * /proc/<pid>/status (VmHWM, VmRSS).
 *
 * Flags: --users N --items N --mean N (default 100,000 x 20,000 x 100; --large: 1,000,000 x
 * 100,000 x 50), --data DIR (an existing world folder), --model FILE (an existing model file of that
 * world), --db FILE|URL (default: a SQLite file in the temp folder; a postgres:// URL is emptied
 * first: its schema personae_bench is dropped), --reads N (users sampled, default 1000), --recall N
 * (users whose top-100 lists are compared, default 200), --threads N (training, default 2),
 * --keep (keep the temp folder), --out FILE (also write the JSON results).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/math/rng.js';
import { benchArgs } from './args.js';

const cli = new URL('../src/cli/index.ts', import.meta.url).href;
const boot = `import(${JSON.stringify(cli)}).then((m) => m.main(['node', 'personae', ...process.argv.slice(1)]))`;
const SCHEMA = 'personae_bench';

interface ServerRun {
  label: string;
  bootS: number;
  rssAtReadyMiB: number;
  cold?: { p50ms: number; p99ms: number; maxMs: number };
  warm?: { p50ms: number; p99ms: number };
  peakRssMiB: number;
  rssMiB: number;
}

/** VmHWM and VmRSS of a process in MiB. */
function rssOf(pid: number): { peak: number; now: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { peak: Math.round(kb('VmHWM') / 1024), now: Math.round(kb('VmRSS') / 1024) };
}

function quantile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Starts `personae serve` with `args`; resolves at its "ready at" line with the URL and the seconds it took. */
function startServer(args: readonly string[]): Promise<{ proc: ChildProcess; url: string; bootS: number }> {
  const t = performance.now();
  const proc = spawn(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', '-e', boot, 'serve', '--port', '0', '--public-reads', '--rate-limit', '0', '--rate-limit-address', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /ready at (http:\/\/\S+)/.exec(err);
      if (m) resolve({ proc, url: m[1]!, bootS: (performance.now() - t) / 1000 });
    });
    proc.stdout!.resume();
    proc.on('exit', (code) => reject(new Error(`personae serve exited ${code} before it was ready: ${err.trim().split('\n').slice(-3).join(' | ')}`)));
  });
}

async function stopServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const done = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  await done;
}

/** The distinct users of the world's ratings.csv (first column), in file order. */
async function worldUsers(dir: string): Promise<string[]> {
  const seen = new Set<string>();
  const rl = createInterface({ input: createReadStream(join(dir, 'ratings.csv')) });
  let header = true;
  for await (const line of rl) {
    if (header) {
      header = false;
      continue;
    }
    const c = line.indexOf(',');
    if (c > 0) seen.add(line.slice(0, c));
  }
  return [...seen];
}

/** Sequential reads of `users`; the latency of each in ms, and each answer's item ids. */
async function readAll(url: string, users: readonly string[], query: string): Promise<{ ms: number[]; lists: string[][] }> {
  const ms: number[] = [];
  const lists: string[][] = [];
  for (const u of users) {
    const t = performance.now();
    const r = await fetch(`${url}/v1/users/${encodeURIComponent(u)}/recommendations?${query}`);
    const text = await r.text();
    ms.push(performance.now() - t);
    if (!r.ok) throw new Error(`GET recommendations of ${u}: ${r.status} ${text.slice(0, 200)}`);
    lists.push((JSON.parse(text) as { items: { id: string }[] }).items.map((x) => x.id));
  }
  return { ms, lists };
}

function latency(ms: readonly number[]): { p50ms: number; p99ms: number; maxMs: number } {
  const s = ms.slice().sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { p50ms: r(quantile(s, 0.5)), p99ms: r(quantile(s, 0.99)), maxMs: r(s[s.length - 1] ?? NaN) };
}

/** Recall@n of `got` against `want`, averaged over users. */
function recall(got: readonly string[][], want: readonly string[][]): number {
  let sum = 0;
  for (let u = 0; u < want.length; u++) {
    const g = new Set(got[u]);
    sum += want[u]!.length === 0 ? 1 : want[u]!.filter((x) => g.has(x)).length / want[u]!.length;
  }
  return want.length === 0 ? NaN : sum / want.length;
}

async function main(argv: readonly string[]): Promise<void> {
  const { opt, num } = benchArgs(argv);
  const large = argv.includes('--large');
  const users = num('--users', large ? 1_000_000 : 100_000);
  const items = num('--items', large ? 100_000 : 20_000);
  const mean = num('--mean', large ? 50 : 100);
  const reads = num('--reads', 1000);
  const recallUsers = num('--recall', 200);
  const threads = num('--threads', 2);
  const say = (s = ''): void => void process.stdout.write(`${s}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'personae-serve-scale-'));
  const pg = (opt('--db') ?? '').startsWith('postgres');
  const db = opt('--db') ?? join(tmp, 'store.db');
  const storeArgs = pg ? ['--db', db, '--pg-schema', SCHEMA] : ['--db', db];
  const results: Record<string, unknown> = { users, items, mean, reads, store: pg ? 'postgresql' : 'sqlite' };
  say('# personae service scale bench');
  say();
  say(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`);
  say(`command: npm run bench:serve-scale -- ${argv.join(' ')}`);
  const servers: ChildProcess[] = [];
  try {
    let dir = opt('--data');
    if (!dir) {
      const { writeWorld } = await import('../src/synth/files.js');
      dir = join(tmp, 'world');
      const t = performance.now();
      const summary = await writeWorld({ seed: 42, users, items, meanInteractions: mean }, dir);
      results.worldS = (performance.now() - t) / 1000;
      say(`world: ${users} users x ${items} items, mean ${mean}: ${summary.interactions} interactions written in ${(results.worldS as number).toFixed(1)} s`);
    } else say(`world: ${dir}`);
    let model = opt('--model');
    if (!model) {
      model = join(tmp, 'personas.model');
      const t = performance.now();
      const r = spawnSync(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', '-e', boot, 'train', '--data', dir, '--model', 'personas', '--threads', String(threads), '--out', model, '--quiet'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`personae train failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
      results.trainS = (performance.now() - t) / 1000;
      say(`model: personas (defaults) fitted by personae train in ${(results.trainS as number).toFixed(1)} s (${threads} threads)`);
    } else say(`model: ${model}`);
    if (pg) {
      const { default: pgLib } = await import('pg');
      const c = new pgLib.Client({ connectionString: db });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
      await c.end();
    } else if (existsSync(db)) throw new Error(`--db ${db} exists: the bench fills an empty store`);
    const all = await worldUsers(dir);
    const rng = new Rng(7);
    const sample: string[] = [];
    const picked = new Set<number>();
    while (sample.length < Math.min(reads, all.length)) {
      const u = Math.floor(rng.next() * all.length);
      if (picked.has(u)) continue;
      picked.add(u);
      sample.push(all[u]!);
    }
    const recallSample = sample.slice(0, recallUsers);
    const explained = 'n=10&explain=true';
    const top100 = 'n=100&explain=false';
    const runs: ServerRun[] = [];
    const lists: Record<string, string[][]> = {};
    // 1. the fill, then the reads with the default retrieval setting
    // 2. and 3. the filled store again with ANN forced on / off
    const settings: [string, string[]][] = [
      ['fill + default', ['--data', dir, '--model-file', model]],
      ['ANN on', ['--model-file', model, '--ann-min-items', '1']],
      ['ANN off', ['--model-file', model, '--ann-min-items', '0']],
    ];
    for (const [label, args] of settings) {
      const s = await startServer([...storeArgs, ...args]);
      servers.push(s.proc);
      if (label.startsWith('ANN on')) await annReady(s.url);
      const at = rssOf(s.proc.pid!);
      const cold = await readAll(s.url, sample, explained);
      const warm = await readAll(s.url, sample, explained);
      lists[label] = (await readAll(s.url, recallSample, top100)).lists;
      const rss = rssOf(s.proc.pid!);
      runs.push({ label, bootS: s.bootS, rssAtReadyMiB: at.now, cold: latency(cold.ms), warm: latency(warm.ms), peakRssMiB: rss.peak, rssMiB: rss.now });
      await stopServer(s.proc);
      say(`${label}: boot ${s.bootS.toFixed(1)} s; cold p50 ${runs.at(-1)!.cold!.p50ms} / p99 ${runs.at(-1)!.cold!.p99ms} ms; warm (cache hits) p50 ${runs.at(-1)!.warm!.p50ms} / p99 ${runs.at(-1)!.warm!.p99ms} ms; peak RSS ${rss.peak} MiB`);
    }
    results.runs = runs;
    results.annRecallAt100 = recall(lists['ANN on']!, lists['ANN off']!);
    say(`recall@100 of the ANN-retrieved lists against the exact ones (${recallSample.length} users): ${(results.annRecallAt100 as number).toFixed(4)}`);
    if (pg) {
      // two replicas on the one store serve the same lists
      const a = await startServer([...storeArgs, '--model-file', model]);
      servers.push(a.proc);
      const b = await startServer([...storeArgs, '--model-file', model]);
      servers.push(b.proc);
      await Promise.all([annReady(a.url), annReady(b.url)]);
      const la = (await readAll(a.url, recallSample, explained)).lists;
      const lb = (await readAll(b.url, recallSample, explained)).lists;
      const same = la.filter((l, u) => l.join(',') === lb[u]!.join(',')).length;
      results.replicasSameLists = `${same}/${la.length}`;
      say(`two replicas on the store: the same lists for ${same} of ${la.length} users`);
      await Promise.all([stopServer(a.proc), stopServer(b.proc)]);
    }
    say();
    say('| server | boot s | RSS at ready MiB | cold p50 / p99 ms | warm p50 / p99 ms (cache hits) | peak RSS MiB |');
    say('|---|---:|---:|---:|---:|---:|');
    for (const r of runs) say(`| ${r.label} | ${r.bootS.toFixed(1)} | ${r.rssAtReadyMiB} | ${r.cold!.p50ms} / ${r.cold!.p99ms} | ${r.warm!.p50ms} / ${r.warm!.p99ms} | ${r.peakRssMiB} |`);
    const out = opt('--out');
    if (out) writeFileSync(out, JSON.stringify(results, null, 2));
  } finally {
    for (const p of servers) if (p.exitCode === null) p.kill('SIGKILL');
    if (!argv.includes('--keep')) rmSync(tmp, { recursive: true, force: true });
    else say(`kept: ${tmp}`);
  }
}

/** Waits until the server's ANN index is built (GET /readyz says so), at most 30 minutes. */
async function annReady(url: string): Promise<void> {
  const until = Date.now() + 30 * 60_000;
  for (;;) {
    const r = await fetch(`${url}/readyz`);
    const body = (await r.json().catch(() => ({}))) as { ann?: string };
    if (body.ann === undefined || body.ann === 'ready' || body.ann === 'off') return;
    if (Date.now() > until) throw new Error(`the ANN index of ${url} was not ready after 30 minutes (readyz: ${JSON.stringify(body)})`);
    await new Promise((r2) => setTimeout(r2, 500));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
