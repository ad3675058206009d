/**
 * An API node: the HTTP app, the engine (creating, cancelling and finalizing jobs) and, unless
 * turned off, evaluation workers in the same process. Embedded or distributed by configuration.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import { createApp } from './api/app.js';
import { createUploadSigner } from './api/upload-url.js';
import { ChunkAbandoned, createEngine, type Engine } from './engine/engine.js';
import { createFileService } from './engine/file-service.js';
import { createMetrics, instrumentModel } from './observability/metrics.js';
import { createModelRegistry } from './providers/registry.js';
import { openBackend, type Backend } from './runtime/backend.js';
import { registerHealthRoutes } from './runtime/health.js';

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  backend: Backend;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config): Promise<RunningServer> {
  let app: FastifyInstance | undefined;
  let closing: Promise<void> | undefined;
  const metrics = createMetrics();
  const backend = await openBackend(config, (err, task) => {
    if (!(err instanceof ChunkAbandoned)) app?.log.error({ err, job: task.jobId }, 'chunk task failed');
  });
  const models = createModelRegistry(config, {
    timeoutMs: config.providerTimeoutMs,
    maxRetries: config.providerMaxRetries,
    limits: config.endpointLimits,
    share: () => backend.share(),
    ...(config.cacheEnabled ? { cache: { store: backend.store, maxEntries: config.cacheMaxEntries } } : {}),
    wrap: (model) => instrumentModel(model, metrics),
  });
  const { store, blobs, queue } = backend;
  const engine = createEngine({
    store,
    blobs,
    queue,
    models,
    config,
    log: (level, msg, extra) => app?.log[level](extra ?? {}, msg),
    onRowFinished: metrics.rowFinished,
  });
  metrics.setSources({ jobsByStatus: () => store.jobCounts(), queueDepth: () => queue.size(), endpoints: () => models.all() });
  app = await createApp({
    store,
    engine,
    files: createFileService({ store, blobs }),
    signer: createUploadSigner(config.uploadSigningKey, config.uploadUrlTtlSeconds),
    models: config.models,
    publicUrl: config.publicUrl,
    logLevel: config.logLevel,
    registerExtra: (a) => registerHealthRoutes(a, { ping: backend.ping, metrics, isClosing: () => closing !== undefined }),
  });
  if (config.serveWorkers) await backend.joinWorkers();
  await engine.start({ consume: config.serveWorkers, resume: backend.shape === 'embedded' });
  const address = await app.listen({ host: config.host, port: config.port });
  const server = app;
  return {
    app: server,
    engine,
    backend,
    url: address.replace('[::1]', 'localhost'),
    close() {
      closing ??= (async () => {
        await server.close();
        await engine.close();
        await backend.close();
      })();
      return closing;
    },
  };
}
