/**
 * The training plumbing shared by the item-vector models trained with a held-out sampled softmax
 * (`personas` and `din`): the item state and its per-chunk gradient buffers, the touched-row
 * bookkeeping, each user's held-out targets and scored list, a batch's gradient over fixed chunks
 * (on pool workers or inline), a sparse (lazy) Adam over the item rows a batch touched, the
 * popularity-skewed negative sampler, and the starting item vectors. Each model keeps its own
 * per-user gradient kernel (personas-train.ts, din-train.ts) and worker entry `gradChunk`.
 */
import { sharedFloat32, sharedInt32, splitRange, WorkerPool } from '../math/pool.js';
import { Rng } from '../math/rng.js';
import type { TrainSet } from './model.js';

/**
 * Gradient chunks per batch: fixed, so the reduction order (and so the result) never depends on
 * the thread count.
 */
export const CHUNKS = 4;

/** What the shared plumbing reads or writes of a model's training state; typed arrays are shared between threads. */
export interface ItemTrainState {
  readonly d: number;
  readonly nItems: number;
  /** Item context (or behaviour) vectors W, target vectors Q and biases B (item j at [j*d ..]). */
  readonly W: Float32Array;
  readonly Q: Float32Array;
  readonly B: Float32Array;
  /** The users' histories (CSR over users, item indices). */
  readonly hptr: Int32Array;
  readonly hidx: Int32Array;
  /** The batch's shared negatives (distinct items) and their log importance weights log(count / (N q)). */
  pool: Int32Array;
  poolLogW: Float32Array;
  /** Per chunk: dense gradient buffers (only touched rows are non-zero), the touched rows and their count. */
  readonly gW: readonly Float32Array[];
  readonly gQ: readonly Float32Array[];
  readonly gB: readonly Float32Array[];
  readonly touched: readonly Int32Array[];
  readonly marks: readonly Uint8Array[];
  readonly nTouched: Int32Array;
}

/**
 * The per-chunk gradient buffers and touched-row lists of `CHUNKS` chunks, in shared memory
 * (`withRows` false: no gW and gQ buffers, the caller has its own).
 */
export function chunkBuffers(nItems: number, d: number, withRows = true): Pick<ItemTrainState, 'gW' | 'gQ' | 'gB' | 'touched' | 'marks' | 'nTouched'> {
  return {
    gW: withRows ? Array.from({ length: CHUNKS }, () => sharedFloat32(nItems * d)) : [],
    gQ: withRows ? Array.from({ length: CHUNKS }, () => sharedFloat32(nItems * d)) : [],
    gB: Array.from({ length: CHUNKS }, () => sharedFloat32(nItems)),
    touched: Array.from({ length: CHUNKS }, () => sharedInt32(nItems)),
    marks: Array.from({ length: CHUNKS }, () => new Uint8Array(new SharedArrayBuffer(nItems))),
    nTouched: sharedInt32(CHUNKS),
  };
}

/** The users a held-out split can train on: those with 2+ history items, ascending. */
export function activeUsers(hptr: Int32Array, nUsers: number): Int32Array {
  const active: number[] = [];
  for (let u = 0; u < nUsers; u++) if (hptr[u + 1]! - hptr[u]! >= 2) active.push(u);
  return Int32Array.from(active);
}

/** Marks item `j` as touched by `chunk` (once), so that the optimiser steps only the rows a batch touched. */
export function touch(st: Pick<ItemTrainState, 'marks' | 'touched' | 'nTouched'>, chunk: number, j: number): void {
  const mk = st.marks[chunk]!;
  if (mk[j]) return;
  mk[j] = 1;
  st.touched[chunk]![st.nTouched[chunk]!++] = j;
}

/**
 * One user's split for one epoch and the list it is scored on (views of per-thread scratch, valid
 * until the next call): roles[h] = 1 when history item h is a held-out target, 0 when it is input;
 * list = the targets first (nt of them, log weight 0), then the batch's negatives that are not in
 * the history (log weights from the pool); len entries in all.
 */
export interface HeldOut {
  readonly roles: Uint8Array;
  readonly list: Int32Array;
  readonly logw: Float64Array;
  readonly nt: number;
  readonly len: number;
}

// per-thread scratch, grown on demand
let roleBuf = new Uint8Array(0);
let listBuf = new Int32Array(0);
let logwBuf = new Float64Array(0);
let mark = new Uint8Array(0);

