/**
 * Driver of the dense-layer kernels (assembly/nn.ts, AssemblyScript compiled to WebAssembly with
 * f32x4 SIMD into build/wasm/nn.wasm by `npm run build:wasm`): the three matrix products of a
 * dense layer's forward and backward passes and an Adam step, over one WebAssembly memory that an
 * `NnArena` lays out. Beside each kernel is its plain TypeScript reference, which performs the
 * same float32 operations in the same order (Math.fround after every operation), so the two agree
 * bit for bit (test/multvae.test.ts).
 *
 * Matrices are row-major Float32Array views into the arena's memory with a row stride (ld).
 * `product` runs a large product on the calling thread plus pool workers: the output is cut into a
 * fixed number of column blocks (NN, TN) or row blocks (NT), a function of the shape only, which
 * the threads claim through a shared counter. A kernel computes every output element by the same
 * float32 sequence whatever block it sits in, so the result is bit-identical for any number of
 * threads (and equal to the single-call product).
 * Shapes: NN and TN need m a multiple of 4 and n a multiple of 8; NT needs m a multiple of 4, n a
 * multiple of 2 and k a multiple of 4 (callers pad with zeros).
 */
import type { WorkerPool } from './pool.js';
import { align64, sharedMemory, wasmKernel, type WasmMemory } from './wasm.js';

interface NnKernel {
  heapBase(): number;
  gemmNN(a: number, b: number, c: number, lda: number, ldb: number, ldc: number, i0: number, i1: number, j0: number, j1: number, p0: number, p1: number, acc: number): void;
  gemmTN(a: number, b: number, c: number, lda: number, ldb: number, ldc: number, i0: number, i1: number, j0: number, j1: number, p0: number, p1: number, acc: number): void;
  gemmNT(a: number, b: number, c: number, lda: number, ldb: number, ldc: number, i0: number, i1: number, j0: number, j1: number, p0: number, p1: number, acc: number): void;
  adam(w: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number): void;
}

const instantiate = wasmKernel<NnKernel>('nn.wasm', 'nn-kernels');

/** A matrix operand: a view into the arena's memory and its row stride in floats. */
export interface Mat {
  readonly data: Float32Array;
  readonly ld: number;
}

/** Inner-dimension block of NT products (keeps both operands' row pieces in cache). */
const NT_BLOCK = 512;
/** Output blocks of a parallel product (fixed: never a function of the thread count). */
const PAR_BLOCKS = 16;
/** Multiply-adds below which a product runs on the calling thread alone (tests lower it). */
export const productParallel = { minWork: 2e7 };

export type ProductOp = 'nn' | 'tn' | 'nt';

/** One product as plain numbers (sent to pool workers): operands are byte offsets. */
export interface ProductPlan {
  readonly op: ProductOp;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly acc: number;
  /** Width (NN, TN: columns) or height (NT: rows) of an output block, and the block count. */
  readonly block: number;
  readonly blocks: number;
}

function runBlock(kern: NnKernel, p: ProductPlan, lo: number, hi: number): void {
  if (p.op === 'nn') kern.gemmNN(p.a, p.b, p.c, p.lda, p.ldb, p.ldc, 0, p.m, lo, hi, 0, p.k, p.acc);
  else if (p.op === 'tn') kern.gemmTN(p.a, p.b, p.c, p.lda, p.ldb, p.ldc, 0, p.m, lo, hi, 0, p.k, p.acc);
  else {
    for (let p0 = 0; p0 < p.k; p0 += NT_BLOCK) {
      kern.gemmNT(p.a, p.b, p.c, p.lda, p.ldb, p.ldc, lo, hi, 0, p.n, p0, Math.min(p.k, p0 + NT_BLOCK), p.acc !== 0 || p0 > 0 ? 1 : 0);
    }
  }
}

/**
 * Claims output blocks of `plan` through ctrl[0] until none is left, counting finished blocks in
 * ctrl[1]. The calling thread and pool workers run it with the same arguments (exported for the
 * pool). Returns the number of blocks this thread computed.
 */
export function productParticipant(memory: WasmMemory, plan: ProductPlan, ctrl: Int32Array): number {
  let kern: NnKernel | null = null;
  let mine = 0;
  const extent = plan.op === 'nt' ? plan.m : plan.n;
  for (;;) {
    const q = Atomics.add(ctrl, 0, 1);
    if (q >= plan.blocks) return mine;
    kern ??= instantiate(memory);
    runBlock(kern, plan, q * plan.block, Math.min(extent, (q + 1) * plan.block));
    mine++;
    Atomics.add(ctrl, 1, 1);
  }
}

