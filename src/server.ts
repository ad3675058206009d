/**
 * Wires the embedded shape: SQLite store, local file folder, in-process queue, engine and HTTP app
 * in one process, all under the data directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import { createApp } from './api/app.js';
import { createUploadSigner } from './api/upload-url.js';
import { openSqliteStore } from './backends/embedded/sqlite-store.js';
import { openLocalBlobStore } from './backends/embedded/local-blob-store.js';
import { createMemoryQueue } from './backends/embedded/memory-queue.js';
import { createEngine, type Engine } from './engine/engine.js';
import { createFileService } from './engine/file-service.js';
import { createModelRegistry } from './providers/registry.js';

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config): Promise<RunningServer> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const store = openSqliteStore(path.join(config.dataDir, 'assay.db'));
  const blobs = openLocalBlobStore(path.join(config.dataDir, 'files'));
  const models = createModelRegistry(config, {
    timeoutMs: config.providerTimeoutMs,
    maxRetries: config.providerMaxRetries,
    limits: config.endpointLimits,
  });
  let app: FastifyInstance | undefined;
  const queue = createMemoryQueue({
    onError: (err, task) => app?.log.error({ err, job: task.jobId }, 'chunk task failed'),
  });
  const engine = createEngine({
    store,
    blobs,
    queue,
    models,
    config,
    log: (level, msg, extra) => app?.log[level](extra ?? {}, msg),
  });
  const files = createFileService({ store, blobs });
  app = await createApp({
    store,
    engine,
    files,
    signer: createUploadSigner(config.uploadSigningKey, config.uploadUrlTtlSeconds),
    models: config.models,
    publicUrl: config.publicUrl,
    logLevel: config.logLevel,
  });
  await engine.start();
  const address = await app.listen({ host: config.host, port: config.port });
  const url = address.replace('[::1]', 'localhost');
  let closing: Promise<void> | undefined;
  return {
    app,
    engine,
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        await engine.close();
        await store.close();
      })();
      return closing;
    },
  };
}
