/**
 * The persona model's optimiser: ItemAdam's lazy Adam (src/models/item-train.ts: the rows of W, Q
 * and B that the batch's chunks touched, per-row step counts, chunk gradients summed in chunk order
 * and zeroed) with the W and Q rows stepped by the WebAssembly kernel over the arena
 * (src/math/persona-kernels.ts), in the same float64 arithmetic, split over the pool's workers
 * (rows are independent: the same result for any split); biases here, on the calling thread.
 * A row's sums read only the gradient buffers of the chunks that touched it (the other chunks'
 * rows are zero, and adding a zero changes no sum), so a history item of one user costs one
 * buffer instead of `CHUNKS`.
 */
import { adamArenaRows } from '../math/persona-kernels.js';
import { sharedFloat32, sharedInt32, splitRange, type WorkerPool } from '../math/pool.js';
import { biasStep, CHUNKS } from './item-train.js';
import type { TrainState } from './personas-train.js';

const B1 = 0.9;
const B2 = 0.999;

/** The optimiser's own state in shared memory (plain data: a pool worker rebuilds the optimiser over it with `PersonaAdam.over`). */
export interface AdamShared {
  readonly learnBias: boolean;
  readonly mB: Float32Array;
  readonly vB: Float32Array;
  readonly steps: Int32Array;
  /** Each row's position in the step's list plus 1 (0: not in it). */
  readonly at: Int32Array;
}

export class PersonaAdam {
  private readonly rows: Int32Array;
  private readonly masks: Uint8Array;
  private readonly c1: Float64Array;
  private readonly c2: Float64Array;
  /** The bias corrections of step count t at [t] (Math.pow, filled on first use). */
  private corr1 = new Float64Array(0);
  private corr2 = new Float64Array(0);

  constructor(
    private readonly st: TrainState,
    learnBias: boolean,
    private readonly pool: WorkerPool | null,
    private readonly kernelUrl: string,
    readonly shared: AdamShared = { learnBias, mB: sharedFloat32(st.nItems), vB: sharedFloat32(st.nItems), steps: sharedInt32(st.nItems), at: sharedInt32(st.nItems) },
  ) {
    const n = st.nItems;
    const a = st.arena;
    const buf = a.memory.buffer;
    this.rows = new Int32Array(buf, a.rows, n);
    if (CHUNKS > 8) throw new Error(`PersonaAdam: a row's chunk mask is one byte, so CHUNKS (${CHUNKS}) must be at most 8`);
    this.masks = new Uint8Array(buf, a.masks, n);
    this.c1 = new Float64Array(buf, a.c1, n);
    this.c2 = new Float64Array(buf, a.c2, n);
  }

  /** The optimiser over `shared` (in a pool worker: the state and arena of the calling thread's copy of the training state). */
  static over(st: TrainState, shared: AdamShared): PersonaAdam {
    return new PersonaAdam(st, shared.learnBias, null, '', shared);
  }

  /**
   * The rows touched by chunks [0, chunks), each once, in first-touch order (chunk by chunk), with
   * the chunks that touched each; clears the chunks' touch marks and counts. Returns the count.
   */
  private union(chunks: number): number {
    const { st, rows, masks } = this;
    const { at } = this.shared;
    let m = 0;
    for (let c = 0; c < chunks; c++) {
      const t = st.touched[c]!;
      const mk = st.marks[c]!;
      for (let r = 0; r < st.nTouched[c]!; r++) {
        const j = t[r]!;
        mk[j] = 0;
        let p = at[j]! - 1;
        if (p < 0) {
          p = m++;
          at[j] = m;
          rows[p] = j;
          masks[p] = 0;
        }
        masks[p] = masks[p]! | (1 << c);
      }
      st.nTouched[c] = 0;
    }
    return m;
  }

  /** Bias corrections 1 / (1 - B^t) for step counts up to t, from Math.pow (as each row's own call would give). */
  private corrections(t: number): void {
    if (t < this.corr1.length) return;
    const n = Math.max(2 * t, 1024);
    this.corr1 = Float64Array.from({ length: n }, (_, s) => 1 / (1 - Math.pow(B1, s)));
    this.corr2 = Float64Array.from({ length: n }, (_, s) => 1 / (1 - Math.pow(B2, s)));
  }

  /**
   * The first part of a step: the rows touched by chunks [0, chunks) into the arena's list with
   * their chunk masks and bias corrections, and the biases' steps. Returns the number of rows,
   * whose W and Q rows `adamArenaRows` then steps (any split).
   */
  prepare(chunks: number, lr: number): number {
    const { st, rows, masks } = this;
    const { at, steps, mB, vB, learnBias } = this.shared;
    const m = this.union(chunks);
    for (let r = 0; r < m; r++) {
      const j = rows[r]!;
      at[j] = 0;
      const t = ++steps[j]!;
      this.corrections(t);
      const c1 = (this.c1[r] = this.corr1[t]!);
      const c2 = (this.c2[r] = this.corr2[t]!);
      biasStep(st, mB, vB, j, chunks, learnBias, lr, c1, c2, masks[r]!);
    }
    return m;
  }

  /** One step over the rows touched by chunks [0, chunks); L2 weight `l2` on those rows. */
  async step(chunks: number, lr: number, l2: number): Promise<void> {
    const { st } = this;
    const m = this.prepare(chunks, lr);
    const { pool } = this;
    // small steps are not worth a round trip to the workers
    if (!pool || m < 256) adamArenaRows(st.arena, chunks, 0, m, lr, l2);
    else await Promise.all(splitRange(m, pool.size).map(([lo, hi]) => pool.run<void>(this.kernelUrl, 'adamChunk', [st.arena, chunks, lo, hi, lr, l2])));
  }
}
