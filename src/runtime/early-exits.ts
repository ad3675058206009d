/**
 * When to give up restarting a thread: one that stops soon after it started, several times in a
 * row, cannot start at all (a broken install, a file it cannot open), and starting it again only
 * repeats the failure. One that ran a while before it stopped is restarted and the count begins
 * again.
 */

/** A stop this soon after the start counts as early. */
const EARLY_MS = 10_000;
/** Early stops in a row before giving up. */
const MAX_EARLY = 3;

export interface EarlyExits {
  /** Records a stop of a thread started at `startedAt` (ms); true when it is time to give up. */
  stopped(startedAt: number): boolean;
  /** Early stops in a row so far, for messages. */
  readonly count: number;
}

export function countEarlyExits(): EarlyExits {
  let count = 0;
  return {
    stopped(startedAt) {
      count = Date.now() - startedAt < EARLY_MS ? count + 1 : 0;
      return count >= MAX_EARLY;
    },
    get count() {
      return count;
    },
  };
}
