/**
 * The HTTP service (fastify): buildApp assembles it. Inputs are parsed with the zod schemas of
 * schemas.ts (errors name the field, http.ts), API keys are checked by scope and requests are
 * rate-limited (auth.ts), and every error leaves as `{error: {status, code, message}}` without a
 * stack trace (http-errors.ts). The routes are grouped by resource in routes-*.ts and
 * onboarding.ts; health, metrics and /openapi.json are here.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { VERSION } from '../version.js';
import { registerAuth, type AuthOptions } from './auth.js';
import { clientErrorHandler } from './client-errors.js';
import { registerDashboard } from './dashboard/index.js';
import { errorHandler, frameworkErrors, HttpError, notFound } from './http-errors.js';
import { json, modelOf, parse, parseJsonl } from './http.js';
import { registerOnboarding } from './onboarding.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerDataRoutes } from './routes-data.js';
import { registerFriendRoutes } from './routes-friends.js';
import { registerKeyRoutes } from './routes-keys.js';
import { registerModelRoutes } from './routes-models.js';
import { registerRecommendRoutes } from './routes-recommend.js';
import { ADMIN_ROUTES } from './schemas-admin.js';
import { FRIEND_ROUTES } from './schemas-friends.js';
import { MAX_ID, openApiDocument } from './schemas.js';
import type { ServiceState } from './service-state.js';

export { DEFAULT_RATE_LIMITS, hashKey, keyPrefix, type RateLimits } from './auth.js';
export { HttpError } from './http-errors.js';
export { checkBudget, REQUEST_BUDGET } from './http.js';
export type { ServiceState } from './service-state.js';

/** The app's limits (the key cache and rate limits are AuthOptions, auth.ts). */
export interface AppOptions extends AuthOptions {
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Longest a client may take to send a whole request (ms; default 30 s): then 408. */
  requestTimeoutMs?: number;
  /** Longest a handler may run (ms; default 60 s): then 503 `timeout`. */
  handlerTimeoutMs?: number;
}

export async function buildApp(s: ServiceState, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 8 * 1024 * 1024,
    // new requests while closing get the 503 of the auth hook (auth.ts), in the one error shape
    return503OnClosing: false,
    // the router's limit on a path segment is the schema's limit on an id (one limit, both places)
    routerOptions: { maxParamLength: MAX_ID },
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    connectionTimeout: Math.max(opts.requestTimeoutMs ?? 30_000, 60_000),
    handlerTimeout: opts.handlerTimeoutMs ?? 60_000,
    // parser errors (431 headers too large, 408, not HTTP) in the one error shape too
    clientErrorHandler,
    frameworkErrors,
  });
  const keyCache = await registerAuth(app, s, opts);
  s.forgetKeys = () => keyCache.clear();

  // only JSON and JSONL bodies (fastify's default text/plain parser would turn a 415 into a 400)
  app.removeContentTypeParser('text/plain');

  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonl(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // acknowledgements of feedback committed on the store's writer thread go out now, not after
  // every other ready request (store/sqlite-writer.ts)
  app.addHook('onRequest', (_req, _reply, done) => {
    s.store.pollWrites?.();
    done();
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

  app.setNotFoundHandler(notFound);
  app.setErrorHandler(errorHandler(s));

  // ---- health, metrics, docs
  app.get('/healthz', async () => ({ ok: true }));
  // ready = a model is loaded and a write commits (the store's write probe, at most every 2 s)
  app.get('/readyz', async (_req, reply) => {
    const failure = s.liveReady ? await s.storeHealth.writable(() => s.store.probeWrite()) : null;
    const writes = failure === null;
    if (s.ready && writes) return { ready: true, writes, model: s.engine?.info ?? null, ann: s.engine?.ann.state ?? 'off' };
    return reply.code(503).send({ ready: false, writes, status: failure ? `${failure.code}: ${failure.message}` : s.status, ...(failure ? { code: failure.code } : {}) });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return s.metrics.render({
      modelVersion: s.engine?.info.version ?? 0,
      modelName: s.engine?.info.name ?? '',
      items: s.live.items.size,
      users: s.live.userCount,
      feedback: s.live.feedbackCount,
      ready: s.ready,
    });
  });
  const openapi = JSON.stringify(openApiDocument(VERSION, [...ADMIN_ROUTES, ...FRIEND_ROUTES]));
  app.get('/openapi.json', async (_req, reply) => json(reply, openapi));

  registerDataRoutes(app, s);
  registerFriendRoutes(app, s);
  registerRecommendRoutes(app, s);
  registerModelRoutes(app, s);
  registerKeyRoutes(app, s, keyCache);
  registerOnboarding(app, {
    engine: () => modelOf(s),
    parse,
    httpError: (status, code, message) => new HttpError(status, code, message),
    store: () => s.store,
    policy: () => s.policy,
    addFeedback: async (events) => {
      await s.live.prepareFeedback(s.store, events);
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
