/**
 * Pieces shared by the matrix-factorisation models (bpr, ials): a fold-in history as a set, the
 * user rows of a batch (stored rows, or fold-in for users unknown to the model), the items with
 * non-zero factors, and the tiled user x item scoring.
 */
import type { UserBatch } from './model.js';

/** The valid items (0 <= i < nItems) of a history, deduplicated, ascending (input order never matters). */
export function historySet(items: Int32Array, nItems: number): Int32Array {
  const hist = Int32Array.from(items.filter((i) => i >= 0 && i < nItems)).sort();
  let n = 0;
  for (let k = 0; k < hist.length; k++) if (k === 0 || hist[k] !== hist[k - 1]) hist[n++] = hist[k]!;
  return hist.subarray(0, n);
}

/**
 * The batch's user vectors (row b = batch.users[b], d wide): the stored row of a known user
 * (0 <= u < rows of userF), else `foldIn` of the user's history in the batch.
 */
export function batchUserFactors(batch: UserBatch, userF: Float32Array, d: number, foldIn: (items: Int32Array) => Float32Array): Float32Array {
  const users = new Float32Array(batch.users.length * d);
  for (let b = 0; b < batch.users.length; b++) {
    const u = batch.users[b]!;
    if (u >= 0 && u * d < userF.length) users.set(userF.subarray(u * d, (u + 1) * d), b * d);
    else users.set(foldIn(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!)), b * d);
  }
  return users;
}

/** The items whose factor row is not all zero (the others score just their bias). */
export function nonZeroRows(f: Float32Array, rows: number, d: number): Int32Array {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let k = r * d; k < (r + 1) * d; k++) {
      if (f[k] !== 0) {
        out.push(r);
        break;
      }
    }
  }
  return Int32Array.from(out);
}

/**
 * out[b * nItems + i] = users[b]·items[i] (+ bias[i]) for every item i; rows not in `active`
 * (all-zero factors) get the bias alone. Register tiles of 4 users x 2 items share each load.
 */
export function scoreFactors(
  users: Float32Array,
  nBatch: number,
  items: Float32Array,
  bias: Float32Array | null,
  active: Int32Array,
  nItems: number,
  d: number,
  out: Float32Array,
): void {
  for (let b = 0; b < nBatch; b++) {
    if (bias) out.set(bias.subarray(0, nItems), b * nItems);
    else out.fill(0, b * nItems, (b + 1) * nItems);
  }
  let p = 0;
  for (; p + 2 <= active.length; p += 2) {
    const i0 = active[p]!;
    const i1 = active[p + 1]!;
    const v0 = i0 * d;
    const v1 = i1 * d;
    let b = 0;
    for (; b + 4 <= nBatch; b += 4) {
      const u0 = b * d;
      const u1 = u0 + d;
      const u2 = u1 + d;
      const u3 = u2 + d;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let k = 0; k < d; k++) {
        const x0 = items[v0 + k]!;
        const x1 = items[v1 + k]!;
        const a0 = users[u0 + k]!;
        const a1 = users[u1 + k]!;
        const a2 = users[u2 + k]!;
        const a3 = users[u3 + k]!;
        s00 += a0 * x0;
        s01 += a0 * x1;
        s10 += a1 * x0;
        s11 += a1 * x1;
        s20 += a2 * x0;
        s21 += a2 * x1;
        s30 += a3 * x0;
        s31 += a3 * x1;
      }
      out[b * nItems + i0]! += s00;
      out[b * nItems + i1]! += s01;
      out[(b + 1) * nItems + i0]! += s10;
      out[(b + 1) * nItems + i1]! += s11;
      out[(b + 2) * nItems + i0]! += s20;
      out[(b + 2) * nItems + i1]! += s21;
      out[(b + 3) * nItems + i0]! += s30;
      out[(b + 3) * nItems + i1]! += s31;
    }
    for (; b < nBatch; b++) {
      const u0 = b * d;
      let s0 = 0;
      let s1 = 0;
      for (let k = 0; k < d; k++) {
        const a0 = users[u0 + k]!;
        s0 += a0 * items[v0 + k]!;
        s1 += a0 * items[v1 + k]!;
      }
      out[b * nItems + i0]! += s0;
      out[b * nItems + i1]! += s1;
    }
  }
  for (; p < active.length; p++) {
    const i0 = active[p]!;
    const v0 = i0 * d;
    for (let b = 0; b < nBatch; b++) {
      const u0 = b * d;
      let s0 = 0;
      for (let k = 0; k < d; k++) s0 += users[u0 + k]! * items[v0 + k]!;
      out[b * nItems + i0]! += s0;
    }
  }
}
