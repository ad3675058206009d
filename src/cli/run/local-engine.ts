/**
 * The embedded engine in this process, without HTTP: SQLite store, local file folder and
 * in-process queue under one state folder. `assay run` drives it directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import { openLocalBlobStore } from '../../backends/embedded/local-blob-store.js';
import { createMemoryQueue } from '../../backends/embedded/memory-queue.js';
import { openSqliteStore } from '../../backends/embedded/sqlite-store.js';
import type { Store } from '../../engine/contracts.js';
import { ChunkAbandoned, type Engine, type EngineDeps } from '../../engine/engine.js';
import { createFileService, type FileService } from '../../engine/file-service.js';
import { createEngineNode } from '../../runtime/engine-node.js';

export interface LocalEngine {
  store: Store;
  files: FileService;
  engine: Engine;
  /** Stops the engine (rows in flight are abandoned and run again next time), then the store. */
  close(): Promise<void>;
}

export function openLocalEngine(config: Config, log: NonNullable<EngineDeps['log']>): LocalEngine {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const store = openSqliteStore(path.join(config.dataDir, 'assay.db'));
  const blobs = openLocalBlobStore(path.join(config.dataDir, 'files'));
  const queue = createMemoryQueue({
    // A chunk handed back at shutdown is expected: its rows run again next time.
    onError: (err, task) => {
      if (!(err instanceof ChunkAbandoned)) log('error', 'chunk task failed', { job: task.jobId, err: String(err) });
    },
  });
  const { engine } = createEngineNode(config, { store, blobs, queue, log });
  const files = createFileService({ store, blobs });
  let closing: Promise<void> | undefined;
  return {
    store,
    files,
    engine,
    close() {
      closing ??= (async () => {
        try {
          await engine.close();
        } finally {
          await store.close();
        }
      })();
      return closing;
    },
  };
}
