/**
 * The server's engine thread: runs jobs (model calls, verdicts, row writes, result files) on its
 * own event loop, so the API's loop answers in milliseconds however busy the jobs are. It opens
 * its own backend: embedded, a connection to the same SQLite file (WAL: the API reads while this
 * thread writes) and the in-process queue; distributed, its own PostgreSQL pool and pg-boss
 * consumer. The main thread talks to it through engine-thread-protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import { ChunkAbandoned } from '../engine/engine.js';
import { createMetrics } from '../observability/metrics.js';
import { openBackend } from './backend.js';
import { createEngineNode } from './engine-node.js';
import { toWire, type CallMessage, type EngineMethod, type MainMessage, type ThreadMessage } from './engine-thread-protocol.js';
import { createSecurity } from './security.js';

/** How often the progress of running jobs is sent to the main thread. */
const PROGRESS_EVERY_MS = 250;

const port = parentPort;
if (port === null) throw new Error('engine-thread-main runs as a worker thread of the assay server');
const { config } = workerData as { config: Config };

function post(message: ThreadMessage): void {
  try {
    port!.postMessage(message);
  } catch {
    // A log detail that cannot be cloned is sent as text.
    if (message.kind === 'log') port!.postMessage({ ...message, extra: { detail: JSON.stringify(message.extra) } });
    else throw new Error(`engine thread: could not send a ${message.kind} message`);
  }
}

const log = (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>): void =>
  post({ kind: 'log', level, msg, extra: extra ?? null });

/**
 * `assay serve` starts this thread before its own store is open, so the thread waits to be told:
 * opened before the server holds the data folder, it could migrate the file of another server
 * still running there (one this server will then refuse to replace). A close before that ends the
 * thread at once.
 */
const mayOpen = await new Promise<boolean>((resolve) => {
  const onMessage = (message: MainMessage): void => {
    if (message.kind === 'open') resolve(true);
    else if (message.method === 'close') {
      post({ kind: 'reply', id: message.id, ok: true, value: undefined });
      resolve(false);
    } else return;
    port.off('message', onMessage);
  };
  port.on('message', onMessage);
});
if (!mayOpen) process.exit(0);

// The server runs the checkpointer thread for the file this backend writes to.
const backend = await openBackend(
  config,
  (err, task) => {
    if (!(err instanceof ChunkAbandoned)) log('error', 'chunk task failed', { job: task.jobId, err: err instanceof Error ? err.stack : String(err) });
  },
  { backgroundCheckpoints: 'running' },
);
// The process-wide metrics (CPU, memory, event loop) are the main thread's.
const metrics = createMetrics();
const security = createSecurity(config, backend.store, { serving: true, onSharedChange: () => metrics.resetEndpointSeries() });
// Whether keys exist decides the SSRF guard and the endpoint labels: learn it before the first job.
await security.keyring.keysExist();
const { engine, models } = createEngineNode(config, { ...backend, metrics, security, log });
metrics.setSources({ queueDepth: () => backend.queue.size(), endpoints: () => models.all(), endpointLabel: security.endpointLabel });

let sentJobs = false;
const progressTimer = setInterval(() => {
  engine.liveProgress().then(
    (jobs) => {
      // One empty message after the last job, so the main thread drops what it showed.
      if (jobs.length === 0 && !sentJobs) return;
      sentJobs = jobs.length > 0;
      post({ kind: 'progress', jobs });
    },
    () => {},
  );
}, PROGRESS_EVERY_MS);
progressTimer.unref();

const methods: Record<EngineMethod, (...args: never[]) => Promise<unknown>> = {
  createJob: (body: unknown, ownerId: string) => engine.createJob(body, ownerId),
  cancelJob: (id: string, ownerId: string) => engine.cancelJob(id, ownerId),
  retryFailed: (id: string, ownerId: string, body: unknown) => engine.retryFailed(id, ownerId, body),
  async start(opts: Parameters<typeof engine.start>[0]) {
    // A distributed node registers as a worker (its share of the endpoints' budgets) before it
    // takes chunks; the embedded backend has nothing to join.
    if (opts?.consume) await backend.joinWorkers();
    await engine.start(opts);
  },
  async close() {
    clearInterval(progressTimer);
    await engine.close();
    await backend.close();
  },
  async metrics() {
    await security.keyring.keysExist();
    return metrics.registry.getMetricsAsJSON();
  },
};

port.on('message', (message: CallMessage) => {
  const method = methods[message.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
  if (method === undefined) {
    post({ kind: 'reply', id: message.id, ok: false, error: toWire(new Error(`the engine thread has no method ${String(message.method)}`)) });
    return;
  }
  method(...message.args).then(
    (value) => post({ kind: 'reply', id: message.id, ok: true, value }),
    (err: unknown) => post({ kind: 'reply', id: message.id, ok: false, error: toWire(err) }),
  );
});
