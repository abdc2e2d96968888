/**
 * The public /v1 API, typed by the server's schemas (api-types.ts). Answers are not re-validated
 * here: the server builds them from the same schemas.
 */
import type {
  Activated,
  Evaluation,
  FeedbackAccepted,
  ItemAudience,
  ItemInfo,
  JobList,
  Job,
  ModelVersions,
  Overview,
  Similar,
  FeedbackList,
  ModelInfo,
  OnboardingAnswer,
  OnboardingState,
  PersonaPatch,
  Personas,
  Readiness,
  Recommendations,
  TasteMix,
  UserList,
} from './api-types.js';
import { errorMessage } from './format.js';

/** Where the API key is kept (this browser only; sent as a Bearer token, never in a URL). */
export const KEY_STORAGE = 'personae.apiKey';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function authHeaders(accept: string): Record<string, string> {
  const headers: Record<string, string> = { accept };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers.authorization = `Bearer ${key}`;
  return headers;
}

async function request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers = authHeaders('application/json');
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(data, res.status, res.statusText));
  return data as T;
}

const userPath = (id: string): string => `/v1/users/${encodeURIComponent(id)}`;
const rerankParam = (rerank: string): string => (rerank === 'none' ? '' : `&rerank=${encodeURIComponent(rerank)}`);

export const api = {
  users: (limit: number, offset: number) => request<UserList>(`/v1/users?limit=${limit}&offset=${offset}`),
  personas: (user: string) => request<Personas>(`${userPath(user)}/personas`),
  patchPersona: (user: string, index: number, change: PersonaPatch) => request<Personas>(`${userPath(user)}/personas/${index}`, { method: 'PATCH', body: change }),
  recommendations: (user: string, n: number, rerank: string) => request<Recommendations>(`${userPath(user)}/recommendations?n=${n}&explain=true${rerankParam(rerank)}`),
  tasteMix: (user: string, n: number, rerank: string) => request<TasteMix>(`${userPath(user)}/taste-mix?n=${n}${rerankParam(rerank)}`),
  feedback: (user: string) => request<FeedbackList>(`${userPath(user)}/feedback`),
  models: () => request<ModelInfo>('/v1/models'),
  evaluation: () => request<Evaluation>('/v1/evaluation'),
  startOnboarding: (n: number) => request<OnboardingState>('/v1/onboarding', { method: 'POST', body: { n } }),
  overview: (hours: number) => request<Overview>(`/v1/overview?hours=${hours}`),
  jobs: (limit: number) => request<JobList>(`/v1/jobs?limit=${limit}`),
  cancelJob: (id: string) => request<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  train: (body: { model?: string; evaluate?: string[] }) => request<Job>('/v1/models/train', { method: 'POST', body }),
  versions: () => request<ModelVersions>('/v1/models/versions'),
  activate: (version: number) => request<Activated>(`/v1/models/versions/${version}/activate`, { method: 'POST' }),
  item: (id: string) => request<ItemInfo>(`/v1/items/${encodeURIComponent(id)}`),
  similar: (id: string, n: number) => request<Similar>(`/v1/items/${encodeURIComponent(id)}/similar?n=${n}`),
  audience: (id: string, n: number, offset: number) => request<ItemAudience>(`/v1/items/${encodeURIComponent(id)}/audience?n=${n}&offset=${offset}`),
  postFeedback: (feedback: readonly unknown[]) => request<FeedbackAccepted>('/v1/feedback', { method: 'POST', body: { feedback } }),
  answerOnboarding: (session: string, answer: OnboardingAnswer, n: number) =>
    request<OnboardingState>(`/v1/onboarding/${encodeURIComponent(session)}/answers`, { method: 'POST', body: { answer, n } }),
};

/** GET /v1/feedback/export (all feedback, or one user's) as JSONL text. */
export async function exportFeedback(user: string | null): Promise<string> {
  const res = await fetch(`/v1/feedback/export${user ? `?user=${encodeURIComponent(user)}` : ''}`, { headers: authHeaders('application/x-ndjson') });
  const text = await res.text();
  if (!res.ok) {
    let data: unknown = null;
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
    throw new ApiError(res.status, errorMessage(data, res.status, res.statusText));
  }
  return text;
}

/** /readyz: ready (or a server without it), else the service's status ("training: ..."). */
export async function readiness(): Promise<{ ready: boolean; status: string }> {
  try {
    const res = await fetch('/readyz', { headers: { accept: 'application/json' } });
    const body = (await res.json().catch(() => null)) as Readiness | null;
    return { ready: res.ok || res.status === 404, status: typeof body?.status === 'string' ? body.status : 'not reachable' };
  } catch {
    return { ready: false, status: 'not reachable' };
  }
}

/** An error for the page, with a hint when the API key is missing or wrong. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401 || err.status === 403) return `${err.message} (set the API key at the top right)`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
