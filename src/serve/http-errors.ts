/**
 * The one error shape: every error (router, content type, body, handler, store) leaves as
 * `{error: {status, code, message}}` without a stack trace. HttpError is an answer with its own
 * status and code; errorHandler maps the others (the project's errors, fastify's, the store's).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, DataError, ModelFitError, NotFoundError } from '../errors.js';
import { storeFailure } from '../store/errors.js';
import { MAX_ID } from './schemas.js';
import type { ServiceState } from './service-state.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** An error body in the one shape. */
export const errorBody = (status: number, code: string, message: string): { error: { status: number; code: string; message: string } } => ({ error: { status, code, message } });

/** fastify's `frameworkErrors`: a path segment over MAX_ID is a 414, bad percent-encoding a 400. */
export function frameworkErrors(err: FastifyError, _req: unknown, rawReply: unknown): void {
  const reply = rawReply as unknown as FastifyReply;
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send(errorBody(414, 'uri_too_long', `path: a path segment is longer than ${MAX_ID} characters (ids are at most ${MAX_ID})`));
  } else if (code === 'FST_ERR_BAD_URL') {
    void reply.code(400).send(errorBody(400, 'invalid_input', 'path: malformed percent-encoding (not valid UTF-8)'));
  } else {
    void reply.code(400).send(errorBody(400, 'bad_request', `request: ${err.message}`));
  }
}

/** The 404 of a path no route matches. */
export function notFound(req: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send(errorBody(404, 'not_found', `path: no route ${req.method} ${req.url.split('?')[0]}`));
}

/** The error handler: maps any error to its status and code (store failures are 503s, noted in s.storeHealth). */
export function errorHandler(s: ServiceState): (err: unknown, req: FastifyRequest, reply: FastifyReply) => void {
  return (err, req, reply) => {
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
  };
}
