/**
 * The HTTP routes (fastify). Inputs are parsed with the zod schemas of schemas.ts (errors name the
 * field), API keys are checked by scope (read < write < admin), requests are rate-limited per key
 * and per address (@fastify/rate-limit), and every error (router, content type, body, handler)
 * leaves as `{error: {status, code, message}}` without a stack trace.
 */
import { createHash, randomBytes } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConfigError, DataError, issueMessages, ModelFitError, NotFoundError } from '../errors.js';
import { modelNames, parseModelSpec, parseModelSpecs } from '../models/registry.js';
import { VERSION } from '../version.js';
import { clientErrorHandler } from './client-errors.js';
import { registerDashboard } from './dashboard/index.js';
import { Engine } from './engine.js';
import type { FeedbackPolicy, LiveData } from './live.js';
import { Metrics } from './metrics.js';
import { registerOnboarding } from './onboarding.js';
import { registerAdminRoutes } from './routes-admin.js';
import { ADMIN_ROUTES } from './schemas-admin.js';
import {
  ApiKeyBody,
  CategoryListQuery,
  CategoryParams,
  FeedbackBody,
  ItemListQuery,
  IdParams,
  ItemInputs,
  ItemsWrapped,
  KeyParams,
  ListQuery,
  MAX_ID,
  openApiDocument,
  PersonaParams,
  PersonaPatch,
  RecommendQuery,
  SessionBody,
  SimilarQuery,
  TasteMixQuery,
  TrainBody,
  UserInputs,
  UsersWrapped,
} from './schemas.js';
import type { FeedbackRecord, KeyScope, Store } from '../store/types.js';
import { keyIdOf } from '../store/rows.js';
import { storeFailure, type StoreHealth } from '../store/errors.js';
import { checkTrainParams, JOB_HEARTBEAT_MS, Jobs } from './training.js';
import { itemList } from './lists.js';
import { startTraining } from './schedule.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ServiceState {
  store: Store;
  live: LiveData;
  /** The live mirror is loaded from the store (writes before that are a 503). */
  liveReady: boolean;
  engine: Engine | null;
  ready: boolean;
  /** Why the service is not ready (e.g. "training"), for /readyz. */
  status: string;
  jobs: Jobs;
  metrics: Metrics;
  /**
   * No key is needed anywhere: the store held no key at start and no PERSONAE_API_KEY was given
   * (loopback only), or `--insecure-open`. Creating a key ends it (unless insecure-open).
   */
  open: boolean;
  /** Reads need a key: whenever the service is not open, unless `--public-reads`. */
  readNeedsKey: boolean;
  insecureOpen: boolean;
  publicReads: boolean;
  /** Shutting down: new requests get 503 while the ones in flight finish. */
  closing: boolean;
  policy: FeedbackPolicy;
  train: { model: string; params: Record<string, number | string | boolean>; seed: number; threads: number; modelsDir: string; tune?: boolean };
  /** Model versions kept (artifacts and records) after a training (`--keep-models`). */
  keepModels: number;
  /** Store failures (503s, logged once per interval) and whether writes work (/readyz). */
  storeHealth: StoreHealth;
}

type Scope = KeyScope | 'none';
const RANK: Record<KeyScope, number> = { read: 0, write: 1, admin: 2 };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: Scope;
  }
  interface FastifyRequest {
    /** What the rate limit counts this request against: "key:<id>" or "ip:<address>". */
    rateKey: string;
  }
}

/** Requests per minute; 0 = no limit. */
export interface RateLimits {
  /** Per API key (requests that present a valid key). Default 60,000. */
  perKey: number;
  /** Per client address, for requests without a valid key. Default 6,000. */
  perAddress: number;
}
export const DEFAULT_RATE_LIMITS: RateLimits = { perKey: 60_000, perAddress: 6_000 };

