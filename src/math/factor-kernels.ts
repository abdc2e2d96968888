/**
 * Driver of the matrix-factorisation kernels (assembly/factors.ts, AssemblyScript compiled to
 * WebAssembly with f32x4 SIMD into build/wasm/factors.wasm by `npm run build:wasm`): BPR epochs
 * and iALS row solves. This module owns the memory layouts; it imports nothing heavy, because pool
 * workers import it to run their share of an iALS half-step.
 *
 * Factor rows are stored with a stride `ds` = the dimension rounded up to a multiple of 4 (the
 * SIMD width); the padding stays zero through every update, and `readRows` strips it.
 *
 * iALS half-steps are split into fixed blocks of rows (a function of the row count only); the
 * calling thread and pool workers claim blocks through a shared counter, each block writes its new
 * rows and the partial gram of those rows, and the partial grams are summed in block order. Every
 * number depends on the block partition only, never on who ran a block, so the factors are
 * bit-identical for any number of threads.
 */
import type { WorkerPool } from './pool.js';
import { align64, sharedMemory, wasmKernel, type WasmMemory } from './wasm.js';

interface FactorKernel {
  heapBase(): number;
  rngSeed(seed: number): void;
  rngNext(): number;
  bprEpoch(
    seed: number,
    liked: number,
    nItems: number,
    U: number,
    V: number,
    bias: number,
    posUser: number,
    indptr: number,
    indices: number,
    nnz: number,
    cand: number,
    nCand: number,
    ds: number,
    lr: number,
    reg: number,
  ): number;
  scratchBytes(ds: number): number;
  smallRow(): number;
  solveRows(
    ptr: number,
    idx: number,
    other: number,
    target: number,
    gram: number,
    gramInv: number,
    ds: number,
    alpha: number,
    cgSteps: number,
    lo: number,
    hi: number,
    loss: number,
    scratch: number,
  ): void;
  rowsGram(ptr: number, f: number, ds: number, lo: number, hi: number, out: number): void;
  sumGrams(parts: number, nBlocks: number, ds: number, out: number): void;
}

const instantiate = wasmKernel<FactorKernel>('factors.wasm', 'factor-kernels');

/** The dimension rounded up to the SIMD width (the row stride of the kernels). */
export function paddedDim(d: number): number {
  return Math.ceil(d / 4) * 4;
}

/** Hands out 64-byte aligned regions of one shared memory, above the kernel's static data. */
class Layout {
  private end: number;
  constructor() {
    this.end = align64(Math.max(64, instantiate(sharedMemory(1, 'factor-kernels:')).heapBase()));
  }
  take(bytes: number): number {
    const at = this.end;
    this.end = align64(at + Math.max(0, bytes));
    return at;
  }
  memory(): WasmMemory {
    return sharedMemory(this.end, 'factor-kernels:');
  }
}

/** Copies rows of `d` values (stride ds) out of the padded layout into a fresh dense array. */
function readRows(src: Float32Array, rows: number, d: number, ds: number): Float32Array {
  if (d === ds) return Float32Array.from(src.subarray(0, rows * d));
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * ds, r * ds + d), r * d);
  return out;
}

/** Copies dense rows of `d` values into the padded layout (stride ds). */
function writeRows(dst: Float32Array, src: Float32Array, rows: number, d: number, ds: number): void {
  if (d === ds) dst.set(src.subarray(0, rows * d));
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(r * d, r * d + d), r * ds);
}

/** The first `n` outputs of the kernel's generator seeded with `seed` (tests: equals Rng(seed)). */
export function kernelRngStream(seed: number, n: number): Uint32Array {
  const k = instantiate(new Layout().memory());
  k.rngSeed(seed >>> 0);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = k.rngNext() >>> 0;
  return out;
}

// ---------------------------------------------------------------- BPR

