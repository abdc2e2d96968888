/**
 * The response shapes of the HTTP API (documented in /openapi.json; the handlers build these
 * shapes, the client and the dashboard read their types). schemas.ts re-exports them beside the
 * request schemas, so importers name one module.
 */
import { z } from 'zod';


const Anchor = z.object({ id: z.string(), title: z.string() });
export const Explanation = z.object({
  persona: z.number().int(),
  label: z.string(),
  /** Every persona's weight for the item (muted ones 0, the others sum to 1). */
  weights: z.array(z.number()),
  /** The explaining persona's history items most similar to this item (per item, not the persona's fixed anchors). */
  anchors: z.array(Anchor),
  /** The explaining persona's weight. */
  weight: z.number().optional(),
  /** 1 / the number of unmuted personas: what each would carry if none stood out. */
  evenShare: z.number().optional(),
  /** weight / evenShare: 1 is an even share, 2 twice as much. */
  relative: z.number().optional(),
  /** The item's rank among the user's unseen items by the explaining persona's own score (1 = that taste's favourite). */
  personaRank: z.number().int().optional(),
  /** One readable sentence; it speaks of the share only when the user has two or more tastes. */
  summary: z.string().optional(),
});
export type Explanation = z.infer<typeof Explanation>;
/** With explain=true and the `social` model: the friend an item came through (social-via.ts). */
export const ViaFriend = z.object({
  /** The friend whose consumption contributed most to the item's score. */
  friend: z.string(),
  /** How many of the user's friends consumed the item. */
  friends: z.number().int().min(1),
  /** What the friends' consumption added to the score, together. */
  contribution: z.number(),
});
export type ViaFriend = z.infer<typeof ViaFriend>;
export const RecItem = z.object({
  id: z.string(),
  title: z.string(),
  score: z.number(),
  categories: z.array(z.string()),
  /** With explain=true: the persona serving the item, or null when withheld (see explanationWithheld). */
  explanation: Explanation.nullable().optional(),
  /** Why the explanation is withheld: the explaining persona is uncertain. */
  explanationWithheld: z.string().optional(),
  /**
   * With explain=true, an item no persona put in the list (a hedged list's popular filler): why it
   * is there, with explanation null.
   */
  reason: z.string().optional(),
  /** 1-based position in the whole list (offset included). */
  rank: z.number().int().optional(),
  /** Percent of the user's unseen catalogue this item outscores (0..100): a human reading of `score`. */
  match: z.number().min(0).max(100).optional(),
  /** Posted after the served model was trained: scored from the items it resembles (its categories, or what its first users liked). */
  newItem: z.boolean().optional(),
  /** With explain=true, served by the `social` model: the friend the item came through. */
  via: ViaFriend.optional(),
});
const Confidence = z.number().min(0).max(1).describe("how much the model knows about the user (0..1); below 0.5 the list is hedged");
export const Recommendations = z.object({
  user: z.string(),
  coldStart: z.boolean(),
  /** True when the list is hedged for a low-confidence user (more exploration across personas and popular-diverse items). */
  hedged: z.boolean(),
  /** Present when hedged: why, in plain words. */
  hedgeReasons: z.array(z.string()).optional(),
  confidence: Confidence,
  rerank: z.string(),
  model: z.object({ name: z.string(), version: z.number().int() }),
  items: z.array(RecItem),
});
export type Recommendations = z.infer<typeof Recommendations>;
export const Personas = z.object({
  user: z.string(),
  confidence: Confidence,
  personas: z.array(z.object({ index: z.number().int(), share: z.number(), label: z.string(), anchors: z.array(Anchor), muted: z.boolean(), boost: z.number() })),
});
export type Personas = z.infer<typeof Personas>;
export const UserList = z.object({ users: z.array(z.object({ id: z.string(), interactions: z.number().int() })), total: z.number().int() });
export const FeedbackList = z.object({
  user: z.string(),
  feedback: z.array(z.object({ item: z.string(), title: z.string(), categories: z.array(z.string()), type: z.string(), value: z.number(), ts: z.string() })),
});
export const ItemList = z.object({
  list: z.enum(['popular', 'latest']),
  category: z.string().nullable(),
  items: z.array(z.object({ id: z.string(), title: z.string(), categories: z.array(z.string()), positives: z.number().int().describe('users with a positive on the item') })),
});
export const TasteMix = z.object({ categories: z.array(z.string()), history: z.array(z.number()), list: z.array(z.number()) });
const ModelRef = z.object({ name: z.string(), version: z.number().int() });
const OnboardingItem = z.object({ id: z.string(), title: z.string(), categories: z.array(z.string()) });
/** POST /v1/onboarding and /v1/onboarding/{id}/answers: the open question (null when none is left) and the list so far. */
export const OnboardingState = z.object({
  id: z.string(),
  answered: z.number().int(),
  question: z.object({ a: OnboardingItem, b: OnboardingItem }).nullable(),
  /** The top n after the answers so far (empty before the first answer). */
  items: z.array(OnboardingItem),
  model: ModelRef,
});
export type OnboardingState = z.infer<typeof OnboardingState>;
/** POST /v1/onboarding/{id}/complete: the feedback recorded for the user. */
export const OnboardingCompleted = z.object({
  id: z.string(),
  user: z.string(),
  /** Items answered as liked, recorded as a positive (`like`). */
  liked: z.array(z.string()),
  /** Items answered "neither", recorded as `dislike`. */
  rejected: z.array(z.string()),
  accepted: z.number().int(),
  seqs: z.array(z.number().int()),
});
/** /readyz: 200 {ready: true, model} once a model is served, 503 {ready: false, status} before. */
export const Readiness = z.object({
  ready: z.boolean(),
  /** Whether a write commits (the store's write probe); false with `code` when the store refuses writes. */
  writes: z.boolean().optional(),
  code: z.enum(['store_full', 'store_read_only', 'store_unavailable']).optional(),
  status: z.string().optional(),
  model: ModelRef.nullable().optional(),
  /** Per-persona ANN retrieval of cold reads: off (exact), building (exact until ready), ready, failed (exact). */
  ann: z.enum(['off', 'building', 'ready', 'failed']).optional(),
});
const MetricSummaryView = z.object({ mean: z.number().nullable(), ci95: z.tuple([z.number(), z.number()]).nullable(), n: z.number().int() });
/**
 * The part of GET /v1/evaluation (an `EvaluationJson`, src/eval/results.ts) that the dashboard
 * reads; the document has more fields, so this is a type source for the dashboard, not the route's
 * documented response. test/web.test.ts proves `EvaluationJson` conforms.
 */
