/**
 * `ials`: implicit-feedback ALS (Hu, Koren & Volinsky 2008). Every (user, item) cell is a
 * preference p = 1 for a training positive, else 0, with confidence c = 1 + alpha on positives and
 * 1 elsewhere; the loss is Σ c (p - x_u·y_i)^2 + reg (|X|^2 + |Y|^2).
 *
 * A half-step re-solves every row of one side with the other side fixed: with G = YᵀY + reg·I
 * (computed once per half-step, the "YᵀY trick"), row u solves
 *   (G + alpha Σ_{i∈H_u} y_i y_iᵀ) x_u = (1 + alpha) Σ_{i∈H_u} y_i
 * by `cgSteps` conjugate-gradient steps warm-started from the current x_u, as the `implicit`
 * library does. Rows with at most SMALL_ROW positives (on MovieLens most items) are solved exactly
 * instead, by the Woodbury identity with G⁻¹, which is cheaper than the CG steps.
 *
 * Rows of one side do not interact, so a half-step cuts them into fixed blocks of rows that the
 * calling thread and (threads - 1) WorkerPool workers claim one at a time (Atomics), with factors
 * in SharedArrayBuffers; each block also writes the partial gram of its new rows, summed in block
 * order. Every number depends only on the block partition, never on which thread ran a block, so
 * the factors are bit-identical for any thread count.
 *
 * Fold-in (users unknown to the model): one exact least-squares solve of the same normal equations
 * with the items fixed (Cholesky).
 */
