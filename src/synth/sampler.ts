/** Drawing items fast: an alias table per category and style, one cache line a draw. */

/** Affinities are stored as 16-bit fixed point with this many steps per unit (range +-32). */
const AFFINITY_SCALE = 1000;

function quantizeAffinity(z: number): number {
  return Math.max(-32767, Math.min(32767, Math.round(z * AFFINITY_SCALE)));
}

/**
 * Walker's alias method over items: draws an item with probability weight / total in O(1) from
 * one uniform number (its integer part picks a column, its fraction the column or its alias).
 * Each column is one 16-byte record (threshold, item, alias item, both affinities as int16), so a
 * draw reads one cache line: at 100k items the tables do not fit in the CPU caches, and this is
 * the hot path of generation.
 */
export class ItemSampler {
  readonly size: number;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  /** The item and its affinity of the last `draw`. */
  item = 0;
  affinity = 0;

  constructor(weights: ArrayLike<number>, items: ArrayLike<number>, affinity: ArrayLike<number> | null) {
    const n = weights.length;
    this.size = n;
    const buffer = new ArrayBuffer(n * 16);
    const f32 = (this.f32 = new Float32Array(buffer));
    const i32 = (this.i32 = new Int32Array(buffer));
    const prob = new Float64Array(n);
    const alias = new Int32Array(n);
    for (let k = 0; k < n; k++) alias[k] = k;
    let total = 0;
    for (let k = 0; k < n; k++) total += weights[k]!;
    if (total > 0 && Number.isFinite(total)) {
      const small = new Int32Array(n);
      const large = new Int32Array(n);
      let ns = 0;
      let nl = 0;
      for (let k = 0; k < n; k++) {
        prob[k] = (weights[k]! * n) / total;
        if (prob[k]! < 1) small[ns++] = k;
        else large[nl++] = k;
      }
      while (ns > 0 && nl > 0) {
        const lo = small[--ns]!;
        const hi = large[nl - 1]!;
        alias[lo] = hi;
        prob[hi] = prob[hi]! + prob[lo]! - 1;
        if (prob[hi]! < 1) {
          nl--;
          small[ns++] = hi;
        }
      }
      while (nl > 0) prob[large[--nl]!] = 1;
      while (ns > 0) prob[small[--ns]!] = 1; // round-off leftovers
    } else {
      prob.fill(1);
    }
    for (let k = 0; k < n; k++) {
      const o = k * 4;
      f32[o] = prob[k]!;
      i32[o + 1] = items[k]!;
      i32[o + 2] = items[alias[k]!]!;
      const za = affinity ? quantizeAffinity(affinity[k]!) : 0;
      const zb = affinity ? quantizeAffinity(affinity[alias[k]!]!) : 0;
      i32[o + 3] = (za & 0xffff) | (zb << 16);
    }
  }

  /** Draws from one uniform number u in [0, 1); the result is in `item` and `affinity`. */
  draw(u: number): void {
    const x = u * this.size;
    const k = Math.floor(x);
    const o = k * 4;
    const z = this.i32[o + 3]!;
    if (x - k < this.f32[o]!) {
      this.item = this.i32[o + 1]!;
      this.affinity = ((z << 16) >> 16) / AFFINITY_SCALE;
    } else {
      this.item = this.i32[o + 2]!;
      this.affinity = (z >> 16) / AFFINITY_SCALE;
    }
  }
}
