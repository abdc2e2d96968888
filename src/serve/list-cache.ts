/**
 * Pages of a plain list (no reranker, no hedge) from one deeper list: the top-k of a score row
 * under a total order (score, then item ID rank) is a prefix of every deeper top-k, so a list
 * computed `PAGE_DEPTH` deep once answers every page inside it by slicing, and `offset` no longer
 * costs a new selection per page. Reranked and hedged lists are not prefixes of deeper ones and
 * are not cached here.
 *
 * An entry is tied to the objects it was computed from: the score row (entries live in a WeakMap
 * keyed by it, so a new row, after a positive or a setting, leaves them behind), the user's
 * exclusions and the candidate list (both replaced, never edited, when they change).
 */

/** A plain list is computed at least this deep (rounded up to a multiple of it). */
export const PAGE_DEPTH = 100;

interface Entry {
  candidates: Int32Array;
  exclude: Int32Array;
  list: Int32Array;
  /** The selection asked for this many; fewer came back when the candidates ran out. */
  depth: number;
}

export class ListCache {
  /** Answers sliced from a cached deeper list. */
  hits = 0;
  /** Selections computed. */
  misses = 0;
  private readonly byScores = new WeakMap<Float32Array, Map<string, Entry>>();

  /**
   * The best `want` items (at most): from a cached list when one computed from the same scores,
   * candidates and exclusions is deep enough, else `compute(depth)` with `depth >= want`.
   * `key` names what else the list depends on (the category, the request's own exclusions).
   */
  top(scores: Float32Array, key: string, candidates: Int32Array, exclude: Int32Array, want: number, maxDepth: number, compute: (depth: number) => Int32Array): Int32Array {
    let lists = this.byScores.get(scores);
    const hit = lists?.get(key);
    if (hit && hit.candidates === candidates && hit.exclude === exclude && (hit.depth >= want || hit.list.length < hit.depth)) {
      this.hits++;
      return hit.list.subarray(0, want);
    }
    this.misses++;
    const depth = Math.max(want, Math.min(maxDepth, Math.ceil(want / PAGE_DEPTH) * PAGE_DEPTH));
    const list = compute(depth);
    if (!lists) {
      lists = new Map();
      this.byScores.set(scores, lists);
    }
    if (lists.size >= 16) lists.delete(lists.keys().next().value!);
    lists.set(key, { candidates, exclude, list, depth });
    return list.subarray(0, want);
  }
}