import { z } from 'zod';
import { WorkerPool, sharedFloat32, toShared } from '../math/pool.js';
import { nonZeroRows, scoreFactors } from './bpr.js';
import { runEpochs } from './model.js';
import type { FitContext, FoldIn, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const IalsConfig = z
  .object({
    /** Latent dimensions. */
    factors: z.number().int().min(1).max(1024).default(64),
    /** Confidence of a positive is 1 + alpha. */
    alpha: z.number().min(0).default(1),
    /** L2 regularisation (lambda) of user and item factors. */
    reg: z.number().positive().default(15),
    /** ALS iterations (each = a user half-step and an item half-step). */
    iterations: z.number().int().min(1).default(15),
    /** Conjugate-gradient steps per row and half-step (warm-started). */
    cgSteps: z.number().int().min(1).max(1024).default(3),
  })
  .strict();
export type IalsConfig = z.infer<typeof IalsConfig>;

/**
 * Rows per block: a function of the row count only (never of the thread count), at least 16 rows
 * and at most MAX_BLOCKS blocks, so that small sides still split into enough blocks to balance.
 */
const MIN_BLOCK = 16;
const MAX_BLOCKS = 128;
function blockRows(rows: number): number {
  return Math.max(MIN_BLOCK, Math.ceil(rows / MAX_BLOCKS));
}
/** Rows with at most this many positives are solved exactly (Woodbury) instead of by CG. */
const SMALL_ROW = 4;
/** Standard deviation of the initial factors. */
const INIT_STD = 0.01;

export class Ials implements Recommender, FoldIn {
  /** Work per iteration (~multiply-adds) below which a worker pool costs more than it saves. */
  static parallelMinFlops = 2e7;
  /** Whether the calling thread claims blocks too (tests turn it off to make the workers do all). */
  static callerClaims = true;
  readonly name = 'ials';
  readonly params: IalsConfig;
  private nItems = 0;
  private userF: Float32Array = new Float32Array(0);
  private itemF: Float32Array = new Float32Array(0);
  /** YᵀY + reg·I of the final item factors (for fold-in), lazily computed. */
  private itemGram: Float64Array | null = null;
  /** Items with non-zero factors (lazily computed; the others score 0). */
  private active: Int32Array | null = null;

  constructor(params: Partial<IalsConfig> = {}) {
    this.params = IalsConfig.parse(params);
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const { factors: d, alpha, reg, iterations, cgSteps } = this.params;
    const { nUsers, nItems } = train;
    const X = sharedFloat32(nUsers * d);
    const Y = sharedFloat32(nItems * d);
    const init = ctx.rng.derive('ials', 'init');
    // uniform with standard deviation INIT_STD; rows without positives start (and stay) at 0,
    // their exact solution
    const a = INIT_STD * Math.sqrt(3);
    for (let k = 0; k < X.length; k++) X[k] = a * (2 * init.next() - 1);
    for (let k = 0; k < Y.length; k++) Y[k] = a * (2 * init.next() - 1);
    for (let u = 0; u < nUsers; u++) if (train.userItems.indptr[u + 1] === train.userItems.indptr[u]) X.fill(0, u * d, (u + 1) * d);
    for (let i = 0; i < nItems; i++) if (train.itemUsers.indptr[i + 1] === train.itemUsers.indptr[i]) Y.fill(0, i * d, (i + 1) * d);
    const gram = new Float64Array(new SharedArrayBuffer(d * d * 8));
    const gramInv = new Float64Array(new SharedArrayBuffer(d * d * 8));
    const rowLoss = new Float64Array(new SharedArrayBuffer(nItems * 8));
    this.nItems = nItems;
    this.userF = X;
    this.itemF = Y;
    this.itemGram = null;
    this.active = null;

    const nnz = train.userItems.indices.length;
    const flops = 4 * (nUsers + nItems) * d * d + 16 * d * nnz;
    const threads = Math.max(1, Math.floor(ctx.threads));
    // the calling thread claims blocks too: `threads` = this thread + (threads - 1) workers
    const pool = threads > 1 && flops >= Ials.parallelMinFlops ? new WorkerPool(threads - 1) : null;
    const users = side(train.userItems.indptr, train.userItems.indices, d);
    const items = side(train.itemUsers.indptr, train.itemUsers.indices, d);
    /** Helper tasks not yet finished (a helper still busy with an old half-step gets no new one). */
    let outstanding = 0;
    /** Re-solves every row of `s` against `other`, leaving the new gram of `s` in `gramOut`. */
    const halfStep = async (s: Side, other: Float32Array, target: Float32Array, loss: Float64Array | null, gramOut: Float64Array): Promise<void> => {
      // let the event loop deliver finished helpers' replies (a synchronous fit loop would not)
      if (pool) await new Promise<void>((resolve) => setImmediate(resolve));
      const ctrl = new Int32Array(new SharedArrayBuffer(8));
      const args: Parameters<typeof solveClaimed> = [s.ptr, s.idx, other, target, gram, gramInv, d, alpha, cgSteps, loss, s.parts, s.nBlocks, ctrl];
      const helpers: Promise<void>[] = [];
      while (pool && outstanding < pool.size) {
        outstanding++;
        const h = pool.run<void>(import.meta.url, 'solveClaimed', args);
        // errors surface below when awaited (only needed while a helper still holds a block)
        h.then(
          () => outstanding--,
          () => outstanding--,
        );
        helpers.push(h);
      }
      if (Ials.callerClaims || !pool) solveClaimed(...args);
      // a helper that starts late finds every block claimed and returns at once
      if (Atomics.load(ctrl, 1) < s.nBlocks) await Promise.all(helpers);
      sumBlocks(s.parts, d, gramOut);
    };
    try {
      const gramY = new Float64Array(d * d);
      const gramX = new Float64Array(d * d);
      for (let b = 0; b < items.nBlocks; b++) blockGram(items.ptr, Y, d, b, items.parts);
      sumBlocks(items.parts, d, gramY);
      await runEpochs(ctx, 'ials', iterations, async () => {
        setRegularised(gram, gramInv, gramY, d, reg);
        await halfStep(users, Y, X, null, gramX);
        setRegularised(gram, gramInv, gramX, d, reg);
        await halfStep(items, X, Y, rowLoss, gramY);
        // loss = Σ_pos [(1+α)(1-s)^2 - s^2] + Σ_all s^2 + reg(|X|^2 + |Y|^2), Σ_all s^2 = tr(GX GY)
        let loss = 0;
        for (let i = 0; i < nItems; i++) loss += rowLoss[i]!;
        for (let k = 0; k < d * d; k++) loss += gramX[k]! * gramY[k]!;
        for (let a = 0; a < d; a++) loss += reg * (gramX[a * d + a]! + gramY[a * d + a]!);
        return loss / Math.max(1, nnz);
      });
    } finally {
      await pool?.close();
    }
  }

  /** Least-squares user vector for a history, items fixed: exact solve of the normal equations. */
  foldIn(items: Int32Array): Float32Array {
    const { factors: d, alpha, reg } = this.params;
    const Y = this.itemF;
    if (!this.itemGram) {
      const g = new Float64Array(d * d);
      gramOf(Y, this.nItems, d, g);
      for (let a = 0; a < d; a++) g[a * d + a]! += reg;
      this.itemGram = g;
    }
    const A = Float64Array.from(this.itemGram);
    const b = new Float64Array(d);
    // the history as a set, in ascending order (the result does not depend on the input order)
    const hist = Int32Array.from(items.filter((i) => i >= 0 && i < this.nItems)).sort();
    for (let k = 0; k < hist.length; k++) {
      const i = hist[k]!;
      if (k > 0 && i === hist[k - 1]) continue;
      const io = i * d;
      for (let a = 0; a < d; a++) {
        const ya = Y[io + a]!;
        b[a]! += (1 + alpha) * ya;
        const s = alpha * ya;
        for (let c = 0; c <= a; c++) A[a * d + c]! += s * Y[io + c]!;
      }
    }
    choleskySolve(A, b, d);
    return Float32Array.from(b);
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const d = this.params.factors;
    const users = new Float32Array(batch.users.length * d);
    for (let b = 0; b < batch.users.length; b++) {
      const u = batch.users[b]!;
      if (u >= 0 && u * d < this.userF.length) users.set(this.userF.subarray(u * d, (u + 1) * d), b * d);
      else users.set(this.foldIn(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!)), b * d);
    }
    this.active ??= nonZeroRows(this.itemF, this.nItems, d);
    scoreFactors(users, batch.users.length, this.itemF, null, this.active, this.nItems, d, out);
  }

  /** User factors (row u = user u), read-only view. */
  get userFactors(): Float32Array {
    return this.userF;
  }

  /** Item factors (row i = item i), read-only view. */
  get itemFactors(): Float32Array {
    return this.itemF;
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'ials',
      version: 1,
      config: { ...this.params },
      arrays: { userFactors: this.userF, itemFactors: this.itemF },
    };
  }

  static fromArtifact(a: ModelArtifact): Ials {
    const m = new Ials(a.config as Partial<IalsConfig>);
    m.userF = a.arrays.userFactors as Float32Array;
    m.itemF = a.arrays.itemFactors as Float32Array;
    m.nItems = m.itemF.length / m.params.factors;
    return m;
  }
}

