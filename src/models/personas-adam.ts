/**
 * The persona model's optimiser: ItemAdam's lazy Adam (src/models/item-train.ts: the rows of W, Q
 * and B that the batch's chunks touched, per-row step counts, chunk gradients summed in chunk order
 * and zeroed) with the W and Q rows stepped by the WebAssembly kernel over the arena
 * (src/math/persona-kernels.ts), in the same float64 arithmetic, split over the pool's workers
 * (rows are independent: the same result for any split); biases here, on the calling thread.
 */
import { adamArenaRows } from '../math/persona-kernels.js';
import { splitRange, type WorkerPool } from '../math/pool.js';
import { biasStep, touchedUnion } from './item-train.js';
import type { TrainState } from './personas-train.js';

const B1 = 0.9;
const B2 = 0.999;

export class PersonaAdam {
  private readonly mB: Float32Array;
  private readonly vB: Float32Array;
  private readonly steps: Int32Array;
  private readonly inUnion: Uint8Array;
  private readonly rows: Int32Array;
  private readonly c1: Float64Array;
  private readonly c2: Float64Array;

  constructor(
    private readonly st: TrainState,
    private readonly learnBias: boolean,
    private readonly pool: WorkerPool | null,
    private readonly kernelUrl: string,
  ) {
    const n = st.nItems;
    this.mB = new Float32Array(n);
    this.vB = new Float32Array(n);
    this.steps = new Int32Array(n);
    this.inUnion = new Uint8Array(n);
    const a = st.arena;
    const buf = a.memory.buffer;
    this.rows = new Int32Array(buf, a.rows, n);
    this.c1 = new Float64Array(buf, a.c1, n);
    this.c2 = new Float64Array(buf, a.c2, n);
  }

  /** One step over the rows touched by chunks [0, chunks); L2 weight `l2` on those rows. */
  async step(chunks: number, lr: number, l2: number): Promise<void> {
    const { st, rows, inUnion } = this;
    const m = touchedUnion(st, chunks, inUnion, rows);
    for (let r = 0; r < m; r++) {
      const j = rows[r]!;
      inUnion[j] = 0;
      const t = ++this.steps[j]!;
      const c1 = (this.c1[r] = 1 / (1 - Math.pow(B1, t)));
      const c2 = (this.c2[r] = 1 / (1 - Math.pow(B2, t)));
      biasStep(st, this.mB, this.vB, j, chunks, this.learnBias, lr, c1, c2);
    }
    const { pool } = this;
    // small steps are not worth a round trip to the workers
    if (!pool || m < 256) adamArenaRows(st.arena, chunks, 0, m, lr, l2);
    else await Promise.all(splitRange(m, pool.size).map(([lo, hi]) => pool.run<void>(this.kernelUrl, 'adamChunk', [st.arena, chunks, lo, hi, lr, l2])));
  }
}
