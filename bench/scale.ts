/**
 * `npm run bench:scale`: the models at the scale of issue 10 on generated worlds (docs/scale.md).
 *
 *   npm run bench:scale                                   # 100k users x 20k items, ~10M interactions
 *   npm run bench:scale -- --large                        # 1M users x 100k items, ~50M interactions
 *   npm run bench:scale -- --users 10000 --items 2000     # a small setting (to check the bench works)
 *   npm run bench:scale -- --models pop,bpr,personas --threads 2 --data DIR   # reuse a world folder
 *
 * The world is streamed to a temporary folder (`personae world`'s writer; memory flat in users).
 * Each model then runs in its own child process (so peak RSS is the model's own): read the world,
 * split it (temporal-user, min rating 4), fit, and evaluate every test user at K = 20. The child
 * reports fit wall and CPU seconds, the per-epoch time of iterative models (median of the intervals
 * between its epoch progress events), evaluation seconds, ndcg@20 and its peak RSS. The parent prints
 * one Markdown table and the persona-epoch / bpr-epoch ratio of this run. A model that refuses or
 * fails gets its error in the table instead of figures.
 *
 * Flags: --users N --items N --mean N (interactions per user, default 100; --large: 50), --large,
 * --models list (default pop,itemknn,ials,bpr,ease,sparse-ease,personas), --threads N (default 2),
 * --heap MB (child --max-old-space-size, default 16384), --data DIR (an existing world folder),
 * --keep (keep the generated folder), --out FILE (also write the JSON results).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.js';

export interface ScaleRow {
  model: string;
  ok: boolean;
  error?: string;
  readS?: number;
  fitS?: number;
  fitCpuS?: number;
  epochs?: number;
  epochS?: number;
  evalS?: number;
  ndcg20?: number;
  peakRssMiB?: number;
  trainPositives?: number;
  candidates?: number;
}

const MiB = 1024 * 1024;

/** Child: one model on one world folder; prints one JSON line (a ScaleRow). */
async function child(model: string, dir: string, threads: number): Promise<void> {
  const { readDataset } = await import('../src/data/readers/index.js');
  const { makeSplit } = await import('../src/data/split.js');
  const { rankTestUsers, evaluateLists } = await import('../src/eval/evaluate.js');
  const { Rng } = await import('../src/math/rng.js');
  const { createModel } = await import('../src/models/registry.js');
  const row: ScaleRow = { model, ok: false };
  try {
    let t = performance.now();
    const split = makeSplit(await readDataset(dir));
    row.readS = (performance.now() - t) / 1000;
    row.trainPositives = split.stats.trainPositives;
    row.candidates = split.stats.candidates;
    const m = createModel(model, {});
    const marks: number[] = [];
    const c0 = process.cpuUsage();
    t = performance.now();
    marks.push(t);
    await m.fit(split.train, {
      rng: new Rng(42).derive('model', model),
      threads,
      onProgress: (e) => {
        if (e.stage === model) marks.push(performance.now());
      },
    });
    row.fitS = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(c0);
    row.fitCpuS = (cpu.user + cpu.system) / 1e6;
    const epochs = Number(m.params.epochs ?? m.params.iterations ?? NaN);
    if (Number.isFinite(epochs) && marks.length > 1) {
      const gaps = marks.slice(1).map((x, i) => x - marks[i]!).sort((a, b) => a - b);
      row.epochs = epochs;
      row.epochS = gaps[Math.floor(gaps.length / 2)]! / 1000;
    }
    t = performance.now();
    const lists = rankTestUsers(m, split, { k: 20 });
    row.ndcg20 = evaluateLists(split, lists, [20], 42).metrics['ndcg@20']!.mean!;
    row.evalS = (performance.now() - t) / 1000;
    row.ok = true;
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0]!.slice(0, 300);
  }
  row.peakRssMiB = Math.round((process.resourceUsage().maxRSS * 1024) / MiB);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function fmt(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** The Markdown table of a run (the layout BENCHMARKS.md uses). */
export function scaleTable(rows: readonly ScaleRow[]): string[] {
  const out = ['| model | fit s | fit CPU s | epochs | s/epoch | eval s | peak RSS MiB | ndcg@20 |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    if (!r.ok) out.push(`| ${r.model} | ${r.error ?? 'failed'} | | | | | ${r.peakRssMiB ?? '-'} | |`);
    else out.push(`| ${r.model} | ${fmt(r.fitS, 1)} | ${fmt(r.fitCpuS, 1)} | ${r.epochs ?? '-'} | ${fmt(r.epochS, 3)} | ${fmt(r.evalS, 1)} | ${r.peakRssMiB} | ${fmt(r.ndcg20, 4)} |`);
  }
  return out;
}

/** persona s/epoch over bpr s/epoch of one run, when both ran. */
export function epochRatio(rows: readonly ScaleRow[]): number | null {
  const p = rows.find((r) => r.model === 'personas' && r.ok)?.epochS;
  const b = rows.find((r) => r.model === 'bpr' && r.ok)?.epochS;
  return p !== undefined && b !== undefined && b > 0 ? p / b : null;
}

async function main(argv: readonly string[]): Promise<void> {
  const { opt, num } = benchArgs(argv);
  if (argv.includes('--child')) return child(opt('--model')!, opt('--data')!, num('--threads', 2));
  const large = argv.includes('--large');
  const users = num('--users', large ? 1_000_000 : 100_000);
  const items = num('--items', large ? 100_000 : 20_000);
  const mean = num('--mean', large ? 50 : 100);
  const threads = num('--threads', 2);
  const heap = num('--heap', 16384);
  const models = (opt('--models') ?? 'pop,itemknn,ials,bpr,ease,sparse-ease,personas').split(',').map((s) => s.trim()).filter(Boolean);
  const say = (s = ''): void => void process.stdout.write(`${s}\n`);
  say(`# personae scale bench`);
  say();
  say(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; threads ${threads}; ${new Date().toISOString()}`);
  let dir = opt('--data');
  let generated = false;
  if (!dir) {
    const { writeWorld } = await import('../src/synth/files.js');
    dir = mkdtempSync(join(tmpdir(), 'personae-scale-'));
    generated = true;
    const t = performance.now();
    const summary = await writeWorld({ seed: 42, users, items, meanInteractions: mean }, dir);
    say(`world: ${users} users x ${items} items, mean ${mean} per user: ${summary.interactions} interactions written in ${((performance.now() - t) / 1000).toFixed(1)} s to ${dir}`);
  } else {
    say(`world: ${dir}`);
  }
  say(`command: npm run bench:scale -- ${argv.join(' ')}`);
  say();
  const rows: ScaleRow[] = [];
  const self = fileURLToPath(import.meta.url);
  try {
    for (const model of models) {
      const r = spawnSync(process.execPath, [`--max-old-space-size=${heap}`, '--import', 'tsx', self, '--child', '--model', model, '--data', dir, '--threads', String(threads)], {
        encoding: 'utf8',
        maxBuffer: 64 * MiB,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let row: ScaleRow;
      try {
        row = JSON.parse(line) as ScaleRow;
      } catch {
        row = { model, ok: false, error: `child exited ${r.status ?? r.signal}: ${(r.stderr || line).trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? ''}` };
      }
      rows.push(row);
      process.stderr.write(`${model}: ${row.ok ? `fit ${fmt(row.fitS, 1)} s, eval ${fmt(row.evalS, 1)} s, peak RSS ${row.peakRssMiB} MiB` : row.error}\n`);
    }
  } finally {
    if (generated && !argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
  const first = rows.find((r) => r.trainPositives !== undefined);
  if (first) say(`split: temporal-user, min rating 4; ${first.trainPositives} training positives, ${first.candidates} candidates; evaluation ranks every test user at K = 20`);
  say();
  for (const l of scaleTable(rows)) say(l);
  say();
  const ratio = epochRatio(rows);
  say(`persona epoch / bpr epoch (this run): ${ratio === null ? '-' : ratio.toFixed(1)}`);
  const out = opt('--out');
  if (out) writeFileSync(out, JSON.stringify({ users, items, mean, threads, rows, personaBprEpochRatio: ratio }, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