/** One side of the factorisation: its rows' positives (shared) and per-block partial grams. */
interface Side {
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly nBlocks: number;
  /** nBlocks x d x d partial grams (block b = rows [b·blockRows, (b+1)·blockRows)). */
  readonly parts: Float64Array;
}

function side(indptr: Int32Array, indices: Int32Array, d: number): Side {
  const nBlocks = Math.ceil((indptr.length - 1) / blockRows(indptr.length - 1));
  return {
    ptr: toShared(indptr),
    idx: toShared(indices),
    nBlocks,
    parts: new Float64Array(new SharedArrayBuffer(Math.max(1, nBlocks) * d * d * 8)),
  };
}

/**
 * Claims blocks one at a time through ctrl[0] (Atomics) and solves them, counting finished blocks
 * in ctrl[1]; the calling thread and every pool worker run it on the same arguments, so a block is
 * solved exactly once, by whoever is free. Exported for the worker pool.
 */
export function solveClaimed(
  ptr: Int32Array,
  idx: Int32Array,
  other: Float32Array,
  target: Float32Array,
  gram: Float64Array,
  gramInv: Float64Array,
  d: number,
  alpha: number,
  cgSteps: number,
  loss: Float64Array | null,
  parts: Float64Array,
  nBlocks: number,
  ctrl: Int32Array,
): void {
  for (;;) {
    const b = Atomics.add(ctrl, 0, 1);
    if (b >= nBlocks) return;
    solveBlock(ptr, idx, other, target, gram, gramInv, d, alpha, cgSteps, b, loss, parts);
    Atomics.add(ctrl, 1, 1);
  }
}