/**
 * Regions of one WebAssembly memory, 64-byte aligned, reserved with `take` and then allocated at
 * once with `build`; the kernels then run over views of it.
 */
export class NnArena {
  private end: number;
  private memory: WasmMemory | null = null;
  private k: NnKernel | null = null;
  private readonly regions: { at: number; length: number }[] = [];

  constructor() {
    this.end = align64(Math.max(64, instantiate(sharedMemory(1, 'nn-kernels:')).heapBase()));
  }

  /** Reserves `length` floats; returns a handle for `view` after `build`. */
  take(length: number): number {
    if (this.memory) throw new Error('NnArena.take: the arena is already built');
    const at = this.end;
    this.end = align64(at + Math.max(0, length) * 4);
    this.regions.push({ at, length });
    return this.regions.length - 1;
  }

  /** Allocates the memory (zero-filled); `what` names the owner in a too-large error. */
  build(what: string): void {
    this.memory = sharedMemory(this.end, what);
    this.k = instantiate(this.memory);
  }

  /** The float32 view of a region reserved by `take`. */
  view(handle: number): Float32Array {
    if (!this.memory) throw new Error('NnArena.view: build the arena first');
    const r = this.regions[handle]!;
    return new Float32Array(this.memory.buffer, r.at, r.length);
  }

  private kernel(): NnKernel {
    if (!this.k) throw new Error('NnArena: build the arena first');
    return this.k;
  }

  private ptr(x: Float32Array): number {
    if (!this.memory || x.buffer !== this.memory.buffer) throw new Error('nn-kernels: operand is not a view of this arena');
    return x.byteOffset;
  }

  /**
   * The product `op` (as `nn`, `tn`, `nt`) with pool workers helping when the pool is given and
   * the product is large; the same bits as the single-thread call. `callerWorks` false leaves
   * every block to the workers (tests).
   */
  async product(op: ProductOp, A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc: boolean, pool: WorkerPool | null, callerWorks = true): Promise<void> {
    if (!pool || m * n * k < productParallel.minWork) {
      this[op](A, B, C, m, n, k, acc);
      return;
    }
    checkShape(op, m, 4, n, op === 'nt' ? 2 : 8);
    if (op === 'nt' && k % 4 !== 0) throw new RangeError(`nn-kernels nt: k = ${k} is not a multiple of 4`);
    const q = op === 'nt' ? 4 : 8;
    const extent = op === 'nt' ? m : n;
    const block = Math.max(q, Math.ceil(extent / PAR_BLOCKS / q) * q);
    const plan: ProductPlan = {
      op,
      a: this.ptr(A.data),
      b: this.ptr(B.data),
      c: this.ptr(C.data),
      lda: A.ld,
      ldb: B.ld,
      ldc: C.ld,
      m,
      n,
      k,
      acc: acc ? 1 : 0,
      block,
      blocks: Math.ceil(extent / block),
    };
    const ctrl = new Int32Array(new SharedArrayBuffer(8));
    const memory = this.memory!;
    const helpers = Array.from({ length: pool.size }, () => pool.run<number>(import.meta.url, 'productParticipant', [memory, plan, ctrl]));
    if (callerWorks) productParticipant(memory, plan, ctrl);
    // a helper still inside a block finishes it before its task resolves
    await Promise.all(helpers);
  }

  /** C (m x n) (+)= A (m x k) B (k x n). */
  nn(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
    checkShape('nn', m, 4, n, 8);
    this.kernel().gemmNN(this.ptr(A.data), this.ptr(B.data), this.ptr(C.data), A.ld, B.ld, C.ld, 0, m, 0, n, 0, k, acc ? 1 : 0);
  }

  /** C (m x n) (+)= Aᵀ B with A (k x m), B (k x n). */
  tn(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
    checkShape('tn', m, 4, n, 8);
    this.kernel().gemmTN(this.ptr(A.data), this.ptr(B.data), this.ptr(C.data), A.ld, B.ld, C.ld, 0, m, 0, n, 0, k, acc ? 1 : 0);
  }

