/** Liveness, readiness and metrics routes, shared by API nodes and workers. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export interface HealthDeps {
  ping: () => Promise<void>;
  metrics: Metrics;
  isClosing: () => boolean;
  /** Runs before each scrape (e.g. to learn whether API keys exist, which decides endpoint labels). */
  beforeScrape?: () => Promise<unknown>;
}

/** Public routes: they say whether the process is up and how much work it has, never whose work. */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
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
    await deps.beforeScrape?.();
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.render();
  });
}