export interface BprProblem {
  readonly nUsers: number;
  readonly nItems: number;
  readonly d: number;
  /** User factors, nUsers x d (initial values; read back with `factors()`). */
  readonly U: Float32Array;
  readonly V: Float32Array;
  readonly bias: Float32Array;
  /** User of each training positive (CSR order). */
  readonly posUser: Int32Array;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  /** Items negatives are drawn from. */
  readonly cand: Int32Array;
  /** user x item bitset of the positives (bit u·nItems + i), or null: binary search in the row. */
  readonly liked: Uint32Array | null;
}

/** A BPR problem in kernel memory: `epoch(seed)` runs one SGD epoch (see assembly/factors.ts). */
export class BprKernel {
  private readonly k: FactorKernel;
  private readonly ds: number;
  private readonly at: { U: number; V: number; bias: number; posUser: number; indptr: number; indices: number; cand: number; liked: number };
  private readonly memory: WasmMemory;

  constructor(private readonly p: BprProblem) {
    const ds = paddedDim(p.d);
    this.ds = ds;
    const L = new Layout();
    this.at = {
      U: L.take(p.nUsers * ds * 4),
      V: L.take(p.nItems * ds * 4),
      bias: L.take(p.nItems * 4),
      posUser: L.take(p.posUser.length * 4),
      indptr: L.take(p.indptr.length * 4),
      indices: L.take(p.indices.length * 4),
      cand: L.take(p.cand.length * 4),
      liked: p.liked ? L.take(p.liked.length * 4) : 0,
    };
    this.memory = L.memory();
    const buf = this.memory.buffer;
    writeRows(new Float32Array(buf, this.at.U, p.nUsers * ds), p.U, p.nUsers, p.d, ds);
    writeRows(new Float32Array(buf, this.at.V, p.nItems * ds), p.V, p.nItems, p.d, ds);
    new Float32Array(buf, this.at.bias, p.nItems).set(p.bias);
    new Int32Array(buf, this.at.posUser, p.posUser.length).set(p.posUser);
    new Int32Array(buf, this.at.indptr, p.indptr.length).set(p.indptr);
    new Int32Array(buf, this.at.indices, p.indices.length).set(p.indices);
    new Int32Array(buf, this.at.cand, p.cand.length).set(p.cand);
    if (p.liked) new Uint32Array(buf, this.at.liked, p.liked.length).set(p.liked);
    this.k = instantiate(this.memory);
  }

  /** One epoch with the random stream Rng(seed); returns the mean loss estimate. */
  epoch(seed: number, lr: number, reg: number): number {
    const { p, at } = this;
    return this.k.bprEpoch(seed >>> 0, at.liked, p.nItems, at.U, at.V, at.bias, at.posUser, at.indptr, at.indices, p.indices.length, at.cand, p.cand.length, this.ds, lr, reg);
  }

  /** The current factors and biases, as fresh dense arrays. */
  factors(): { U: Float32Array; V: Float32Array; bias: Float32Array } {
    const { p, ds, at } = this;
    const buf = this.memory.buffer;
    return {
      U: readRows(new Float32Array(buf, at.U, p.nUsers * ds), p.nUsers, p.d, ds),
      V: readRows(new Float32Array(buf, at.V, p.nItems * ds), p.nItems, p.d, ds),
      bias: Float32Array.from(new Float32Array(buf, at.bias, p.nItems)),
    };
  }
}

// ---------------------------------------------------------------- iALS

/** One side of the factorisation as the kernel sees it (plain numbers: sent to workers). */
export interface IalsSidePlan {
  readonly rows: number;
  readonly blockRows: number;
  readonly nBlocks: number;
  readonly ptr: number;
  readonly idx: number;
  /** This side's factors (rows x ds f32). */
  readonly f: number;
  /** nBlocks partial grams (ds x ds f32 each). */
  readonly parts: number;
}

/** What a participant of a half-step needs (plain numbers: sent to workers). */
export interface IalsStepPlan {
  readonly side: IalsSidePlan;
  readonly other: number;
  readonly gram: number;
  readonly gramInv: number;
  readonly ds: number;
  readonly alpha: number;
  readonly cgSteps: number;
  /** rows x f64 per-row loss terms, or 0. */
  readonly loss: number;
  readonly scratch: number;
  readonly scratchBytes: number;
  readonly slots: number;
}

