/**
 * Compressed sparse rows: the one layout for interaction matrices. `indptr` has rows + 1 entries;
 * row r holds `indices[indptr[r] .. indptr[r + 1])`, sorted ascending, no duplicates.
 */
export interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
}

/** Builds a CSR from (row, col) pairs; duplicates are removed and each row is sorted. */
export function csrFromPairs(rows: number, cols: number, rowOf: Int32Array, colOf: Int32Array, count = rowOf.length): Csr {
  const counts = new Int32Array(rows + 1);
  for (let k = 0; k < count; k++) counts[rowOf[k]! + 1]!++;
  for (let r = 0; r < rows; r++) counts[r + 1]! += counts[r]!;
  const fill = counts.slice(0, rows);
  const raw = new Int32Array(count);
  for (let k = 0; k < count; k++) raw[fill[rowOf[k]!]!++] = colOf[k]!;
  // sort and de-duplicate each row in place, then compact
  const indptr = new Int32Array(rows + 1);
  let write = 0;
  for (let r = 0; r < rows; r++) {
    const start = counts[r]!;
    const end = counts[r + 1]!;
    const row = raw.subarray(start, end).sort();
    let last = -1;
    for (let k = 0; k < row.length; k++) {
      const c = row[k]!;
      if (c !== last) raw[write++] = c;
      last = c;
    }
    indptr[r + 1] = write;
  }
  return { rows, cols, indptr, indices: raw.slice(0, write) };
}

/** The transpose (e.g. itemUsers from userItems); rows of the result stay sorted. */
export function transpose(m: Csr): Csr {
  const indptr = new Int32Array(m.cols + 1);
  for (let k = 0; k < m.indices.length; k++) indptr[m.indices[k]! + 1]!++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1]! += indptr[c]!;
  const fill = indptr.slice(0, m.cols);
  const indices = new Int32Array(m.indices.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]!; k < m.indptr[r + 1]!; k++) indices[fill[m.indices[k]!]!++] = r;
  }
  return { rows: m.cols, cols: m.rows, indptr, indices };
}

export function rowOf(m: Csr, r: number): Int32Array {
  return m.indices.subarray(m.indptr[r]!, m.indptr[r + 1]!);
}

/** Number of stored entries per column (e.g. item popularity from userItems). */
export function columnCounts(m: Csr): Int32Array {
  const counts = new Int32Array(m.cols);
  for (let k = 0; k < m.indices.length; k++) counts[m.indices[k]!]!++;
  return counts;
}

/** Whether sorted row `r` contains column `c` (binary search). */
export function csrHas(m: Csr, r: number, c: number): boolean {
  return sortedHas(m.indices, m.indptr[r]!, m.indptr[r + 1]!, c);
}

/** Whether a[lo .. hi) (ascending) contains x (binary search). */
export function sortedHas(a: Int32Array, lo: number, hi: number, x: number): boolean {
  return sortedIndex(a, lo, hi, x) >= 0;
}

/** The index of x in a[lo .. hi) (ascending, distinct), or -1 (binary search). */
export function sortedIndex(a: Int32Array, lo: number, hi: number, x: number): number {
  hi--;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
