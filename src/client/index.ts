/**
 * `personae/client`: a typed client of the HTTP API (docs/service.md) for Node 20+ and browsers.
 *
 * Request and response types come from the server's own declarations, never restated: bodies are
 * `z.input` and responses `z.output` of the zod schemas in src/serve/schemas.ts (which also
 * validate every request and generate /openapi.json); query parameters are the `z.output` of the
 * query schemas (numbers and booleans, which the client writes as strings); the few responses
 * without a schema take the return types of the server code that builds them (Engine, the store's
 * records, EvaluationJson). Everything is imported as types only: at run time the client is this
 * file and `fetch`, with no dependency.
 *
 * Errors are values: every call resolves to `{ ok: true, value, status }` or `{ ok: false, error }`
 * with `error.kind` 'http' (the server's status, code and message), 'network' (no answer) or
 * 'invalid_response' (an answer that is not the JSON the route returns). Calls never throw for
 * these; they throw only for programming errors (e.g. an empty id).
 */
import type { z } from 'zod';
import type { EvaluationJson } from '../eval/results.js';
import type * as S from '../serve/schemas.js';
import type * as A from '../serve/schemas-admin.js';
import type { Engine } from '../serve/engine.js';
import type { ItemRecord, KeyScope, UserRecord } from '../store/types.js';

// ---- request types (what a caller sends)
export type ItemInput = z.input<typeof S.ItemInput>;
export type UserInput = z.input<typeof S.UserInput>;
export type FeedbackInput = z.input<typeof S.FeedbackInput>;
export type PersonaPatch = z.input<typeof S.PersonaPatch>;
export type SessionRequest = z.input<typeof S.SessionBody>;
export type TrainRequest = z.input<typeof S.TrainBody>;
export type ApiKeyRequest = z.input<typeof S.ApiKeyBody>;
export type OnboardingStartRequest = z.input<typeof S.OnboardingStartBody>;
export type OnboardingAnswerRequest = z.input<typeof S.OnboardingAnswerBody>;
export type OnboardingCompleteRequest = z.input<typeof S.OnboardingCompleteBody>;
/** Query of GET /v1/users/{id}/recommendations; `exclude` may also be a list of item ids. */
export type RecommendParams = Partial<Omit<z.output<typeof S.RecommendQuery>, 'exclude'>> & { exclude?: string | readonly string[] };
export type SimilarParams = Partial<z.output<typeof S.SimilarQuery>>;
export type TasteMixParams = Partial<z.output<typeof S.TasteMixQuery>>;
export type ListParams = Partial<z.output<typeof S.ListQuery>>;
/** Query of GET /v1/popular and /v1/latest; `exclude` may also be a list of item ids. */
export type ItemListParams = Partial<Omit<z.output<typeof S.ItemListQuery>, 'exclude'>> & { exclude?: string | readonly string[] };
/** Query of GET /v1/categories/{category}/popular. */
export type CategoryListParams = Omit<ItemListParams, 'category'>;

// ---- response types (what the server answers)
export type Recommendations = z.output<typeof S.Recommendations>;
export type RecommendedItem = z.output<typeof S.RecItem>;
export type Explanation = z.output<typeof S.Explanation>;
export type Personas = z.output<typeof S.Personas>;
export type UserList = z.output<typeof S.UserList>;
export type FeedbackList = z.output<typeof S.FeedbackList>;
export type TasteMix = z.output<typeof S.TasteMix>;
export type Job = z.output<typeof S.Job>;
export type JobList = z.output<typeof A.JobList>;
export type JobsParams = Partial<z.output<typeof A.JobsQuery>>;
export type ItemList = z.output<typeof S.ItemList>;
export type ModelInfo = z.output<typeof S.ModelInfo>;
export type OnboardingState = z.output<typeof S.OnboardingState>;
export type OnboardingCompleted = z.output<typeof S.OnboardingCompleted>;
export type ErrorBody = z.output<typeof S.ErrorBody>;
export type SimilarItems = ReturnType<Engine['similar']>;
export type Item = ItemRecord;
export type User = UserRecord & { interactions: number };
export type Evaluation = EvaluationJson;
export type ModelVersion = Engine['info'];

/*
 * Acknowledgements of writes. The server builds these inline (src/serve/routes-*.ts) and schemas.ts has
 * no schema for them yet, so they are the one place the client states a shape itself.
 */