/**
 * Solves the rows of block b (see solveRows) and writes the partial gram of its new rows into
 * parts[b]. The partition into blocks is fixed, so the grams summed in block order are the same
 * whichever thread ran which block.
 */
function solveBlock(
  ptr: Int32Array,
  idx: Int32Array,
  other: Float32Array,
  target: Float32Array,
  gram: Float64Array,
  gramInv: Float64Array,
  d: number,
  alpha: number,
  cgSteps: number,
  b: number,
  loss: Float64Array | null,
  parts: Float64Array,
): void {
  const rows = ptr.length - 1;
  const size = blockRows(rows);
  solveRows(ptr, idx, other, target, gram, gramInv, d, alpha, cgSteps, b * size, Math.min(rows, (b + 1) * size), loss);
  blockGram(ptr, target, d, b, parts);
}

/** parts[b] = Σ f_r f_rᵀ over the rows with positives of block b. */
function blockGram(ptr: Int32Array, f: Float32Array, d: number, b: number, parts: Float64Array): void {
  const size = blockRows(ptr.length - 1);
  const lo = b * size;
  const hi = Math.min(ptr.length - 1, lo + size);
  gramOf(f.subarray(lo * d, hi * d), hi - lo, d, parts.subarray(b * d * d, (b + 1) * d * d), ptr.subarray(lo, hi + 1));
}

/** out = Σ_b parts[b], in block order. */
function sumBlocks(parts: Float64Array, d: number, out: Float64Array): void {
  const dd = d * d;
  out.fill(0);
  for (let o = 0; o < parts.length; o += dd) for (let k = 0; k < dd; k++) out[k]! += parts[o + k]!;
}

/**
 * Re-solves rows [lo, hi) of `target` against the fixed `other` side (see the file comment).
 * `gram` is otherᵀother + reg·I (d x d, float64). Rows without positives get x = 0 (their exact
 * solution). When `loss` is given, loss[r] receives Σ_{j∈H_r} [(1+α)(1-s)^2 - s^2] with the new
 * row.
 */
function solveRows(
  ptr: Int32Array,
  idx: Int32Array,
  other: Float32Array,
  target: Float32Array,
  gram: Float64Array,
  gramInv: Float64Array,
  d: number,
  alpha: number,
  cgSteps: number,
  lo: number,
  hi: number,
  loss: Float64Array | null,
): void {
  const x = new Float64Array(d);
  const r = new Float64Array(d);
  const p = new Float64Array(d);
  const ap = new Float64Array(d);
  const y = new Float64Array(d);
  const w = new Float64Array(SMALL_ROW * d);
  const k = new Float64Array(SMALL_ROW * SMALL_ROW);
  const z = new Float64Array(SMALL_ROW);
  const c1 = 1 + alpha;
  // two passes, small rows (G⁻¹) then CG rows (G), so that one d x d matrix at a time is in cache
  for (let pass = 0; pass < 2; pass++) {
    for (let row = lo; row < hi; row++) {
      const to = row * d;
      const h0 = ptr[row]!;
      const h1 = ptr[row + 1]!;
      const small = h1 - h0 <= SMALL_ROW;
      if (small !== (pass === 0)) continue;
      if (h0 === h1) {
        target.fill(0, to, to + d);
        if (loss) loss[row] = 0;
        continue;
      }
      if (small) solveSmall(idx, h0, h1, other, gramInv, d, alpha, x, y, w, k, z);
      else {
        for (let a = 0; a < d; a++) x[a] = target[to + a]!;
        // r = b - A x = Σ_j (c - α s_j) y_j - G x
        matVec(gram, x, r, d);
        for (let a = 0; a < d; a++) r[a] = -r[a]!;
        accumulate(idx, h0, h1, other, d, x, c1, -alpha, r);
        let rs = dot(r, r, d);
        if (rs > 1e-20) {
          for (let a = 0; a < d; a++) p[a] = r[a]!;
          for (let step = 0; step < cgSteps; step++) {
            // ap = A p = G p + α Σ_j (y_j·p) y_j
            matVec(gram, p, ap, d);
            accumulate(idx, h0, h1, other, d, p, 0, alpha, ap);
            const pap = dot(p, ap, d);
            if (!(pap > 0)) break;
            const step_ = rs / pap;
            for (let a = 0; a < d; a++) {
              x[a]! += step_ * p[a]!;
              r[a]! -= step_ * ap[a]!;
            }
            const rsNew = dot(r, r, d);
            if (rsNew < 1e-20) break;
            const beta = rsNew / rs;
            for (let a = 0; a < d; a++) p[a] = r[a]! + beta * p[a]!;
            rs = rsNew;
          }
        }
      }
      for (let a = 0; a < d; a++) target[to + a] = x[a]!;
      if (loss) {
        let l = 0;
        for (let h = h0; h < h1; h++) {
          const s = dotF(other, idx[h]! * d, x, d);
          l += c1 * (1 - s) * (1 - s) - s * s;
        }
        loss[row] = l;
      }
    }
  }
}

