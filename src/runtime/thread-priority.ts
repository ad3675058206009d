/**
 * When the cores are busy, the API's thread goes first: the embedded server's other threads (the
 * engine thread, the checkpointer, and the process's helper threads) run at a lower OS priority,
 * so a status request waits for no batch of rows. Linux gives each thread its own priority;
 * elsewhere a thread keeps the process's.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';

const LOWER = os.constants.priority.PRIORITY_BELOW_NORMAL;

/** The calling thread's id (Linux only; throws elsewhere). */
function ownThreadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

/** Lowers the calling thread's priority; does nothing where that is not possible. */
export function yieldToTheApi(): void {
  try {
    const threadId = ownThreadId();
    if (Number.isInteger(threadId) && threadId > 0) os.setPriority(threadId, LOWER);
  } catch {
    // Not Linux, or not allowed: run at the process's priority.
  }
}

/**
 * Lowers the priority of every other thread of the process, called from the API's thread: V8's
 * helper threads (which compile and collect garbage mostly for the engine thread's isolate) and
 * libuv's thread pool. At the API's priority, they ran 0.6–1.2 s of a 4 s job, in bursts that
 * kept the API's thread waiting for a core (docs/benchmarks.md, step 25). The API's own isolate
 * still gets their help, at the lower priority. Threads started later by the API's thread (a
 * restarted engine thread, the checkpointer) lower themselves.
 */
export function helperThreadsYieldToTheApi(): void {
  let self: number;
  let threads: string[];
  try {
    self = ownThreadId();
    threads = readdirSync('/proc/self/task');
  } catch {
    return; // Not Linux: every thread keeps the process's priority.
  }
  for (const name of threads) {
    const threadId = Number(name);
    if (!Number.isInteger(threadId) || threadId <= 0 || threadId === self) continue;
    try {
      if (os.getPriority(threadId) < LOWER) os.setPriority(threadId, LOWER);
    } catch {
      // The thread ended meanwhile, or this is not allowed: it keeps its priority.
    }
  }
}
