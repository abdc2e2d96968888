/**
 * A persona-model epoch on the pool's workers with one message per worker per epoch: the calling
 * thread shuffles the users and draws the epoch's seed, starts the workers, then draws every
 * batch's negatives (the random streams of `itemEpoch` in src/models/item-train.ts, in the same
 * order) while the workers cluster the histories (pieces of equal history length, taken from a
 * shared counter); a worker waits for a batch's negatives only if they are not drawn yet. The
 * workers then run the batches over shared memory, meeting at a barrier (Atomics on a shared
 * counter) after each batch's gradient chunks and after the optimiser's pieces (the rows of W, Q
 * and B the batch touched, src/models/personas-adam.ts). Each gradient chunk writes its own
 * buffers, each user's clusters depend on that user alone and the optimiser's rows are
 * independent, so the result is `itemEpoch`'s after clustering with the inline optimiser step,
 * bit for bit, whatever the number of workers and whoever ran what.
 */
import { sharedInt32, splitRange, type WorkerPool } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { CHUNKS, itemEpoch, type EpochRun } from './item-train.js';
import { PersonaAdam, type AdamShared } from './personas-adam.js';
import { clusterChunk, gradChunk, type StepParams, type TrainState } from './personas-train.js';

/** This module, for the pool's workers (epochWorker). */
const epochUrl = new URL(import.meta.url.endsWith('.ts') ? './personas-epoch.ts' : './personas-epoch.js', import.meta.url).href;

/** How the epoch clusters the histories first (`clusterChunk`'s parameters). */
export interface ClusterStep {
  readonly kMax: number;
  readonly perPersona: number;
  readonly minItems: number;
  readonly iters: number;
}

/** One epoch's plan, shared by its workers (typed arrays in shared memory). */
export interface EpochPlan {
  /** The users in the epoch's order, cut into batches of batchSize. */
  readonly order: Int32Array;
  readonly batchSize: number;
  /**
   * Batch b's negatives at items[ptr[b] .. ptr[b + 1]) with their log weights, written by the
   * calling thread while the epoch runs (sync[DRAWN] batches so far); ptr null: st.pool as set
   * (the exact softmax).
   */
  readonly ptr: Int32Array | null;
  readonly items: Int32Array;
  readonly logW: Float32Array;
  /** Chunk c of batch b's loss at [b * CHUNKS + c]. */
  readonly losses: Float64Array;
  readonly lr: number;
  readonly l2: number;
  /** Clustering first: user pieces [cuts[p], cuts[p + 1]); null: the caller clustered. */
  readonly cluster: ClusterStep | null;
  readonly cuts: Int32Array;
  /** The workers' meeting point (see `barrier`). */
  readonly sync: Int32Array;
}

/**
 * Waits until all `n` workers arrive (generation counter); the last to arrive runs `last` first.
 * Throws when a worker has failed.
 */
function barrier(sync: Int32Array, n: number, last: () => void): void {
  const gen = Atomics.load(sync, GEN);
  if (Atomics.load(sync, FAILED)) throw new Error('personas: another training worker failed');
  if (Atomics.add(sync, ARRIVED, 1) === n - 1) {
    last();
    Atomics.store(sync, ARRIVED, 0);
    Atomics.add(sync, GEN, 1);
    Atomics.notify(sync, GEN);
    return;
  }
  while (Atomics.load(sync, GEN) === gen) Atomics.wait(sync, GEN, gen);
  if (Atomics.load(sync, FAILED)) throw new Error('personas: another training worker failed');
}

// the barrier's fields: generation, arrivals, a failure flag, the next chunk, optimiser piece and
// clustering piece to take, and the batches whose negatives are drawn
const [GEN, ARRIVED, FAILED, NEXT_CHUNK, NEXT_PIECE, NEXT_CLUSTER, DRAWN] = [0, 1, 2, 3, 4, 5, 6];
const SYNC_FIELDS = 7;

/**
 * Worker entry: worker `w` of `n` runs the epoch `plan` (see the file comment). The workers take
 * clustering pieces, a batch's gradient chunks (the costliest first) and the Adam step's row
 * pieces from shared counters (so a slow worker takes fewer); each chunk writes its own buffers,
 * so the result does not depend on who ran it.
 */
