/**
 * Who a request acts for, and whether it may go on.
 *
 * With no API key made, assay is a local single-user service: every caller, with any bearer token
 * or none, is the owner `local`. Once a key exists, every `/v1` route wants
 * `Authorization: Bearer <key>` and acts for the key's owner; the exceptions are the routes marked
 * `config.public` (the signed upload target, the OpenAPI document) and everything outside `/v1`
 * (health, readiness, metrics, the web UI, which hold no tenant's data). Keys are rate limited
 * one by one. A server bound to a non-loopback address wants a key even before one exists.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Keyring } from '../security/api-keys.js';
import { sendError } from './errors.js';
import type { RateLimiter } from './rate-limit.js';

/** With no API keys configured, assay is a local single-user service: every caller is this owner. */
export const LOCAL_OWNER = 'local';

export interface AuthOptions {
  keyring: Keyring;
  /** Want a key even while none exist (a non-loopback bind): API calls answer 401 until one is made. */
  requireKeys: boolean;
  /** Per-key request budget; none when absent. */
  rateLimiter?: RateLimiter | null;
}

/** No real key is this long; longer tokens are refused without hashing them. */
const MAX_TOKEN_CHARS = 256;

function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * A route needs a key unless it is marked public or lies outside `/v1`. The matched route decides,
 * not the raw URL, so no spelling of a path reaches an API route without a key; a URL that matches
 * no route needs one under `/v1` (the 404 then tells nothing to a stranger).
 */
export function isPublicRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route === undefined) return !request.url.startsWith('/v1/') && request.url !== '/v1';
  if ((request.routeOptions.config as { public?: boolean } | undefined)?.public === true) return true;
  return !route.startsWith('/v1/') && route !== '/v1';
}

function unauthorized(reply: FastifyReply, message: string) {
  reply.header('www-authenticate', 'Bearer');
  return sendError(reply, 401, message, null, 'invalid_api_key');
}

export function registerAuth(app: FastifyInstance, opts: AuthOptions | null): void {
  app.addHook('onRequest', async (request, reply) => {
    request.ownerId = LOCAL_OWNER;
    request.keyId = null;
    if (opts === null || isPublicRoute(request)) return;
    const keysExist = await opts.keyring.keysExist();
    if (!keysExist) {
      if (!opts.requireKeys) return;
      return unauthorized(
        reply,
        'this server requires an API key and none has been made yet: an administrator runs `assay keys create --owner NAME`',
      );
    }
    const token = bearerToken(request.headers.authorization);
    if (token === null) return unauthorized(reply, 'this server requires an API key: send the header Authorization: Bearer <key>');
    const key = token.length > MAX_TOKEN_CHARS ? null : await opts.keyring.authenticate(token);
    if (key === null) return unauthorized(reply, 'the API key is not valid: it is unknown or has been revoked');
    request.ownerId = key.ownerId;
    request.keyId = key.id;
    const waitMs = opts.rateLimiter?.take(key.id) ?? 0;
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      reply.header('retry-after', String(seconds));
      return sendError(reply, 429, `too many requests for this API key; try again in ${seconds} s`, null, 'rate_limited');
    }
  });
}