/**
 * Claims blocks of a half-step one at a time through ctrl[0] and solves them (rows, then the
 * block's partial gram), counting finished blocks in ctrl[1]; ctrl[2] hands out scratch slots.
 * The calling thread and pool workers run it with the same arguments. Exported for the pool.
 */
export function ialsParticipant(memory: WasmMemory, plan: IalsStepPlan, ctrl: Int32Array): number {
  let k: FactorKernel | null = null;
  let slot = -1;
  let mine = 0;
  const { side, ds } = plan;
  for (;;) {
    const b = Atomics.add(ctrl, 0, 1);
    if (b >= side.nBlocks) return mine;
    if (!k) {
      k = instantiate(memory);
      slot = Atomics.add(ctrl, 2, 1);
      if (slot >= plan.slots) throw new Error(`factor-kernels: more participants than the ${plan.slots} scratch slots`);
    }
    const lo = b * side.blockRows;
    const hi = Math.min(side.rows, lo + side.blockRows);
    k.solveRows(side.ptr, side.idx, plan.other, side.f, plan.gram, plan.gramInv, ds, plan.alpha, plan.cgSteps, lo, hi, plan.loss, plan.scratch + slot * plan.scratchBytes);
    k.rowsGram(side.ptr, side.f, ds, lo, hi, side.parts + b * ds * ds * 4);
    mine++;
    Atomics.add(ctrl, 1, 1);
  }
}

export interface IalsSideInput {
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  /** Rows per block (a function of the row count only). */
  readonly blockRows: number;
}

/**
 * An iALS problem in one shared kernel memory: both sides' positives and factors, the grams, the
 * per-item loss terms and `slots` scratch areas (one per participating thread).
 */
export class IalsKernel {
  readonly ds: number;
  private readonly memory: WasmMemory;
  private readonly k: FactorKernel;
  private readonly sides: [IalsSidePlan, IalsSidePlan];
  private readonly at: { gram: number; gramInv: number; gram64: number; loss: number; scratch: number };
  private readonly scratchBytes: number;
  /** Pool tasks not yet finished (a helper still busy with an old half-step gets no new one). */
  private outstanding = 0;

  constructor(
    readonly d: number,
    users: IalsSideInput,
    items: IalsSideInput,
    readonly slots: number,
  ) {
    const ds = paddedDim(d);
    this.ds = ds;
    const L = new Layout();
    const probe = instantiate(sharedMemory(1, 'factor-kernels:'));
    this.scratchBytes = align64(probe.scratchBytes(ds));
    const plan = (s: IalsSideInput): IalsSidePlan => {
      const rows = s.indptr.length - 1;
      const nBlocks = Math.max(1, Math.ceil(rows / s.blockRows));
      return {
        rows,
        blockRows: s.blockRows,
        nBlocks,
        ptr: L.take(s.indptr.length * 4),
        idx: L.take(s.indices.length * 4),
        f: L.take(rows * ds * 4),
        parts: L.take(nBlocks * ds * ds * 4),
      };
    };
    this.sides = [plan(users), plan(items)];
    this.at = {
      gram: L.take(ds * ds * 4),
      gramInv: L.take(ds * ds * 4),
      gram64: L.take(ds * ds * 8),
      loss: L.take(this.sides[1].rows * 8),
      scratch: L.take(slots * this.scratchBytes),
    };
    this.memory = L.memory();
    const buf = this.memory.buffer;
    [users, items].forEach((s, q) => {
      const p = this.sides[q]!;
      new Int32Array(buf, p.ptr, s.indptr.length).set(s.indptr);
      new Int32Array(buf, p.idx, s.indices.length).set(s.indices);
    });
    this.k = instantiate(this.memory);
  }

  /** The factors of side 0 (users) or 1 (items), rows x ds (padding zero), in kernel memory. */
  factorView(q: 0 | 1): Float32Array {
    const s = this.sides[q];
    return new Float32Array(this.memory.buffer, s.f, s.rows * this.ds);
  }