/**
 * Draws user `u`'s held-out targets (each history item with probability `holdout`, from the
 * user's own stream of `seed`; at least one target and one input) and builds the list they are
 * scored on against the batch's negatives (the user's whole history left out). Needs 2+ items.
 */
export function heldOut(st: Pick<ItemTrainState, 'nItems' | 'hptr' | 'hidx' | 'pool' | 'poolLogW'>, u: number, seed: number, holdout: number): HeldOut {
  const { pool, poolLogW } = st;
  const h0 = st.hptr[u]!;
  const n = st.hptr[u + 1]! - h0;
  if (mark.length < st.nItems) mark = new Uint8Array(st.nItems);
  if (roleBuf.length < n) roleBuf = new Uint8Array(n);
  const rng = new Rng(seed).derive(u);
  let nT = 0;
  for (let h = 0; h < n; h++) nT += roleBuf[h] = rng.next() < holdout ? 1 : 0;
  if (nT === 0) roleBuf[n - 1] = 1;
  if (nT === n) roleBuf[0] = 0;
  const cap = n + pool.length;
  if (listBuf.length < cap) {
    listBuf = new Int32Array(cap);
    logwBuf = new Float64Array(cap);
  }
  let nt = 0;
  for (let h = 0; h < n; h++) {
    const j = st.hidx[h0 + h]!;
    mark[j] = 1;
    if (roleBuf[h]) {
      listBuf[nt] = j;
      logwBuf[nt++] = 0;
    }
  }
  let len = nt;
  for (let c = 0; c < pool.length; c++) {
    const j = pool[c]!;
    if (mark[j]) continue;
    listBuf[len] = j;
    logwBuf[len++] = poolLogW[c]!;
  }
  for (let h = 0; h < n; h++) mark[st.hidx[h0 + h]!] = 0;
  return { roles: roleBuf, list: listBuf, logw: logwBuf, nt, len };
}

/** The worker pool of a fit: up to `CHUNKS` workers, or null for one thread (chunks run inline). */
export function chunkPool(threads: number): WorkerPool | null {
  const n = Math.max(1, Math.min(threads, CHUNKS));
  return n > 1 ? new WorkerPool(n) : null;
}

/** The learning rate of epoch `e` (from 0): `lr` falling linearly to lr x lrEnd by the last epoch. */
export function decayedLr(lr: number, lrEnd: number, e: number, epochs: number): number {
  const decay = epochs > 1 ? 1 - ((1 - lrEnd) * e) / (epochs - 1) : 1;
  return lr * decay;
}

/** What a fit's epochs share: the state, the users, the batches and where the gradient kernel runs. */
export interface EpochRun<S, P> {
  readonly st: S;
  /** The users trained on (`activeUsers`). */
  readonly users: Int32Array;
  readonly batchSize: number;
  /** Each batch draws `negatives` shared negatives into st.pool; null: st.pool stays as the caller set it (a full softmax). */
  readonly sampler: NegativeSampler | null;
  readonly negatives: number;
  readonly pool: WorkerPool | null;
  /** The module exporting `gradChunk` (the worker entry), and that function itself for inline runs. */
  readonly kernelUrl: string;
  readonly gradChunk: (st: S, prm: P, users: Int32Array, chunk: number) => number;
}

/**
 * One pass over the users in seeded-shuffled minibatches: `rng` shuffles the users, then seeds the
 * epoch's hold-out draws (`params(seed)` is the kernel's step parameters), then draws each batch's
 * negatives. A batch is cut into `CHUNKS` fixed ranges; chunk c runs `gradChunk(st, prm, users, c)`
 * on a pool worker (or inline) into the chunk's buffers, then `step(chunks)` applies the update.
 * Returns the mean loss per user.
 */
