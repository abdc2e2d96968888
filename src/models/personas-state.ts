/**
 * The training state of a `personas` fit (src/models/personas.ts): the item vectors, the
 * histories and their cluster labels, the neighbour rows, the chunk gradient buffers and the
 * kernel arena (src/math/persona-kernels.ts) that holds W and Q, the chunks' gradient buffers,
 * the Adam moments and each chunk's scratch. Shared memory throughout, so pool workers see it without copying.
 */
import { arenaViews, personaArena } from '../math/persona-kernels.js';
import { sharedInt32, toShared } from '../math/pool.js';
import type { Rng } from '../math/rng.js';
import { chunkBuffers, CHUNKS, initItemVectors } from './item-train.js';
import type { TrainSet } from './model.js';
import type { PersonasConfig } from './personas-config.js';
import type { TrainState } from './personas-train.js';

/** The neighbour rows of the term (row j: the items i that keep j, with sim(i, j)). */
export interface NeighbourRows {
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly val: Float32Array;
}

/**
 * A fit's training state over the candidates `cand`; `poolMax` bounds the negatives of a batch
 * (all candidates for the exact softmax). The starting vectors are `initItemVectors`' from `rng`.
 */
export function personaTrainState(train: TrainSet, cfg: PersonasConfig, cand: Int32Array, rows: NeighbourRows, poolMax: number, rng: Rng): TrainState {
  const d = cfg.dim;
  const { nUsers, nItems } = train;
  const init = initItemVectors(train, cand, d, cfg.initStd, cfg.itemBias, rng);
  const hptr = toShared(train.userItems.indptr);
  const hidx = toShared(train.userItems.indices);
  let maxHist = 0;
  for (let u = 0; u < nUsers; u++) maxHist = Math.max(maxHist, hptr[u + 1]! - hptr[u]!);
  const arena = personaArena(nItems, d, CHUNKS, cfg.k + 1, maxHist + poolMax, CHUNKS * 2, maxHist, cfg.k);
  const { W, Q, B, gW, gQ } = arenaViews(arena, nItems);
  W.set(init.W);
  Q.set(init.Q);
  B.set(init.B);
  return {
    sPtr: toShared(rows.ptr), sIdx: toShared(rows.idx), sVal: toShared(rows.val), beta: cfg.itemItem,
    d, nItems, W, Q, B, hptr, hidx, assign: sharedInt32(hidx.length), ku: sharedInt32(nUsers),
    pool: new Int32Array(0), poolLogW: new Float32Array(0),
    ...chunkBuffers(nItems, d, false), gW, gQ, arena,
  };
}