/**
 * Exact solve for a row with m <= SMALL_ROW positives by the Woodbury identity: with B = G (incl.
 * reg) and w_a = B⁻¹ y_a, A = B + α Σ y_a y_aᵀ gives x = g - Σ_a z_a w_a, where g = (1+α) Σ_a w_a
 * and (I/α + [y_a·w_b]) z = [y_a·g]. Costs m matrix-vector products instead of 1 + cgSteps.
 */
function solveSmall(
  idx: Int32Array,
  h0: number,
  h1: number,
  other: Float32Array,
  gramInv: Float64Array,
  d: number,
  alpha: number,
  x: Float64Array,
  y: Float64Array,
  w: Float64Array,
  k: Float64Array,
  z: Float64Array,
): void {
  const m = h1 - h0;
  const c1 = 1 + alpha;
  x.fill(0);
  for (let a = 0; a < m; a++) {
    const jo = idx[h0 + a]! * d;
    for (let c = 0; c < d; c++) y[c] = other[jo + c]!;
    const wa = w.subarray(a * d, (a + 1) * d);
    matVec(gramInv, y, wa, d);
    for (let c = 0; c < d; c++) x[c]! += c1 * wa[c]!;
  }
  if (alpha === 0) return;
  // k = I/α + [y_a·w_b] (symmetric), z <- y_a·g
  for (let a = 0; a < m; a++) {
    const jo = idx[h0 + a]! * d;
    for (let b = 0; b < m; b++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += other[jo + c]! * w[b * d + c]!;
      k[a * m + b] = s + (a === b ? 1 / alpha : 0);
    }
    let s = 0;
    for (let c = 0; c < d; c++) s += other[jo + c]! * x[c]!;
    z[a] = s;
  }
  choleskySolve(k, z, m);
  for (let a = 0; a < m; a++) {
    const za = z[a]!;
    for (let c = 0; c < d; c++) x[c]! -= za * w[a * d + c]!;
  }
}

/** out = M v for a d x d row-major M; four rows per pass so each v[c] load serves four products. */
function matVec(m: Float64Array, v: Float64Array, out: Float64Array, d: number): void {
  let a = 0;
  for (; a + 4 <= d; a += 4) {
    const o0 = a * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let c = 0; c < d; c++) {
      const vc = v[c]!;
      s0 += m[o0 + c]! * vc;
      s1 += m[o1 + c]! * vc;
      s2 += m[o2 + c]! * vc;
      s3 += m[o3 + c]! * vc;
    }
    out[a] = s0;
    out[a + 1] = s1;
    out[a + 2] = s2;
    out[a + 3] = s3;
  }
  for (; a < d; a++) {
    const o = a * d;
    let s = 0;
    for (let c = 0; c < d; c++) s += m[o + c]! * v[c]!;
    out[a] = s;
  }
}

function dot(a: Float64Array, b: Float64Array, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[k]! * b[k]!;
  return s;
}

