/**
 * Errors Node's HTTP parser finds before fastify routes a request (headers or URL too large, a
 * client too slow to send its request, a request that is not HTTP): answered in the one error
 * shape `{error: {status, code, message}}` naming what was wrong, then the connection is closed
 * (the parser cannot continue on it). Fastify's default answer has another shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** The most bytes of request line and headers Node's parser takes (`--max-http-header-size`). */
const headerLimit = (): number => {
  const flag = process.execArgv.find((a) => a.startsWith('--max-http-header-size='));
  return flag ? Number(flag.split('=')[1]) : 16 * 1024;
};

/** Status, code and message of a client (parser) error. */
export function clientErrorAnswer(code: string | undefined): { status: number; code: string; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'request_timeout', message: 'request: the request was not received within the request timeout' };
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, code: 'headers_too_large', message: `headers: the request line (the URL with its query) and the headers are larger than ${headerLimit()} bytes` };
  }
  return { status: 400, code: 'bad_request', message: `request: not a valid HTTP request${code ? ` (${code})` : ''}` };
}

/** fastify's `clientErrorHandler`: writes the answer on the raw socket and closes it. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const a = clientErrorAnswer(err.code);
  const body = JSON.stringify({ error: a });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