export interface Upserted {
  upserted: number;
}
export interface Deleted {
  deleted: string;
}
export interface FeedbackAccepted {
  accepted: number;
  /** The store's sequence number of each event, in order. */
  seqs: number[];
}
export interface CreatedKey {
  /** The key, shown this once (the server keeps only its hash). */
  key: string;
  scope: KeyScope;
}
export interface Readiness {
  ready: boolean;
  model?: ModelVersion | null;
  status?: string;
}

// ---- results and errors
export type ApiError =
  | { readonly kind: 'http'; readonly status: number; readonly code: string; readonly message: string }
  | { readonly kind: 'network'; readonly message: string }
  | { readonly kind: 'invalid_response'; readonly status: number; readonly message: string };

export type Result<T> = { readonly ok: true; readonly status: number; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export interface ClientOptions {
  /** Base URL of the service, e.g. "http://127.0.0.1:8080". */
  readonly url: string;
  /** An API key, sent as "Authorization: Bearer <key>". */
  readonly apiKey?: string | undefined;
  /** A fetch implementation (default: the global fetch). */
  readonly fetch?: typeof fetch;
  /** Milliseconds before a request is abandoned as a network error (default: none). */
  readonly timeoutMs?: number;
}

type Query = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

function segment(id: string, what: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`personae client: ${what} must be a non-empty string`);
  return encodeURIComponent(id);
}

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(',') : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(text)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function isErrorBody(x: unknown): x is ErrorBody {
  const e = (x as { error?: { status?: unknown; code?: unknown; message?: unknown } } | null)?.error;
  return typeof e === 'object' && e !== null && typeof e.status === 'number' && typeof e.code === 'string' && typeof e.message === 'string';
}

export class PersonaeClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly opts: ClientOptions) {
    if (typeof opts.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError('personae client: url must start with http:// or https://');
    this.base = opts.url.replace(/\/+$/, '');
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('personae client: no fetch available; pass options.fetch');
    this.doFetch = f.bind(globalThis);
  }

  /** A client with the same service and another API key (or none). */
  withApiKey(apiKey: string | undefined): PersonaeClient {
    const { apiKey: _old, ...rest } = this.opts;
    return new PersonaeClient(apiKey === undefined ? rest : { ...rest, apiKey });
  }

