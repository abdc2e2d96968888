/**
 * `npm run bench`: the project's benchmarks in one run, printed as Markdown for BENCHMARKS.md.
 * - fits of every model on ml-latest-small (temporal-user TRAIN), per-epoch times, interactions/s;
 * - full-ranking evaluation speed (test users/s);
 * - EASE against numpy's inverse of the same Gram matrix, measured in the same run;
 * - the whole `evaluate --tune` of the five baselines, end to end;
 * - loading a 20M-row CSV (peak RSS) and streaming a synthetic world (interactions/s, RSS).
 * Flags: --quick (skip the 20M-row load and the large world), --skip-numpy.
 */
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { makeSplit } from '../src/data/split.js';
import { readDataset } from '../src/data/readers/index.js';
import { rankTestUsers } from '../src/eval/evaluate.js';
import { runExperiment } from '../src/eval/experiment.js';
import { defaultThreads } from '../src/math/pool.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import type { ModelParams, Recommender } from '../src/models/model.js';
import { createOnboarding } from '../src/onboard/index.js';
import { ML_SMALL } from '../test/helpers.js';
import { benchEase } from './ease.js';
import { benchLoad } from './load.js';
import { benchWorld } from './world.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const threads = defaultThreads();
const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};

say(`# personae benchmarks`);
say();
say(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; threads ${threads}; ${new Date().toISOString()}`);
say(`command: npm run bench${quick ? ' -- --quick' : ''}; data: ml-latest-small, temporal-user, min rating 4`);
say();

const log = await readDataset(ML_SMALL);
const split = makeSplit(log);
// the parameters `evaluate --tune` selects on validation (test/quality.test.ts checks their bands)
const TUNED: Record<string, ModelParams> = {
  itemknn: { k: 100, shrink: 50 },
  ease: { lambda: 300 },
  bpr: { lr: 0.05, reg: 0.01, epochs: 250 },
  ials: { alpha: 1, reg: 15, iterations: 15 },
};
say(`## Model fits and evaluation (ml-latest-small TRAIN: ${split.stats.trainPositives} positives, ${split.stats.candidates} candidates; tuned parameters, personas at its defaults)`);
say();
say('interactions/s = training positives x epochs / fit wall time; CPU s counts every thread of the process.');
say();
say('| model | fit s | CPU s | epochs | s/epoch | interactions/s | eval s | test users/s | ndcg@20 |');
say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
let personas: Recommender | null = null;
for (const name of ['pop', 'itemknn', 'ease', 'bpr', 'ials', 'personas', 'din']) {
  const model = createModel(name, TUNED[name] ?? {});
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await model.fit(split.train, { rng: new Rng(42).derive('model', name), threads });
  const fit = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  if (name === 'personas') personas = model;
  const t1 = performance.now();
  const lists = rankTestUsers(model, split, { k: 20 });
  const evalS = (performance.now() - t1) / 1000;
  const { evaluateLists } = await import('../src/eval/evaluate.js');
  const ndcg = evaluateLists(split, lists, [20], 42).metrics['ndcg@20']!.mean!;
  const epochs = Number(model.params.epochs ?? model.params.iterations ?? NaN);
  const perEpoch = Number.isFinite(epochs) ? fit / epochs : NaN;
  const ips = Number.isFinite(epochs) ? (split.stats.trainPositives * epochs) / fit : NaN;
  say(
    `| ${name} | ${fit.toFixed(3)} | ${cpuS.toFixed(2)} | ${Number.isFinite(epochs) ? epochs : '-'} | ${Number.isFinite(perEpoch) ? perEpoch.toFixed(4) : '-'} | ${Number.isFinite(ips) ? Math.round(ips).toLocaleString('en-US') : '-'} | ${evalS.toFixed(3)} | ${Math.round(split.testUsers.length / evalS)} | ${ndcg.toFixed(4)} |`,
  );
}
say();

say('## Onboarding: choosing the next question (persona model above, pool of 200 popular items)');
say();
{
  const times: number[] = [];
  const rng = new Rng(42).derive('bench', 'onboarding');
  const t0 = performance.now();
  const first = createOnboarding(personas!, split.train, { seed: 1 });
  const setup = performance.now() - t0;
  for (let s = 0; s < 20; s++) {
    const session = s === 0 ? first : createOnboarding(personas!, split.train, { seed: s + 1 });
    for (let q = 0; q < 10; q++) {
      const t = performance.now();
      const question = session.next();
      times.push(performance.now() - t);
      if (!question) break;
      session.answer(question, (['a', 'b', 'both', 'neither'] as const)[rng.int(4)]!);
    }
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  say(`first session (builds the basis once per model): ${setup.toFixed(0)} ms; next question over ${times.length} choices (20 sessions x 10 answers): mean ${mean.toFixed(2)} ms, p95 ${times[Math.floor(0.95 * (times.length - 1))]!.toFixed(2)} ms, max ${times[times.length - 1]!.toFixed(2)} ms`);
  say();
}

say('## EASE vs numpy (same Gram matrix, same run)');
say();
const ease = await benchEase({ skipNumpy: args.has('--skip-numpy') });
say('```');
say(JSON.stringify(ease, null, 2));
say('```');
say();

say('## Full evaluation with tuning: pop, itemknn, ease, bpr, ials');
say();
const t2 = performance.now();
const exp = await runExperiment(split, { models: ['pop', 'itemknn', 'ease', 'bpr', 'ials'], ks: [10, 20], seed: 42, tune: true, threads });
const total = (performance.now() - t2) / 1000;
say(`total ${total.toFixed(1)} s (validation split, grid search, refit, ranking, bootstrap intervals and paired tests)`);
say();
say('| model | chosen params | tune s | ndcg@20 | recall@20 |');
say('|---|---|---:|---:|---:|');
for (const m of exp.models) {
  say(`| ${m.name} | ${JSON.stringify(m.params)} | ${(m.tuning?.seconds ?? 0).toFixed(1)} | ${m.metrics['ndcg@20']!.mean!.toFixed(4)} | ${m.metrics['recall@20']!.mean!.toFixed(4)} |`);
}
say();

if (!quick) {
  say('## Loading a 20M-row interaction CSV and the same rows as Parquet (ml-latest-small scaled with new user ids)');
  say();
  for (const load of await benchLoad(20_000_000)) {
    say(`${load.format}: ${load.rows} rows (${(load.fileBytes / 2 ** 20).toFixed(0)} MiB): ${load.seconds.toFixed(1)} s, ${Math.round(load.rowsPerSecond).toLocaleString('en-US')} rows/s, peak RSS ${load.peakRssMB.toFixed(0)} MiB`);
  }
  say();
}

say('## Synthetic world generation (streamed to files)');
say();
const world = await benchWorld({ interactions: quick ? 1_000_000 : 5_000_000 });
say(`${world.interactions} interactions, ${world.users} users x ${world.items} items: ${world.wallSeconds.toFixed(1)} s wall, ${Math.round(world.interactionsPerSecond).toLocaleString('en-US')} interactions/s, peak RSS ${world.peakRssMiB.toFixed(0)} MiB, RSS at 10/25/50/75/100%: ${Object.values(world.rssMiBAt).map((v) => v.toFixed(0)).join(' / ')} MiB`);
process.exit(0);