export interface AppOptions {
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  rateLimits?: RateLimits;
  /** Longest a client may take to send a whole request (ms; default 30 s): then 408. */
  requestTimeoutMs?: number;
  /** Longest a handler may run (ms; default 60 s): then 503 `timeout`. */
  handlerTimeoutMs?: number;
  /**
   * How long a key looked up in the store is trusted (ms; default 1000). A key revoked on this
   * replica stops working at once; on another replica sharing the store, within this TTL.
   */
  keyCacheTtlMs?: number;
}

/** The first characters of a key shown in lists: at most 8, and at most a quarter of the key. */
export function keyPrefix(key: string): string {
  return key.slice(0, Math.min(8, Math.floor(key.length / 4)));
}

/** An error body in the one shape. */
const errorBody = (status: number, code: string, message: string): { error: { status: number; code: string; message: string } } => ({ error: { status, code, message } });

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Parses `data` with `schema`; a failure is a 400 naming each bad field. */
function parse<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  throw new HttpError(400, 'invalid_input', issueMessages(r.error.issues.slice(0, 5), where).join('; '));
}

/**
 * What one request may cost (the work of a list grows with offset + n, explanations with n, a
 * reranker with its pool): beyond it a 400 naming the field, so that no legal request holds the
 * event loop for long.
 */
export const REQUEST_BUDGET = {
  /** offset + n of any list. */
  depth: 1000,
  /** Items explained in one answer (explain=true). */
  explained: 100,
  /** offset + n with a reranker (it scores a pool a few times that size). */
  reranked: 200,
} as const;

/** Throws a 400 naming the field when a list request is over REQUEST_BUDGET. */
export function checkBudget(q: { n: number; offset?: number; explain?: boolean; rerank?: string }, where: 'query' | 'body'): void {
  const offset = q.offset ?? 0;
  const depth = offset + q.n;
  const B = REQUEST_BUDGET;
  if (depth > B.depth) throw new HttpError(400, 'over_budget', `${where}.offset: offset + n must be <= ${B.depth} (got ${depth}); page through at most ${B.depth} items`);
  if (q.explain && q.n > B.explained) throw new HttpError(400, 'over_budget', `${where}.n: with explain=true, n must be <= ${B.explained} (got ${q.n}); ask for explanations a page at a time`);
  if (q.rerank !== undefined && q.rerank.trim() !== 'none' && q.rerank.trim() !== '' && depth > B.reranked) {
    throw new HttpError(400, 'over_budget', `${where}.n: with a reranker, offset + n must be <= ${B.reranked} (got ${depth})`);
  }
}

const modelOf = (s: ServiceState): Engine => {
  if (!s.engine) throw new HttpError(503, 'not_ready', `no model is loaded yet (${s.status})`);
  return s.engine;
};

function parseJsonl(text: string): unknown[] {
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch (err) {
      throw new HttpError(400, 'malformed_jsonl', `body: line ${l + 1}: ${err instanceof Error ? err.message : 'not JSON'}`);
    }
  }
  return out;
}

function toMillis(ts: string | number | undefined, now: number): number {
  if (ts === undefined) return now;
  if (typeof ts === 'number') return Math.round(ts * 1000);
  return Date.parse(ts);
}

/** ISO 8601 of a stored time; out-of-range values (stored before timestamps were bounded) are clamped. */
function isoOf(ms: number): string {
  return new Date(Math.max(-8.64e15, Math.min(8.64e15, Number.isFinite(ms) ? ms : 0))).toISOString();
}