export async function itemEpoch<S extends Pick<ItemTrainState, 'pool' | 'poolLogW'>, P>(
  run: EpochRun<S, P>, rng: Rng, params: (seed: number) => P, step: (chunks: number) => void | Promise<void>,
): Promise<number> {
  const { st, users, batchSize, pool, kernelUrl, gradChunk } = run;
  const order = rng.shuffle(Int32Array.from(users));
  const prm = params(rng.nextU32());
  let loss = 0;
  for (let s = 0; s < order.length; s += batchSize) {
    const batch = order.subarray(s, Math.min(order.length, s + batchSize));
    if (run.sampler) {
      const drawn = run.sampler.draw(run.negatives, rng);
      st.pool = drawn.items;
      st.poolLogW = drawn.logW;
    }
    const ranges = splitRange(batch.length, CHUNKS);
    const losses = await Promise.all(ranges.map(([a, b], c) => {
      const us = batch.slice(a, b);
      return pool ? pool.run<number>(kernelUrl, 'gradChunk', [st, prm, us, c]) : Promise.resolve(gradChunk(st, prm, us, c));
    }));
    for (const l of losses) loss += l;
    await step(ranges.length);
  }
  return loss / Math.max(1, users.length);
}

/** The parts of a training state the optimiser reads. */
/**
 * The rows touched by chunks [0, chunks), each once, in first-touch order (chunk by chunk), written
 * to `out`; clears the chunks' touch marks and counts. `inUnion` (all zero on entry) marks the rows
 * taken: the caller clears each when it steps it. Returns the number of rows.
 */
export function touchedUnion(st: Pick<ItemTrainState, 'touched' | 'marks' | 'nTouched'>, chunks: number, inUnion: Uint8Array, out: Int32Array): number {
  let m = 0;
  for (let c = 0; c < chunks; c++) {
    const t = st.touched[c]!;
    const mk = st.marks[c]!;
    for (let r = 0; r < st.nTouched[c]!; r++) {
      const j = t[r]!;
      mk[j] = 0;
      if (!inUnion[j]) {
        inUnion[j] = 1;
        out[m++] = j;
      }
    }
    st.nTouched[c] = 0;
  }
  return m;
}

/**
 * Sums item j's bias gradient over chunks [0, chunks) and zeroes it; with `learn`, one Adam step of
 * B_j (moments mB, vB; bias corrections c1, c2 of the row's step count). `mask` (bit c = chunk c)
 * leaves out chunks that did not touch j (their entry is zero: the same sum).
 */
export function biasStep(st: Pick<ItemTrainState, 'B' | 'gB'>, mB: Float32Array, vB: Float32Array, j: number, chunks: number, learn: boolean, lr: number, c1: number, c2: number, mask = -1): void {
  let g = 0;
  for (let c = 0; c < chunks; c++) {
    if (!(mask & (1 << c))) continue;
    g += st.gB[c]![j]!;
    st.gB[c]![j] = 0;
  }
  if (!learn) return;
  const mb = (mB[j] = B1 * mB[j]! + (1 - B1) * g);
  const vb = (vB[j] = B2 * vB[j]! + (1 - B2) * g * g);
  st.B[j] = st.B[j]! - (lr * mb * c1) / (Math.sqrt(vb * c2) + 1e-8);
}

export type AdamState = Pick<ItemTrainState, 'd' | 'nItems' | 'W' | 'Q' | 'B' | 'gW' | 'gQ' | 'gB' | 'touched' | 'marks' | 'nTouched'>;

const B1 = 0.9;
const B2 = 0.999;

/**
 * Adam on the rows of W, Q and B that the batch's chunks touched (targets, sampled negatives,
 * kept history items); untouched rows and their moments stay as they are (lazy Adam). Each row
 * keeps its own step count for the bias correction. Chunk gradients are summed in chunk order and
 * zeroed, so the result never depends on which thread ran a chunk. Cost: touched rows x d.
 */
export class ItemAdam {
  private readonly mW: Float32Array;
  private readonly vW: Float32Array;
  private readonly mQ: Float32Array;
  private readonly vQ: Float32Array;
  private readonly mB: Float32Array;
  private readonly vB: Float32Array;
  private readonly steps: Int32Array;
  private readonly union: Int32Array;
  private readonly inUnion: Uint8Array;

  constructor(
    private readonly st: AdamState,
    private readonly learnBias: boolean,
  ) {
    const n = st.nItems * st.d;
    this.mW = new Float32Array(n);
    this.vW = new Float32Array(n);
    this.mQ = new Float32Array(n);
    this.vQ = new Float32Array(n);
    this.mB = new Float32Array(st.nItems);
    this.vB = new Float32Array(st.nItems);
    this.steps = new Int32Array(st.nItems);
    this.union = new Int32Array(st.nItems);
    this.inUnion = new Uint8Array(st.nItems);
  }