  /** The factors of side q as a fresh dense rows x d array. */
  factors(q: 0 | 1): Float32Array {
    return readRows(this.factorView(q), this.sides[q].rows, this.d, this.ds);
  }

  /** The per-item loss terms of the last item half-step that asked for them. */
  lossView(): Float64Array {
    return new Float64Array(this.memory.buffer, this.at.loss, this.sides[1].rows);
  }

  /** Writes the gram (d x d, f64) of side q's current rows with positives into `out`. */
  gram(q: 0 | 1, out: Float64Array): void {
    const s = this.sides[q];
    for (let b = 0; b < s.nBlocks; b++) {
      const lo = b * s.blockRows;
      this.k.rowsGram(s.ptr, s.f, this.ds, lo, Math.min(s.rows, lo + s.blockRows), s.parts + b * this.ds * this.ds * 4);
    }
    this.sumParts(q, out);
  }

  private sumParts(q: 0 | 1, out: Float64Array): void {
    const { d, ds } = this;
    const s = this.sides[q];
    this.k.sumGrams(s.parts, s.nBlocks, ds, this.at.gram64);
    const g = new Float64Array(this.memory.buffer, this.at.gram64, ds * ds);
    for (let a = 0; a < d; a++) for (let c = 0; c < d; c++) out[a * d + c] = g[a * ds + c]!;
  }

  /** Sets G (d x d, regularised) and its inverse, both f64, as the solve matrices (f32, padded). */
  setSystem(G: Float64Array, Ginv: Float64Array): void {
    const { d, ds } = this;
    const g = new Float32Array(this.memory.buffer, this.at.gram, ds * ds);
    const gi = new Float32Array(this.memory.buffer, this.at.gramInv, ds * ds);
    g.fill(0);
    gi.fill(0);
    for (let a = 0; a < d; a++) {
      for (let c = 0; c < d; c++) {
        g[a * ds + c] = G[a * d + c]!;
        gi[a * ds + c] = Ginv[a * d + c]!;
      }
    }
  }

  /**
   * Re-solves every row of side q against the other side with the system set by `setSystem`,
   * then writes the gram (d x d, f64) of the new rows into `gramOut`. `pool` workers help when
   * given; `callerClaims` false leaves all blocks to them (tests).
   */
  async halfStep(q: 0 | 1, alpha: number, cgSteps: number, withLoss: boolean, gramOut: Float64Array, pool: WorkerPool | null, callerClaims = true): Promise<void> {
    const side = this.sides[q];
    const plan: IalsStepPlan = {
      side,
      other: this.sides[1 - q]!.f,
      gram: this.at.gram,
      gramInv: this.at.gramInv,
      ds: this.ds,
      alpha,
      cgSteps,
      loss: withLoss ? this.at.loss : 0,
      scratch: this.at.scratch,
      scratchBytes: this.scratchBytes,
      slots: this.slots,
    };
    const ctrl = new Int32Array(new SharedArrayBuffer(16));
    const helpers: Promise<number>[] = [];
    if (pool) {
      // let the event loop deliver finished helpers' replies (a synchronous fit loop would not)
      await new Promise<void>((resolve) => setImmediate(resolve));
      const want = Math.min(pool.size, this.slots - (callerClaims ? 1 : 0));
      while (this.outstanding < want) {
        this.outstanding++;
        const h = pool.run<number>(import.meta.url, 'ialsParticipant', [this.memory, plan, ctrl]);
        // errors surface below when awaited (only needed while a helper still holds a block)
        h.then(
          () => this.outstanding--,
          () => this.outstanding--,
        );
        helpers.push(h);
      }
    }
    if (callerClaims || !pool) ialsParticipant(this.memory, plan, ctrl);
    // a helper that starts late finds every block claimed and returns at once
    if (Atomics.load(ctrl, 1) < side.nBlocks) await Promise.all(helpers);
    if (Atomics.load(ctrl, 1) < side.nBlocks) {
      // only when no helper could be started (callerClaims false, every worker still busy): finish here
      ialsParticipant(this.memory, plan, ctrl);
    }
    this.sumParts(q, gramOut);
  }
}
