/**
 * When the cores are busy, the API's thread goes first: the embedded server's background threads
 * (the engine thread, the checkpointer) run at a lower OS priority, so a status request waits for
 * no batch of rows. Linux gives each thread its own priority; elsewhere a thread keeps the
 * process's.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** Lowers the calling thread's priority; does nothing where that is not possible. */
export function yieldToTheApi(): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(threadId) && threadId > 0) os.setPriority(threadId, os.constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // Not Linux, or not allowed: run at the process's priority.
  }
}
