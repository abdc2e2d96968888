/**
 * The optional item-item term of the `personas` model (docs/personas.md): each item's top-k
 * item-kNN neighbours, stored transposed (row j lists the items i that keep j among their
 * neighbours, with sim(i, j)), and the term a persona set adds to its logits,
 * beta |C_q|^-alpha sum_{j in C_q} sim(i, j). Items x k entries, never items^2.
 */
import { knnRows } from './itemknn.js';
import type { TrainSet } from './model.js';

/**
 * Each item's top-`k` item-kNN neighbours (cosine with `shrink`, `knnRows` of itemknn.ts),
 * transposed: row j lists the items i that keep j among their neighbours, with sim(i, j).
 * Items x k entries, never items^2.
 */
export function neighbourRows(train: TrainSet, k: number, shrink: number): { ptr: Int32Array; idx: Int32Array; val: Float32Array } {
  const n = train.nItems;
  const ui = train.userItems;
  const iu = train.itemUsers;
  const r = knnRows(ui.indptr, ui.indices, iu.indptr, iu.indices, n, 0, n, k, shrink);
  const rowPtr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) rowPtr[i + 1] = rowPtr[i]! + r.counts[i]!;
  const ptr = new Int32Array(n + 1);
  for (const j of r.indices) ptr[j + 1]!++;
  for (let j = 0; j < n; j++) ptr[j + 1]! += ptr[j]!;
  const next = ptr.slice(0, n);
  const idx = new Int32Array(r.indices.length);
  const val = new Float32Array(r.indices.length);
  for (let i = 0; i < n; i++) {
    for (let p = rowPtr[i]!; p < rowPtr[i + 1]!; p++) {
      const q = next[r.indices[p]!]!++;
      idx[q] = i;
      val[q] = r.values[p]!;
    }
  }
  return { ptr, idx, val };
}

/**
 * The neighbour term of a persona set: row q (length nItems) = beta |C_q|^-alpha x the sum over
 * the history items that belong to persona q (`members`) of their neighbour rows.
 */
export function neighbourTerm(
  sPtr: Int32Array, sIdx: Int32Array, sVal: Float32Array, nItems: number, items: Int32Array, members: Int32Array, k: number, beta: number, alpha: number,
): Float32Array {
  const out = new Float32Array(k * nItems);
  const cnt = new Float64Array(k);
  for (const q of members) if (q >= 0) cnt[q]!++;
  for (let h = 0; h < items.length; h++) {
    const q = members[h]!;
    if (q < 0) continue;
    const j = items[h]!;
    const o = q * nItems;
    const f = beta * Math.pow(cnt[q]!, -alpha);
    for (let p = sPtr[j]!; p < sPtr[j + 1]!; p++) out[o + sIdx[p]!] += f * sVal[p]!;
  }
  return out;
}
