/**
 * The two shapes' storage and queue, behind the engine's contracts: embedded (SQLite, a local
 * folder, an in-process queue) when no database URL is configured, PostgreSQL (state, file
 * contents, pg-boss queue) when one is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { BlobStore, RowChunk, Store, TaskQueue } from '../engine/contracts.js';
import { startCheckpointer } from '../backends/embedded/checkpointer.js';
import { lockDataFolder, type FolderLock } from '../backends/embedded/folder-lock.js';
import { openSqliteStore } from '../backends/embedded/sqlite-store.js';
import { openLocalBlobStore } from '../backends/embedded/local-blob-store.js';
import { createMemoryQueue } from '../backends/embedded/memory-queue.js';

export interface Backend {
  shape: 'embedded' | 'distributed';
  store: Store;
  blobs: BlobStore;
  queue: TaskQueue;
  /** Throws when the backend cannot serve (database unreachable). */
  ping(): Promise<void>;
  /** This process's share of model endpoints' budgets (1 unless other workers share them). */
  share(): number;
  /** Announces this process as a worker, so budgets are split among the workers alive. */
  joinWorkers(): Promise<void>;
  /** Closes the store and connections; close the engine (and with it the queue) first. */
  close(): Promise<void>;
}

export interface BackendOptions {
  /**
   * Embedded: WAL checkpoints happen on a thread of their own (see checkpointer.ts), not in
   * commits. `start` runs that thread with this backend; `running` is for a backend opened where
   * another one of this process runs it (the engine thread's).
   */
  backgroundCheckpoints?: 'start' | 'running';
  /** Told if the checkpointer thread fails (commits then checkpoint past their far threshold). */
  onCheckpointerError?: (err: Error) => void;
  /**
   * Embedded: this process runs the folder's jobs, so it takes the folder's lock and no other
   * process may while it is open (see folder-lock.ts). Not for a backend opened beside another of
   * the same process (the engine thread's).
   */
  lockFolder?: boolean;
  /**
   * False for a backend whose process runs its jobs elsewhere (the API thread beside an engine
   * thread, which opens its own): no queue is opened, so no pg-boss instance and no pool of its
   * own, and the backend's queue refuses any use.
   */
  queue?: boolean;
}

/** The queue of a backend opened without one: its jobs run elsewhere, so nothing here may queue. */
const NO_QUEUE: TaskQueue = (() => {
  const refuse = (): never => {
    throw new Error('this backend was opened without a queue: its jobs run on the engine thread');
  };
  return { enqueue: async () => refuse(), consume: refuse, cancel: async () => refuse(), pending: async () => refuse(), size: async () => refuse(), close: async () => {} };
})();

/**
 * The embedded store and, when this backend runs it, the checkpointer thread. If either fails,
 * nothing half-open stays behind, the folder's lock included.
 */
async function openEmbeddedStore(databaseFile: string, opts: BackendOptions, lock: FolderLock | null) {
  let store: Store | undefined;
  try {
    store = openSqliteStore(databaseFile, { backgroundCheckpoints: opts.backgroundCheckpoints !== undefined });
    const checkpointer =
      opts.backgroundCheckpoints === 'start' ? startCheckpointer(databaseFile, opts.onCheckpointerError ? { onError: opts.onCheckpointerError } : {}) : null;
    return { store, checkpointer };
  } catch (err) {
    await store?.close();
    lock?.release();
    throw err;
  }
}

export async function openBackend(config: Config, onTaskError: (err: unknown, task: RowChunk) => void, opts: BackendOptions = {}): Promise<Backend> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  if (config.databaseUrl === null) {
    const databaseFile = path.join(config.dataDir, 'assay.db');
    const lock = opts.lockFolder === true ? lockDataFolder(config.dataDir) : null;
    const { store, checkpointer } = await openEmbeddedStore(databaseFile, opts, lock);
    return {
      shape: 'embedded',
      store,
      blobs: openLocalBlobStore(path.join(config.dataDir, 'files')),
      queue: opts.queue === false ? NO_QUEUE : createMemoryQueue({ onError: onTaskError }),
      ping: async () => {
        await store.jobCounts();
      },
      share: () => 1,
      joinWorkers: async () => {},
      close: async () => {
        try {
          await checkpointer?.close();
          await store.close();
        } finally {
          lock?.release();
        }
      },
    };
  }
  // Loaded only for the distributed shape, so the embedded one starts without them.
  const [{ createPool }, { openPostgresStore }, { openPostgresBlobStore }, { createPgBossQueue }, { startHeartbeat }] = await Promise.all([
    import('../backends/postgres/pg-sql.js'),
    import('../backends/postgres/pg-store.js'),
    import('../backends/postgres/pg-blob-store.js'),
    import('../backends/postgres/pgboss-queue.js'),
    import('../backends/postgres/node-registry.js'),
  ]);
  const connectTimeoutMs = config.databaseConnectTimeoutMs;
  // With an error listener, like every pool here: an idle connection the server drops (a restart,
  // a failover) is discarded by the pool instead of crashing the process; queries say their own errors.
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'assay-node', connectTimeoutMs });
  // The store's migrations, the file table and pg-boss's schema touch nothing of each other's and
  // each opens its own connections, so they are opened together: their round trips overlap. One
  // after another they took 160-210 ms of a node's start on a fresh database, 87 ms on one
  // already set up (docs/benchmarks.md, step 48).
  const opening = await Promise.allSettled([
    openPostgresStore(config.databaseUrl, { connectTimeoutMs }),
    // File contents live in PostgreSQL; the data directory is only this node's cache of them.
    openPostgresBlobStore(pool, path.join(config.dataDir, 'cache')),
    opts.queue === false
      ? NO_QUEUE
      : createPgBossQueue(config.databaseUrl, {
          leaseSeconds: config.chunkLeaseSeconds,
          maintenanceIntervalSeconds: config.queueMaintenanceSeconds,
          connectTimeoutMs,
          onError: onTaskError,
        }),
  ] as const);
  const [storeOpened, blobsOpened, queueOpened] = opening;
  if (storeOpened.status === 'rejected' || blobsOpened.status === 'rejected' || queueOpened.status === 'rejected') {
    // Nothing half-open stays behind. The store's error comes first when several failed (an
    // unreachable database fails them all): it names the database and how long it waited.
    await Promise.allSettled([
      storeOpened.status === 'fulfilled' ? storeOpened.value.close() : null,
      queueOpened.status === 'fulfilled' ? queueOpened.value.close() : null,
      pool.end(),
    ]);
    throw [storeOpened, blobsOpened, queueOpened].find((o): o is PromiseRejectedResult => o.status === 'rejected')!.reason;
  }
  const store = storeOpened.value;
  const blobs = blobsOpened.value;
  const queue = queueOpened.value;
  let heartbeat: Awaited<ReturnType<typeof startHeartbeat>> | null = null;
  return {
    shape: 'distributed',
    store,
    blobs,
    queue,
    ping: async () => {
      await pool.query('SELECT 1');
    },
    share: () => heartbeat?.share() ?? 1,
    async joinWorkers() {
      heartbeat ??= await startHeartbeat(pool);
    },
    // The queue is closed by the engine, which owns its in-flight work.
    async close() {
      await heartbeat?.stop();
      await store.close();
      await pool.end();
    },
  };
}
