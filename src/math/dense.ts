/**
 * Dense symmetric positive definite (SPD) inverse, float32, for models with a closed form (EASE).
 *
 * The kernel is AssemblyScript compiled to WebAssembly with SIMD (assembly/dense.ts, built into
 * build/wasm/dense.wasm by `npm run build:wasm`): the blocked sweep operator (symmetric
 * Gauss-Jordan without pivoting, stable for SPD matrices), which costs n^3 flops (half of an
 * LU-based inverse) and spends nearly all of them in one uniform rank-128 update of the lower
 * triangle, cut into row panels. The matrix lives in a shared WebAssembly.Memory; every thread
 * (the calling thread, plus pool workers when given) instantiates the kernel over the same memory
 * and takes numbered chunks of work from a shared counter. A chunk waits until every chunk
 * of the previous phase is done; its arithmetic depends only on its inputs, so results are
 * bit-identical whatever the number of threads, and one thread alone always finishes the job (no
 * deadlock on a busy pool).
 *
 * `invertSpdReference` is the plain float64 Gauss-Jordan the kernel is tested against.
 */
import type { WorkerPool } from './pool.js';
import { align64, sharedMemory, wasmKernel, type WasmMemory } from './wasm.js';

interface DenseKernel {
  blockSize(): number;
  panelHeight(): number;
  heapBase(): number;
  invDiag(a: number, n: number, k0: number, kb: number, d64: number, dp: number): number;
  packV(a: number, n: number, k0: number, kb: number, vp: number, c0: number, c1: number): void;
  panel(a: number, n: number, k0: number, kb: number, vp: number, dp: number, wp: number, r0: number): void;
  finish(a: number, n: number, r0: number, mode: number): void;
}

const instantiate = wasmKernel<DenseKernel>('dense.wasm', 'dense');

let constants: { nb: number; ph: number; heapBase: number } | undefined;
function kernelConstants(): { nb: number; ph: number; heapBase: number } {
  if (!constants) {
    const k = instantiate(sharedMemory(1, 'dense'));
    constants = { nb: k.blockSize(), ph: k.panelHeight(), heapBase: k.heapBase() };
  }
  return constants;
}

/** The memory layout and chunk schedule of one inversion; plain numbers, sent to workers. */
export interface SweepPlan {
  /** Padded order (multiple of the panel height). */
  readonly n: number;
  readonly nb: number;
  readonly ph: number;
  readonly ctrl: number;
  readonly a: number;
  readonly vp: number;
  readonly dp: number;
  readonly d64: number;
  readonly wp: number;
  readonly steps: number;
  /** Chunks per step: phase A (1 diagonal inverse + packs), phase B (row panels). */
  readonly packChunks: number;
  readonly panels: number;
  /** The final pass: 0 = the inverse, 1 = EASE weights (see `InvertOptions.output`). */
  readonly mode: number;
}

const PACK_CHUNKS = 3;

function chunkCount(plan: SweepPlan): number {
  return plan.steps * (1 + plan.packChunks + plan.panels) + plan.panels;
}

/**
 * Runs chunks of the sweep until none is left. Called in each worker (through the pool) and/or the
 * calling thread; any number of participants, in any order, gives the same result.
 */
