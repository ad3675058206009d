/**
 * Serves the web UI from the same server as the API: `GET /` is the page, `GET /ui/*` its assets
 * (`/ui/client/*.js` the compiled client, everything else from the static folder), and
 * `GET /docs` the API reference (`static/docs.html` with the compiled `client/docs.js`).
 *
 * Assets are looked up beside this module: `dist/web/static` and `dist/web/client` after
 * `npm run build`. The bundled command (`dist/bundle`) has no assets beside it and uses those in
 * `dist/web`. When the server runs from source (tests), the static folder is the source one and
 * the client is the compiled one under `dist/`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../api/errors.js';

export interface WebAssets {
  staticDir: string;
  clientDir: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** Where the UI's files are, for a server running from `dist/web`, `dist/bundle` or `src/web`. */
export function locateWebAssets(here = HERE): WebAssets {
  const base = existsSync(join(here, 'static')) ? here : resolve(here, '..', 'web');
  const built = join(base, 'client');
  return {
    staticDir: join(base, 'static'),
    clientDir: existsSync(join(built, 'main.js')) ? built : resolve(base, '..', '..', 'dist', 'web', 'client'),
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Scripts, styles and API calls come from this origin only; nothing inline, no framing. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/**
 * The file under `root` that `relative` names, or null when it would leave `root` or is not a
 * plain path of known type. Segments may not start with a dot, so `..` never gets through.
 */
export function resolveAsset(root: string, relative: string): string | null {
  if (!SAFE_PATH.test(relative) || !(extname(relative) in CONTENT_TYPES)) return null;
  const base = resolve(root);
  const file = resolve(base, relative);
  return file.startsWith(base + sep) ? file : null;
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, file: string) {
  let info;
  try {
    info = await stat(file);
  } catch {
    info = undefined;
  }
  if (!info?.isFile()) return sendError(reply, 404, `no such asset ${request.url.split('?')[0]}`, null, 'not_found');
  // Names carry no content hash, so clients revalidate every time and get a 304 when unchanged.
  const etag = `"${createHash('sha1').update(`${file}:${info.size}:${info.mtimeMs}`).digest('base64url').slice(0, 20)}"`;
  reply
    .header('content-type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
    .header('cache-control', 'no-cache')
    .header('etag', etag)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.send(await readFile(file));
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>assay</title>
<p>The assay web UI has not been built. Run <code>npm run build</code> and reload.</p>`;

/**
 * `GET /`, `GET /ui/*` and the API reference `GET /docs`; public, since the pages hold no data
 * (the API asks for a key).
 */
export function registerWebRoutes(app: FastifyInstance, assets: WebAssets = locateWebAssets()): void {
  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
    if (!existsSync(join(assets.clientDir, 'main.js'))) {
      return reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    }
    return sendFile(request, reply, join(assets.staticDir, 'index.html'));
  };
  app.get('/', { config: { public: true } }, page);
  app.get('/ui', { config: { public: true } }, (_request, reply) => reply.redirect('/'));
  // The API reference: a static page whose script renders GET /v1/openapi.json.
  app.get('/docs', { config: { public: true } }, (request, reply) => {
    reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
    return sendFile(request, reply, join(assets.staticDir, 'docs.html'));
  });

  app.get<{ Params: { '*': string } }>('/ui/*', { config: { public: true } }, async (request, reply) => {
    const path = request.params['*'];
    const file = path.startsWith('client/')
      ? resolveAsset(assets.clientDir, path.slice('client/'.length))
      : resolveAsset(assets.staticDir, path);
    if (file === null) return sendError(reply, 404, `no such asset ${request.url.split('?')[0]}`, null, 'not_found');
    return sendFile(request, reply, file);
  });
}
