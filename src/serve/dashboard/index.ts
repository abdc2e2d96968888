/**
 * The dashboard (P13), served by the API process at `/`.
 *
 * No build step: the page is one HTML file, one ES module (`app.js`) and one stylesheet in
 * `assets/`, read once at registration and served from memory. Charts use uPlot, served from
 * the installed package under `/dashboard/vendor/` (never a CDN). The page only calls the
 * public `/v1` API, with the same API key a script would send.
 *
 * The assets are not TypeScript, so `tsc` does not copy them into dist/: when the compiled
 * module runs from dist/serve/dashboard/, the files are read from src/serve/dashboard/assets/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ConfigError } from '../../errors.js';

export interface DashboardAsset {
  readonly type: string;
  readonly body: Buffer;
}

/** URL path -> asset. */
export type DashboardAssets = ReadonlyMap<string, DashboardAsset>;

const ASSET_FILES: readonly { path: string; file: string; type: string }[] = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/dashboard/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
  { path: '/dashboard/icon.svg', file: 'icon.svg', type: 'image/svg+xml' },
];

const VENDOR_FILES: readonly { path: string; file: string; type: string }[] = [
  { path: '/dashboard/vendor/uPlot.esm.js', file: 'uPlot.esm.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/vendor/uPlot.min.css', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
];

/** The folder holding index.html, app.js and style.css (next to this module, or in src/ when run from dist/). */
export function dashboardAssetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', '..', 'src', 'serve', 'dashboard', 'assets')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (found === undefined) throw new ConfigError(`dashboard assets not found (looked in ${candidates.join(', ')})`, 'dashboard');
  return found;
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

/** Reads every asset once; the page is small and never changes while the process runs. */
export function loadDashboardAssets(): DashboardAssets {
  const assets = new Map<string, DashboardAsset>();
  const dir = dashboardAssetDir();
  for (const a of ASSET_FILES) assets.set(a.path, { type: a.type, body: readFileSync(join(dir, a.file)) });
  const vendor = uplotDistDir();
  for (const a of VENDOR_FILES) assets.set(a.path, { type: a.type, body: readFileSync(join(vendor, a.file)) });
  return assets;
}

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
  for (const [path, asset] of assets) {
    // the page and our own files may change with a new version; uPlot only with a new install
    const cache = path.startsWith('/dashboard/vendor/') ? 'public, max-age=86400' : 'no-cache';
    app.get(path, async (_req, reply) => {
      if (path === '/') {
        // the page loads nothing from elsewhere: say so to the browser too
        reply.header(
          'content-security-policy',
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        );
      }
      return send(reply, asset, cache);
    });
  }
}
