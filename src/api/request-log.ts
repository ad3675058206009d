/**
 * One structured log line per request: method, route (the pattern, never the URL, whose query may
 * carry an upload signature), status, milliseconds and API key id (never the key). `errors` logs
 * only answers of 400 and above, so the hot path writes nothing; `all` logs every request.
 */
import type { FastifyInstance } from 'fastify';
import type { RequestLogMode } from '../config/config.js';

export function registerRequestLog(app: FastifyInstance, mode: RequestLogMode): void {
  if (mode === 'off') return;
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    if (mode === 'errors' && status < 400) return;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      key: request.keyId,
    };
    if (status >= 500) request.log.error(line, 'request');
    else request.log.info(line, 'request');
  });
}