export function epochWorker(st: TrainState, prm: StepParams, plan: EpochPlan, shared: AdamShared, w: number, n: number): void {
  const { sync, order, batchSize, cluster, cuts } = plan;
  try {
    if (cluster) {
      // clustering slot w: one per worker (the arena has CHUNKS * 2 >= n of them)
      for (let p = Atomics.add(sync, NEXT_CLUSTER, 1); p + 1 < cuts.length; p = Atomics.add(sync, NEXT_CLUSTER, 1)) {
        clusterChunk(st, cuts[p]!, cuts[p + 1]!, cluster.kMax, cluster.perPersona, cluster.minItems, cluster.iters, w);
      }
      barrier(sync, n, () => {});
    }
    const opt = PersonaAdam.over(st, shared);
    const taken = new Int32Array(CHUNKS);
    for (let b = 0, s = 0; s < order.length; b++, s += batchSize) {
      const batch = order.subarray(s, Math.min(order.length, s + batchSize));
      if (plan.ptr) {
        waitDrawn(sync, b);
        st.pool = plan.items.subarray(plan.ptr[b]!, plan.ptr[b + 1]!);
        st.poolLogW = plan.logW.subarray(plan.ptr[b]!, plan.ptr[b + 1]!);
      }
      const ranges = splitRange(batch.length, CHUNKS);
      chunkOrder(st, batch, ranges, taken);
      for (let i = Atomics.add(sync, NEXT_CHUNK, 1); i < ranges.length; i = Atomics.add(sync, NEXT_CHUNK, 1)) {
        const c = taken[i]!;
        plan.losses[b * CHUNKS + c] = gradChunk(st, prm, batch.slice(ranges[c]![0], ranges[c]![1]), c);
      }
      barrier(sync, n, () => Atomics.store(sync, NEXT_CHUNK, 0));
      // the optimiser's pieces (the touched lists are complete), then one clears the touch marks
      const pieces = opt.pieces(ranges.length);
      for (let p = Atomics.add(sync, NEXT_PIECE, 1); p < pieces; p = Atomics.add(sync, NEXT_PIECE, 1)) opt.stepPiece(p, ranges.length, plan.lr, plan.l2);
      barrier(sync, n, () => {
        opt.clear(ranges.length);
        Atomics.store(sync, NEXT_PIECE, 0);
      });
    }
  } catch (e) {
    fail(sync);
    throw e;
  }
}

/** Marks the epoch failed and wakes every waiting worker. */
function fail(sync: Int32Array): void {
  Atomics.store(sync, FAILED, 1);
  Atomics.add(sync, GEN, 1);
  Atomics.notify(sync, GEN);
  Atomics.add(sync, DRAWN, 1 << 30);
  Atomics.notify(sync, DRAWN);
}

/** Waits until batch b's negatives are drawn; throws when the epoch has failed. */
function waitDrawn(sync: Int32Array, b: number): void {
  for (let drawn = Atomics.load(sync, DRAWN); drawn <= b; drawn = Atomics.load(sync, DRAWN)) Atomics.wait(sync, DRAWN, drawn);
  if (Atomics.load(sync, FAILED)) throw new Error('personas: the epoch failed');
}

/**
 * The order in which the workers take a batch's chunks: the costliest first (a chunk's cost
 * estimated as the sum over its users of (history + negatives) x (personas + 1)), so that the
 * last chunk taken is a cheap one. Every worker computes the same order; the results do not depend on it.
 */
function chunkOrder(st: TrainState, batch: Int32Array, ranges: readonly [number, number][], out: Int32Array): void {
  const cost = new Float64Array(ranges.length);
  for (let c = 0; c < ranges.length; c++) {
    for (let i = ranges[c]![0]; i < ranges[c]![1]; i++) {
      const u = batch[i]!;
      cost[c] += (st.hptr[u + 1]! - st.hptr[u]! + st.pool.length) * (st.ku[u]! + 1);
    }
    out[c] = c;
  }
  out.subarray(0, ranges.length).sort((a, b) => cost[b]! - cost[a]! || a - b);
}

/**
 * One epoch of `run`, after clustering the histories when `cluster` is given: `pooledEpoch` with
 * a pool, else `clusterChunk` over every user and `itemEpoch` with the chunks and the optimiser's
 * step inline. The same result either way.
 */
