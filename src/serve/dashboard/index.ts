/**
 * The dashboard (P13), served by the API process at `/`.
 *
 * The page is built by `npm run build:web` (scripts/build-web.mjs, part of `npm run build`):
 * src/web/*.ts compiled by tsc to browser ES modules, with index.html, style.css and icon.svg,
 * in dist/web. This module serves that folder, read once at registration, from memory: `/` is
 * index.html, every other file is under `/dashboard/`. The same dist/web is used when the server
 * runs from dist/ and when it runs from src/ under tsx (the dashboard's test builds it first).
 * Charts use uPlot, served from the installed package under `/dashboard/vendor/` (never a CDN).
 * The page only calls the public `/v1` API, with the same API key a script would send.
 *
 * Without a build, `/` answers 503 with a page saying how to build it; the API is unaffected.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ConfigError } from '../../errors.js';

export interface DashboardAsset {
  readonly type: string;
  readonly body: Buffer;
}

/** URL path -> asset. */
export type DashboardAssets = ReadonlyMap<string, DashboardAsset>;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

const VENDOR_FILES: readonly { path: string; file: string; type: string }[] = [
  { path: '/dashboard/vendor/uPlot.esm.js', file: 'uPlot.esm.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/vendor/uPlot.min.css', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
];

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The built dashboard, dist/web: next to dist/serve/ when this module runs from dist/, or the
 * project's dist/web when it runs from src/. Null when it has not been built.
 */
export function dashboardWebDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'web'), join(here, '..', '..', '..', 'dist', 'web')];
  // from src/serve/dashboard the first is src/web: the sources, which have no app.js
  return candidates.find((dir) => existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'app.js'))) ?? null;
}

/** uPlot's dist/ folder, resolved from the installed package. */
export function uplotDistDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('uplot/package.json');
  } catch {
    throw new ConfigError('the uplot package is not installed (run npm install)', 'dashboard');
  }
  return join(dirname(pkg), 'dist');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Reads every file of the built dashboard and uPlot once; null when the dashboard is not built. */
export function loadDashboardAssets(dir: string | null = dashboardWebDir()): DashboardAssets | null {
  if (dir === null) return null;
  const assets = new Map<string, DashboardAsset>();
  for (const file of filesUnder(dir)) {
    const type = TYPES[extname(file)];
    if (type === undefined) continue;
    const rel = relative(dir, file).split(sep).join('/');
    assets.set(rel === 'index.html' ? '/' : `/dashboard/${rel}`, { type, body: readFileSync(file) });
  }
  const vendor = uplotDistDir();
  for (const a of VENDOR_FILES) assets.set(a.path, { type: a.type, body: readFileSync(join(vendor, a.file)) });
  return assets;
}

const NOT_BUILT = Buffer.from(
  '<!doctype html><meta charset="utf-8"><title>personae</title><p>The dashboard is not built: run <code>npm run build:web</code> (or <code>npm run build</code>) and restart. The API is served as usual; see <a href="/openapi.json">/openapi.json</a>.</p>\n',
);

function send(reply: FastifyReply, asset: DashboardAsset, cache: string): FastifyReply {
  return reply
    .header('content-type', asset.type)
    .header('cache-control', cache)
    .header('x-content-type-options', 'nosniff')
    .send(asset.body);
}

/** Serves the dashboard at `/` and its files under `/dashboard/`. */
export async function registerDashboard(app: FastifyInstance): Promise<void> {
  const assets = loadDashboardAssets();
  if (assets === null) {
    app.get('/', async (_req, reply) => {
      reply.code(503).header('content-security-policy', CSP);
      return send(reply, { type: TYPES['.html']!, body: NOT_BUILT }, 'no-cache');
    });
    return;
  }
  for (const [path, asset] of assets) {
    // the page and our own files may change with a new version; uPlot only with a new install
    const cache = path.startsWith('/dashboard/vendor/') ? 'public, max-age=86400' : 'no-cache';
    app.get(path, async (_req, reply) => {
      // the page loads nothing from elsewhere: say so to the browser too
      if (path === '/') reply.header('content-security-policy', CSP);
      return send(reply, asset, cache);
    });
  }
}
