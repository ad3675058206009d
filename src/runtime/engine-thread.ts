/**
 * The main-thread side of the server's engine thread (see engine-thread-main.ts): an
 * `Engine` whose calls run in the thread. Progress is answered here from what the thread last
 * reported, so a status request never waits on the busy engine loop.
 *
 * If the thread dies (a bug, not a bad row: rows fail as data), calls in flight fail, and a new
 * thread resumes the unfinished jobs from the store, as a restarted server would. A thread that
 * keeps dying right after starting (one that cannot start at all, say) is not restarted again;
 * readiness then reports it, with the reason.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import { AssayError } from '../domain/errors.js';
import type { JobRecord } from '../domain/types.js';
import type { Store } from '../engine/contracts.js';
import type { Engine } from '../engine/engine.js';
import { progressFromStore, type JobProgress } from '../engine/progress.js';
import type { RemoteMetrics } from '../observability/metrics.js';
import { countEarlyExits } from './early-exits.js';
import { fromWire, type CallMessage, type EngineMethod, type OpenMessage, type ThreadMessage } from './engine-thread-protocol.js';

export interface ThreadedEngine extends Engine {
  /** The thread's metrics, for the main registry to merge into a scrape. */
  metrics: RemoteMetrics;
  /**
   * The OS id of the thread as first started (null where there is none, or when it stopped before
   * saying), for the server to leave it at the process's priority (thread-priority.ts). A thread
   * started again after a crash is started by the API's thread, so it has that thread's priority.
   */
  osThreadId: Promise<number | null>;
  /** Throws while the thread is down for good (it kept dying as it started). */
  check(): void;
  /**
   * Lets the thread open its store: call it once the server's own store is open (it then holds
   * the data folder). Until then the thread loads its code and waits; calls wait with it.
   */
  open(): void;
  /**
   * Gives the thread what it needs from the server, which may start it before it has them: the
   * store, for the progress of jobs the thread has not reported yet, and where its log lines go
   * (those sent before this are kept until now).
   */
  attach(server: EngineThreadServer): void;
}

