/**
 * An API node: the HTTP app, the engine (creating, cancelling and finalizing jobs) and, unless
 * turned off, evaluation workers in the same process. Embedded or distributed by configuration.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import { createApp } from './api/app.js';
import { createUploadSigner } from './api/upload-url.js';
import { ChunkAbandoned } from './engine/chunk-abandoned.js';
import type { Engine, EngineDeps } from './engine/engine.js';
import { createFileService } from './engine/file-service.js';
import { createMetrics } from './observability/metrics.js';
import { processMetrics } from './observability/process-metrics.js';
import { openBackend, type Backend } from './runtime/backend.js';
import type { ThreadedEngine } from './runtime/engine-thread.js';
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
  /** The engine thread's script, for tests that run this module from source (default: beside it). */
  engineThreadEntry?: URL;
  /**
   * The engine thread, if the caller started it before loading this module (`assay serve` does,
   * so the thread loads the engine while this one loads the HTTP stack). The server owns it from
   * here: it closes it, also when it fails to start.
   */
  engineThread?: ThreadedEngine;
}

/** What a start has opened so far: closed again if it fails. */
interface Opened {
  app?: FastifyInstance;
  engine?: Engine;
  backend?: Backend;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const opened: Opened = {};
  try {
    return await start(config, opts, opened);
  } catch (err) {
    // Nothing may stay open behind a server that did not start: its engine thread, checkpointer
    // or pool would keep the process alive, and the data folder's lock goes with the backend.
    await opened.app?.close().catch(() => {});
    await (opened.engine ?? opts.engineThread)?.close();
    await opened.backend?.close();
    throw err;
  }
}

async function start(config: Config, opts: ServerOptions, opened: Opened): Promise<RunningServer> {
  let app: FastifyInstance | undefined;
  let closing: Promise<void> | undefined;
  const metrics = createMetrics({ processMetrics });
  // With workers (embedded, or a distributed API node that also works): jobs run on the engine
  // thread, which opens its own backend and queue, and this loop only serves the API.
  const threaded = config.serveWorkers && config.engineThread;
  if (opts.engineThread && !threaded) throw new Error('an engine thread was given to a server configured to run without one');
  // Without the engine thread the engine runs on this thread: its modules load while the backend
  // opens, which for a distributed API node is mostly waiting on the database.
  const engineNodeModule = threaded ? null : import('./runtime/engine-node.js');
  // Awaited below; if the backend fails first, a failed load must not be an unhandled rejection.
  engineNodeModule?.catch(() => {});
  const backend = await openBackend(
    config,
    (err, task) => {
      if (!(err instanceof ChunkAbandoned)) app?.log.error({ err, job: task.jobId }, 'chunk task failed');
    },
    {
      backgroundCheckpoints: 'start',
      lockFolder: true,
      queue: !threaded,
      onCheckpointerError: (err) =>
        app?.log.warn({ err }, 'the checkpointer thread stopped (a new one starts unless it keeps stopping; until then commits checkpoint the WAL past 64 MB)'),
    },
  );
  opened.backend = backend;
  let ping = backend.ping;
  const security = createSecurity(config, backend.store, { serving: true, onSharedChange: () => metrics.resetEndpointSeries() });
  checkBind({ host: config.host, keysExist: await security.keyring.keysExist(), insecureNoAuth: config.insecureNoAuth });
  const { store, blobs, queue } = backend;
  const log: NonNullable<EngineDeps['log']> = (level, msg, extra) => app?.log[level](extra ?? {}, msg);
  let engine: Engine;
  let thread: ThreadedEngine | undefined;
  // Only the shape in use is loaded: with the engine thread, this thread never loads the engine.
  if (threaded) {
    thread = opts.engineThread ?? (await import('./runtime/engine-thread.js')).startEngineThread(config, opts.engineThreadEntry ? { entry: opts.engineThreadEntry } : {});
    // This thread's store is open: the data folder is ours and its file migrated.
    thread.open();
    engine = opened.engine = thread;
    metrics.setRemote(thread.metrics);
    metrics.setSources({ jobsByStatus: () => store.jobCounts() });
    const running = thread;
    ping = async () => {
      running.check();
      await backend.ping();
    };
  } else {
    const { createEngineNode } = await engineNodeModule!;
    const node = createEngineNode(config, { ...backend, metrics, security, log });
    engine = opened.engine = node.engine;
    metrics.setSources({
      jobsByStatus: () => store.jobCounts(),
      queueDepth: () => queue.size(),
      endpoints: () => node.models.all(),
      endpointLabel: security.endpointLabel,
    });
  }
  app = opened.app = await createApp({
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
        ping,
        metrics,
        isClosing: () => closing !== undefined,
        beforeScrape: () => security.keyring.keysExist(),
      }),
  });
  // Now that the log exists: the lines the thread sent before it are written out here.
  thread?.attach({ store, log });
  if (config.serveWorkers && !threaded) await backend.joinWorkers();
  const startEngine = () => engine.start({ consume: config.serveWorkers, resume: backend.shape === 'embedded' });
  if (threaded) {
    // The API answers while the engine thread boots (job requests wait in its queue), so the
    // server is up as soon as it listens. A thread that cannot start is retried and, if it keeps
    // failing, reported by /readyz (see engine-thread.ts).
    void startEngine().catch((err: unknown) => log('error', 'the engine could not start', { err: String(err) }));
  } else {
    await startEngine();
  }
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