export function personaEpoch(
  pool: WorkerPool | null, run: EpochRun<TrainState, StepParams>, rng: Rng, params: (seed: number) => StepParams, opt: PersonaAdam, lr: number, l2: number,
  cluster: ClusterStep | null = null,
): Promise<number> {
  if (pool) return pooledEpoch(pool, run, rng, params, opt, lr, l2, cluster);
  if (cluster) clusterChunk(run.st, 0, run.st.ku.length, cluster.kMax, cluster.perPersona, cluster.minItems, cluster.iters, 0);
  return itemEpoch(run, rng, params, (chunks) => opt.step(chunks, lr, l2));
}

/** Clustering pieces per worker (pieces of about equal history length, taken in any order). */
const CLUSTER_PIECES = 16;

/**
 * Cuts users [0, nUsers) into about `parts` ranges of about equal summed history length
 * (hptr: CSR offsets); returns the parts + 1 boundaries, shared.
 */
function historyCuts(hptr: Int32Array, nUsers: number, parts: number): Int32Array {
  const total = hptr[nUsers]! - hptr[0]!;
  const cuts: number[] = [0];
  for (let p = 1, u = 0; p < parts; p++) {
    const target = hptr[0]! + (total * p) / parts;
    while (u < nUsers && hptr[u]! < target) u++;
    if (u > cuts[cuts.length - 1]!) cuts.push(u);
  }
  if (nUsers > cuts[cuts.length - 1]!) cuts.push(nUsers);
  return toSharedInt(Int32Array.from(cuts));
}

/**
 * One epoch of `run` on the pool's workers (the pool must be idle: every worker takes part): `rng`
 * shuffles the users, seeds the hold-out draws (`params(seed)`) and draws each batch's negatives
 * from run.sampler (null: st.pool stays), as `itemEpoch` does; the draws run on this thread while
 * the workers cluster (`cluster`, when given) and train. Returns the mean loss per user.
 */
export async function pooledEpoch(
  pool: WorkerPool, run: EpochRun<TrainState, StepParams>, rng: Rng, params: (seed: number) => StepParams, opt: PersonaAdam, lr: number, l2: number,
  cluster: ClusterStep | null = null,
): Promise<number> {
  const { st, users, batchSize, sampler, negatives } = run;
  const order = rng.shuffle(Int32Array.from(users));
  const prm = params(rng.nextU32());
  const batches = Math.ceil(order.length / batchSize);
  // room for every batch's distinct negatives (at most `negatives` each)
  const cap = sampler ? batches * negatives : 0;
  const ptr = sampler ? sharedInt32(batches + 1) : null;
  const items = sharedInt32(cap);
  const logW = new Float32Array(new SharedArrayBuffer(4 * cap));
  const losses = new Float64Array(new SharedArrayBuffer(8 * batches * CHUNKS));
  const nUsers = st.ku.length;
  const n = pool.size;
  const cuts = cluster ? historyCuts(st.hptr, nUsers, CLUSTER_PIECES * n) : sharedInt32(0);
  const sync = sharedInt32(SYNC_FIELDS);
  const plan: EpochPlan = { order: toSharedInt(order), batchSize, ptr, items, logW, losses, lr, l2, cluster, cuts, sync };
  const done = Promise.all(Array.from({ length: n }, (_, w) => pool.run<void>(epochUrl, 'epochWorker', [st, prm, plan, opt.shared, w, n])));
  // the negatives, batch by batch in rng order, published as they are drawn
  try {
    if (sampler && ptr) {
      for (let b = 0; b < batches; b++) {
        if (Atomics.load(sync, FAILED)) break;
        const d = sampler.draw(negatives, rng);
        items.set(d.items, ptr[b]!);
        logW.set(d.logW, ptr[b]!);
        ptr[b + 1] = ptr[b]! + d.items.length;
        Atomics.store(sync, DRAWN, b + 1);
        Atomics.notify(sync, DRAWN);
      }
    }
  } catch (e) {
    fail(sync);
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  let loss = 0;
  for (let b = 0, s = 0; s < order.length; b++, s += batchSize) {
    const chunks = Math.min(CHUNKS, Math.min(order.length, s + batchSize) - s);
    for (let c = 0; c < chunks; c++) loss += losses[b * CHUNKS + c]!;
  }
  return loss / Math.max(1, users.length);
}

function toSharedInt(a: Int32Array): Int32Array {
  const s = sharedInt32(a.length);
  s.set(a);
  return s;
}
