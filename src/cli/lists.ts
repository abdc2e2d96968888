/**
 * One user's list as `personae recommend` and `personae batch` make it, from a fitted model (fitted
 * now on --data, or loaded from --model-file), through the select pipeline (src/rank/pipeline.ts):
 * the top n of the model's scores over the candidates, the history excluded, ties by item id; then
 * the reranker (--rerank), or, for a persona model
 * without a reranker, the hedged list when the user's confidence is below 0.5 (unless --no-hedge);
 * with --explain, each item's explanation or the reason it is withheld (explainOrWithhold).
 * Both commands call `userList`, so their lists are the same by construction.
 */
import type { FittedModel } from '../api/recommender.js';
import { categoriesOf, tasteDistribution } from '../data/categories.js';
import { userConfidence, type UserConfidence } from '../confidence/index.js';
import { explainOrWithhold, type MaybeExplanation } from '../explain/explain-or-withhold.js';
import { personaProfile, type ExplainContext, type PersonaProfile } from '../explain/explain.js';
import { hedgeReasonsInWords } from '../explain/hedge-reasons.js';
import { hasPersonas, personasFor } from '../models/model.js';
import { DEFAULT_HEDGE_THRESHOLD } from '../rank/hedge.js';
import { select, type ListReranker } from '../rank/pipeline.js';

export interface ListSettings {
  readonly n: number;
  readonly reranker: ListReranker | null;
  readonly hedge: boolean;
  readonly explain: boolean;
}

export interface UserList {
  /** Item indices, best first (length <= n). */
  readonly items: Int32Array;
  /** Each item's model score (before reranking or hedging). */
  readonly scores: Float32Array;
  /** Why the list was hedged, or null. */
  readonly hedgeReasons: string[] | null;
  /** Persona models: the user's confidence. */
  readonly confidence: UserConfidence | null;
  /** With --explain on a persona model: the user's personas and each item's explanation. */
  readonly profile: PersonaProfile | null;
  readonly explanations: MaybeExplanation[] | null;
}

/** The explanation context of a fitted model (titles, categories and ids from the fit or the model file). */
export function explainContextOf(f: FittedModel): ExplainContext {
  let baseline: Float64Array | null = null;
  if (f.categories) {
    baseline = new Float64Array(f.categories.names.length);
    tasteDistribution(f.train.userItems.indices, f.categories, baseline);
  }
  return { nItems: f.train.nItems, categories: f.categories, titles: f.titles, itemName: (i) => f.items.id(i), userItems: f.train.userItems, baseline, anchors: 3 };
}

/** "Title  [Cat|Cat]" of an item, its id when it has no title. */
export function describeItem(f: FittedModel, i: number): string {
  const title = f.titles?.[i] ?? f.items.id(i);
  const cats = f.categories ? [...categoriesOf(f.categories, i)].map((c) => f.categories!.names[c]).join('|') : '';
  return `${title}${cats ? `  [${cats}]` : ''}`;
}

/**
 * The list of `user` (a training user's index, or -1 for a history folded in) with `history`
 * (ascending item indices, excluded), from `scores`, the model's score row for this user.
 */
export function userList(f: FittedModel, ctx: ExplainContext | null, user: number, history: Int32Array, scores: Float32Array, s: ListSettings): UserList {
  const { model, train } = f;
  const confidence = hasPersonas(model) ? userConfidence(model, train, { user, history }) : null;
  const hedgeStage =
    confidence && hasPersonas(model) && !s.reranker && s.hedge
      ? { model, personas: personasFor(model, user, history), confidence, itemPopularity: train.itemPopularity, categories: f.categories ?? train.categories }
      : null;
  const from = { candidates: train.candidates, exclude: history, itemRanks: train.itemRanks };
  const { list: items, hedged } = select(scores, from, { user, history }, { k: s.n, reranker: s.reranker, hedge: hedgeStage });
  const hedgeReasons = hedged && confidence ? hedgeReasonsInWords(confidence, hedged.reasons, DEFAULT_HEDGE_THRESHOLD) : null;
  const profile = s.explain && ctx && hasPersonas(model) ? personaProfile(model, { user, history }, ctx) : null;
  let explanations: MaybeExplanation[] | null = null;
  if (profile && confidence && ctx && hasPersonas(model)) explanations = Array.from(items, (i) => explainOrWithhold(model, profile, i, ctx, confidence));
  return { items, scores: Float32Array.from(items, (i) => scores[i]!), hedgeReasons, confidence, profile, explanations };
}
