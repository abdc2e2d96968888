/**
 * `ials`: implicit-feedback ALS (Hu, Koren & Volinsky 2008). Every (user, item) cell is a
 * preference p = 1 for a training positive, else 0, with confidence c = 1 + alpha on positives and
 * 1 elsewhere; the loss is Σ c (p - x_u·y_i)^2 + reg (|X|^2 + |Y|^2).
 *
 * A half-step re-solves every row of one side with the other side fixed: with G = YᵀY + reg·I
 * (computed once per half-step, the "YᵀY trick"), row u solves
 *   (G + alpha Σ_{i∈H_u} y_i y_iᵀ) x_u = (1 + alpha) Σ_{i∈H_u} y_i
 * by `cgSteps` conjugate-gradient steps warm-started from the current x_u, as the `implicit`
 * library does. Rows with at most 4 positives (on MovieLens most items) are solved exactly
 * instead, by the Woodbury identity with G⁻¹, which is cheaper than the CG steps.
 *
 * The half-steps run in a WebAssembly SIMD kernel (assembly/factors.ts, float32 like `implicit`,
 * driven by src/math/factor-kernels.ts). Rows of one side do not interact, so a half-step cuts them
 * into fixed blocks of rows that the calling thread and (threads - 1) pool workers claim one at a
 * time (Atomics) over one shared memory; each block also writes the partial gram of its new rows,
 * summed in block order. Every number depends only on the block partition, never on which thread
 * ran a block, so the factors are bit-identical for any thread count.
 *
 * Fold-in (users unknown to the model): one exact least-squares solve of the same normal equations
 * with the items fixed (Cholesky).
 */
import { z } from 'zod';
import { choleskyFactor, choleskyInverse, choleskySolve } from '../math/cholesky.js';
import { IalsKernel } from '../math/factor-kernels.js';
import { WorkerPool } from '../math/pool.js';
import { batchUserFactors, historySet, nonZeroRows, scoreFactors } from './factors.js';
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
/** Standard deviation of the initial factors. */
const INIT_STD = 0.01;

export class Ials implements Recommender, FoldIn {
  /**
   * Work per iteration (~multiply-adds) below which a worker pool costs more than it saves: the
   * SIMD kernel does ~1e10 a second, so ml-latest-small (~1.4e8, ~18 ms an iteration) fits in
   * less time than starting a worker takes; ml-1m (~7.5e8) uses the workers.
   */
  static parallelMinFlops = 3e8;
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
    const nnz = train.userItems.indices.length;
    let rowsWithPositives = train.candidates.length;
    for (let u = 0; u < nUsers; u++) if (train.userItems.indptr[u + 1]! > train.userItems.indptr[u]!) rowsWithPositives++;
    const flops = 4 * rowsWithPositives * d * d + 16 * d * nnz;
    const threads = Math.max(1, Math.floor(ctx.threads));
    // the calling thread claims blocks too: `threads` = this thread + (threads - 1) workers
    const pool = threads > 1 && flops >= Ials.parallelMinFlops ? new WorkerPool(threads - 1) : null;
    const kernel = new IalsKernel(
      d,
      { indptr: train.userItems.indptr, indices: train.userItems.indices, blockRows: blockRows(nUsers) },
      { indptr: train.itemUsers.indptr, indices: train.itemUsers.indices, blockRows: blockRows(nItems) },
      pool ? threads : 1,
    );
    const ds = kernel.ds;
    const X = kernel.factorView(0);
    const Y = kernel.factorView(1);
    const init = ctx.rng.derive('ials', 'init');
    // uniform with standard deviation INIT_STD; rows without positives start (and stay) at 0,
    // their exact solution
    const a = INIT_STD * Math.sqrt(3);
    for (let u = 0; u < nUsers; u++) for (let c = 0; c < d; c++) X[u * ds + c] = a * (2 * init.next() - 1);
    for (let i = 0; i < nItems; i++) for (let c = 0; c < d; c++) Y[i * ds + c] = a * (2 * init.next() - 1);
    for (let u = 0; u < nUsers; u++) if (train.userItems.indptr[u + 1] === train.userItems.indptr[u]) X.fill(0, u * ds, (u + 1) * ds);
    for (let i = 0; i < nItems; i++) if (train.itemUsers.indptr[i + 1] === train.itemUsers.indptr[i]) Y.fill(0, i * ds, (i + 1) * ds);
    this.nItems = nItems;
    this.itemGram = null;
    this.active = null;
    const gramY = new Float64Array(d * d);
    const gramX = new Float64Array(d * d);
    const G = new Float64Array(d * d);
    const Ginv = new Float64Array(d * d);
    kernel.gram(1, gramY);
    try {
      await runEpochs(ctx, 'ials', iterations, async () => {
        setRegularised(G, Ginv, gramY, d, reg);
        kernel.setSystem(G, Ginv);
        await kernel.halfStep(0, alpha, cgSteps, false, gramX, pool, Ials.callerClaims);
        setRegularised(G, Ginv, gramX, d, reg);
        kernel.setSystem(G, Ginv);
        await kernel.halfStep(1, alpha, cgSteps, true, gramY, pool, Ials.callerClaims);
        // loss = Σ_pos [(1+α)(1-s)^2 - s^2] + Σ_all s^2 + reg(|X|^2 + |Y|^2), Σ_all s^2 = tr(GX GY)
        const rowLoss = kernel.lossView();
        let loss = 0;
        for (let i = 0; i < nItems; i++) loss += rowLoss[i]!;
        for (let k = 0; k < d * d; k++) loss += gramX[k]! * gramY[k]!;
        for (let c = 0; c < d; c++) loss += reg * (gramX[c * d + c]! + gramY[c * d + c]!);
        return loss / Math.max(1, nnz);
      });
    } finally {
      this.userF = kernel.factors(0);
      this.itemF = kernel.factors(1);
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
    const hist = historySet(items, this.nItems);
    for (let k = 0; k < hist.length; k++) {
      const i = hist[k]!;
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
    const users = batchUserFactors(batch, this.userF, d, (items) => this.foldIn(items));
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
  choleskyInverse(l, d, inv);
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
