/**
 * Streaming top-K selection with a bounded heap: never sorts the full catalog, never allocates per
 * item. Order: higher score first; equal scores by `tieRank` ascending (the rank of the original
 * item ID, PROTOCOL.md rule 6). NaN scores rank below every number.
 */

/** Reusable heap buffers for one thread; `select` writes the winners best-first into `out`. */
export class TopKSelector {
  private heapItems: Int32Array;
  private heapScores: Float64Array;

  constructor(private readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`TopKSelector: k must be a positive integer, got ${k}`);
    this.heapItems = new Int32Array(k);
    this.heapScores = new Float64Array(k);
  }

  /**
   * Selects the best `k` of `candidates` (ascending item indices) by `scores[item]`, skipping the
   * items of `exclude` (ascending item indices, e.g. the user's training history).
   * Returns how many were written into `out` (fewer than k when there are fewer candidates).
   */
  select(scores: ArrayLike<number>, candidates: Int32Array, tieRank: Int32Array, exclude: Int32Array | null, out: Int32Array): number {
    const k = this.k;
    const hi = this.heapItems;
    const hs = this.heapScores;
    let size = 0;
    let ex = 0;
    const exLen = exclude ? exclude.length : 0;
    for (let c = 0; c < candidates.length; c++) {
      const item = candidates[c]!;
      if (exclude) {
        while (ex < exLen && exclude[ex]! < item) ex++;
        if (ex < exLen && exclude[ex] === item) continue;
      }
      let s = scores[item]!;
      if (s !== s) s = -Infinity;
      if (size < k) {
        // sift up
        let pos = size++;
        while (pos > 0) {
          const parent = (pos - 1) >> 1;
          if (!worse(s, tieRank[item]!, hs[parent]!, tieRank[hi[parent]!]!)) break;
          hi[pos] = hi[parent]!;
          hs[pos] = hs[parent]!;
          pos = parent;
        }
        hi[pos] = item;
        hs[pos] = s;
      } else if (worse(hs[0]!, tieRank[hi[0]!]!, s, tieRank[item]!)) {
        // replace the root (the worst kept) and sift down
        siftDownFromRoot(hi, hs, k, tieRank, item, s);
      }
    }
    // pop worst-first into the back of out
    const n = size;
    for (let w = n - 1; w >= 0; w--) {
      out[w] = hi[0]!;
      size--;
      siftDownFromRoot(hi, hs, size, tieRank, hi[size]!, hs[size]!);
    }
    return n;
  }
}

/**
 * Puts (item, score) at the root of the worst-first heap hi/hs[0 .. size) and sifts it down to
 * its place (the old root is overwritten).
 */
function siftDownFromRoot(hi: Int32Array, hs: Float64Array, size: number, tieRank: Int32Array, item: number, score: number): void {
  let pos = 0;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= size) break;
    const r = l + 1;
    let child = l;
    if (r < size && worse(hs[r]!, tieRank[hi[r]!]!, hs[l]!, tieRank[hi[l]!]!)) child = r;
    if (!worse(hs[child]!, tieRank[hi[child]!]!, score, tieRank[item]!)) break;
    hi[pos] = hi[child]!;
    hs[pos] = hs[child]!;
    pos = child;
  }
  hi[pos] = item;
  hs[pos] = score;
}

/** True when (scoreA, rankA) ranks below (scoreB, rankB). */
function worse(scoreA: number, rankA: number, scoreB: number, rankB: number): boolean {
  return scoreA < scoreB || (scoreA === scoreB && rankA > rankB);
}

/** Reference implementation (full sort) used by the property tests. */
export function topKBySort(scores: ArrayLike<number>, candidates: Int32Array, tieRank: Int32Array, exclude: Int32Array | null, k: number): Int32Array {
  const ex = new Set(exclude ?? []);
  const items = Array.from(candidates).filter((i) => !ex.has(i));
  const key = (i: number): number => {
    const s = scores[i]!;
    return s !== s ? -Infinity : s;
  };
  items.sort((a, b) => {
    const sa = key(a);
    const sb = key(b);
    if (sa !== sb) return sb > sa ? 1 : -1;
    return tieRank[a]! - tieRank[b]!;
  });
  return Int32Array.from(items.slice(0, k));
}