export async function buildApp(s: ServiceState, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 8 * 1024 * 1024,
    // new requests while closing get the 503 of the auth hook below, in the one error shape
    return503OnClosing: false,
    // the router's limit on a path segment is the schema's limit on an id (one limit, both places)
    routerOptions: { maxParamLength: MAX_ID },
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    connectionTimeout: Math.max(opts.requestTimeoutMs ?? 30_000, 60_000),
    handlerTimeout: opts.handlerTimeoutMs ?? 60_000,
    // parser errors (431 headers too large, 408, not HTTP) in the one error shape too
    clientErrorHandler,
    frameworkErrors: (err, _req, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      const code = (err as { code?: string }).code;
      if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
        void reply.code(414).send(errorBody(414, 'uri_too_long', `path: a path segment is longer than ${MAX_ID} characters (ids are at most ${MAX_ID})`));
      } else if (code === 'FST_ERR_BAD_URL') {
        void reply.code(400).send(errorBody(400, 'invalid_input', 'path: malformed percent-encoding (not valid UTF-8)'));
      } else {
        void reply.code(400).send(errorBody(400, 'bad_request', `request: ${err.message}`));
      }
    },
  });
  const keyTtl = opts.keyCacheTtlMs ?? 1000;
  const keyCache = new Map<string, { scope: KeyScope; id: string; until: number }>();
  const limits = opts.rateLimits ?? DEFAULT_RATE_LIMITS;
  app.decorateRequest('rateKey', '');
  await app.register(rateLimit, { global: false });
  const limiter = app.rateLimit({
    timeWindow: 60_000,
    keyGenerator: (req) => req.rateKey,
    max: (_req, key) => (key.startsWith('key:') ? limits.perKey : limits.perAddress),
    errorResponseBuilder: (req, ctx) =>
      new HttpError(429, 'rate_limited', `rate limit: at most ${ctx.max} requests a minute ${req.rateKey.startsWith('key:') ? 'per API key' : 'per address without a key'}; retry in ${ctx.after}`),
  });

  /** The key's scope and id, from a cache trusted for keyTtl ms (a revocation here clears it). */
  const lookupKey = async (key: string): Promise<{ scope: KeyScope; id: string } | null> => {
    const h = hashKey(key);
    const now = Date.now();
    const hit = keyCache.get(h);
    if (hit && hit.until > now) return hit;
    const scope = await s.store.findApiKey(h);
    if (!scope) {
      keyCache.delete(h);
      return null;
    }
    if (keyCache.size >= 10_000) keyCache.clear();
    const entry = { scope, id: keyIdOf(h), until: now + keyTtl };
    keyCache.set(h, entry);
    return entry;
  };
  const presentedKey = (req: FastifyRequest): string | undefined => {
    const auth = req.headers.authorization;
    const given = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : req.headers['x-api-key'];
    return Array.isArray(given) ? given[0] : given;
  };

  // only JSON and JSONL bodies (fastify's default text/plain parser would turn a 415 into a 400)
  app.removeContentTypeParser('text/plain');

  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonl(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    if (s.closing) {
      void reply.header('connection', 'close');
      throw new HttpError(503, 'shutting_down', 'the server is shutting down; retry on another replica or after the restart');
    }
    const need: Scope = req.routeOptions.config.auth ?? 'none';
    if (need === 'none') return; // health, metrics, documents, the dashboard: no key, no rate limit
    const key = presentedKey(req);
    const found = key ? await lookupKey(key) : null;
    // counted per key when one is valid, else per address (failed attempts included)
    req.rateKey = found ? `key:${found.id}` : `ip:${req.ip}`;
    if ((found ? limits.perKey : limits.perAddress) > 0) await limiter.call(app, req, reply);
    if (s.open || (need === 'read' && !s.readNeedsKey)) return;
    if (!key) throw new HttpError(401, 'unauthorized', 'missing API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"');
    if (!found) throw new HttpError(403, 'forbidden', 'the API key is not valid');
    if (need !== 'read' && RANK[found.scope] < RANK[need]) throw new HttpError(403, 'forbidden', `this route needs a key with scope "${need}"; the key has "${found.scope}"`);
  });

  // writes wait for the live mirror: before it is loaded, a write could be missed by it
  app.addHook('preHandler', async (req) => {
    if (!s.liveReady && req.method !== 'GET' && req.routeOptions.config.auth === 'write') {
      throw new HttpError(503, 'not_ready', `the service is starting (${s.status}); retry shortly`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'GET' && reply.statusCode < 300 && req.routeOptions.config.auth !== undefined && req.routeOptions.config.auth !== 'read') s.storeHealth.wrote();
    s.metrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(404, 'not_found', `path: no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    let status = 500;
    let code = 'internal';
    let message = 'internal error';
    const e = err as { statusCode?: number; code?: string; message?: string };
    const failure = err instanceof HttpError ? null : storeFailure(err);
    if (failure) {
      // full, read-only or unreachable store: 503 with its code, logged once per interval
      status = 503;
      code = failure.code;
      message = failure.message;
      s.storeHealth.note(failure, `${req.method} ${req.routeOptions.url ?? req.url}: ${e.message ?? String(err)}`, req.method !== 'GET');
    } else if (err instanceof HttpError) {
      status = err.status;
      code = err.code;
      message = err.message;
    } else if (err instanceof NotFoundError) {
      status = 404;
      code = 'not_found';
      message = err.message;
    } else if (err instanceof ConfigError || err instanceof DataError) {
      status = 400;
      code = 'invalid_input';
      // a reranker spec is checked by the engine, which does not know where it came from
      message = err instanceof ConfigError && err.field === 'rerank' ? `${req.method === 'GET' ? 'query' : 'body'}.${err.message}` : err.message;
    } else if (err instanceof ModelFitError) {
      status = 422;
      code = 'fit_failed';
      message = err.message;
    } else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      code = 'body_too_large';
      message = 'body: request body is larger than the limit';
    } else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      status = 415;
      code = 'unsupported_media_type';
      message = 'content-type: send application/json (or application/x-ndjson for bulk JSONL)';
    } else if (e.code === 'FST_ERR_HANDLER_TIMEOUT') {
      status = 503;
      code = 'timeout';
      message = 'the request took longer than the server allows; retry';
    } else if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      status = 400;
      code = 'invalid_input';
      message = 'body: the JSON body is empty';
    } else if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      status = 400;
      code = 'malformed_json';
      message = `body: malformed JSON (${e.message ?? 'parse error'})`;
    } else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      status = e.statusCode;
      code = e.code?.startsWith('FST_ERR_CTP') ? 'invalid_input' : (e.code ?? 'bad_request');
      message = e.code?.startsWith('FST_ERR_CTP') ? `body: ${e.message ?? 'bad request'}` : (e.message ?? 'bad request');
    } else {
      process.stderr.write(`personae serve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    void reply.code(status).send(errorBody(status, code, message));
  });

  const json = (reply: FastifyReply, text: string): FastifyReply => reply.type('application/json; charset=utf-8').send(text);

  // ---- health, metrics, docs
  app.get('/healthz', async () => ({ ok: true }));
  // ready = a model is loaded and a write commits (the store's write probe, at most every 2 s)
  app.get('/readyz', async (_req, reply) => {
    const failure = s.liveReady ? await s.storeHealth.writable(() => s.store.probeWrite()) : null;
    const writes = failure === null;
    if (s.ready && writes) return { ready: true, writes, model: s.engine?.info ?? null };
    return reply.code(503).send({ ready: false, writes, status: failure ? `${failure.code}: ${failure.message}` : s.status, ...(failure ? { code: failure.code } : {}) });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return s.metrics.render({
      modelVersion: s.engine?.info.version ?? 0,
      modelName: s.engine?.info.name ?? '',
      items: s.live.items.size,
      users: s.live.users.size,
      feedback: s.live.feedbackCount,
      ready: s.ready,
    });
  });
  const openapi = JSON.stringify(openApiDocument(VERSION, ADMIN_ROUTES));
  app.get('/openapi.json', async (_req, reply) => json(reply, openapi));

  // ---- items
  app.post('/v1/items', { config: { auth: 'write' } }, async (req) => {
    // an array, or {items: [...]}: parsed apart so that errors name the field (body[3].id)
    const list = Array.isArray(req.body) ? parse(ItemInputs, req.body, 'body') : parse(ItemsWrapped, req.body, 'body').items;
    const items = list.map((it) => ({ id: it.id, title: it.title ?? it.id, categories: it.categories ?? [] }));
    await s.store.upsertItems(items);
    s.live.upsertItems(items);
    return { upserted: items.length };
  });
  app.get('/v1/items/:id', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const it = s.live.items.get(id);
    if (!it) throw new NotFoundError(`item "${id}" does not exist`);
    return it;
  });
  app.delete('/v1/items/:id', { config: { auth: 'write' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    if (!(await s.store.deleteItem(id))) throw new NotFoundError(`item "${id}" does not exist`);
    s.live.deleteItem(id);
    return { deleted: id };
  });
  app.get('/v1/items/:id/similar', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(SimilarQuery, req.query, 'query');
    checkBudget(q, 'query');
    if (!s.live.items.has(id)) throw new NotFoundError(`item "${id}" does not exist`);
    return modelOf(s).similar(id, q.n, q.offset);
  });

  // ---- users
  app.post('/v1/users', { config: { auth: 'write' } }, async (req) => {
    const list = Array.isArray(req.body) ? parse(UserInputs, req.body, 'body') : parse(UsersWrapped, req.body, 'body').users;
    const users = list.map((u) => ({ id: u.id, attributes: u.attributes ?? {} }));
    await s.store.upsertUsers(users);
    return { upserted: users.length };
  });
  app.get('/v1/users', { config: { auth: 'read' } }, async (req) => {
    const q = parse(ListQuery, req.query, 'query');
    return s.store.listUsers(q.limit, q.offset);
  });
  app.get('/v1/users/:id', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const u = await s.store.getUser(id);
    if (!u) throw new NotFoundError(`user "${id}" does not exist`);
    return { ...u, interactions: s.live.users.get(id)?.events ?? 0 };
  });
  app.delete('/v1/users/:id', { config: { auth: 'write' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    if (!(await s.store.deleteUser(id))) throw new NotFoundError(`user "${id}" does not exist`);
    // erasure: gone from this replica's answers at once; the store's tombstone (applied here too)
    // makes every replica drop the user, and the model's row of this id, on its next sync
    s.live.deleteUser(id);
    await s.live.applyErasures(s.store);
    return { deleted: id };
  });

  // ---- feedback
  app.post('/v1/feedback', { config: { auth: 'write' } }, async (req) => {
    const body = parse(FeedbackBody, req.body, 'body');
    const now = Date.now();
    const events: FeedbackRecord[] = body.feedback.map((f, r) => {
      const rule = s.policy[f.type];
      if (!rule) throw new HttpError(400, 'invalid_input', `body.feedback[${r}].type: unknown type "${f.type}"; known types: ${Object.keys(s.policy).join(', ')}`);
      if (!s.live.items.has(f.item)) throw new NotFoundError(`body.feedback[${r}].item: unknown item "${f.item}" (create it with POST /v1/items first)`);
      return { user: f.user, item: f.item, type: f.type, value: f.value ?? 1, ts: toMillis(f.timestamp, now) };
    });
    const seqs = await s.store.addFeedback(events);
    s.live.applyFeedback(events.map((e, r) => ({ ...e, seq: seqs[r]! })));
    s.metrics.inc('feedback', events.length);
    return { accepted: events.length, seqs };
  });
  app.get('/v1/users/:id/feedback', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const rows = await s.store.feedbackOf(id);
    if (rows.length === 0 && !(await s.store.getUser(id))) throw new NotFoundError(`user "${id}" does not exist`);
    return {
      user: id,
      feedback: rows.map((f) => {
        const it = s.live.items.get(f.item);
        return { item: f.item, title: it?.title ?? f.item, categories: it?.categories ?? [], type: f.type, value: f.value, ts: isoOf(f.ts) };
      }),
    };
  });

  // ---- recommendations and personas
  app.get('/v1/users/:id/recommendations', { config: { auth: 'read' } }, async (req, reply) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(RecommendQuery, req.query, 'query');
    Engine.checkRerank(q.rerank);
    checkBudget(q, 'query');
    const engine = modelOf(s);
    if (s.live.users.has(id)) await s.live.overrides(s.store, id);
    const exclude = q.exclude ? q.exclude.split(',').filter((x) => x !== '') : [];
    return json(reply, engine.recommendJson(id, { n: q.n, offset: q.offset, category: q.category, exclude, rerank: q.rerank, explain: q.explain, hedge: q.hedge }));
  });
  app.get('/v1/users/:id/personas', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const engine = modelOf(s);
    if (s.live.users.has(id)) await s.live.overrides(s.store, id);
    return engine.personasOf(id);
  });
  app.patch('/v1/users/:id/personas/:index', { config: { auth: 'write' } }, async (req) => {
    const { id, index } = parse(PersonaParams, req.params, 'path');
    const patch = parse(PersonaPatch, req.body ?? {}, 'body');
    const engine = modelOf(s);
    if (!s.live.users.has(id)) throw new NotFoundError(`user "${id}" has no feedback, so no personas`);
    const current = await s.live.overrides(s.store, id);
    const k = engine.personaCount(id);
    if (index >= k) throw new NotFoundError(`user "${id}" has ${k} persona${k === 1 ? '' : 's'}; there is no persona ${index}`);
    const prev = current.get(index) ?? { muted: false, boost: 1 };
    const next = { user: id, persona: index, muted: patch.muted ?? prev.muted, boost: patch.boost ?? prev.boost };
    await s.store.setOverride(next);
    s.live.setOverride(next);
    return engine.personasOf(id);
  });
  app.get('/v1/users/:id/taste-mix', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(TasteMixQuery, req.query, 'query');
    Engine.checkRerank(q.rerank);
    checkBudget(q, 'query');
    const engine = modelOf(s);
    if (s.live.users.has(id)) await s.live.overrides(s.store, id);
    return engine.tasteMix(id, q.n, q.rerank, q.hedge);
  });
  app.post('/v1/sessions/recommend', { config: { auth: 'read' } }, async (req) => {
    const body = parse(SessionBody, req.body, 'body');
    Engine.checkRerank(body.rerank);
    checkBudget(body, 'body');
    return modelOf(s).session(body.items, body.n, body.rerank, body.explain, body.hedge, { category: body.category, exclude: body.exclude ?? [] });
  });

  // ---- non-personalised lists (lists.ts): no model needed
  const ids = (text: string | undefined): string[] => (text ? text.split(',').filter((x) => x !== '') : []);
  app.get('/v1/popular', { config: { auth: 'read' } }, async (req) => {
    const q = parse(ItemListQuery, req.query, 'query');
    checkBudget(q, 'query');
    return itemList(s.live, 'popular', { ...q, exclude: ids(q.exclude) });
  });
  app.get('/v1/latest', { config: { auth: 'read' } }, async (req) => {
    const q = parse(ItemListQuery, req.query, 'query');
    checkBudget(q, 'query');
    return itemList(s.live, 'latest', { ...q, exclude: ids(q.exclude) });
  });
  app.get('/v1/categories/:category/popular', { config: { auth: 'read' } }, async (req) => {
    const { category } = parse(CategoryParams, req.params, 'path');
    const q = parse(CategoryListQuery, req.query, 'query');
    checkBudget(q, 'query');
    return itemList(s.live, 'popular', { ...q, category, exclude: ids(q.exclude) });
  });

  // ---- models, jobs, evaluation, keys
  app.get('/v1/models', { config: { auth: 'read' } }, async () => {
    const e = s.engine;
    if (!e) return { active: null };
    const r = e.loaded.record;
    return { active: { name: r.name, version: r.version, trainedAt: r.trainedAt, params: r.params } };
  });
  app.get('/v1/evaluation', { config: { auth: 'read' } }, async (_req, reply) => {
    const text = s.engine?.loaded.record.evaluation;
    if (!text) throw new NotFoundError('the served model has no evaluation');
    return json(reply, text);
  });
  app.post('/v1/models/train', { config: { auth: 'admin' } }, async (req, reply) => {
    const body = parse(TrainBody, req.body ?? {}, 'body');
    const model = body.model ?? s.train.model;
    if (!modelNames().includes(model)) throw new HttpError(400, 'invalid_input', `body.model: unknown model "${model}"; known: ${modelNames().join(', ')}`);
    // evaluate takes model specs, as `evaluate --models` does (e.g. "personas:k=1")
    for (const [r, m] of (body.evaluate ?? []).entries()) {
      try {
        parseModelSpec(m);
      } catch (err) {
        throw new HttpError(400, 'invalid_input', `body.evaluate[${r}]: ${err instanceof Error ? err.message.replace(/^--models: /, '') : String(err)}`);
      }
    }
    if (body.evaluate) {
      try {
        parseModelSpecs([model, ...body.evaluate.filter((m) => m !== model)]);
      } catch (err) {
        throw new HttpError(400, 'invalid_input', `body.evaluate: ${err instanceof Error ? err.message.replace(/^--models: /, '') : String(err)}`);
      }
    }
    const params = body.params ?? (model === s.train.model ? s.train.params : {});
    // every parameter is checked (and bounded) before the job is accepted
    checkTrainParams(model, params, body.params ? 'body.params' : 'params');
    if (s.jobs.busy) throw new HttpError(409, 'busy', 'a training job is already running');
    const job = startTraining(s, { model, params, seed: body.seed, evaluate: body.evaluate ?? null, tune: body.tune });
    return reply.code(202).send(job);
  });
  app.get('/v1/jobs/:id', { config: { auth: 'admin' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const job = await s.jobs.find(id);
    if (!job) throw new NotFoundError(`job "${id}" does not exist`);
    return job;
  });
  app.delete('/v1/jobs/:id', { config: { auth: 'admin' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    if (s.jobs.cancel(id)) return s.jobs.settled(id);
    const job = await s.jobs.find(id);
    if (!job) throw new NotFoundError(`job "${id}" does not exist`);
    if (job.state !== 'running') throw new HttpError(409, 'not_running', `job "${id}" is ${job.state}; only a running job can be cancelled`);
    throw new HttpError(409, 'other_replica', `job "${id}" runs on another replica (last seen within ${(3 * JOB_HEARTBEAT_MS) / 1000} s); cancel it there`);
  });
  app.post('/v1/keys', { config: { auth: 'admin' } }, async (req) => {
    const body = parse(ApiKeyBody, req.body, 'body');
    const key = `pk_${randomBytes(24).toString('base64url')}`;
    const hash = hashKey(key);
    await s.store.addApiKey(hash, body.scope, body.label ?? '', keyPrefix(key));
    if (s.open && !s.insecureOpen) {
      // the first key closes a service that was open for lack of keys
      s.open = false;
      s.readNeedsKey = !s.publicReads;
    }
    return { key, id: keyIdOf(hash), prefix: keyPrefix(key), scope: body.scope };
  });
  app.get('/v1/keys', { config: { auth: 'admin' } }, async () => {
    const keys = await s.store.listApiKeys();
    return { keys: keys.map((k) => ({ id: k.id, prefix: k.prefix, scope: k.scope, label: k.label, created: isoOf(k.created), source: k.source })) };
  });
  app.delete('/v1/keys/:id', { config: { auth: 'admin' } }, async (req) => {
    const { id } = parse(KeyParams, req.params, 'path');
    if (!(await s.store.deleteApiKey(id))) throw new NotFoundError(`path.id: no API key "${id}"`);
    // effective at once here; other replicas drop it when their cached entry expires (keyCacheTtlMs)
    for (const [h, e] of keyCache) if (e.id === id) keyCache.delete(h);
    return { revoked: id };
  });

  registerOnboarding(app, {
    engine: () => modelOf(s),
    parse,
    httpError: (status, code, message) => new HttpError(status, code, message),
    store: () => s.store,
    policy: () => s.policy,
    addFeedback: async (events) => {
      const seqs = await s.store.addFeedback(events);
      s.live.applyFeedback(events.map((e, r) => ({ ...e, seq: seqs[r]! })));
      s.metrics.inc('feedback', events.length);
      return seqs;
    },
  });
  registerAdminRoutes(app, s, { parse, fail: (status, code, message) => new HttpError(status, code, message) });
  await registerDashboard(app);
  return app;
}

