/** Liveness, readiness and metrics routes, shared by API nodes and workers. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export function registerHealthRoutes(app: FastifyInstance, deps: { ping: () => Promise<void>; metrics: Metrics; isClosing: () => boolean }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isClosing()) return reply.code(503).send({ status: 'closing' });
    try {
      await deps.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', reason: err instanceof Error ? err.message : String(err) });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
