/**
 * The one schema source of the HTTP API: every body and query is validated by these zod schemas,
 * the handler types are inferred from them, and `/openapi.json` is generated from them
 * (z.toJSONSchema). Objects are strict: unknown fields are rejected with their name. The response
 * shapes are in schemas-responses.ts (re-exported here).
 */
import { z } from 'zod';
import { ApiKeyList, ErrorBody, FeedbackList, ItemList, Job, ModelInfo, OnboardingCompleted, OnboardingState, Personas, Readiness, Recommendations, TasteMix, UserList } from './schemas-responses.js';

/** Largest `n` a list route answers (larger values are a 400, not a slow request). */
export const MAX_N = 1000;
export const MAX_OFFSET = 100_000;

/**
 * Longest id (items, users) in UTF-16 code units: the same limit as the router's `maxParamLength`
 * (app.ts), so every id that can be written can also be read and deleted by URL.
 */
export const MAX_ID = 256;

/** Timestamps are accepted between 1970-01-01 and 2100-01-01 (seconds since the epoch). */
export const MAX_TIMESTAMP_S = 4_102_444_800;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A string that every store keeps and gives back unchanged: no NUL (PostgreSQL's TEXT and JSONB
 * refuse it) and no unpaired UTF-16 surrogate (not representable in UTF-8, so never reachable again
 * by URL or JSON).
 */