  /** C (m x n) (+)= A Bᵀ with A (m x k), B (n x k); summed over k in blocks of NT_BLOCK. */
  nt(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
    checkShape('nt', m, 4, n, 2);
    if (k % 4 !== 0) throw new RangeError(`nn-kernels nt: k = ${k} is not a multiple of 4`);
    const kern = this.kernel();
    const a = this.ptr(A.data);
    const b = this.ptr(B.data);
    const c = this.ptr(C.data);
    if (k === 0 && !acc) C.data.fill(0);
    for (let p0 = 0; p0 < k; p0 += NT_BLOCK) {
      kern.gemmNT(a, b, c, A.ld, B.ld, C.ld, 0, m, 0, n, p0, Math.min(k, p0 + NT_BLOCK), acc || p0 > 0 ? 1 : 0);
    }
  }

  /** One Adam step over the first n (a multiple of 4) floats of w, g, m, v; t = step number from 1. */
  adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number, t: number, o: AdamOptions): void {
    if (n % 4 !== 0) throw new RangeError(`nn-kernels adam: n = ${n} is not a multiple of 4`);
    const c1 = 1 - Math.pow(o.beta1, t);
    const c2 = 1 - Math.pow(o.beta2, t);
    this.kernel().adam(this.ptr(w), this.ptr(g), this.ptr(m), this.ptr(v), n, o.lr, o.beta1, o.beta2, o.eps, c1, c2);
  }
}

export interface AdamOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

function checkShape(op: string, m: number, mq: number, n: number, nq: number): void {
  if (m % mq !== 0 || n % nq !== 0) throw new RangeError(`nn-kernels ${op}: shape ${m} x ${n} is not a multiple of ${mq} x ${nq}`);
}

// ---------------------------------------------------------------- plain TypeScript references

const f = Math.fround;

/** Reference of `NnArena.nn`: each entry sums p = 0..k-1 in order, in float32. */
export function nnReference(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = f(s + f(A.data[i * A.ld + p]! * B.data[p * B.ld + j]!));
      C.data[i * C.ld + j] = acc ? f(C.data[i * C.ld + j]! + s) : s;
    }
  }
}

/** Reference of `NnArena.tn`. */
export function tnReference(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = f(s + f(A.data[p * A.ld + i]! * B.data[p * B.ld + j]!));
      C.data[i * C.ld + j] = acc ? f(C.data[i * C.ld + j]! + s) : s;
    }
  }
}

/**
 * Reference of `NnArena.nt`: per block of NT_BLOCK inner indices, four lane sums (p mod 4), folded
 * as (l0 + l1) + (l2 + l3), and added to the entry.
 */
export function ntReference(A: Mat, B: Mat, C: Mat, m: number, n: number, k: number, acc = false): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let out = acc ? C.data[i * C.ld + j]! : 0;
      for (let p0 = 0; p0 < k; p0 += NT_BLOCK) {
        const lanes = [0, 0, 0, 0];
        for (let p = p0; p < Math.min(k, p0 + NT_BLOCK); p++) lanes[p & 3] = f(lanes[p & 3]! + f(A.data[i * A.ld + p]! * B.data[j * B.ld + p]!));
        const s = f(f(lanes[0]! + lanes[1]!) + f(lanes[2]! + lanes[3]!));
        out = acc || p0 > 0 ? f(out + s) : s;
      }
      C.data[i * C.ld + j] = out;
    }
  }
}

/** Reference of `NnArena.adam`. */
export function adamReference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number, t: number, o: AdamOptions): void {
  const b1 = f(o.beta1);
  const b2 = f(o.beta2);
  const b1c = f(1 - b1);
  const b2c = f(1 - b2);
  const ic1 = f(1 / f(1 - Math.pow(o.beta1, t)));
  const ic2 = f(1 / f(1 - Math.pow(o.beta2, t)));
  const lr = f(o.lr);
  const eps = f(o.eps);
  for (let q = 0; q < n; q++) {
    const gg = g[q]!;
    const mm = f(f(b1 * m[q]!) + f(b1c * gg));
    const vv = f(f(b2 * v[q]!) + f(b2c * f(gg * gg)));
    m[q] = mm;
    v[q] = vv;
    const step = f(f(lr * f(mm * ic1)) / f(f(Math.sqrt(f(vv * ic2))) + eps));
    w[q] = f(w[q]! - step);
  }
}
