/**
 * Benchmark of `personae world`: a large world streamed to a temporary folder, measuring
 * interactions per second (wall and CPU) and the peak resident memory, which must stay flat in
 * the number of interactions.
 *
 *   node --import tsx bench/world.ts                          # 5M interactions
 *   node --import tsx bench/world.ts --interactions 50000000  # the 1M users x 100k items scale
 *   node --import tsx bench/world.ts --no-write               # generation only, no files
 *   node --import tsx bench/world.ts --keep                   # keep the folder (path printed)
 *
 * `WORLD_BENCH_INTERACTIONS` sets the size as well (the flag wins).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { World, writeWorld, type WorldConfigInput } from '../src/synth/world.js';

export interface BenchWorldOptions {
  /** Target number of interactions (default 5M). Users = interactions / meanInteractions. */
  interactions?: number;
  /** Items in the catalogue (default 100k). */
  items?: number;
  /** Mean rows per user (default 50). */
  meanInteractions?: number;
  /** Write the files (default true); false measures generation alone. */
  write?: boolean;
  /** Keep the output folder instead of deleting it (default false). */
  keep?: boolean;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BenchWorldResult {
  config: WorldConfigInput;
  users: number;
  items: number;
  interactions: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** Interactions per wall-clock second (the whole run, catalogue build included). */
  interactionsPerSecond: number;
  interactionsPerCpuSecond: number;
  /** Bytes written over all files (0 with write: false). */
  bytesWritten: number;
  /** Peak resident set size of the process (MiB). */
  peakRssMiB: number;
  /** RSS (MiB) at 10%, 25%, 50%, 75% and 100% of the users: flat when streaming works. */
  rssMiBAt: Record<string, number>;
  dir: string | null;
}

const MiB = 1024 * 1024;

export async function benchWorld(options: BenchWorldOptions = {}): Promise<BenchWorldResult> {
  const target = options.interactions ?? 5_000_000;
  const mean = options.meanInteractions ?? 50;
  const config: WorldConfigInput = {
    seed: options.seed ?? 42,
    users: Math.max(1, Math.round(target / mean)),
    items: options.items ?? 100_000,
    categories: 16,
    meanInteractions: mean,
  };
  const write = options.write ?? true;
  const users = config.users!;
  const fractions = [0.1, 0.25, 0.5, 0.75, 1];
  let nextMark = 0;
  const rssMiBAt: Record<string, number> = {};
  /** Records the RSS at the first progress report at or past each mark. */
  const note = (done: number): void => {
    while (nextMark < fractions.length && done >= fractions[nextMark]! * users) {
      rssMiBAt[`${fractions[nextMark]! * 100}%`] = Math.round(process.memoryUsage().rss / MiB);
      nextMark++;
    }
    options.onProgress?.(done, users);
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let interactions = 0;
  let dir: string | null = null;
  let bytesWritten = 0;
  if (write) {
    dir = mkdtempSync(join(tmpdir(), 'personae-world-bench-'));
    const summary = await writeWorld(config, dir, (p) => note(p.users));
    interactions = summary.interactions;
    for (const f of readdirSync(dir)) bytesWritten += statSync(join(dir, f)).size;
  } else {
    const world = new World(config);
    const rows = world.newRows();
    for (let u = 0; u < users; u++) {
      world.generateUser(u, rows);
      interactions += rows.length;
      if ((u + 1) % Math.max(1, Math.floor(users / 100)) === 0 || u + 1 === users) note(u + 1);
    }
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const peakRssMiB = Math.round((process.resourceUsage().maxRSS * 1024) / MiB);
  if (dir && !options.keep) {
    rmSync(dir, { recursive: true, force: true });
    dir = null;
  }
  return {
    config,
    users,
    items: config.items!,
    interactions,
    wallSeconds,
    cpuSeconds,
    interactionsPerSecond: interactions / wallSeconds,
    interactionsPerCpuSecond: interactions / cpuSeconds,
    bytesWritten,
    peakRssMiB,
    rssMiBAt,
    dir,
  };
}

function parseArgs(argv: readonly string[]): BenchWorldOptions {
  const opts: BenchWorldOptions = {};
  const env = process.env.WORLD_BENCH_INTERACTIONS;
  if (env) opts.interactions = Number(env);
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const value = (): number => {
      const v = Number(argv[++k]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--interactions') opts.interactions = value();
    else if (a === '--items') opts.items = value();
    else if (a === '--mean') opts.meanInteractions = value();
    else if (a === '--seed') opts.seed = value();
    else if (a === '--no-write') opts.write = false;
    else if (a === '--keep') opts.keep = true;
    else throw new Error(`unknown argument ${a}; expected --interactions N, --items N, --mean N, --seed N, --no-write, --keep`);
  }
  return opts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opts = parseArgs(process.argv.slice(2));
  let last = -1;
  const r = await benchWorld({
    ...opts,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct >= last + 10 && process.stderr.isTTY) {
        last = pct;
        process.stderr.write(`\r${pct}% of ${total} users`);
      }
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  const m = (x: number): string => (x / 1e6).toFixed(2);
  console.log(
    [
      `world bench: ${r.users} users x ${r.items} items, ${r.interactions} interactions${opts.write === false ? ' (generation only)' : ''}`,
      `  wall ${r.wallSeconds.toFixed(1)} s -> ${m(r.interactionsPerSecond)} M interactions/s`,
      `  cpu  ${r.cpuSeconds.toFixed(1)} s -> ${m(r.interactionsPerCpuSecond)} M interactions/cpu-s`,
      r.bytesWritten > 0 ? `  wrote ${(r.bytesWritten / MiB).toFixed(0)} MiB (${(r.bytesWritten / MiB / r.wallSeconds).toFixed(0)} MiB/s)${r.dir ? ` to ${r.dir}` : ''}` : '',
      `  peak RSS ${r.peakRssMiB} MiB; RSS at ${Object.entries(r.rssMiBAt).map(([k, v]) => `${k}: ${v}`).join(', ')} MiB`,
    ]
      .filter((l) => l.length > 0)
      .join('\n'),
  );
  console.log(JSON.stringify(r));
}