export function sweepParticipant(memory: WasmMemory, plan: SweepPlan): number {
  const k = instantiate(memory);
  const ctrl = new Int32Array(memory.buffer, plan.ctrl, 3);
  const perStep = 1 + plan.packChunks + plan.panels;
  const total = chunkCount(plan);
  const { n, nb, ph } = plan;
  let mine = 0;
  for (;;) {
    const g = Atomics.add(ctrl, 0, 1);
    if (g >= total) return mine;
    const s = Math.floor(g / perStep);
    const r = g - s * perStep;
    const phaseA = s < plan.steps && r < 1 + plan.packChunks;
    const start = s * perStep + (phaseA || s === plan.steps ? 0 : 1 + plan.packChunks);
    const end = s === plan.steps ? total : phaseA ? s * perStep + 1 + plan.packChunks : (s + 1) * perStep;
    waitDone(ctrl, start);
    if (s === plan.steps) {
      k.finish(plan.a, n, (plan.panels - 1 - r) * ph, plan.mode);
    } else {
      const k0 = s * nb;
      const kb = Math.min(nb, n - k0);
      if (r === 0) {
        const bad = k.invDiag(plan.a, n, k0, kb, plan.d64, plan.dp);
        if (bad !== 0) Atomics.compareExchange(ctrl, 2, 0, k0 + bad);
      } else if (phaseA) {
        const tiles = n / 8;
        const c0 = Math.floor(((r - 1) * tiles) / plan.packChunks) * 8;
        const c1 = Math.floor((r * tiles) / plan.packChunks) * 8;
        k.packV(plan.a, n, k0, kb, plan.vp, c0, c1);
      } else {
        // largest panels (bottom rows: the most columns in the lower triangle) first
        const pi = plan.panels - 1 - (r - 1 - plan.packChunks);
        k.panel(plan.a, n, k0, kb, plan.vp, plan.dp, plan.wp + pi * ph * nb * 4, pi * ph);
      }
    }
    mine++;
    if (Atomics.add(ctrl, 1, 1) + 1 === end) Atomics.notify(ctrl, 1);
  }
}

/** A thread that took a chunk and died would block the others forever: give up after this long without progress. */
const STALL_MS = 120_000;

function waitDone(ctrl: Int32Array, start: number): void {
  let last = Atomics.load(ctrl, 1);
  let since = Date.now();
  while (last < start) {
    Atomics.wait(ctrl, 1, last, 1000);
    const d = Atomics.load(ctrl, 1);
    if (d !== last) {
      last = d;
      since = Date.now();
    } else if (Date.now() - since > STALL_MS) {
      throw new Error(`invertSpd: no progress for ${STALL_MS / 1000} s (a worker thread failed?)`);
    }
  }
}

export interface InvertOptions {
  /** Worker threads that help the calling thread (the result does not depend on them). */
  readonly pool?: WorkerPool;
  /** Threads in all, the calling thread included (default: the pool's workers + 1). */
  readonly threads?: number;
  /**
   * Whether the calling thread computes too (default true; it blocks until the inverse is done).
   * With false, `threads` pool workers do all the work (needs a pool).
   */
  readonly callerWorks?: boolean;
  /**
   * 'inverse' (default): `matrix` ends as P = A^-1. 'ease': off the diagonal it ends as the EASE
   * weights B = I - P / diag(P) column-wise (B_ij = -P_ij / P_jj), and its diagonal holds -P_ii
   * (B_ii = 0 is left to the reader), saving a pass over the matrix.
   */
  readonly output?: 'inverse' | 'ease';
}

/**
 * An SPD matrix of order `n` in a shared WebAssembly memory, padded to `stride` (rows and columns)
 * with the identity. Fill `matrix` (row-major, row stride `stride`; only the lower triangle
 * j <= i is read), call `invert()`, read the full symmetric inverse back from `matrix`.
 */
