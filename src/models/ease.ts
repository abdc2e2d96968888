/**
 * `ease`: Embarrassingly Shallow Autoencoder (Steck 2019). With X the binary user x item training
 * matrix, G = X^T X + lambda I, P = G^-1 and B = I - P diagMat(1 / diag(P)), i.e.
 * B_ij = -P_ij / P_jj (i != j) and B_jj = 0; score(u, .) = x_u B.
 *
 * G, P and B are restricted to the candidate items (those with a training positive): the others
 * have an all-zero column in X, so they would only add lambda to the diagonal and never affect the
 * candidates' scores. They get score 0 and are never ranked. The inverse (and B, in the same
 * final pass) is the float32 SIMD WebAssembly kernel of math/dense.ts (calling thread +
 * ctx.threads - 1 workers; identical results whatever the thread count).
 */
import { z } from 'zod';
import { SpdWorkspace } from '../math/dense.js';
import { WorkerPool } from '../math/pool.js';
import { ConfigError } from '../errors.js';
import type { FitContext, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

/** The order whose n^2 float32 workspace still fits one 4 GiB WebAssembly memory (32,768^2 x 4 B). */
export const EASE_HARD_MAX_ITEMS = 32_000;

/**
 * Refuses a catalogue too large for a dense item-item model, naming the size, the memory it would
 * need, the limit and the alternatives.
 */
export function checkDenseItemLimit(model: string, nItems: number, maxItems: number, field: string): void {
  if (nItems <= maxItems) return;
  const gib = (2 * nItems * nItems * 4) / 2 ** 30;
  throw new ConfigError(
    `${model} needs a dense ${nItems.toLocaleString('en-US')} x ${nItems.toLocaleString('en-US')} item-item matrix ` +
      `(about ${gib.toFixed(1)} GiB while fitting, and n^3 time), over the limit of ${maxItems.toLocaleString('en-US')} candidate items; ` +
      `use sparse-ease (EASE on each item's nearest neighbours, memory items x neighbours), or itemknn, ials, bpr or personas (memory grows with items x d), or raise ${field} (at most ${EASE_HARD_MAX_ITEMS.toLocaleString('en-US')})`,
    field,
  );
}

export const EaseConfig = z
  .object({
    /** L2 regularisation added to the Gram diagonal. */
    lambda: z.number().positive().default(500),
    /**
     * The largest catalogue (candidate items) EASE accepts. Its weights are a dense n x n float32
     * matrix, held twice while fitting (the WebAssembly workspace, whose memory stops at 4 GiB, and
     * the copy the model keeps), and the inverse costs n^3. Above this the fit refuses before
     * allocating anything.
     */
    maxItems: z.number().int().min(1).max(EASE_HARD_MAX_ITEMS).default(25_000),
  })
  .strict();
export type EaseConfig = z.infer<typeof EaseConfig>;

function aborted(ctx: FitContext): void {
  if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('ease: fit aborted');
}

/**
 * The Gram matrix of the training positives over the candidates, lower triangle, into `m` (row
 * stride `stride`, zero on entry), plus `lambda` on the diagonal. Counts are exact in float32.
 */
export function easeGram(train: TrainSet, pos: Int32Array, lambda: number, m: Float32Array, stride: number): void {
  const { indptr, indices } = train.userItems;
  const nc = train.candidates.length;
  const row = new Int32Array(nc);
  for (let u = 0; u < train.nUsers; u++) {
    let h = 0;
    for (let k = indptr[u]!; k < indptr[u + 1]!; k++) {
      const p = pos[indices[k]!]!;
      if (p >= 0) row[h++] = p;
    }
    // rows are sorted, so p[y] <= p[x] for y <= x: the lower triangle
    for (let x = 0; x < h; x++) {
      const base = row[x]! * stride;
      for (let y = 0; y <= x; y++) m[base + row[y]!]! += 1;
    }
  }
  for (let i = 0; i < nc; i++) m[i * stride + i]! += lambda;
}

/**
 * B = I - P / diag(P) column-wise, dense nc x nc from the inverse P (row stride `stride`). The fit
 * has the kernel form B in its final pass instead; this plain version is the reference.
 */
export function easeWeights(p: Float32Array, stride: number, nc: number): Float32Array {
  const b = new Float32Array(nc * nc);
  const neg = new Float64Array(nc);
  for (let j = 0; j < nc; j++) neg[j] = -1 / p[j * stride + j]!;
  for (let i = 0; i < nc; i++) {
    const src = i * stride;
    const dst = i * nc;
    for (let j = 0; j < nc; j++) b[dst + j] = p[src + j]! * neg[j]!;
    b[dst + i] = 0;
  }
  return b;
}

export class EaseScorer implements Recommender {
  /** Below this many candidates a worker pool's startup costs more than it saves (tests lower it). */
  static parallelMinItems = 1500;
  readonly name = 'ease';
  readonly params: EaseConfig;
  private nItems = 0;
  /** Candidate items (ascending); B is indexed by position in this list. */
  private candidates: Int32Array = new Int32Array(0);
  /** item -> position in `candidates`, -1 for the others. */
  private pos: Int32Array = new Int32Array(0);
  /** nc x nc, row-major: row i holds the weights item candidates[i] gives every candidate. */
  private weights: Float32Array = new Float32Array(0);

  constructor(params: Partial<EaseConfig> = {}) {
    this.params = EaseConfig.parse(params);
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const nc = train.candidates.length;
    checkDenseItemLimit('ease', nc, this.params.maxItems, 'ease.maxItems');
    const pos = positions(train.nItems, train.candidates);
    aborted(ctx);
    if (nc === 0) {
      this.set(train.nItems, train.candidates, new Float32Array(0), pos);
      return;
    }
    const stages = 3;
    const ws = new SpdWorkspace(nc);
    easeGram(train, pos, this.params.lambda, ws.matrix, ws.stride);
    ctx.onProgress?.({ stage: 'ease', done: 1, total: stages });
    aborted(ctx);
    const threads = Math.max(1, ctx.threads);
    const pool = threads > 1 && nc >= EaseScorer.parallelMinItems ? new WorkerPool(threads - 1) : undefined;
    try {
      await ws.invert({ pool, threads, output: 'ease' });
    } finally {
      await pool?.close();
    }
    ctx.onProgress?.({ stage: 'ease', done: 2, total: stages });
    aborted(ctx);
    this.set(train.nItems, train.candidates, ws.toDense(), pos);
    ctx.onProgress?.({ stage: 'ease', done: 3, total: stages });
  }

  private set(nItems: number, candidates: Int32Array, weights: Float32Array, pos = positions(nItems, candidates)): void {
    this.nItems = nItems;
    this.candidates = candidates;
    this.pos = pos;
    this.weights = weights;
  }

  /** B_ij over item indices (0 when either is not a candidate). */
  weight(i: number, j: number): number {
    const pi = this.pos[i] ?? -1;
    const pj = this.pos[j] ?? -1;
    return pi < 0 || pj < 0 ? 0 : this.weights[pi * this.candidates.length + pj]!;
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.nItems;
    const nc = this.candidates.length;
    const cand = this.candidates;
    const w = this.weights;
    const acc = new Float32Array(nc);
    const seen = new Int32Array(nc).fill(-1);
    for (let b = 0; b < batch.users.length; b++) {
      acc.fill(0);
      for (let h = batch.indptr[b]!; h < batch.indptr[b + 1]!; h++) {
        const item = batch.items[h]!;
        const p = item >= 0 && item < n ? this.pos[item]! : -1;
        // x_u is binary: a repeated history item counts once
        if (p < 0 || seen[p] === b) continue;
        seen[p] = b;
        const row = p * nc;
        for (let j = 0; j < nc; j++) acc[j]! += w[row + j]!;
      }
      const base = b * n;
      if (nc === n) {
        out.set(acc, base);
      } else {
        out.fill(0, base, base + n);
        for (let j = 0; j < nc; j++) out[base + cand[j]!] = acc[j]!;
      }
    }
  }

  toArtifact(): ModelArtifact {
    return {
      kind: 'ease',
      version: 1,
      config: { ...this.params },
      arrays: { weights: this.weights, candidates: this.candidates, nItems: Int32Array.of(this.nItems) },
    };
  }

  static fromArtifact(a: ModelArtifact): EaseScorer {
    const m = new EaseScorer(EaseConfig.parse(a.config));
    const candidates = a.arrays.candidates as Int32Array;
    const weights = a.arrays.weights as Float32Array;
    const nItems = (a.arrays.nItems as Int32Array)[0]!;
    if (weights.length !== candidates.length * candidates.length) {
      throw new Error(`ease artifact: weights hold ${weights.length} values, expected ${candidates.length}^2`);
    }
    m.set(nItems, candidates, weights);
    return m;
  }
}

function positions(nItems: number, candidates: Int32Array): Int32Array {
  const pos = new Int32Array(nItems).fill(-1);
  for (let c = 0; c < candidates.length; c++) pos[candidates[c]!] = c;
  return pos;
}

export const easeSpec: ModelSpec = {
  name: 'ease',
  description: 'EASE: closed-form item-item linear autoencoder (Steck 2019), dense float32 SIMD inverse',
  schema: EaseConfig,
  create: (params) => new EaseScorer(params as Partial<EaseConfig>),
  fromArtifact: (a) => EaseScorer.fromArtifact(a),
  tuningGrid: [50, 100, 200, 300, 500, 750, 1000, 1500, 2000].map((lambda) => ({ lambda })),
};
