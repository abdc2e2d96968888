/**
 * Schemas of the social edge routes (routes-friends.ts): a user's friends and follows. Same rules
 * as schemas.ts: strict objects, ids as for users, errors name the field; the routes are in
 * /openapi.json (FRIEND_ROUTES, passed to `openApiDocument`).
 */
import { z } from 'zod';
import { MAX_ID, text, type RouteDoc } from './schemas.js';

/** Most friend ids in one POST. */
export const MAX_FRIENDS_PER_POST = 10_000;

const id = text(MAX_ID, 1);
const EdgeKind = z.enum(['friend', 'follow']);

/**
 * POST /v1/users/{id}/friends: one friend id (`friend`) or several (`friends`), and the kind:
 * `friend` (mutual: each one's consumption reaches the other, the default) or `follow` (the user
 * follows them: their consumption reaches the user).
 */
export const FriendsBody = z
  .object({
    friend: id.optional(),
    friends: z.array(id).min(1).max(MAX_FRIENDS_PER_POST).optional(),
    kind: EdgeKind.default('friend'),
  })
  .strict()
  .refine((b) => (b.friend === undefined) !== (b.friends === undefined), { message: 'give either friend (one id) or friends (a list of ids)', path: ['friends'] });

export const FriendParams = z.object({ id, friend: id }).strict();

export const FriendsAdded = z.object({
  user: z.string(),
  kind: EdgeKind,
  /** Distinct friend ids in the request. */
  friends: z.number().int(),
  /** Edges that were not stored yet (the others were already there). */
  added: z.number().int(),
});

export const FriendList = z.object({
  user: z.string(),
  /** Whose consumption reaches the user: their friendships (either way) and the users they follow, oldest first. */
  friends: z.array(z.object({ id: z.string(), kind: EdgeKind, since: z.string() })),
  /** Users who follow this user (the user's consumption reaches them), oldest first. */
  followers: z.array(z.object({ id: z.string(), since: z.string() })),
});
export type FriendList = z.infer<typeof FriendList>;

export const FriendsDeleted = z.object({ user: z.string(), deleted: z.number().int() });

export const FRIEND_ROUTES: readonly RouteDoc[] = [
  { method: 'post', path: '/v1/users/{id}/friends', summary: 'add friendships or follows of a user (unknown users are created); 200 only once durable', auth: 'write', body: FriendsBody, response: FriendsAdded },
  { method: 'get', path: '/v1/users/{id}/friends', summary: "a user's friends, follows and followers", auth: 'read', response: FriendList },
  { method: 'delete', path: '/v1/users/{id}/friends', summary: "delete every friendship and follow the user holds (others' follows of the user stay)", auth: 'write', response: FriendsDeleted },
  { method: 'delete', path: '/v1/users/{id}/friends/{friend}', summary: 'delete the friendship or follow between the user and one friend (404 if none)', auth: 'write', response: FriendsDeleted },
];
