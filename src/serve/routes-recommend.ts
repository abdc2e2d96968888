/**
 * The recommendation routes: a user's list, personas (and their settings), taste mix, an
 * anonymous session's list, and the non-personalised lists (lists.ts; no model needed).
 */
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import { checkBudget, checkRerank, json, modelOf, parse } from './http.js';
import { prepareCoLiked } from './co-liked.js';
import { refreshCounts } from './count-refresh.js';
import { itemList } from './lists.js';
import { CategoryListQuery, CategoryParams, IdParams, ItemListQuery, PersonaParams, PersonaPatch, RecommendQuery, SessionBody, TasteMixQuery } from './schemas.js';
import type { ServiceState } from './service-state.js';

/**
 * The loaded model's engine, with the user's live feedback and persona overrides at hand when they
 * have feedback (read from the store on a user-cache miss): the engine reads them synchronously.
 */
async function userEngine(s: ServiceState, id: string): Promise<ReturnType<typeof modelOf>> {
  const engine = modelOf(s);
  await coLiked(s, engine);
  if (s.live.hasUser(id)) await s.live.overrides(s.store, id);
  return engine;
}

/** With the user cache: what new items without categories are scored from, read from the store (co-liked.ts). */
function coLiked(s: ServiceState, engine: ReturnType<typeof modelOf>): Promise<void> {
  return prepareCoLiked(s.live, s.store, `${engine.info.name}|${engine.info.version}`, (id) => engine.items.lookup(id) >= 0);
}

/** A list's inputs at hand: the user's items (`user`), and the positive counts re-read if a write could not count (user cache). */
async function listInputs(s: ServiceState, user: string | undefined): Promise<void> {
  await refreshCounts(s.live, s.store);
  if (user !== undefined) await s.live.ensureUser(s.store, user);
}

/** A list request's rerank spec and its budget (offset + n, explanations, reranking depth), else a 400. */
function checkList(q: Parameters<typeof checkBudget>[0] & { rerank: string }, where: 'query' | 'body'): void {
  checkRerank(q.rerank);
  checkBudget(q, where);
}

export function registerRecommendRoutes(app: FastifyInstance, s: ServiceState): void {
  // ---- recommendations and personas
  app.get('/v1/users/:id/recommendations', { config: { auth: 'read' } }, async (req, reply) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(RecommendQuery, req.query, 'query');
    checkList(q, 'query');
    const engine = await userEngine(s, id);
    const exclude = q.exclude ? q.exclude.split(',').filter((x) => x !== '') : [];
    return json(reply, engine.recommendJson(id, { n: q.n, offset: q.offset, category: q.category, exclude, rerank: q.rerank, explain: q.explain, hedge: q.hedge }));
  });
  app.get('/v1/users/:id/personas', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    return (await userEngine(s, id)).personasOf(id);
  });
  app.patch('/v1/users/:id/personas/:index', { config: { auth: 'write' } }, async (req) => {
    const { id, index } = parse(PersonaParams, req.params, 'path');
    const patch = parse(PersonaPatch, req.body ?? {}, 'body');
    const engine = modelOf(s);
    if (!s.live.hasUser(id)) throw new NotFoundError(`user "${id}" has no feedback, so no personas`);
    const current = await s.live.overrides(s.store, id);
    const k = engine.personaCount(id);
    if (index >= k) throw new NotFoundError(`user "${id}" has ${k} persona${k === 1 ? '' : 's'}; there is no persona ${index}`);
    const prev = current.get(index) ?? { muted: false, boost: 1 };
    const next = { user: id, persona: index, muted: patch.muted ?? prev.muted, boost: patch.boost ?? prev.boost };
    await s.store.setOverride(next);
    s.live.setOverride(next);
    await s.live.overrides(s.store, id);
    return engine.personasOf(id);
  });
  app.get('/v1/users/:id/taste-mix', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(TasteMixQuery, req.query, 'query');
    checkList(q, 'query');
    return (await userEngine(s, id)).tasteMix(id, q.n, q.rerank, q.hedge);
  });
  app.post('/v1/sessions/recommend', { config: { auth: 'read' } }, async (req) => {
    const body = parse(SessionBody, req.body, 'body');
    checkList(body, 'body');
    await coLiked(s, modelOf(s));
    return modelOf(s).session(body.items, body.n, body.rerank, body.explain, body.hedge, { category: body.category, exclude: body.exclude ?? [] });
  });

  // ---- non-personalised lists (lists.ts): no model needed
  const ids = (text: string | undefined): string[] => (text ? text.split(',').filter((x) => x !== '') : []);
  app.get('/v1/popular', { config: { auth: 'read' } }, async (req) => {
    const q = parse(ItemListQuery, req.query, 'query');
    checkBudget(q, 'query');
    await listInputs(s, q.user);
    return itemList(s.live, 'popular', { ...q, exclude: ids(q.exclude) });
  });
  app.get('/v1/latest', { config: { auth: 'read' } }, async (req) => {
    const q = parse(ItemListQuery, req.query, 'query');
    checkBudget(q, 'query');
    await listInputs(s, q.user);
    return itemList(s.live, 'latest', { ...q, exclude: ids(q.exclude) });
  });
  app.get('/v1/categories/:category/popular', { config: { auth: 'read' } }, async (req) => {
    const { category } = parse(CategoryParams, req.params, 'path');
    const q = parse(CategoryListQuery, req.query, 'query');
    checkBudget(q, 'query');
    await listInputs(s, q.user);
    return itemList(s.live, 'popular', { ...q, category, exclude: ids(q.exclude) });
  });
}
