/**
 * A worker node (distributed shape): takes row chunks from the shared queue and runs them, with a
 * small HTTP listener for /healthz, /readyz and /metrics. Holds no state of its own: any number
 * can run, and any can be killed; its unfinished chunks return to the queue when their lease ends.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import { ChunkAbandoned, type Engine } from './engine/engine.js';
import { createMetrics } from './observability/metrics.js';
import { processMetrics } from './observability/process-metrics.js';
import { openBackend } from './runtime/backend.js';
import { createEngineNode } from './runtime/engine-node.js';
import { registerHealthRoutes } from './runtime/health.js';
import { listenOrClose } from './runtime/listen.js';
import { createSecurity } from './runtime/security.js';
import { NO_SCHEMA_COMPILERS } from './api/no-schema-compilers.js';

export interface RunningWorker {
  app: FastifyInstance;
  engine: Engine;
  url: string;
  close(): Promise<void>;
}

export async function startWorker(config: Config): Promise<RunningWorker> {
  if (config.databaseUrl === null) {
    throw new Error('a worker needs the shared database: pass --database postgres://… (or set ASSAY_DATABASE_URL)');
  }
  const app = Fastify({ logger: { level: config.logLevel }, schemaController: NO_SCHEMA_COMPILERS });
  let closing: Promise<void> | undefined;
  const metrics = createMetrics({ processMetrics });
  const backend = await openBackend(config, (err, task) => {
    if (!(err instanceof ChunkAbandoned)) app.log.error({ err, job: task.jobId }, 'chunk task failed');
  });
  // A worker serves no API, but runs jobs: the SSRF guard and coarse metrics labels apply while keys exist.
  const security = createSecurity(config, backend.store, { serving: false, onSharedChange: () => metrics.resetEndpointSeries() });
  await security.keyring.keysExist();
  const { engine, models } = createEngineNode(config, {
    ...backend,
    metrics,
    security,
    log: (level, msg, extra) => app.log[level](extra ?? {}, msg),
  });
  metrics.setSources({ queueDepth: () => backend.queue.size(), endpoints: () => models.all(), endpointLabel: security.endpointLabel });
  registerHealthRoutes(app, {
    ping: backend.ping,
    metrics,
    isClosing: () => closing !== undefined,
    beforeScrape: () => security.keyring.keysExist(),
  });
  await backend.joinWorkers();
  await engine.start({ consume: true, resume: false });
  const url = await listenOrClose(app, config, async () => {
    await engine.close();
    await backend.close();
  });
  return {
    app,
    engine,
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        // Running chunks finish and are acknowledged; queued ones stay for the other workers.
        await engine.close();
        await backend.close();
      })();
      return closing;
    },
  };
}
