/**
 * One user's list as `personae recommend` and `personae batch` make it, from a fitted model (fitted
 * now on --data, or loaded from --model-file), through the select pipeline (src/rank/pipeline.ts):
 * the top n of the model's scores over the candidates, the history excluded, ties by item id; then
 * the reranker (--rerank), or, for a persona model
 * without a reranker, the hedged list when the user's confidence is below 0.5 (unless --no-hedge);
 * with --explain, each item's explanation or the reason it is withheld (explainOrWithhold).
 * Both commands score with `scoreUser` and call `userList`, so their lists are the same by
 * construction. The user's confidence (src/confidence, the costly part of a persona user) is
 * computed only when something reads it: the hedge (no reranker, hedging on) or --explain.
 */
import type { FittedModel } from '../api/recommender.js';
import type { UserBatch } from '../models/model.js';
import { categoriesOf, tasteDistribution } from '../data/categories.js';
import { userConfidence, type UserConfidence } from '../confidence/index.js';
import { explainOrWithhold, type MaybeExplanation } from '../explain/explain-or-withhold.js';
import { personaProfile, type ExplainContext, type PersonaProfile } from '../explain/explain.js';
import { hedgeReasonsInWords } from '../explain/hedge-reasons.js';
import { hasPersonas, personasFor, singleUserBatch } from '../models/model.js';
import { PersonaModel } from '../models/personas.js';
import { onboardingBasis } from '../onboard/basis.js';
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
  /** Persona models: the user's confidence, when the hedge or the explanations needed it (else null). */
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

/** How a command scores users (src/cli/ann-scoring.ts `batchScorer`). */
export interface UserScorer {
  readonly ann: boolean;
  score(batch: UserBatch, out: Float32Array, nItems: number): void;
}

/**
 * Scores `user` (a training user's index, or -1) with `history` into `row` (nItems) as `scorer`
 * does. For the persona model scored over every candidate, that is `scorePersonas` of the user's
 * persona set (what its `scoreBatch` computes); the set is returned so that `userList` reuses it
 * and the row (for the confidence's profile fit and the persona weights) instead of recomputing
 * them. Otherwise null.
 */
export function scoreUser(f: FittedModel, scorer: UserScorer, user: number, history: Int32Array, row: Float32Array): Float32Array | null {
  if (!scorer.ann && f.model instanceof PersonaModel) {
    const personas = personasFor(f.model, user, history);
    f.model.scorePersonas(personas, row, history);
    return personas;
  }
  scorer.score(singleUserBatch(user, history), row, f.train.nItems);
  return null;
}

/**
 * The list of `user` (a training user's index, or -1 for a history folded in) with `history`
 * (ascending item indices, excluded), from `scores`, the model's score row for this user;
 * `scoredSet`, when given, is the persona set whose `scorePersonas` is exactly `scores` (`scoreUser`).
 */
export function userList(f: FittedModel, ctx: ExplainContext | null, user: number, history: Int32Array, scores: Float32Array, s: ListSettings, scoredSet: Float32Array | null = null): UserList {
  const { model, train } = f;
  const m = hasPersonas(model) ? model : null;
  const hedging = !s.reranker && s.hedge;
  const explaining = s.explain && ctx !== null;
  const personas = m && (hedging || explaining) ? (scoredSet ?? personasFor(m, user, history)) : null;
  const confidence = m && personas ? userConfidence(m, train, { user, history, personas, ...(scoredSet ? { scores } : {}) }) : null;
  const hedgeStage =
    m && personas && confidence && hedging ? { model: m, personas, confidence, itemPopularity: train.itemPopularity, categories: f.categories ?? train.categories } : null;
  const from = { candidates: train.candidates, exclude: history, itemRanks: train.itemRanks };
  const { list: items, hedged } = select(scores, from, { user, history }, { k: s.n, reranker: s.reranker, hedge: hedgeStage });
  const hedgeReasons = hedged && confidence ? hedgeReasonsInWords(confidence, hedged.reasons, DEFAULT_HEDGE_THRESHOLD) : null;
  // the same set object as the confidence's, so the persona weights' normalisers are computed once
  const set = m && personas && explaining ? { vectors: personas, k: personas.length / onboardingBasis(m, train, { size: 16 }).dim, history, user } : null;
  const profile = m && set && ctx ? personaProfile(m, set, ctx) : null;
  let explanations: MaybeExplanation[] | null = null;
  if (profile && confidence && ctx && hasPersonas(model)) explanations = Array.from(items, (i) => explainOrWithhold(model, profile, i, ctx, confidence));
  return { items, scores: Float32Array.from(items, (i) => scores[i]!), hedgeReasons, confidence, profile, explanations };
}
