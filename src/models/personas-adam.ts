/**
 * The persona model's optimiser: ItemAdam's lazy Adam (src/models/item-train.ts: the rows of W, Q
 * and B that the batch's chunks touched, per-row step counts, chunk gradients summed in chunk order
 * and zeroed) with the W and Q rows stepped by the WebAssembly kernel over the arena
 * (src/math/persona-kernels.ts), in the same float64 arithmetic. A step is cut into pieces that any
 * thread can run in any order: a piece is a stretch of one chunk's touched list, and steps the
 * rows of it that no earlier chunk touched (each row once in the whole step), with the chunks that
 * touched it read from the touch marks. Rows are independent, so the result is the same for any
 * split. A row's sums read only the gradient buffers of the chunks that touched it (the other
 * chunks' rows are zero, and adding a zero changes no sum), so a history item of one user costs
 * one buffer instead of `CHUNKS`.
 */
import { adamArenaRows } from '../math/persona-kernels.js';
import { sharedFloat32, sharedInt32 } from '../math/pool.js';
import { biasStep, CHUNKS } from './item-train.js';
import type { TrainState } from './personas-train.js';

const B1 = 0.9;
const B2 = 0.999;

/** Touched-list entries per piece of a step. */
export const PIECE_ROWS = 256;

/** The optimiser's own state in shared memory (plain data: a pool worker rebuilds the optimiser over it with `PersonaAdam.over`). */
export interface AdamShared {
  readonly learnBias: boolean;
  readonly mB: Float32Array;
  readonly vB: Float32Array;
  readonly steps: Int32Array;
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
    readonly shared: AdamShared = { learnBias, mB: sharedFloat32(st.nItems), vB: sharedFloat32(st.nItems), steps: sharedInt32(st.nItems) },
  ) {
    const n = CHUNKS * st.nItems;
    const a = st.arena;
    const buf = a.memory.buffer;
    if (a.gW.length !== CHUNKS) throw new Error(`PersonaAdam: the arena has ${a.gW.length} gradient buffers, CHUNKS is ${CHUNKS}`);
    this.rows = new Int32Array(buf, a.rows, n);
    if (CHUNKS > 8) throw new Error(`PersonaAdam: a row's chunk mask is one byte, so CHUNKS (${CHUNKS}) must be at most 8`);
    this.masks = new Uint8Array(buf, a.masks, n);
    this.c1 = new Float64Array(buf, a.c1, n);
    this.c2 = new Float64Array(buf, a.c2, n);
  }

  /** The optimiser over `shared` (in a pool worker: the state and arena of the calling thread's copy of the training state). */
  static over(st: TrainState, shared: AdamShared): PersonaAdam {
    return new PersonaAdam(st, shared.learnBias, shared);
  }

  /** Bias corrections 1 / (1 - B^t) for step counts up to t, from Math.pow (as each row's own call would give). */
  private corrections(t: number): void {
    if (t < this.corr1.length) return;
    const n = Math.max(2 * t, 1024);
    this.corr1 = Float64Array.from({ length: n }, (_, s) => 1 / (1 - Math.pow(B1, s)));
    this.corr2 = Float64Array.from({ length: n }, (_, s) => 1 / (1 - Math.pow(B2, s)));
  }

  /** The number of pieces of a step over chunks [0, chunks) (their touched lists complete). */
  pieces(chunks: number): number {
    let n = 0;
    for (let c = 0; c < chunks; c++) n += Math.ceil(this.st.nTouched[c]! / PIECE_ROWS);
    return n;
  }

  /**
   * Piece p of the step over chunks [0, chunks): the rows at PIECE_ROWS entries of one chunk's
   * touched list that no earlier chunk touched, each with the mask of the chunks that touched it
   * and its bias corrections; the bias steps here, the W and Q rows by `adamArenaRows` (its list
   * at the chunk's part of the arena's step list). L2 weight `l2`.
   */
  stepPiece(p: number, chunks: number, lr: number, l2: number): void {
    const { st, rows, masks } = this;
    const { steps, mB, vB, learnBias } = this.shared;
    let c = 0;
    for (; c < chunks; c++) {
      const np = Math.ceil(st.nTouched[c]! / PIECE_ROWS);
      if (p < np) break;
      p -= np;
    }
    if (c === chunks) throw new Error(`PersonaAdam: no piece ${p} in this step`);
    const lo = p * PIECE_ROWS;
    const hi = Math.min(st.nTouched[c]!, lo + PIECE_ROWS);
    const t = st.touched[c]!;
    const base = c * st.nItems + lo;
    let m = 0;
    next: for (let r = lo; r < hi; r++) {
      const j = t[r]!;
      for (let e = 0; e < c; e++) if (st.marks[e]![j]) continue next;
      let mask = 1 << c;
      for (let e = c + 1; e < chunks; e++) if (st.marks[e]![j]) mask |= 1 << e;
      const s = ++steps[j]!;
      this.corrections(s);
      const c1 = (this.c1[base + m] = this.corr1[s]!);
      const c2 = (this.c2[base + m] = this.corr2[s]!);
      rows[base + m] = j;
      masks[base + m] = mask;
      biasStep(st, mB, vB, j, chunks, learnBias, lr, c1, c2, mask);
      m++;
    }
    adamArenaRows(st.arena, chunks, base, base + m, lr, l2);
  }

  /** Clears the touch marks and lists of chunks [0, chunks), once every piece of the step has run. */
  clear(chunks: number): void {
    const { st } = this;
    for (let c = 0; c < chunks; c++) {
      const t = st.touched[c]!;
      const mk = st.marks[c]!;
      for (let r = 0; r < st.nTouched[c]!; r++) mk[t[r]!] = 0;
      st.nTouched[c] = 0;
    }
  }

  /** One step over the rows touched by chunks [0, chunks), every piece on this thread; L2 weight `l2` on those rows. */
  step(chunks: number, lr: number, l2: number): void {
    const n = this.pieces(chunks);
    for (let p = 0; p < n; p++) this.stepPiece(p, chunks, lr, l2);
    this.clear(chunks);
  }
}
