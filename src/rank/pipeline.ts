/**
 * The one place that turns a user's score row into a list: candidates minus exclusions -> top-K
 * pool -> (reranker | hedge) -> list. Evaluation (`rankTestUsers`), the service's engine and
 * `personae recommend` all call it, so the same model, user and reranker give the same list
 * everywhere (test/pipeline.test.ts checks it).
 *
 * - No reranker, no hedge: the best `k` candidates by score (ties by item ID rank, PROTOCOL.md).
 * - A reranker takes a pool of at least `reranker.poolSize(k)` best items and writes the order.
 * - A hedge (rank/hedge.ts) applies only without a reranker: a low-confidence user gets the hedged
 *   list instead of the plain top-k.
 */
import { TopKSelector } from '../math/topk.js';
import type { PersonaSet } from '../models/persona-assignment.js';
import { DEFAULT_HEDGE_THRESHOLD, hedge, type HedgedList, type HedgeStage } from './hedge.js';

/** A reranking stage: takes a user's scores and a best-first pool, writes the final order. */
export interface ListReranker {
  readonly name: string;
  /** How many of the best-scored items the reranker chooses from, for a final list of k. */
  poolSize(k: number): number;
  rerank(input: RerankInput, out: Int32Array): number;
}

/** What a reranker reads: whom the list is for (ListSubject), the user's scores, the pool (best first) and k. */
export interface RerankInput extends ListSubject {
  readonly scores: Float32Array;
  readonly pool: Int32Array;
  readonly k: number;
}

/** Which items may be listed: the candidates (ascending) minus `exclude` (ascending), ties by `itemRanks`. */
export interface CandidateSet {
  readonly candidates: Int32Array;
  readonly exclude: Int32Array;
  readonly itemRanks: Int32Array;
}

/**
 * Whom the list is for: the reranker's user index (-1: none) and history (their tastes), and the
 * persona set when the caller holds it as a value (then the user index is not looked up).
 */
export interface ListSubject {
  readonly user: number;
  readonly history: Int32Array;
  readonly personas?: PersonaSet;
}

export interface SelectOptions {
  k: number;
  reranker?: ListReranker | null;
  /** Hedge a low-confidence user's list (ignored with a reranker). */
  hedge?: HedgeStage | null;
}

export interface Selection {
  /** Item indices, best first, at most k (a fresh array). */
  list: Int32Array;
  /** The hedge's outcome when it changed the list, else null. */
  hedged: HedgedList | null;
}

/**
 * A reusable select stage for many users with the same k and reranker (its top-K heap and pool
 * buffer are allocated once).
 */
export class ListPipeline {
  private readonly selector: TopKSelector;
  private readonly pool: Int32Array;
  readonly k: number;
  readonly reranker: ListReranker | null;

  constructor(opts: { k: number; reranker?: ListReranker | null }) {
    this.k = opts.k;
    this.reranker = opts.reranker ?? null;
    const poolK = Math.max(1, this.reranker ? Math.max(this.k, this.reranker.poolSize(this.k)) : this.k);
    this.selector = new TopKSelector(poolK);
    this.pool = new Int32Array(poolK);
  }

  select(scores: Float32Array, from: CandidateSet, subject: ListSubject, hedgeStage: HedgeStage | null = null): Selection {
    const { k, reranker } = this;
    if (hedgeStage && !reranker && hedgeStage.confidence.confidence < (hedgeStage.threshold ?? DEFAULT_HEDGE_THRESHOLD)) {
      const categories = hedgeStage.categories ?? null;
      const train = { nItems: scores.length, candidates: from.candidates, itemRanks: from.itemRanks, itemPopularity: hedgeStage.itemPopularity, categories };
      const h = hedge({ ...hedgeStage, train, history: from.exclude, scores, n: k });
      return { list: h.items, hedged: h };
    }
    const found = this.selector.select(scores, from.candidates, from.itemRanks, from.exclude, this.pool);
    if (!reranker) return { list: this.pool.slice(0, Math.min(found, k)), hedged: null };
    const out = new Int32Array(k);
    const m = reranker.rerank({ user: subject.user, history: subject.history, ...(subject.personas ? { personas: subject.personas } : {}), scores, pool: this.pool.subarray(0, found), k }, out);
    return { list: out.slice(0, m), hedged: null };
  }
}

/** One user's list (see the file comment); for many users build one `ListPipeline`. */
export function select(scores: Float32Array, from: CandidateSet, subject: ListSubject, opts: SelectOptions): Selection {
  return new ListPipeline(opts).select(scores, from, subject, opts.hedge ?? null);
}