/** f[fo .. fo+d) · v[vo .. vo+d). */
function dotF(f: Float32Array, fo: number, v: Float64Array, d: number): number {
  const d4 = d - (d % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k < d4; k += 4) {
    s0 += f[fo + k]! * v[k]!;
    s1 += f[fo + k + 1]! * v[k + 1]!;
    s2 += f[fo + k + 2]! * v[k + 2]!;
    s3 += f[fo + k + 3]! * v[k + 3]!;
  }
  for (; k < d; k++) s0 += f[fo + k]! * v[k]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * out += Σ_{h∈[h0,h1)} (a + b·(y_j·v)) y_j with y_j = f[idx[h]·d ..]: the sparse part of A v (and of
 * the residual), eight (then four) rows at a time so each pass over `out` and `v` serves several.
 */
function accumulate(idx: Int32Array, h0: number, h1: number, f: Float32Array, d: number, v: Float64Array, a: number, b: number, out: Float64Array): void {
  let h = h0;
  for (; h + 8 <= h1; h += 8) {
    const o0 = idx[h]! * d;
    const o1 = idx[h + 1]! * d;
    const o2 = idx[h + 2]! * d;
    const o3 = idx[h + 3]! * d;
    const o4 = idx[h + 4]! * d;
    const o5 = idx[h + 5]! * d;
    const o6 = idx[h + 6]! * d;
    const o7 = idx[h + 7]! * d;
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    let t4 = 0;
    let t5 = 0;
    let t6 = 0;
    let t7 = 0;
    for (let k = 0; k < d; k++) {
      const vk = v[k]!;
      t0 += f[o0 + k]! * vk;
      t1 += f[o1 + k]! * vk;
      t2 += f[o2 + k]! * vk;
      t3 += f[o3 + k]! * vk;
      t4 += f[o4 + k]! * vk;
      t5 += f[o5 + k]! * vk;
      t6 += f[o6 + k]! * vk;
      t7 += f[o7 + k]! * vk;
    }
    t0 = a + b * t0;
    t1 = a + b * t1;
    t2 = a + b * t2;
    t3 = a + b * t3;
    t4 = a + b * t4;
    t5 = a + b * t5;
    t6 = a + b * t6;
    t7 = a + b * t7;
    for (let k = 0; k < d; k++) {
      out[k]! += t0 * f[o0 + k]! + t1 * f[o1 + k]! + t2 * f[o2 + k]! + t3 * f[o3 + k]! + (t4 * f[o4 + k]! + t5 * f[o5 + k]! + t6 * f[o6 + k]! + t7 * f[o7 + k]!);
    }
  }
  for (; h + 4 <= h1; h += 4) {
    const o0 = idx[h]! * d;
    const o1 = idx[h + 1]! * d;
    const o2 = idx[h + 2]! * d;
    const o3 = idx[h + 3]! * d;
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    for (let k = 0; k < d; k++) {
      const vk = v[k]!;
      t0 += f[o0 + k]! * vk;
      t1 += f[o1 + k]! * vk;
      t2 += f[o2 + k]! * vk;
      t3 += f[o3 + k]! * vk;
    }
    t0 = a + b * t0;
    t1 = a + b * t1;
    t2 = a + b * t2;
    t3 = a + b * t3;
    for (let k = 0; k < d; k++) out[k]! += t0 * f[o0 + k]! + t1 * f[o1 + k]! + t2 * f[o2 + k]! + t3 * f[o3 + k]!;
  }
  for (; h < h1; h++) {
    const o = idx[h]! * d;
    const t = a + b * dotF(f, o, v, d);
    for (let k = 0; k < d; k++) out[k]! += t * f[o + k]!;
  }
}

/**
 * gram = Σ_r f_r f_rᵀ (d x d, full) over the rows r with ptr[r + 1] > ptr[r] (all rows without
 * `ptr`). Register tiles of 2 x 4 entries accumulate over all rows (no gram traffic in the inner
 * loop); every entry is summed in row order, so (a, b) and (b, a) are bit-identical.
 */
export function gramOf(f: Float32Array, rows: number, d: number, gram: Float64Array, ptr?: Int32Array): void {
  let n = 0;
  const offs = new Int32Array(rows);
  for (let r = 0; r < rows; r++) if (!ptr || ptr[r + 1]! > ptr[r]!) offs[n++] = r * d;
  gram.fill(0);
  if (d % 4 !== 0) {
    for (let q = 0; q < n; q++) {
      const o = offs[q]!;
      for (let a = 0; a < d; a++) {
        const fa = f[o + a]!;
        for (let b = a; b < d; b++) gram[a * d + b]! += fa * f[o + b]!;
      }
    }
  } else {
    for (let a = 0; a < d; a += 2) {
      for (let b = a - (a % 4); b < d; b += 4) {
        let s00 = 0;
        let s01 = 0;
        let s02 = 0;
        let s03 = 0;
        let s10 = 0;
        let s11 = 0;
        let s12 = 0;
        let s13 = 0;
        for (let q = 0; q < n; q++) {
          const o = offs[q]!;
          const x0 = f[o + a]!;
          const x1 = f[o + a + 1]!;
          const y0 = f[o + b]!;
          const y1 = f[o + b + 1]!;
          const y2 = f[o + b + 2]!;
          const y3 = f[o + b + 3]!;
          s00 += x0 * y0;
          s01 += x0 * y1;
          s02 += x0 * y2;
          s03 += x0 * y3;
          s10 += x1 * y0;
          s11 += x1 * y1;
          s12 += x1 * y2;
          s13 += x1 * y3;
        }
        const g0 = a * d + b;
        const g1 = g0 + d;
        gram[g0] = s00;
        gram[g0 + 1] = s01;
        gram[g0 + 2] = s02;
        gram[g0 + 3] = s03;
        gram[g1] = s10;
        gram[g1 + 1] = s11;
        gram[g1 + 2] = s12;
        gram[g1 + 3] = s13;
      }
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) gram[a * d + b] = gram[b * d + a]!;
}

/** out = gram + reg·I and inv = out⁻¹ (Cholesky; both full symmetric, row-major). */
function setRegularised(out: Float64Array, inv: Float64Array, gram: Float64Array, d: number, reg: number): void {
  out.set(gram);
  for (let a = 0; a < d; a++) out[a * d + a]! += reg;
  const l = Float64Array.from(out);
  choleskyFactor(l, d);
  const e = new Float64Array(d);
  for (let c = 0; c < d; c++) {
    e.fill(0);
    e[c] = 1;
    choleskySubstitute(l, e, d);
    for (let a = 0; a < d; a++) inv[a * d + c] = e[a]!;
  }
}

/** Solves A x = b in place (b <- x) for SPD A given by its lower triangle (row-major, d x d). */
function choleskySolve(A: Float64Array, b: Float64Array, d: number): void {
  choleskyFactor(A, d);
  choleskySubstitute(A, b, d);
}

/** In place: the lower triangle of A becomes L with A = L Lᵀ (the upper triangle is not read). */
function choleskyFactor(A: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j]!;
    for (let k = 0; k < j; k++) s -= A[j * d + k]! * A[j * d + k]!;
    const l = Math.sqrt(Math.max(s, 1e-300));
    A[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j]!;
      for (let k = 0; k < j; k++) t -= A[i * d + k]! * A[j * d + k]!;
      A[i * d + j] = t / l;
    }
  }
}

/** b <- (L Lᵀ)⁻¹ b for the factor L of choleskyFactor. */
function choleskySubstitute(L: Float64Array, b: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) {
    let t = b[i]!;
    for (let k = 0; k < i; k++) t -= L[i * d + k]! * b[k]!;
    b[i] = t / L[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let t = b[i]!;
    for (let k = i + 1; k < d; k++) t -= L[k * d + i]! * b[k]!;
    b[i] = t / L[i * d + i]!;
  }
}

export const ialsSpec: ModelSpec = {
  name: 'ials',
  description: 'implicit ALS (Hu, Koren & Volinsky 2008), conjugate-gradient solves',
  schema: IalsConfig,
  create: (params) => new Ials(params as Partial<IalsConfig>),
  fromArtifact: (a) => Ials.fromArtifact(a),
  tuningGrid: [
    { alpha: 1, reg: 15 },
    { alpha: 0.5, reg: 10 },
    { alpha: 2, reg: 20 },
    { alpha: 3, reg: 30 },
    { alpha: 5, reg: 40 },
  ],
};
