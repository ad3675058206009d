/**
 * When the cores are busy, the threads that serve requests and run rows go first: the API's thread
 * and the engine thread keep the process's OS priority, and the server's background threads (the
 * checkpointer, V8's helper threads, libuv's thread pool) run lower, so neither a status request
 * nor a row's next call waits behind a compile job, a garbage collection task or a checkpoint.
 * Linux gives each thread its own priority; elsewhere a thread keeps the process's.
 *
 * The engine thread used to run lower too (until step 47): then any other process at normal
 * priority on the machine (the benchmark's fake judge and load client, or whatever shares a host
 * with the server) took the cores from the rows first. At the process's priority a job under API
 * load ran at 0.76–0.79 of its ideal time against 0.69–0.73. The API's p99 stayed at 4–5 ms in a
 * quiet hour and rose by a few ms under the host's steal, within its 20 ms target
 * (docs/benchmarks.md, step 47).
 */
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const LOWER = os.constants.priority.PRIORITY_BELOW_NORMAL;

/** The calling thread's OS id (Linux), or null where there is none to read. */
export function osThreadId(): number | null {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(threadId) && threadId > 0 ? threadId : null;
  } catch {
    return null;
  }
}

/**
 * Names the calling thread (Linux, at most 15 bytes), so that `top -H` and `ps -L` tell assay's
 * threads apart: every thread of a Node process is otherwise named `node`.
 */
export function nameOwnThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name);
  } catch {
    // Not Linux: threads keep their names.
  }
}

/** Lowers the calling thread's priority (a background thread's); does nothing where that is not possible. */
export function lowerOwnPriority(): void {
  const threadId = osThreadId();
  if (threadId === null) return;
  try {
    os.setPriority(threadId, LOWER);
  } catch {
    // Not allowed: run at the process's priority.
  }
}

/**
 * Lowers the priority of every thread of the process but the calling one (the API's) and those
 * in `spare` (the engine thread), called from the API's thread: V8's helper threads (which compile
 * and collect garbage mostly for the engine thread's isolate) and libuv's thread pool. At the API's
 * priority, they ran 0.6–1.2 s of a 4 s job, in bursts that kept the API's thread waiting for a
 * core (docs/benchmarks.md, step 25). Both isolates still get their help, at the lower priority.
 * Background threads started later (the checkpointer) lower themselves.
 */
export function lowerBackgroundThreads(spare: Iterable<number> = []): void {
  const self = osThreadId();
  if (self === null) return; // Not Linux: every thread keeps the process's priority.
  let threads: string[];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  const kept = new Set(spare);
  for (const name of threads) {
    const threadId = Number(name);
    if (!Number.isInteger(threadId) || threadId <= 0 || threadId === self || kept.has(threadId)) continue;
    try {
      if (os.getPriority(threadId) < LOWER) os.setPriority(threadId, LOWER);
    } catch {
      // The thread ended meanwhile, or this is not allowed: it keeps its priority.
    }
  }
}
