/**
 * The data routes: items, users and feedback (create in bulk, read, delete; a user's feedback).
 * Writes go to the store first, then to the live mirror (live.ts).
 *
 * - POST/GET/DELETE /v1/items, /v1/items/{id}; GET /v1/items/{id}/similar
 * - POST/GET /v1/users; GET/DELETE /v1/users/{id}
 * - POST /v1/feedback; GET /v1/users/{id}/feedback
 */
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import type { FeedbackRecord } from '../store/types.js';
import { HttpError } from './http-errors.js';
import { checkBudget, isoOf, modelOf, parse, toMillis } from './http.js';
import { FeedbackBody, IdParams, ItemInputs, ItemsWrapped, ListQuery, SimilarQuery, UserInputs, UsersWrapped } from './schemas.js';
import type { ServiceState } from './service-state.js';

export function registerDataRoutes(app: FastifyInstance, s: ServiceState): void {
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
    return { ...u, interactions: (await s.live.ensureUser(s.store, id))?.events ?? 0 };
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
    // with the user cache: the writers' histories at hand, so each item's positive-user count stays exact
    await s.live.prepareFeedback(s.store, events);
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
}