type Log = (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;

export interface EngineThreadServer {
  store: Pick<Store, 'rowCounts'>;
  log: Log;
}

export interface EngineThreadOptions {
  /** The thread's script (default: engine-thread-entry.js beside this module). */
  entry?: URL;
}

/** Log lines kept while no server is attached; a thread that logs more before that has failed anyway. */
const EARLY_LOG_LINES = 100;

/** Reported progress older than this is not trusted (the thread is stuck or the job moved on). */
const PROGRESS_FRESH_MS = 2_000;
/** How long close() waits for the thread to hand its work back before stopping it. */
const CLOSE_WAIT_MS = 30_000;

export function startEngineThread(config: Config, opts: EngineThreadOptions = {}): ThreadedEngine {
  const entry = opts.entry ?? new URL('./engine-thread-entry.js', import.meta.url);
  let server: EngineThreadServer | undefined;
  const early: Array<Parameters<Log>> = [];
  const log: Log = (...line) => {
    if (server) server.log(...line);
    else if (early.length < EARLY_LOG_LINES) early.push(line);
  };
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 0;
  let progress = new Map<string, JobProgress>();
  let progressAt = 0;
  let closing = false;
  const earlyDeaths = countEarlyExits();
  let downForGood: Error | null = null;
  let startOptions: Parameters<Engine['start']>[0] | undefined;
  let opened = false;
  let tellThreadId: (threadId: number | null) => void = () => {};
  const osThreadId = new Promise<number | null>((resolve) => (tellThreadId = resolve));
  let worker = spawn();

  function spawn(): Worker {
    const startedAt = Date.now();
    const w = new Worker(entry, { workerData: { config } });
    // A thread started again after a crash may open its store at once, as the first one was told to.
    if (opened) w.postMessage({ kind: 'open' } satisfies OpenMessage);
    w.on('message', (message: ThreadMessage) => {
      if (message.kind === 'reply') {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) call?.resolve(message.value);
        else call?.reject(fromWire(message.error));
      } else if (message.kind === 'log') {
        log(message.level, message.msg, message.extra ?? undefined);
      } else if (message.kind === 'thread') {
        tellThreadId(message.osThreadId);
      } else {
        progress = new Map(message.jobs);
        progressAt = Date.now();
      }
    });
    let failure: Error | null = null;
    w.on('error', (err) => {
      failure = err;
      log('error', 'engine thread failed', { err: err.stack ?? String(err) });
    });
    w.on('exit', (code) => {
      tellThreadId(null); // Settled already if the thread said which it was.
      if (w !== worker) return;
      const why = failure ? `: ${failure.message}` : ` (exit code ${code})`;
      const lost = new AssayError(`the engine thread stopped while handling this request${why}; try again`, {
        code: 'engine_restarting',
        httpStatus: 503,
        retryable: true,
      });
      for (const call of pending.values()) call.reject(lost);
      pending.clear();
      progress = new Map();
      if (closing) return;
      if (earlyDeaths.stopped(startedAt)) {
        downForGood = new Error(`the engine thread stopped ${earlyDeaths.count} times right after starting; the last time${why}`);
        log('error', 'engine thread keeps stopping; not restarting it', { code });
        return;
      }
      log('error', 'engine thread stopped; starting a new one, which resumes unfinished jobs', { code });
      worker = spawn();
      // Started as the first was: embedded, that re-plans unfinished jobs (the queue died with
      // the thread); distributed, the queue kept them and their chunks come back as leases end.
      void call('start', startOptions).catch(() => {});
    });
    return w;
  }

  function call<T>(method: EngineMethod, ...args: unknown[]): Promise<T> {
    if (downForGood) return Promise.reject(new AssayError(downForGood.message, { code: 'engine_down', httpStatus: 503 }));
    return new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      const message: CallMessage = { kind: 'call', id, method, args };
      try {
        worker.postMessage(message);
      } catch (err) {
        // Arguments that cannot be copied to the thread (never JSON from a request).
        pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  return {
    createJob: (body, ownerId) => call<JobRecord>('createJob', body, ownerId),
    cancelJob: (id, ownerId) => call<JobRecord>('cancelJob', id, ownerId),
    retryFailed: (id, ownerId, body) => call<JobRecord>('retryFailed', id, ownerId, body),
    async progress(job) {
      const reported = Date.now() - progressAt < PROGRESS_FRESH_MS ? progress.get(job.id) : undefined;
      if (reported) return reported;
      if (!server) throw new Error('the engine thread has no store yet: attach() it first');
      return progressFromStore(job, await server.store.rowCounts(job.id));
    },
    async liveProgress() {
      return Date.now() - progressAt < PROGRESS_FRESH_MS ? [...progress] : [];
    },
    async start(startOpts) {
      startOptions = startOpts;
      try {
        await call('start', startOpts);
      } catch (err) {
        // The call's own error names this thread's failure (an earlier thread's may differ).
        throw new Error(`the engine thread could not start: ${(err as Error).message}`, { cause: err });
      }
    },
    async close() {
      if (closing) return;
      closing = true;
      if (!downForGood) {
        // The thread hands its chunks back and closes its store; one that does not answer is stopped anyway.
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
        await Promise.race([
          call('close').catch((err: unknown) => log('warn', 'engine thread did not close cleanly', { err: String(err) })),
          gaveUp.then(() => log('warn', `engine thread did not close within ${CLOSE_WAIT_MS / 1000} s; stopping it`)),
        ]);
        clearTimeout(timer);
      }
      await worker.terminate();
    },
    osThreadId,
    metrics: () => (downForGood ? Promise.resolve([]) : call('metrics')),
    check() {
      if (downForGood) throw downForGood;
    },
    open() {
      if (opened) return;
      opened = true;
      worker.postMessage({ kind: 'open' } satisfies OpenMessage);
    },
    attach(attached) {
      server = attached;
      for (const line of early.splice(0)) attached.log(...line);
    },
  };
}
