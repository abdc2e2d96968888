/**
 * A persona-model epoch on the pool's workers with one message per worker per epoch: the calling
 * thread shuffles the users, draws the epoch's seed and every batch's negatives (the random
 * streams of `itemEpoch` in src/models/item-train.ts, in the same order), then the workers run
 * the whole epoch over shared memory, meeting at a barrier (Atomics on a shared counter) after
 * each batch's gradient chunks (the last to arrive runs the optimiser's serial part: the touched
 * rows and the bias steps) and after the W and Q rows' Adam. Each gradient chunk writes its own
 * buffers and Adam's rows are independent, so the result is `itemEpoch`'s with the inline
 * optimiser step, bit for bit, whatever the number of workers and whoever ran what.
 */
import { adamArenaRows } from '../math/persona-kernels.js';
import { sharedInt32, splitRange, type WorkerPool } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { CHUNKS, itemEpoch, type EpochRun } from './item-train.js';
import { PersonaAdam, type AdamShared } from './personas-adam.js';
import { gradChunk, type StepParams, type TrainState } from './personas-train.js';

/** This module, for the pool's workers (epochWorker). */
const epochUrl = new URL(import.meta.url.endsWith('.ts') ? './personas-epoch.ts' : './personas-epoch.js', import.meta.url).href;

/** One epoch's plan, shared by its workers (typed arrays in shared memory). */
export interface EpochPlan {
  /** The users in the epoch's order, cut into batches of batchSize. */
  readonly order: Int32Array;
  readonly batchSize: number;
  /** Batch b's negatives at items[ptr[b] .. ptr[b + 1]) with their log weights; ptr null: st.pool as set (the exact softmax). */
  readonly ptr: Int32Array | null;
  readonly items: Int32Array;
  readonly logW: Float32Array;
  /** Chunk c of batch b's loss at [b * CHUNKS + c]. */
  readonly losses: Float64Array;
  readonly lr: number;
  readonly l2: number;
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

// the barrier's fields: generation, arrivals, a failure flag, the current step's rows, the next chunk and row piece to take
const [GEN, ARRIVED, FAILED, ROWS, NEXT_CHUNK, NEXT_PIECE] = [0, 1, 2, 3, 4, 5];
/** Row pieces of an Adam step per worker (taken in any order: rows are independent). */
const PIECES = 4;

/**
 * Worker entry: worker `w` of `n` runs the epoch `plan` (see the file comment). The workers take
 * a batch's gradient chunks and the Adam step's row pieces from shared counters (so a slow worker
 * takes fewer); each chunk writes its own buffers, so the result does not depend on who ran it.
 */
export function epochWorker(st: TrainState, prm: StepParams, plan: EpochPlan, shared: AdamShared, w: number, n: number): void {
  const { sync, order, batchSize } = plan;
  try {
    const opt = PersonaAdam.over(st, shared);
    for (let b = 0, s = 0; s < order.length; b++, s += batchSize) {
      const batch = order.subarray(s, Math.min(order.length, s + batchSize));
      if (plan.ptr) {
        st.pool = plan.items.subarray(plan.ptr[b]!, plan.ptr[b + 1]!);
        st.poolLogW = plan.logW.subarray(plan.ptr[b]!, plan.ptr[b + 1]!);
      }
      const ranges = splitRange(batch.length, CHUNKS);
      for (let c = Atomics.add(sync, NEXT_CHUNK, 1); c < ranges.length; c = Atomics.add(sync, NEXT_CHUNK, 1)) {
        plan.losses[b * CHUNKS + c] = gradChunk(st, prm, batch.slice(ranges[c]![0], ranges[c]![1]), c);
      }
      barrier(sync, n, () => {
        Atomics.store(sync, ROWS, opt.prepare(ranges.length, plan.lr));
        Atomics.store(sync, NEXT_CHUNK, 0);
      });
      const pieces = splitRange(Atomics.load(sync, ROWS), PIECES * n);
      for (let p = Atomics.add(sync, NEXT_PIECE, 1); p < pieces.length; p = Atomics.add(sync, NEXT_PIECE, 1)) {
        adamArenaRows(st.arena, ranges.length, pieces[p]![0], pieces[p]![1], plan.lr, plan.l2);
      }
      barrier(sync, n, () => Atomics.store(sync, NEXT_PIECE, 0));
    }
  } catch (e) {
    Atomics.store(sync, FAILED, 1);
    Atomics.add(sync, GEN, 1);
    Atomics.notify(sync, GEN);
    throw e;
  }
}

/**
 * One epoch of `run`: `pooledEpoch` with a pool, else `itemEpoch` with the chunks and the
 * optimiser's step inline. The same result either way.
 */
export function personaEpoch(
  pool: WorkerPool | null, run: EpochRun<TrainState, StepParams>, rng: Rng, params: (seed: number) => StepParams, opt: PersonaAdam, lr: number, l2: number,
): Promise<number> {
  return pool ? pooledEpoch(pool, run, rng, params, opt, lr, l2) : itemEpoch(run, rng, params, (chunks) => opt.step(chunks, lr, l2));
}

/**
 * One epoch of `run` on the pool's workers (the pool must be idle: every worker takes part): `rng`
 * shuffles the users, seeds the hold-out draws (`params(seed)`) and draws each batch's negatives
 * from run.sampler (null: st.pool stays), as `itemEpoch` does. Returns the mean loss per user.
 */
export async function pooledEpoch(
  pool: WorkerPool, run: EpochRun<TrainState, StepParams>, rng: Rng, params: (seed: number) => StepParams, opt: PersonaAdam, lr: number, l2: number,
): Promise<number> {
  const { st, users, batchSize, sampler, negatives } = run;
  const order = rng.shuffle(Int32Array.from(users));
  const prm = params(rng.nextU32());
  const batches = Math.ceil(order.length / batchSize);
  let ptr: Int32Array | null = null;
  let items: Int32Array = new Int32Array(0);
  let logW: Float32Array = new Float32Array(0);
  if (sampler) {
    const drawn = Array.from({ length: batches }, () => sampler.draw(negatives, rng));
    ptr = sharedInt32(batches + 1);
    drawn.forEach((d, b) => (ptr![b + 1] = ptr![b]! + d.items.length));
    items = sharedInt32(ptr[batches]!);
    logW = new Float32Array(new SharedArrayBuffer(4 * ptr[batches]!));
    drawn.forEach((d, b) => {
      items.set(d.items, ptr![b]!);
      logW.set(d.logW, ptr![b]!);
    });
  }
  const losses = new Float64Array(new SharedArrayBuffer(8 * batches * CHUNKS));
  const plan: EpochPlan = { order: toSharedInt(order), batchSize, ptr, items, logW, losses, lr, l2, sync: sharedInt32(6) };
  const n = pool.size;
  await Promise.all(Array.from({ length: n }, (_, w) => pool.run<void>(epochUrl, 'epochWorker', [st, prm, plan, opt.shared, w, n])));
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