export const EvaluationView = z.object({
  dataset: z.object({ name: z.string(), testUsers: z.number().int() }),
  protocol: z.object({ name: z.string(), k: z.array(z.number().int()), seed: z.number().int() }),
  models: z.array(
    z.object({
      /** The spec as given, e.g. `personas:k=1`. */
      name: z.string(),
      model: z.string(),
      usesCategories: z.boolean(),
      /** By metric name, e.g. `ndcg@20`. */
      metrics: z.record(z.string(), MetricSummaryView),
    }),
  ),
  comparisons: z.array(
    z.object({ a: z.string(), b: z.string(), metric: z.string(), mean: z.number(), ci95: z.tuple([z.number(), z.number()]), pValue: z.number(), n: z.number().int() }),
  ),
});
export const Job = z.object({
  id: z.string(),
  kind: z.literal('train'),
  state: z.enum(['running', 'done', 'failed', 'cancelled']),
  progress: z.object({ stage: z.string(), done: z.number(), total: z.number() }),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
  model: z.object({ name: z.string(), version: z.number().int() }).nullable(),
});
export type Job = z.infer<typeof Job>;
export const ModelInfo = z.object({
  active: z
    .object({ name: z.string(), version: z.number().int(), trainedAt: z.string(), params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])) })
    .nullable(),
});
export const ApiKeyList = z.object({
  keys: z.array(
    z.object({
      /** Names the key in DELETE /v1/keys/{id} (not the secret). */
      id: z.string(),
      /** The first characters of the key, to recognise it. */
      prefix: z.string(),
      scope: z.enum(['read', 'write', 'admin']),
      label: z.string(),
      /** ISO 8601. */
      created: z.string(),
      /** "env": the PERSONAE_API_KEY admin key (replaced at every start); "api": made with POST /v1/keys. */
      source: z.enum(['env', 'api']),
    }),
  ),
});
export const ErrorBody = z.object({ error: z.object({ status: z.number().int(), code: z.string(), message: z.string() }) });
