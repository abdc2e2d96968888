/**
 * Items most like one item: the scores of the one-item history, cut to a list and kept per item
 * (up to 4,096 items, oldest dropped first) so that later pages are slices of the same list.
 */

export interface SimilarList {
  items: Int32Array;
  scores: Float32Array;
}

export class SimilarItems {
  private readonly cache = new Map<number, SimilarList>();
  static readonly MAX_ITEMS = 4096;

  constructor(
    /** The catalogue size. */
    private readonly nItems: () => number,
    /** Scores every item for the history `hist` into `out`. */
    private readonly scoreHistory: (hist: Int32Array, out: Float32Array) => void,
    /** The best `k` items of `scores`, without the items of `hist`. */
    private readonly top: (scores: Float32Array, hist: Int32Array, k: number) => Int32Array,
  ) {}

  /** Forgets every list (the catalogue changed). */
  clear(): void {
    this.cache.clear();
  }

  /** The list for item `i`, at least `depth` long (100 at least, or as long as the catalogue allows). */
  of(i: number, depth: number): SimilarList {
    let c = this.cache.get(i);
    if (!c || c.items.length < depth) {
      const scores = new Float32Array(this.nItems());
      const hist = Int32Array.of(i);
      this.scoreHistory(hist, scores);
      const list = this.top(scores, hist, Math.max(100, depth));
      c = { items: list, scores: Float32Array.from(list, (j) => scores[j]!) };
      if (this.cache.size > SimilarItems.MAX_ITEMS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(i, c);
    }
    return c;
  }
}
