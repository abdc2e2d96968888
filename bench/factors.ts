/**
 * Fit-time benchmark of the matrix-factorisation baselines (bpr, ials) on ml-latest-small's
 * temporal-user TRAIN (min rating 4: 38620 positives, 609 users, 5289 candidates), at the tuned
 * parameters test/quality.test.ts checks (bpr lr 0.05, reg 0.01, 250 epochs; ials alpha 1, reg 15,
 * 15 iterations; d = 64), with the seed the experiment runner uses (42, stream 'model'/<name>).
 *
 * The machine is shared, so each fit is repeated and the min is printed, both wall time and CPU
 * time (process.cpuUsage: all threads of the process, workers included). Per epoch = fit / epochs.
 * After the timed fits it ranks the test users with the last model and prints ndcg@20 (the number
 * the quality band checks) and a hash of the factors (equal for every thread count).
 *
 * Run: `node --import tsx bench/factors.ts [--runs 3] [--threads 2] [--models bpr,ials] [--no-eval]`.
 * For scale (issue 2): the C++ `implicit` library fits 150 BPR epochs in ~0.5 s and 15 iALS
 * iterations in ~0.2 s on this split and machine.
 */
import { fileURLToPath } from 'node:url';
import { readDataset } from '../src/data/readers/index.js';
import { makeSplit } from '../src/data/split.js';
import { evaluateLists, rankTestUsers } from '../src/eval/evaluate.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import type { ModelParams, Recommender } from '../src/models/model.js';

const ML_DIR = fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));

const TUNED: Record<string, { params: ModelParams; epochs: number }> = {
  bpr: { params: { lr: 0.05, reg: 0.01, epochs: 250 }, epochs: 250 },
  ials: { params: { alpha: 1, reg: 15, iterations: 15 }, epochs: 15 },
};

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

/** FNV-1a over the bytes of the model's arrays (a fingerprint of the fitted factors). */
function fingerprint(model: Recommender): string {
  let h = 0x811c9dc5;
  for (const a of Object.values(model.toArtifact().arrays)) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let k = 0; k < b.length; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

const runs = Math.max(1, Number(flag('runs', '3')));
const threads = Math.max(1, Number(flag('threads', '2')));
const models = flag('models', 'bpr,ials').split(',');
const doEval = !process.argv.includes('--no-eval');

const split = makeSplit(await readDataset(ML_DIR));
const out = (s: string) => process.stdout.write(`${s}\n`);
out(`ml-latest-small TRAIN: ${split.stats.trainPositives} positives, ${split.stats.candidates} candidates; threads ${threads}; runs ${runs} (min)`);
for (const name of models) {
  const tuned = TUNED[name];
  if (!tuned) throw new Error(`bench/factors: unknown model ${name} (bpr, ials)`);
  let wall = Infinity;
  let cpu = Infinity;
  let model: Recommender | null = null;
  for (let r = 0; r < runs; r++) {
    const m = createModel(name, tuned.params);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await m.fit(split.train, { rng: new Rng(42).derive('model', name), threads });
    const w = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, w);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
    model = m;
  }
  const per = (s: number) => ((s / tuned.epochs) * 1000).toFixed(2);
  let line = `${name} ${JSON.stringify(tuned.params)}: fit wall ${wall.toFixed(3)} s (${per(wall)} ms/epoch), cpu ${cpu.toFixed(3)} s (${per(cpu)} ms/epoch)`;
  if (name === 'bpr') line += `; 150 epochs: wall ${((wall / tuned.epochs) * 150).toFixed(3)} s, cpu ${((cpu / tuned.epochs) * 150).toFixed(3)} s`;
  line += `; factors ${fingerprint(model!)}`;
  if (doEval) {
    const lists = rankTestUsers(model!, split, { k: 20 });
    const m = evaluateLists(split, lists, [20], 42).metrics;
    line += `; ndcg@20 ${m['ndcg@20']!.mean!.toFixed(4)} recall@20 ${m['recall@20']!.mean!.toFixed(4)}`;
  }
  out(line);
}
