/**
 * The embedded engine in this process, without HTTP: SQLite store, local file folder and
 * in-process queue under one state folder. `assay run` drives it directly.
 */
import type { Config } from '../../config/config.js';
import type { Store } from '../../engine/contracts.js';
import { ChunkAbandoned, type Engine, type EngineDeps } from '../../engine/engine.js';
import { createFileService, type FileService } from '../../engine/file-service.js';
import { openBackend } from '../../runtime/backend.js';
import { createEngineNode } from '../../runtime/engine-node.js';

export interface LocalEngine {
  store: Store;
  files: FileService;
  engine: Engine;
  /** Stops the engine (rows in flight are abandoned and run again next time), then the store. */
  close(): Promise<void>;
}

export async function openLocalEngine(config: Config, log: NonNullable<EngineDeps['log']>): Promise<LocalEngine> {
  // Always the embedded shape, in the run's own state folder, with its checkpoints off this loop.
  const backend = await openBackend(
    { ...config, databaseUrl: null },
    // A chunk handed back at shutdown is expected: its rows run again next time.
    (err, task) => {
      if (!(err instanceof ChunkAbandoned)) log('error', 'chunk task failed', { job: task.jobId, err: String(err) });
    },
    { backgroundCheckpoints: 'start', lockFolder: true },
  );
  const { store, blobs } = backend;
  const { engine } = createEngineNode(config, { ...backend, log });
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
          await backend.close();
        }
      })();
      return closing;
    },
  };
}