export class SpdWorkspace {
  readonly stride: number;
  readonly matrix: Float32Array;
  private readonly memory: WasmMemory;
  private readonly plan: SweepPlan;
  private used = false;
  private output: 'inverse' | 'ease' = 'inverse';

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`SpdWorkspace: order must be a positive integer, got ${n}`);
    const { nb, ph, heapBase } = kernelConstants();
    const N = Math.ceil(n / ph) * ph;
    const ctrl = align64(Math.max(heapBase, 64));
    const a = align64(ctrl + 64);
    const vp = align64(a + N * N * 4);
    const dp = align64(vp + N * nb * 4);
    const d64 = align64(dp + nb * nb * 4);
    const wp = align64(d64 + nb * nb * 8);
    const endBytes = wp + N * nb * 4;
    this.memory = sharedMemory(endBytes, `SpdWorkspace: order ${n}`);
    this.stride = N;
    this.matrix = new Float32Array(this.memory.buffer, a, N * N);
    for (let i = n; i < N; i++) this.matrix[i * N + i] = 1;
    this.plan = { n: N, nb, ph, ctrl, a, vp, dp, d64, wp, steps: Math.ceil(N / nb), packChunks: PACK_CHUNKS, panels: N / ph, mode: 0 };
  }

  /** Copies a dense row-major n x n matrix in. */
  set(a: Float32Array | Float64Array): void {
    const { n, stride } = this;
    if (a.length < n * n) throw new RangeError(`SpdWorkspace.set: need ${n * n} values, got ${a.length}`);
    for (let i = 0; i < n; i++) this.matrix.set(a.subarray(i * n, i * n + n), i * stride);
  }

  /** The result (after `invert`: P, or B with a zero diagonal) as a dense row-major n x n Float32Array. */
  toDense(): Float32Array {
    const { n, stride } = this;
    const out = new Float32Array(n * n);
    for (let i = 0; i < n; i++) out.set(this.matrix.subarray(i * stride, i * stride + n), i * n);
    if (this.output === 'ease') for (let i = 0; i < n; i++) out[i * n + i] = 0;
    return out;
  }

  /** Inverts in place (once per workspace); returns the number of chunks each thread ran. */
  async invert(opts: InvertOptions = {}): Promise<number[]> {
    if (this.used) throw new Error('SpdWorkspace.invert: this workspace has already been inverted');
    this.used = true;
    const ctrl = new Int32Array(this.memory.buffer, this.plan.ctrl, 3);
    ctrl.fill(0);
    const plan: SweepPlan = { ...this.plan, mode: opts.output === 'ease' ? 1 : 0 };
    this.output = opts.output ?? 'inverse';
    const pool = opts.pool;
    const callerWorks = opts.callerWorks ?? true;
    if (!callerWorks && !pool) throw new Error('SpdWorkspace.invert: callerWorks: false needs a pool');
    const wanted = (opts.threads ?? (pool ? pool.size + 1 : 1)) - (callerWorks ? 1 : 0);
    const helpers = pool ? Math.max(callerWorks ? 0 : 1, Math.min(wanted, pool.size)) : 0;
    // helpers join when their worker is free; the calling thread (by default) works from the start,
    // so the inversion finishes even if no helper ever gets a worker
    const tasks = Array.from({ length: helpers }, () => pool!.run<number>(import.meta.url, 'sweepParticipant', [this.memory, plan]));
    const mine = callerWorks ? sweepParticipant(this.memory, plan) : 0;
    const theirs = await Promise.all(tasks);
    const bad = ctrl[2]!;
    if (bad > 0) throw new RangeError(`invertSpd: the matrix is not (numerically) positive definite (pivot ${bad - 1} is not positive)`);
    this.checkFinite();
    return callerWorks ? [mine, ...theirs] : theirs;
  }

  private checkFinite(): void {
    const { n, stride } = this;
    const sign = this.output === 'ease' ? -1 : 1;
    for (let i = 0; i < n; i++) {
      const d = sign * this.matrix[i * stride + i]!;
      if (!(d > 0) || !Number.isFinite(d)) {
        throw new RangeError(`invertSpd: the matrix is not (numerically) positive definite: inverse diagonal ${i} is ${sign * d}`);
      }
    }
  }
}

/** The inverse of the SPD matrix `a` (row-major n x n), float32; `a` is not modified. */
export async function invertSpd(a: Float32Array | Float64Array, n: number, opts: InvertOptions = {}): Promise<Float32Array> {
  const ws = new SpdWorkspace(n);
  ws.set(a);
  await ws.invert(opts);
  return ws.toDense();
}

/**
 * Reference: the inverse of an SPD matrix by plain in-place Gauss-Jordan without pivoting in
 * float64 (n^3 multiply-adds; for tests and small matrices).
 */
export function invertSpdReference(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from({ length: n * n }, (_, i) => a[i]!);
  for (let k = 0; k < n; k++) {
    const piv = 1 / m[k * n + k]!;
    if (!Number.isFinite(piv) || piv <= 0) throw new RangeError(`invertSpdReference: pivot ${k} is ${m[k * n + k]}; the matrix is not positive definite`);
    const rk = k * n;
    for (let j = 0; j < n; j++) m[rk + j]! *= piv;
    m[rk + k] = piv;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const ri = i * n;
      const f = m[ri + k]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) m[ri + j]! -= f * m[rk + j]!;
      m[ri + k] = -f * piv;
    }
  }
  return m;
}
