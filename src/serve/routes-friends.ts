/**
 * The social edge routes (docs/service.md "Friends"): a user's friendships and follows, written to
 * the store (durable before the 200) and read from it, so every replica sharing the store answers
 * the same. The edges reach the `social` model at its next training (training.ts reads them from
 * the store); a user's deletion removes their edges both ways (Store.deleteUser).
 *
 * - POST /v1/users/{id}/friends  {friend | friends, kind?}
 * - GET /v1/users/{id}/friends
 * - DELETE /v1/users/{id}/friends, /v1/users/{id}/friends/{friend}
 */
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import type { EdgeRecord } from '../store/types.js';
import { HttpError } from './http-errors.js';
import { isoOf, parse } from './http.js';
import { IdParams } from './schemas.js';
import { FriendParams, FriendsBody, type FriendList } from './schemas-friends.js';
import type { ServiceState } from './service-state.js';

/** A user's edges as GET /v1/users/{id}/friends answers them. */
export function friendListOf(user: string, edges: readonly EdgeRecord[]): FriendList {
  const friends: FriendList['friends'] = [];
  const followers: FriendList['followers'] = [];
  for (const e of edges) {
    if (e.kind === 'friend') friends.push({ id: e.user === user ? e.friend : e.user, kind: 'friend', since: isoOf(e.ts) });
    else if (e.user === user) friends.push({ id: e.friend, kind: 'follow', since: isoOf(e.ts) });
    else followers.push({ id: e.user, since: isoOf(e.ts) });
  }
  return { user, friends, followers };
}

export function registerFriendRoutes(app: FastifyInstance, s: ServiceState): void {
  app.post('/v1/users/:id/friends', { config: { auth: 'write' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const body = parse(FriendsBody, req.body, 'body');
    const list = body.friends ?? [body.friend!];
    const field = body.friends ? (k: number) => `body.friends[${k}]` : () => 'body.friend';
    list.forEach((f, k) => {
      if (f === id) throw new HttpError(400, 'invalid_input', `${field(k)}: a user cannot be their own friend ("${id}")`);
    });
    const ts = Date.now();
    const distinct = [...new Set(list)];
    const added = await s.store.addEdges(distinct.map((friend) => ({ user: id, friend, kind: body.kind, ts })));
    return { user: id, kind: body.kind, friends: distinct.length, added };
  });
  app.get('/v1/users/:id/friends', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const edges = await s.store.edgesOf(id);
    if (edges.length === 0 && !(await s.store.getUser(id))) throw new NotFoundError(`user "${id}" does not exist`);
    return friendListOf(id, edges);
  });
  app.delete('/v1/users/:id/friends', { config: { auth: 'write' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    return { user: id, deleted: await s.store.deleteEdges(id, null) };
  });
  app.delete('/v1/users/:id/friends/:friend', { config: { auth: 'write' } }, async (req) => {
    const { id, friend } = parse(FriendParams, req.params, 'path');
    const deleted = await s.store.deleteEdges(id, [friend]);
    if (deleted === 0) throw new NotFoundError(`user "${id}" has no friendship or follow of "${friend}"`);
    return { user: id, deleted };
  });
}
