/**
 * Background WAL checkpoints for the embedded SQLite file, on a thread of their own.
 *
 * SQLite normally checkpoints inside the commit that takes the WAL past 1,000 pages: that commit
 * copies the WAL into the database file and syncs it, 8–16 ms here, on whatever thread committed.
 * On the engine thread that stalled every reply waiting behind it (a third of its time writing rows
 * went to such commits); on the API thread it would stall requests. Connections opened with
 * `backgroundCheckpoints` leave that to this thread, which runs a PASSIVE checkpoint (it waits for
 * no reader or writer) four times a second. They keep a far higher threshold of their own.
 *
 * That threshold is reached in every busy job all the same (docs/benchmarks.md, fifteenth
 * session): this thread copies the WAL's frames, but the WAL starts over from its beginning only
 * when a transaction begins after all of them were copied, which a writer committing every
 * millisecond or two never allows. So a busy WAL grows to the threshold, and the connection that
 * reaches it checkpoints what this thread has not copied yet and starts the WAL over. Should this
 * thread stop, the same bound keeps the WAL from growing without end.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { countEarlyExits } from '../../runtime/early-exits.js';

export interface Checkpointer {
  /** Stops the thread after its current checkpoint. */
  close(): Promise<void>;
}

/**
 * Starts the thread, and a new one whenever it stops (a thread that keeps stopping right after it
 * starts is given up: `onError` says so, and commits checkpoint past their far threshold). Run
 * from TypeScript sources (tests), where there is no compiled script beside this module, none
 * starts unless `entry` names one.
 */
export function startCheckpointer(databaseFile: string, opts: { entry?: URL; onError?: (err: Error) => void } = {}): Checkpointer {
  const entry = opts.entry ?? new URL('./checkpointer-main.js', import.meta.url);
  if (!existsSync(entry)) return { close: async () => {} };
  let closing = false;
  const earlyExits = countEarlyExits();
  let exited!: Promise<void>;

  const start = (): Worker => {
    const startedAt = Date.now();
    const thread = new Worker(entry, { workerData: { databaseFile } });
    // Not events.once: that would reject on an 'error', and nobody awaits this until close().
    exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    thread.on('error', (err) => opts.onError?.(err));
    thread.once('exit', () => {
      if (closing) return;
      if (earlyExits.stopped(startedAt)) {
        opts.onError?.(new Error(`the checkpointer thread stopped ${earlyExits.count} times right after starting; it is not started again`));
        return;
      }
      worker = start();
    });
    // Background work: it never keeps the process alive.
    thread.unref();
    return thread;
  };
  let worker = start();

  return {
    async close() {
      closing = true;
      // The thread closes its connection and ends once its current checkpoint is done; until
      // then it holds the process open, or a closing process would exit mid-await.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}
