/**
 * Hedging, a rank stage (PRODUCT.md P10): for a user the model knows little about, a list that
 * takes every third slot from popular items of categories (or, without categories, just popular
 * items) the list does not cover yet, and the rest round-robin from each persona's own top items,
 * so no single uncertain reading of the user fills the list. The confidence comes from
 * src/confidence; `select` (pipeline.ts) applies a `HedgeStage` when no reranker is set.
 */
import { categoriesOf, type ItemCategories } from '../data/categories.js';
import type { TrainSet } from '../data/train-set.js';
import { TopKSelector } from '../math/topk.js';
import type { HasPersonas, Recommender } from '../models/model.js';

/** Below this confidence a user's list is hedged (the default of every caller). */
export const DEFAULT_HEDGE_THRESHOLD = 0.5;

/** What the hedge reads of a user's confidence (src/confidence's `UserConfidence` has it). */
export interface HedgeConfidence {
  /** In [0, 1]; below the threshold the list is hedged. */
  readonly confidence: number;
  /** Number of personas in the set. */
  readonly personas: number;
  /** Why the confidence is low (copied into the hedge's reasons). */
  readonly reasons: readonly string[];
}

/** What the hedge reads of the training data: the candidates, tie ranks and item popularity. */
export type HedgeTrain = Pick<TrainSet, 'nItems' | 'candidates' | 'itemRanks' | 'itemPopularity' | 'categories'>;

export interface HedgeInput {
  model: Recommender & HasPersonas;
  train: HedgeTrain;
  /** The user's persona set (rows of length dim) and history (ascending, excluded). */
  personas: Float32Array;
  history: Int32Array;
  /** The user's scores over all items (e.g. from scoreBatch). */
  scores: Float32Array;
  confidence: HedgeConfidence;
  n: number;
  categories?: ItemCategories | null;
  threshold?: number;
  /** Persona p's own score row (`scorePersonas` of row p alone), when the caller has it computed. */
  ownRow?: (p: number) => Float32Array;
}

export interface HedgedList {
  items: Int32Array;
  hedged: boolean;
  reasons: string[];
  /**
   * Per item of `items`: why it is there when no persona put it there (a popular filler, e.g.
   * "popular, and adds Drama to the list"), else null. All null when not hedged.
   */
  fillers: (string | null)[];
}

/**
 * The user's list: the top-n of their scores when confidence >= threshold, otherwise a hedged list
 * that takes every third slot from popular items of categories (or, without categories, just
 * popular items) the list does not cover yet, and the rest round-robin from each persona's own
 * top items, so no single uncertain reading of the user fills the list.
 */
export function hedge(input: HedgeInput): HedgedList {
  const { model, train, personas, history, scores, confidence, n } = input;
  const threshold = input.threshold ?? DEFAULT_HEDGE_THRESHOLD;
  const top = (row: ArrayLike<number>, k: number): Int32Array => {
    const out = new Int32Array(k);
    const f = new TopKSelector(k).select(row, train.candidates, train.itemRanks, history, out);
    return out.slice(0, f);
  };
  if (confidence.confidence >= threshold) {
    const items = top(scores, n);
    return { items, hedged: false, reasons: [], fillers: new Array<string | null>(items.length).fill(null) };
  }
  const reasons = [`low confidence ${confidence.confidence.toFixed(2)} < ${threshold}`, ...confidence.reasons];
  const dim = personas.length / Math.max(1, confidence.personas);
  const k = confidence.personas;
  const streams: Int32Array[] = [];
  if (k > 1 && Number.isInteger(dim)) {
    const buf = input.ownRow ? null : new Float32Array(train.nItems);
    for (let p = 0; p < k; p++) {
      let row: Float32Array;
      if (input.ownRow) row = input.ownRow(p);
      else {
        row = buf!;
        model.scorePersonas(personas.subarray(p * dim, (p + 1) * dim), row);
      }
      streams.push(top(row, n));
    }
  } else streams.push(top(scores, n));
  const popular = top(Float32Array.from(train.itemPopularity), Math.min(train.candidates.length, 4 * n + 50));
  const cats = input.categories ?? train.categories;
  const chosen = new Set<number>();
  const covered = new Set<number>();
  const items: number[] = [];
  const fillers: (string | null)[] = [];
  const take = (i: number, filler: string | null): void => {
    chosen.add(i);
    items.push(i);
    fillers.push(filler);
    if (cats) for (const c of categoriesOf(cats, i)) covered.add(c);
  };
  /** Why a popular item is in the list: the categories it adds, if any. */
  const popularReason = (i: number, why: string): string => {
    const added = cats ? [...categoriesOf(cats, i)].filter((c) => !covered.has(c)).map((c) => cats.names[c]!) : [];
    return added.length > 0 ? `${why}, and adds ${added.join(' / ')} to the list` : why;
  };
  const pos = new Array<number>(streams.length).fill(0);
  let s = 0;
  let popCursor = 0;
  let guard = 0;
  while (items.length < n && guard++ < 10 * n + 100) {
    if (items.length % 3 === 2) {
      // a popular, diverse item: the most popular one adding an uncovered category
      let pick = -1;
      for (let j = popCursor; j < popular.length; j++) {
        const i = popular[j]!;
        if (chosen.has(i)) continue;
        if (!cats || [...categoriesOf(cats, i)].some((c) => !covered.has(c))) {
          pick = i;
          break;
        }
        if (pick < 0) pick = i;
      }
      if (pick >= 0) {
        take(pick, popularReason(pick, 'popular'));
        popCursor = 0;
        continue;
      }
    }
    let took = false;
    for (let t = 0; t < streams.length && !took; t++) {
      const st = streams[(s + t) % streams.length]!;
      const p = (s + t) % streams.length;
      while (pos[p]! < st.length && chosen.has(st[pos[p]!]!)) pos[p]!++;
      if (pos[p]! < st.length) {
        take(st[pos[p]!]!, null);
        took = true;
      }
    }
    s++;
    if (!took) {
      // every stream is used up: fill with popular items
      const i = Array.from(popular).find((j) => !chosen.has(j));
      if (i === undefined) break;
      take(i, popularReason(i, "popular (the personas' own top items are used up)"));
    }
  }
  if (k > 1) reasons.push(`mixing the top items of all ${k} personas`);
  reasons.push(cats ? 'every third item is popular and adds a category not yet in the list' : 'every third item is popular');
  return { items: Int32Array.from(items), hedged: true, reasons, fillers };
}

/** A hedge bound to one user: `select` adds the candidates, scores, exclusions and list length. */
export interface HedgeStage {
  model: Recommender & HasPersonas;
  /** The user's persona set (rows of the model's persona dimension). */
  personas: Float32Array;
  confidence: HedgeConfidence;
  /** Training positives per item (the popular slots). */
  itemPopularity: Int32Array;
  categories?: ItemCategories | null;
  threshold?: number;
  /** Row p of `personas`' own score row (`scorePersonas` of it alone), when the caller has it computed. */
  ownRow?: (p: number) => Float32Array;
}
