/**
 * EASE fit benchmark on ml-latest-small: our Gram + SPD inverse + B (float32 SIMD WebAssembly,
 * calling thread + workers) against numpy (np.linalg.inv, OpenBLAS) on the SAME Gram matrix, in
 * the same run. The two sides alternate run by run and each takes the min of `runs` (the machine
 * is shared: timings are noisy; the CPU-time ratio is the steadier efficiency measure). The python child also reports our float32 inverse's error against numpy's float64 one.
 *
 * Data: the training split of the project protocol (temporal-user, ratings >= 4: 5289 candidate
 * items), or with `data: 'all'` every positive of ratings.csv read with a plain CSV parse.
 *
 * Run: `node --import tsx bench/ease.ts [--threads 2] [--runs 3] [--data split|all] [--no-numpy]`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { columnCounts, csrFromPairs, transpose } from '../src/data/csr.js';
import { readDataset } from '../src/data/readers/index.js';
import { makeSplit } from '../src/data/split.js';
import { SpdWorkspace } from '../src/math/dense.js';
import { WorkerPool } from '../src/math/pool.js';
import { easeGram } from '../src/models/ease.js';
import type { TrainSet } from '../src/models/model.js';

const ML_DIR = fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));

export interface EaseBenchOptions {
  /** Threads in all (calling thread + workers); default: available cores. */
  threads?: number;
  /** Runs of each side, interleaved (ours, numpy, ours, ...); min taken. Default 3. */
  runs?: number;
  data?: 'split' | 'all';
  lambda?: number;
  /** Skip numpy (e.g. no python3). */
  skipNumpy?: boolean;
  python?: string;
}

export interface EaseBenchResult {
  data: string;
  users: number;
  items: number;
  positives: number;
  threads: number;
  runs: number;
  /**
   * Min over runs, seconds. `inverse` includes forming B (the kernel's last pass writes B instead
   * of P); `weights` is copying B out of the workspace. `inverseCpu`: CPU seconds, all threads.
   */
  ours: { gram: number; inverse: number; weights: number; total: number; inverseCpu: number };
  numpy: {
    gram: number;
    inverse: number;
    inverseCpu: number;
    /** One run. */
    inverseFloat32: number;
    weights: number;
    total: number;
    version: string;
    blas: string;
    threads: string;
    /** Whether numpy's own X^T X + lambda I equals our Gram. */
    gramMatches: boolean;
  } | null;
  /** ours / numpy (lower is better; <= 1.5 is the acceptance target); inverseCpu compares CPU time. */
  ratio: { inverse: number; total: number; inverseCpu: number } | null;
  /** Our float32 inverse (and B) against numpy's float64: max abs error / max abs value. */
  accuracy: { inverseMaxAbs: number; inverseRel: number; weightsMaxAbs: number; weightsRel: number } | null;
  /** Why numpy did not run (then `numpy` is null). */
  numpyError: string | null;
}

/** The training positives: the protocol split's train set, or all ratings >= 4 (plain CSV parse). */
async function loadTrain(data: 'split' | 'all'): Promise<TrainSet> {
  if (data === 'split') return makeSplit(await readDataset(ML_DIR, { format: 'auto' })).train;
  const lines = readFileSync(join(ML_DIR, 'ratings.csv'), 'utf8').split(/\r?\n/).slice(1);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const u: number[] = [];
  const i: number[] = [];
  for (const line of lines) {
    if (!line) continue;
    const [user, item, rating] = line.split(',');
    if (Number(rating) < 4) continue;
    if (!users.has(user!)) users.set(user!, users.size);
    if (!items.has(item!)) items.set(item!, items.size);
    u.push(users.get(user!)!);
    i.push(items.get(item!)!);
  }
  const userItems = csrFromPairs(users.size, items.size, Int32Array.from(u), Int32Array.from(i));
  const itemPopularity = columnCounts(userItems);
  return {
    nUsers: users.size,
    nItems: items.size,
    userItems,
    itemUsers: transpose(userItems),
    itemPopularity,
    candidates: Int32Array.from({ length: items.size }, (_, k) => k),
    itemRanks: Int32Array.from({ length: items.size }, (_, k) => k),
    categories: null,
  };
}

