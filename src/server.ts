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
import { createSecurity } from './runtime/security.js';
import { createRateLimiter } from './api/rate-limit.js';
import { checkBind } from './security/bind.js';

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  backend: Backend;
  url: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Where log lines go (default stdout); tests capture them. */
  logStream?: { write(line: string): void };
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  let app: FastifyInstance | undefined;
  let closing: Promise<void> | undefined;
  const metrics = createMetrics();
  const backend = await openBackend(config, (err, task) => {
    if (!(err instanceof ChunkAbandoned)) app?.log.error({ err, job: task.jobId }, 'chunk task failed');
  });
  const security = createSecurity(config, backend.store, { serving: true, onSharedChange: () => metrics.resetEndpointSeries() });
  try {
    checkBind({ host: config.host, keysExist: await security.keyring.keysExist(), insecureNoAuth: config.insecureNoAuth });
  } catch (err) {
    await backend.close();
    throw err;
  }
  const models = createModelRegistry(config, {
    timeoutMs: config.providerTimeoutMs,
    maxRetries: config.providerMaxRetries,
    limits: config.endpointLimits,
    share: () => backend.share(),
    ...(config.cacheEnabled ? { cache: { store: backend.store, maxEntries: config.cacheMaxEntries } } : {}),
    wrap: (model) => instrumentModel(model, metrics),
    externalFetch: security.guard.fetch,
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
    endpointGuard: security.guard,
  });
  metrics.setSources({
    jobsByStatus: () => store.jobCounts(),
    queueDepth: () => queue.size(),
    endpoints: () => models.all(),
    endpointLabel: security.endpointLabel,
  });
  app = await createApp({
    store,
    engine,
    files: createFileService({ store, blobs, limits: config.limits }),
    signer: createUploadSigner(config.uploadSigningKey, config.uploadUrlTtlSeconds),
    models: config.models,
    publicUrl: config.publicUrl,
    logLevel: config.logLevel,
    ...(opts.logStream ? { logStream: opts.logStream } : {}),
    auth: {
      keyring: security.keyring,
      requireKeys: security.requireKeys,
      rateLimiter: config.rateLimitRpm > 0 ? createRateLimiter({ perMinute: config.rateLimitRpm, burst: config.rateLimitBurst }) : null,
    },
    limits: config.limits,
    requestLog: config.requestLog,
    registerExtra: (a) =>
      registerHealthRoutes(a, {
        ping: backend.ping,
        metrics,
        isClosing: () => closing !== undefined,
        beforeScrape: () => security.keyring.keysExist(),
      }),
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
