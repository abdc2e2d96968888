/**
 * Who may call what: API keys are checked by scope (read < write < admin) in an onRequest hook,
 * requests are rate-limited per key and per address (@fastify/rate-limit), and keys are stored
 * hashed (SHA-256) and looked up through a short-lived cache.
 */
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf } from '../store/rows.js';
import type { KeyScope } from '../store/types.js';
import { HttpError } from './http-errors.js';
import type { ServiceState } from './service-state.js';

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

/** The first characters of a key shown in lists: at most 8, and at most a quarter of the key. */
export function keyPrefix(key: string): string {
  return key.slice(0, Math.min(8, Math.floor(key.length / 4)));
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface AuthOptions {
  /** Requests per minute per key and per address (default DEFAULT_RATE_LIMITS). */
  rateLimits?: RateLimits;
  /**
   * How long a key looked up in the store is trusted (ms; default 1000). A key revoked on this
   * replica stops working at once; on another replica sharing the store, within this TTL.
   */
  keyCacheTtlMs?: number;
}

/** The key cache of one app, for the revocation route (routes-keys.ts). */
export interface KeyCache {
  /** Drops the cached entries of a key id: a revoked key stops working here at once. */
  forget(id: string): void;
  /** Drops every entry (keys changed through another replica). */
  clear(): void;
}

/**
 * Registers the rate limiter and the onRequest hook that answers 503 while shutting down and
 * checks the key a route's `config.auth` asks for.
 */
export async function registerAuth(app: FastifyInstance, s: ServiceState, opts: AuthOptions): Promise<KeyCache> {
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

  return {
    forget: (id) => {
      for (const [h, e] of keyCache) if (e.id === id) keyCache.delete(h);
    },
    clear: () => keyCache.clear(),
  };
}
