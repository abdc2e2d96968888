/**
 * The API key routes (admin): create a key (shown once, stored hashed), list keys, revoke one
 * (at once here through the app's key cache; on other replicas within its TTL).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import { keyIdOf } from '../store/rows.js';
import { hashKey, keyPrefix, type KeyCache } from './auth.js';
import { isoOf, parse } from './http.js';
import { ApiKeyBody, KeyParams } from './schemas.js';
import type { ServiceState } from './service-state.js';

export function registerKeyRoutes(app: FastifyInstance, s: ServiceState, keyCache: KeyCache): void {
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
    keyCache.forget(id);
    return { revoked: id };
  });
}