interface Timing {
  gram: number;
  inverse: number;
  weights: number;
  /** CPU seconds of the inverse, all threads of the process. */
  inverseCpu: number;
}

async function runOurs(train: TrainSet, pos: Int32Array, lambda: number, pool: WorkerPool | undefined, threads: number): Promise<Timing & { b: Float32Array }> {
  const nc = train.candidates.length;
  const t0 = performance.now();
  const ws = new SpdWorkspace(nc);
  easeGram(train, pos, lambda, ws.matrix, ws.stride);
  const t1 = performance.now();
  const cpu = process.cpuUsage();
  await ws.invert({ pool, threads, output: 'ease' });
  const used = process.cpuUsage(cpu);
  const t2 = performance.now();
  const b = ws.toDense();
  const t3 = performance.now();
  return { gram: (t1 - t0) / 1000, inverse: (t2 - t1) / 1000, weights: (t3 - t2) / 1000, inverseCpu: (used.user + used.system) / 1e6, b };
}

/**
 * The numpy side: loads the Gram (float64) and the positives once, then on each "run" line of stdin
 * times numpy's Gram, inverse and B once and prints a JSON line; "check" compares our inverse and
 * B (written by the caller) with numpy's float64 ones; "f32" times the inverse in float32.
 */
const PYTHON = String.raw`
import json, os, sys, time
import numpy as np
d = sys.argv[1]; n = int(sys.argv[2]); users = int(sys.argv[3]); lam = float(sys.argv[4])
G = np.fromfile(os.path.join(d, 'gram.f64'), dtype=np.float64).reshape(n, n)
pairs = np.fromfile(os.path.join(d, 'pairs.i32'), dtype=np.int32).reshape(-1, 2)
X = np.zeros((users, n), dtype=np.float64)
X[pairs[:, 0], pairs[:, 1]] = 1.0
def timed(f):
    t = time.perf_counter(); c = time.process_time(); out = f()
    return time.perf_counter() - t, time.process_time() - c, out
def gram():
    g = X.T @ X
    g[np.diag_indices(n)] += lam
    return g
def weights(P):
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    return B
info = {'version': np.__version__}
try:
    cfg = np.show_config(mode='dicts')
    b = cfg['Build Dependencies']['blas']
    info['blas'] = '%s %s (%s)' % (b.get('name'), b.get('version'), ' '.join(str(b.get('openblas configuration', '')).split()))
except Exception as e:
    info['blas'] = 'unknown (%s)' % e
try:
    from threadpoolctl import threadpool_info
    info['threads'] = ', '.join('%s: %s threads (%s)' % (i.get('internal_api'), i.get('num_threads'), i.get('architecture')) for i in threadpool_info())
except Exception:
    info['threads'] = 'threadpoolctl not installed; OPENBLAS_NUM_THREADS=%s, OMP_NUM_THREADS=%s, cpus=%s' % (os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'), os.cpu_count())
print(json.dumps(info), flush=True)
P = B = None
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'run':
        tg, _, g2 = timed(gram)
        ti, ci, P = timed(lambda: np.linalg.inv(G))
        tb, _, B = timed(lambda: weights(P))
        print(json.dumps({'gram': tg, 'inverse': ti, 'inverseCpu': ci, 'weights': tb, 'gramMatches': bool(np.array_equal(g2, G))}), flush=True)
    elif cmd == 'f32':
        G32 = G.astype(np.float32)
        t, _, _ = timed(lambda: np.linalg.inv(G32))
        print(json.dumps({'inverseFloat32': t}), flush=True)
    elif cmd == 'check':
        Po = np.fromfile(os.path.join(d, 'ours.f32'), dtype=np.float32).reshape(n, n).astype(np.float64)
        Bo = np.fromfile(os.path.join(d, 'ours_b.f32'), dtype=np.float32).reshape(n, n).astype(np.float64)
        e = float(np.abs(Po - P).max()); eb = float(np.abs(Bo - B).max())
        print(json.dumps({'inverseMaxAbs': e, 'inverseRel': e / float(np.abs(P).max()), 'weightsMaxAbs': eb, 'weightsRel': eb / float(np.abs(B).max())}), flush=True)
    else:
        break
`;