  private async request<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<Result<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.apiKey !== undefined) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      const init: RequestInit = { method, headers };
      if (body !== undefined) init.body = body;
      if (this.opts.timeoutMs !== undefined) init.signal = AbortSignal.timeout(this.opts.timeoutMs);
      response = await this.doFetch(this.base + path + queryString(opts.query), init);
    } catch (err) {
      return { ok: false, error: { kind: 'network', message: err instanceof Error ? err.message : String(err) } };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { ok: false, error: { kind: 'network', message: err instanceof Error ? err.message : String(err) } };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (!response.ok) return { ok: false, error: { kind: 'http', status: response.status, code: 'http_error', message: text.slice(0, 500) || response.statusText } };
      return { ok: false, error: { kind: 'invalid_response', status: response.status, message: `expected JSON from ${method} ${path}, got: ${text.slice(0, 200)}` } };
    }
    if (!response.ok) {
      if (isErrorBody(json)) return { ok: false, error: { kind: 'http', status: json.error.status, code: json.error.code, message: json.error.message } };
      return { ok: false, error: { kind: 'http', status: response.status, code: 'http_error', message: text.slice(0, 500) } };
    }
    return { ok: true, status: response.status, value: json as T };
  }

  // ---- health
  ready(): Promise<Result<Readiness>> {
    return this.request('GET', '/readyz');
  }

  // ---- items
  upsertItems(items: readonly ItemInput[]): Promise<Result<Upserted>> {
    return this.request('POST', '/v1/items', { body: items });
  }
  item(id: string): Promise<Result<Item>> {
    return this.request('GET', `/v1/items/${segment(id, 'item id')}`);
  }
  deleteItem(id: string): Promise<Result<Deleted>> {
    return this.request('DELETE', `/v1/items/${segment(id, 'item id')}`);
  }
  similarItems(id: string, params: SimilarParams = {}): Promise<Result<SimilarItems>> {
    return this.request('GET', `/v1/items/${segment(id, 'item id')}/similar`, { query: params });
  }

  // ---- users and feedback
  upsertUsers(users: readonly UserInput[]): Promise<Result<Upserted>> {
    return this.request('POST', '/v1/users', { body: users });
  }
  users(params: ListParams = {}): Promise<Result<UserList>> {
    return this.request('GET', '/v1/users', { query: params });
  }
  user(id: string): Promise<Result<User>> {
    return this.request('GET', `/v1/users/${segment(id, 'user id')}`);
  }
  deleteUser(id: string): Promise<Result<Deleted>> {
    return this.request('DELETE', `/v1/users/${segment(id, 'user id')}`);
  }
  sendFeedback(feedback: readonly FeedbackInput[]): Promise<Result<FeedbackAccepted>> {
    return this.request('POST', '/v1/feedback', { body: { feedback } });
  }
  feedbackOf(user: string): Promise<Result<FeedbackList>> {
    return this.request('GET', `/v1/users/${segment(user, 'user id')}/feedback`);
  }

  // ---- recommendations and personas
  recommend(user: string, params: RecommendParams = {}): Promise<Result<Recommendations>> {
    return this.request('GET', `/v1/users/${segment(user, 'user id')}/recommendations`, { query: params });
  }
  personas(user: string): Promise<Result<Personas>> {
    return this.request('GET', `/v1/users/${segment(user, 'user id')}/personas`);
  }
  setPersona(user: string, index: number, patch: PersonaPatch): Promise<Result<Personas>> {
    if (!Number.isInteger(index) || index < 0) throw new TypeError('personae client: persona index must be a non-negative integer');
    return this.request('PATCH', `/v1/users/${segment(user, 'user id')}/personas/${index}`, { body: patch });
  }
  tasteMix(user: string, params: TasteMixParams = {}): Promise<Result<TasteMix>> {
    return this.request('GET', `/v1/users/${segment(user, 'user id')}/taste-mix`, { query: params });
  }
  recommendSession(request: SessionRequest): Promise<Result<Recommendations>> {
    return this.request('POST', '/v1/sessions/recommend', { body: request });
  }

  // ---- onboarding
  startOnboarding(request: OnboardingStartRequest = {}): Promise<Result<OnboardingState>> {
    return this.request('POST', '/v1/onboarding', { body: request });
  }
  answerOnboarding(session: string, request: OnboardingAnswerRequest): Promise<Result<OnboardingState>> {
    return this.request('POST', `/v1/onboarding/${segment(session, 'session id')}/answers`, { body: request });
  }
  /** Records the session's answers as the user's feedback (needs a write key). */
  completeOnboarding(session: string, request: OnboardingCompleteRequest): Promise<Result<OnboardingCompleted>> {
    return this.request('POST', `/v1/onboarding/${segment(session, 'session id')}/complete`, { body: request });
  }

  // ---- non-personalised lists
  popular(params: ItemListParams = {}): Promise<Result<ItemList>> {
    return this.request('GET', '/v1/popular', { query: params });
  }
  latest(params: ItemListParams = {}): Promise<Result<ItemList>> {
    return this.request('GET', '/v1/latest', { query: params });
  }
  categoryPopular(category: string, params: CategoryListParams = {}): Promise<Result<ItemList>> {
    return this.request('GET', `/v1/categories/${segment(category, 'category')}/popular`, { query: params });
  }

  // ---- models, jobs, evaluation, keys
  models(): Promise<Result<ModelInfo>> {
    return this.request('GET', '/v1/models');
  }
  evaluation(): Promise<Result<Evaluation>> {
    return this.request('GET', '/v1/evaluation');
  }
  train(request: TrainRequest = {}): Promise<Result<Job>> {
    return this.request('POST', '/v1/models/train', { body: request });
  }
  jobs(params: JobsParams = {}): Promise<Result<JobList>> {
    return this.request('GET', '/v1/jobs', { query: params });
  }
  job(id: string): Promise<Result<Job>> {
    return this.request('GET', `/v1/jobs/${segment(id, 'job id')}`);
  }
  createApiKey(request: ApiKeyRequest): Promise<Result<CreatedKey>> {
    return this.request('POST', '/v1/keys', { body: request });
  }
}

/** `createClient({ url, apiKey })`: the same as `new PersonaeClient(...)`. */
export function createClient(opts: ClientOptions): PersonaeClient {
  return new PersonaeClient(opts);
}
