/**
 * What the route handlers share: parsing with the zod schemas (errors name the field), the
 * request budget, the served model or a 503, JSON sent as text, and the JSONL body parser.
 */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { ConfigError, issueMessages } from '../errors.js';
import { parseRerankSpec } from '../rank/index.js';
import type { Engine } from './engine.js';
import { HttpError } from './http-errors.js';
import type { ServiceState } from './service-state.js';

/** A schema parser as the route files take it (`parse` below). */
export type Parse = <S extends z.ZodType>(schema: S, data: unknown, where: string) => z.output<S>;

/** Parses `data` with `schema`; a failure is a 400 naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
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

/** The served model, or a 503 naming why there is none yet. */
export const modelOf = (s: ServiceState): Engine => {
  if (!s.engine) throw new HttpError(503, 'not_ready', `no model is loaded yet (${s.status})`);
  return s.engine;
};

/** Sends text that is already JSON (the engine serialises some answers itself). */
export const json = (reply: FastifyReply, text: string): FastifyReply => reply.type('application/json; charset=utf-8').send(text);

/** A JSONL body as its values; a line that is not JSON is a 400 naming it. */
export function parseJsonl(text: string): unknown[] {
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

/** A feedback timestamp (ISO 8601 or seconds since the epoch; none = now) in ms. */
export function toMillis(ts: string | number | undefined, now: number): number {
  if (ts === undefined) return now;
  if (typeof ts === 'number') return Math.round(ts * 1000);
  return Date.parse(ts);
}

/** ISO 8601 of a stored time; out-of-range values (stored before timestamps were bounded) are clamped. */
export function isoOf(ms: number): string {
  return new Date(Math.max(-8.64e15, Math.min(8.64e15, Number.isFinite(ms) ? ms : 0))).toISOString();
}

/** Validates a rerank spec early (400 naming the field on a bad one). */
export function checkRerank(spec: string): void {
  try {
    parseRerankSpec(spec);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^--rerank: /, ''), 'rerank');
    throw err;
  }
}