/** A python child answering one JSON line per command line. */
class NumpyChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | null = null;
  private failed: Error | null = null;
  private stderr = '';

  constructor(python: string, args: string[]) {
    const env = { ...process.env };
    // tuning knobs that may be set on this machine and slow OpenBLAS down: numpy runs with its defaults
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    this.child = spawn(python, ['-c', PYTHON, ...args], { env });
    let buf = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let k = buf.indexOf('\n'); k >= 0; k = buf.indexOf('\n')) {
        this.push(buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    const fail = (err: Error): void => {
      this.failed ??= err;
      const w = this.waiting;
      this.waiting = null;
      w?.('');
    };
    this.child.on('error', (err) => fail(new Error(`bench/ease: cannot run ${python}: ${err.message}`)));
    this.child.on('exit', (code) => fail(new Error(`bench/ease: numpy child exited (${code}): ${this.stderr.trim()}`)));
  }

  private push(line: string): void {
    const w = this.waiting;
    this.waiting = null;
    if (w) w(line);
    else this.lines.push(line);
  }

  async next<T>(command?: string): Promise<T> {
    if (command !== undefined) this.child.stdin.write(`${command}\n`);
    const line = this.lines.shift() ?? (this.failed ? '' : await new Promise<string>((resolve) => (this.waiting = resolve)));
    if (!line) throw this.failed ?? new Error('bench/ease: numpy child sent nothing');
    return JSON.parse(line) as T;
  }

  close(): void {
    this.child.stdin.end('quit\n');
  }
}

export async function benchEase(opts: EaseBenchOptions = {}): Promise<EaseBenchResult> {
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const runs = Math.max(1, opts.runs ?? 3);
  const lambda = opts.lambda ?? 500;
  const data = opts.data ?? 'split';
  const train = await loadTrain(data);
  const nc = train.candidates.length;
  const pos = new Int32Array(train.nItems).fill(-1);
  train.candidates.forEach((item, c) => (pos[item] = c));
  const pool = threads > 1 ? new WorkerPool(threads - 1) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'personae-ease-'));
  const ours = { gram: Infinity, inverse: Infinity, weights: Infinity, total: Infinity, inverseCpu: Infinity };
  const np = { gram: Infinity, inverse: Infinity, weights: Infinity, inverseCpu: Infinity, inverseFloat32: Infinity, gramMatches: true };
  let info: { version: string; blas: string; threads: string } | null = null;
  let accuracy: EaseBenchResult['accuracy'] = null;
  let numpyError: string | null = opts.skipNumpy ? 'skipped' : null;
  let py: NumpyChild | null = null;
  try {
    // warm-up: worker start-up and wasm compilation are not part of the fit's steady cost
    if (pool) {
      const w = new SpdWorkspace(64);
      for (let i = 0; i < 64; i++) w.matrix[i * w.stride + i] = 1;
      await w.invert({ pool, threads, callerWorks: false });
    }
    if (!numpyError) {
      // the same Gram as ours, float64, full symmetric; the positives for numpy's own Gram; our P
      const ws = new SpdWorkspace(nc);
      easeGram(train, pos, lambda, ws.matrix, ws.stride);
      const g = new Float64Array(nc * nc);
      for (let i = 0; i < nc; i++) {
        for (let j = 0; j <= i; j++) {
          const x = ws.matrix[i * ws.stride + j]!;
          g[i * nc + j] = x;
          g[j * nc + i] = x;
        }
      }
      writeFileSync(join(dir, 'gram.f64'), new Uint8Array(g.buffer));
      const pairs: number[] = [];
      for (let u = 0; u < train.nUsers; u++) {
        for (let k = train.userItems.indptr[u]!; k < train.userItems.indptr[u + 1]!; k++) pairs.push(u, pos[train.userItems.indices[k]!]!);
      }
      writeFileSync(join(dir, 'pairs.i32'), new Uint8Array(Int32Array.from(pairs).buffer));
      await ws.invert({ pool, threads });
      writeFileSync(join(dir, 'ours.f32'), new Uint8Array(ws.toDense().buffer));
      try {
        py = new NumpyChild(opts.python ?? 'python3', [dir, String(nc), String(train.nUsers), String(lambda)]);
        info = await py.next();
      } catch (err) {
        numpyError = err instanceof Error ? err.message : String(err);
        py = null;
      }
    }
    // interleaved: ours, numpy, ours, numpy, ... so both sides see the same (shared, noisy) machine
    for (let r = 0; r < runs; r++) {
      const o = await runOurs(train, pos, lambda, pool, threads);
      ours.gram = Math.min(ours.gram, o.gram);
      ours.inverse = Math.min(ours.inverse, o.inverse);
      ours.weights = Math.min(ours.weights, o.weights);
      ours.inverseCpu = Math.min(ours.inverseCpu, o.inverseCpu);
      ours.total = Math.min(ours.total, o.gram + o.inverse + o.weights);
      if (!py) continue;
      const t = await py.next<Timing & { gramMatches: boolean }>('run');
      np.gram = Math.min(np.gram, t.gram);
      np.inverse = Math.min(np.inverse, t.inverse);
      np.weights = Math.min(np.weights, t.weights);
      np.inverseCpu = Math.min(np.inverseCpu, t.inverseCpu);
      np.gramMatches &&= t.gramMatches;
      if (r === 0) {
        writeFileSync(join(dir, 'ours_b.f32'), new Uint8Array(o.b.buffer));
        accuracy = await py.next('check');
        np.inverseFloat32 = (await py.next<{ inverseFloat32: number }>('f32')).inverseFloat32;
      }
    }
  } finally {
    py?.close();
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const numpy: EaseBenchResult['numpy'] = info && Number.isFinite(np.inverse) ? { ...np, ...info, total: np.gram + np.inverse + np.weights } : null;
  return {
    data: data === 'split' ? 'ml-latest-small temporal-user train split (ratings >= 4)' : 'ml-latest-small, all ratings >= 4',
    users: train.nUsers,
    items: nc,
    positives: train.userItems.indices.length,
    threads,
    runs,
    ours,
    numpy,
    ratio: numpy ? { inverse: ours.inverse / numpy.inverse, total: ours.total / numpy.total, inverseCpu: ours.inverseCpu / numpy.inverseCpu } : null,
    accuracy,
    numpyError,
  };
}

