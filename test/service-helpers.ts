/**
 * What the service tests share: a service on a synthetic world in memory, and the HTTP call they
 * make to it (one request and its answer).
 */
import { startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import type { WorldConfigInput } from '../src/synth/world.js';

/** A service on `world` (store in memory, random port, one thread, quiet) with `opts` over that, once it is ready. */
export async function serveWorld(world: WorldConfigInput, opts: ServiceOptions = {}): Promise<RunningService> {
  const svc = await startService({ port: 0, db: ':memory:', data: 'world', world, quiet: true, threads: 1, ...opts });
  await svc.ready;
  return svc;
}

export interface Answer<T = Record<string, unknown>> {
  readonly status: number;
  /** The body as JSON; {} when it is not JSON (metrics, JSONL exports). */
  readonly json: T;
  readonly text: string;
  readonly headers: Headers;
}

export interface CallOptions {
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is, with content type `type` (application/json unless given). */
  readonly raw?: string;
  readonly type?: string;
  /** Bearer key; none when null or undefined. */
  readonly key?: string | null;
}

/** `method path` on the service at `url`. */
export async function request<T = Record<string, unknown>>(url: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  const body = opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const r = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  let json = {} as T;
  try {
    json = JSON.parse(text) as T;
  } catch {
    // not JSON
  }
  return { status: r.status, json, text, headers: r.headers };
}

/** `call(svc, method, path, body?, key?)`: a JSON request with `key` (default `defaultKey`; null: none). */
export function caller(defaultKey: string | null) {
  return <T = Record<string, unknown>>(svc: { readonly url: string }, method: string, path: string, body?: unknown, key: string | null = defaultKey): Promise<Answer<T>> =>
    request<T>(svc.url, method, path, { body, key });
}