export const text = (max: number, min = 0) =>
  z
    .string()
    .min(min, 'must not be empty')
    .max(max, `at most ${max} characters`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
    .refine((s) => !UNPAIRED_SURROGATE.test(s), 'must not contain unpaired UTF-16 surrogates');

const id = text(MAX_ID, 1);

export const ItemInput = z
  .object({
    id,
    title: text(1000).optional(),
    categories: z.array(text(200, 1)).max(100).optional(),
  })
  .strict();
export type ItemInput = z.infer<typeof ItemInput>;

export const ItemInputs = z.array(ItemInput).max(100_000);
export const ItemsWrapped = z.object({ items: ItemInputs }).strict();
/** A JSON array of items or {items: [...]} (JSONL arrives as an array). */
export const ItemsBody = z.union([ItemInputs, ItemsWrapped]);

export const Attributes = z.record(text(200, 1), z.union([text(10_000), z.number().finite(), z.boolean()]));

export const UserInput = z.object({ id, attributes: Attributes.optional() }).strict();
export type UserInput = z.infer<typeof UserInput>;

export const UserInputs = z.array(UserInput).max(100_000);
export const UsersWrapped = z.object({ users: UserInputs }).strict();
export const UsersBody = z.union([UserInputs, UsersWrapped]);

export const FeedbackInput = z
  .object({
    user: id,
    item: id,
    type: text(64, 1),
    value: z.number().finite().optional(),
    /** ISO 8601 time, or seconds since the epoch (1970..2100); default: the time the server received it. */
    timestamp: z
      .union([
        z
          .string()
          .datetime({ offset: true })
          .refine((t) => {
            const ms = Date.parse(t);
            return ms >= 0 && ms < MAX_TIMESTAMP_S * 1000;
          }, 'must be between 1970-01-01 and 2100-01-01'),
        z
          .number()
          .finite()
          .min(0, 'must be seconds since the epoch, >= 0')
          .max(MAX_TIMESTAMP_S, `must be seconds since the epoch, before 2100-01-01 (${MAX_TIMESTAMP_S}); milliseconds are not accepted`),
      ])
      .optional(),
  })
  .strict();
export type FeedbackInput = z.infer<typeof FeedbackInput>;

export const FeedbackBody = z.object({ feedback: z.array(FeedbackInput).min(1).max(10_000) }).strict();

export const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be >= ${min}`).max(max, `must be <= ${max}`));

const boolParam = z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1');

export const ListQuery = z.object({ limit: intParam(1, MAX_N).default(100), offset: intParam(0, 10_000_000).default(0) }).strict();

export const RecommendQuery = z
  .object({
    n: intParam(1, MAX_N).default(10),
    offset: intParam(0, MAX_OFFSET).default(0),
    /** Only items of this category. */
    category: text(200, 1).optional(),
    /** Comma-separated item IDs never to return. */
    exclude: z.string().max(100_000).optional(),
    /** A reranker spec (docs/reranking.md), e.g. calibrated:0.5; default none. */
    rerank: z.string().max(100).default('none'),
    explain: boolParam.default(false),
    /** Hedge a low-confidence user's list (default true): hedge=false gives the plain top-n. */
    hedge: boolParam.default(true),
  })
  .strict();
export type RecommendQuery = z.infer<typeof RecommendQuery>;

export const SimilarQuery = z.object({ n: intParam(1, MAX_N).default(10), offset: intParam(0, MAX_OFFSET).default(0) }).strict();

export const TasteMixQuery = z.object({ n: intParam(1, MAX_N).default(20), rerank: z.string().max(100).default('none'), hedge: boolParam.default(true) }).strict();

export const SessionBody = z
  .object({
    /** Item IDs the anonymous visitor liked, oldest first. */
    items: z.array(id).max(10_000),
    n: z.number().int().min(1).max(MAX_N).default(10),
    rerank: z.string().max(100).default('none'),
    explain: z.boolean().default(false),
    hedge: z.boolean().default(true),
    /** Only items of this category. */
    category: text(200, 1).optional(),
    /** Item IDs never to return (besides the session's own items). */
    exclude: z.array(id).max(10_000).optional(),
  })
  .strict();

/** GET /v1/popular and /v1/latest (and /v1/categories/{category}/popular without `category`). */
export const ItemListQuery = z
  .object({
    n: intParam(1, MAX_N).default(10),
    offset: intParam(0, MAX_OFFSET).default(0),
    /** Only items of this category. */
    category: text(200, 1).optional(),
    /** Comma-separated item IDs never to return. */
    exclude: z.string().max(100_000).optional(),
    /** A user whose items (any feedback) are never returned. */
    user: id.optional(),
  })
  .strict();
export const CategoryListQuery = ItemListQuery.omit({ category: true });
export const CategoryParams = z.object({ category: text(200, 1) }).strict();

export const PersonaPatch = z
  .object({
    muted: z.boolean().optional(),
    /** Multiplies the persona's weight in the user's mixture (1 = neutral, 0..10). */
    boost: z.number().min(0).max(10).optional(),
  })
  .strict();

export const PersonaParams = z.object({ id, index: intParam(0, 63) }).strict();
export const IdParams = z.object({ id }).strict();

/**
 * Upper bounds on training parameters the service accepts (beyond a model's own schema): the
 * counts that multiply training time or memory. `epochs: 1e9` is a 400 naming the field, before
 * any job starts.
 */
export const TRAIN_PARAM_LIMITS: Readonly<Record<string, number>> = {
  epochs: 1000,
  warmEpochs: 1000,
  avgEpochs: 1000,
  iterations: 1000,
  foldInSteps: 1000,
  userSteps: 8,
  cgSteps: 1024,
  factors: 1024,
  dim: 1024,
  k: 1000,
  negatives: 100_000,
  batchSize: 100_000,
  itemsPerPersona: 100_000,
  minClusterItems: 100_000,
};
/** Any other numeric training parameter must lie within +-this. */
export const TRAIN_PARAM_MAX_ABS = 1e6;

export const TrainBody = z
  .object({
    model: z.string().min(1).max(64).optional(),
    params: z.record(text(64, 1), z.union([z.number().finite(), text(64), z.boolean()])).optional(),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    /** Evaluate first (default protocol) against these models too, e.g. ["pop", "ease"]; served at /v1/evaluation. */
    evaluate: z.array(z.string().min(1).max(64)).max(8).optional(),
    /** Tune on a validation split first (the model's grid, as `evaluate --tune`), then fit on everything with the best parameters. */
    tune: z.boolean().optional(),
  })
  .strict();

export const OnboardingStartBody = z
  .object({
    n: z.number().int().min(1).max(MAX_N).default(10),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
  })
  .strict();

export const OnboardingAnswerBody = z
  .object({
    answer: z.enum(['a', 'b', 'both', 'neither']),
    n: z.number().int().min(1).max(MAX_N).default(10),
  })
  .strict();

/** POST /v1/onboarding/{id}/complete: whose feedback the session's answers become. */
export const OnboardingCompleteBody = z.object({ user: id }).strict();

export const ApiKeyBody = z.object({ scope: z.enum(['read', 'write', 'admin']), label: text(200).optional() }).strict();
export const KeyParams = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex digits (see GET /v1/keys)') }).strict();

// ---- responses (schemas-responses.ts; re-exported so that importers name this one module)
export * from './schemas-responses.js';

/** Route table for /openapi.json: method, path, summary, and the schemas involved. */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  auth: 'read' | 'write' | 'admin' | 'none';
  query?: z.ZodObject;
  body?: z.ZodType;
  response?: z.ZodType;
}

export const ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/healthz', summary: 'liveness', auth: 'none' },
  { method: 'get', path: '/readyz', summary: 'ready when a model is loaded and writes commit (503 otherwise, with the stage or the store failure)', auth: 'none', response: Readiness },
  { method: 'get', path: '/metrics', summary: 'Prometheus text metrics', auth: 'none' },
  { method: 'post', path: '/v1/items', summary: 'create or update items in bulk (JSON array, {items: [...]}, or JSONL)', auth: 'write', body: ItemsBody },
  { method: 'get', path: '/v1/items/{id}', summary: 'one item', auth: 'read' },
  { method: 'delete', path: '/v1/items/{id}', summary: 'delete an item (never recommended again)', auth: 'write' },
  { method: 'get', path: '/v1/items/{id}/similar', summary: 'items most similar to one item', auth: 'read', query: SimilarQuery },
  { method: 'post', path: '/v1/users', summary: 'create or update users in bulk (JSON array, {users: [...]}, or JSONL)', auth: 'write', body: UsersBody },
  { method: 'get', path: '/v1/users', summary: 'users with their interaction counts', auth: 'read', query: ListQuery, response: UserList },
  { method: 'get', path: '/v1/users/{id}', summary: 'one user', auth: 'read' },
  { method: 'delete', path: '/v1/users/{id}', summary: 'delete a user with their feedback and persona settings', auth: 'write' },
  { method: 'post', path: '/v1/feedback', summary: 'record feedback events; 200 only once durable', auth: 'write', body: FeedbackBody },
  { method: 'get', path: '/v1/users/{id}/feedback', summary: "a user's feedback, oldest first", auth: 'read', response: FeedbackList },
  { method: 'get', path: '/v1/users/{id}/recommendations', summary: 'recommendations, with explanations on request', auth: 'read', query: RecommendQuery, response: Recommendations },
  { method: 'get', path: '/v1/users/{id}/personas', summary: "a user's personas: share, label, anchors, settings", auth: 'read', response: Personas },
  { method: 'patch', path: '/v1/users/{id}/personas/{index}', summary: 'mute or boost a persona', auth: 'write', body: PersonaPatch, response: Personas },
  { method: 'get', path: '/v1/users/{id}/taste-mix', summary: "category shares of the history and of the list", auth: 'read', query: TasteMixQuery, response: TasteMix },
  { method: 'post', path: '/v1/sessions/recommend', summary: 'recommendations for an anonymous history', auth: 'read', body: SessionBody, response: Recommendations },
  { method: 'get', path: '/v1/popular', summary: 'the most popular items (users with a positive), no model needed', auth: 'read', query: ItemListQuery, response: ItemList },
  { method: 'get', path: '/v1/latest', summary: 'the newest items first, no model needed', auth: 'read', query: ItemListQuery, response: ItemList },
  { method: 'get', path: '/v1/categories/{category}/popular', summary: 'the most popular items of one category', auth: 'read', query: CategoryListQuery, response: ItemList },
  { method: 'post', path: '/v1/models/train', summary: 'start training a model (a job in a worker thread)', auth: 'admin', body: TrainBody, response: Job },
  { method: 'get', path: '/v1/jobs/{id}', summary: 'progress of a job', auth: 'admin', response: Job },
  { method: 'delete', path: '/v1/jobs/{id}', summary: 'cancel a running job', auth: 'admin', response: Job },
  { method: 'get', path: '/v1/models', summary: 'the active model', auth: 'read', response: ModelInfo },
  { method: 'get', path: '/v1/evaluation', summary: "the active model's evaluation (EvaluationJson), 404 if none", auth: 'read' },
  { method: 'post', path: '/v1/onboarding', summary: 'start an onboarding session: pairwise questions for a new user', auth: 'read', body: OnboardingStartBody, response: OnboardingState },
  { method: 'post', path: '/v1/onboarding/{id}/answers', summary: 'answer the open question (a, b, both, neither); the next question and recommendations', auth: 'read', body: OnboardingAnswerBody, response: OnboardingState },
  { method: 'post', path: '/v1/onboarding/{id}/complete', summary: "turn a session's answers into a user's feedback (liked items as like, rejected as dislike)", auth: 'write', body: OnboardingCompleteBody, response: OnboardingCompleted },
  { method: 'post', path: '/v1/keys', summary: 'create an API key (the key is shown once; stored hashed)', auth: 'admin', body: ApiKeyBody },
  { method: 'get', path: '/v1/keys', summary: 'list API keys: id, prefix, scope, label, created (never the key)', auth: 'admin', response: ApiKeyList },
  { method: 'delete', path: '/v1/keys/{id}', summary: 'revoke an API key (effective at once here, within the key cache TTL on other replicas)', auth: 'admin' },
];

function jsonSchema(s: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(s, { io, unrepresentable: 'any' });
}

/** The OpenAPI 3.1 document of the API, generated from the zod schemas above (and those of `extra` routes, e.g. schemas-admin.ts). */
export function openApiDocument(version: string, extra: readonly RouteDoc[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of [...ROUTES, ...extra]) {
    const op: Record<string, unknown> = { summary: r.summary, responses: {} };
    const params: unknown[] = [];
    for (const m of r.path.matchAll(/\{(\w+)\}/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (r.query) {
      for (const [name, field] of Object.entries(r.query.shape)) {
        params.push({ name, in: 'query', required: false, schema: jsonSchema(field as z.ZodType, 'input') });
      }
    }
    if (params.length > 0) op.parameters = params;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } };
    const responses: Record<string, unknown> = {
      '200': { description: 'OK', ...(r.response ? { content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } } : {}) },
      '400': { description: 'invalid input; the message names the field', content: { 'application/json': { schema: jsonSchema(ErrorBody, 'output') } } },
    };
    if (r.auth !== 'none') {
      responses['401'] = { description: 'missing API key' };
      responses['403'] = { description: 'wrong API key or insufficient scope' };
      op.security = [{ bearer: [] }, { apiKey: [] }];
    }
    op.responses = responses;
    (paths[r.path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'personae', version, description: 'Recommendations where every user is several personas. See docs/service.md.' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
  };
}