function flag(args: string[], name: string): string | undefined {
  const k = args.indexOf(name);
  return k >= 0 ? args[k + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const num = (name: string): number | undefined => (flag(args, name) === undefined ? undefined : Number(flag(args, name)));
  const r = await benchEase({
    threads: num('--threads'),
    runs: num('--runs'),
    lambda: num('--lambda'),
    data: flag(args, '--data') === 'all' ? 'all' : 'split',
    skipNumpy: args.includes('--no-numpy'),
  });
  const s = (x: number): string => `${x.toFixed(2)} s`;
  console.log(`EASE fit, ${r.data}: ${r.users} users x ${r.items} items, ${r.positives} positives; ours with ${r.threads} thread(s)`);
  console.log(`  ours : gram ${s(r.ours.gram)}  inverse+B ${s(r.ours.inverse)} (cpu ${s(r.ours.inverseCpu)})  copy B ${s(r.ours.weights)}  total ${s(r.ours.total)}   [min of ${r.runs}]`);
  if (r.numpy) {
    const n = r.numpy;
    console.log(`  numpy: gram ${s(n.gram)}  inverse ${s(n.inverse)} (cpu ${s(n.inverseCpu)}; float32, one run: ${s(n.inverseFloat32)})  B ${s(n.weights)}  total ${s(n.total)}`);
    const x = r.ratio!;
    console.log(`  ratio ours/numpy: inverse ${x.inverse.toFixed(2)}x, total ${x.total.toFixed(2)}x (target <= 1.5x); inverse CPU time ${x.inverseCpu.toFixed(2)}x`);
    console.log(`  numpy ${n.version}, BLAS ${n.blas}; ${n.threads}; same Gram as ours: ${n.gramMatches}`);
  }
  if (r.numpyError) console.log(`  numpy not run: ${r.numpyError}`);
  if (r.accuracy) {
    const a = r.accuracy;
    console.log(`  float32 inverse vs numpy float64: max abs ${a.inverseMaxAbs.toExponential(2)} (relative ${a.inverseRel.toExponential(2)}); B max abs ${a.weightsMaxAbs.toExponential(2)} (relative ${a.weightsRel.toExponential(2)})`);
  }
}