  /** One step over the rows touched by chunks [0, chunks); L2 weight `l2` on those rows. */
  step(chunks: number, lr: number, l2: number): void {
    const { st, union, inUnion } = this;
    const d = st.d;
    const m = touchedUnion(st, chunks, inUnion, union);
    for (let r = 0; r < m; r++) {
      const j = union[r]!;
      inUnion[j] = 0;
      const t = ++this.steps[j]!;
      const c1 = 1 / (1 - Math.pow(B1, t));
      const c2 = 1 / (1 - Math.pow(B2, t));
      this.row(st.W, st.gW, this.mW, this.vW, j * d, d, chunks, lr, l2, c1, c2);
      this.row(st.Q, st.gQ, this.mQ, this.vQ, j * d, d, chunks, lr, l2, c1, c2);
      biasStep(st, this.mB, this.vB, j, chunks, this.learnBias, lr, c1, c2);
    }
  }

  private row(X: Float32Array, G: readonly Float32Array[], M: Float32Array, V: Float32Array, o: number, d: number, chunks: number, lr: number, l2: number, c1: number, c2: number): void {
    for (let x = o; x < o + d; x++) {
      let g = 0;
      for (let c = 0; c < chunks; c++) {
        g += G[c]![x]!;
        G[c]![x] = 0;
      }
      g += l2 * X[x]!;
      const m = (M[x] = B1 * M[x]! + (1 - B1) * g);
      const v = (V[x] = B2 * V[x]! + (1 - B2) * g * g);
      X[x] = X[x]! - (lr * m * c1) / (Math.sqrt(v * c2) + 1e-8);
    }
  }
}

/** Draws a batch's shared negatives with replacement, q(j) ~ popularity^power; distinct items with log(count / (N q)). */
export class NegativeSampler {
  private readonly cdf: Float64Array;
  private readonly q: Float64Array;
  private readonly count: Int32Array;

  constructor(
    private readonly cand: Int32Array,
    popularity: Int32Array,
    power: number,
  ) {
    this.q = Float64Array.from(cand, (j) => Math.pow(Math.max(1, popularity[j]!), power));
    let sum = 0;
    for (const x of this.q) sum += x;
    this.cdf = new Float64Array(cand.length);
    let acc = 0;
    for (let c = 0; c < cand.length; c++) {
      this.q[c] = this.q[c]! / sum;
      acc += this.q[c]!;
      this.cdf[c] = acc;
    }
    this.count = new Int32Array(cand.length);
  }

  /** `n` draws from `rng`; returns the distinct items and their log weights. */
  draw(n: number, rng: Rng): { items: Int32Array; logW: Float32Array } {
    const { cdf, count } = this;
    const drawn: number[] = [];
    const last = cdf.length - 1;
    for (let s = 0; s < n; s++) {
      const r = rng.next() * cdf[last]!;
      let lo = 0;
      let hi = last;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > r) hi = mid;
        else lo = mid + 1;
      }
      if (count[lo]!++ === 0) drawn.push(lo);
    }
    drawn.sort((a, b) => a - b);
    const items = new Int32Array(drawn.length);
    const logW = new Float32Array(drawn.length);
    drawn.forEach((c, m) => {
      items[m] = this.cand[c]!;
      logW[m] = Math.log(count[c]! / (n * this.q[c]!));
      count[c] = 0;
    });
    return { items, logW };
  }
}

/**
 * Starting item vectors in shared memory: W and Q normal(0, initStd) for the candidates (seeded
 * from `rng`, candidate order), B the centred log popularity when `itemBias` (else 0).
 */
export function initItemVectors(train: TrainSet, cand: Int32Array, d: number, initStd: number, itemBias: boolean, rng: Rng): { W: Float32Array; Q: Float32Array; B: Float32Array } {
  const nItems = train.nItems;
  const W = sharedFloat32(nItems * d);
  const Q = sharedFloat32(nItems * d);
  const B = sharedFloat32(nItems);
  let meanLog = 0;
  for (const j of cand) meanLog += Math.log(train.itemPopularity[j]! + 1);
  meanLog /= Math.max(1, cand.length);
  for (const j of cand) {
    for (let x = 0; x < d; x++) W[j * d + x] = initStd * rng.normal();
    for (let x = 0; x < d; x++) Q[j * d + x] = initStd * rng.normal();
    if (itemBias) B[j] = Math.log(train.itemPopularity[j]! + 1) - meanLog;
  }
  return { W, Q, B };
}
