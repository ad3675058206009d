/**
 * When both stores write new call cache entries: behind the calls, many at a time. One write per
 * reply would cost more than a cached call saves (a SQLite commit, or a PostgreSQL round trip that
 * each row would wait for). A crash loses at most the entries still waiting, which only means
 * calling the model again.
 */

/**
 * How long new entries wait to be written together. A tenth of a second's replies in one write
 * touch fewer index pages per entry than writes of a few, and the row commits, which a row's slot
 * waits for, carry none of them.
 */
export const CACHE_WRITE_DELAY_MS = 100;

/**
 * How many entries may wait before they are written at once: 256, but never more than a tenth of
 * the bound, so the bound holds however small it is (a bound of 10 writes every entry at once).
 */
export function cacheWriteBatchLimit(maxEntries: number): number {
  return Math.min(256, Math.max(1, Math.floor(maxEntries / 10)));
}

/**
 * The failure of the last batch of entries that could not be written, kept for the next put to
 * reject with (a batch written on a timer has no caller to tell), so the cache's user can log it.
 */
export function createCacheWriteFailures() {
  let kept: Error | null = null;
  return {
    record(entries: number, cause: unknown): void {
      const why = cause instanceof Error ? cause.message : String(cause);
      kept = new Error(`${entries} call cache ${entries === 1 ? 'entry' : 'entries'} could not be written: ${why}`, { cause });
    },
    /** Throws the failure kept since the last call, if any, and forgets it. */
    throwKept(): void {
      const failure = kept;
      kept = null;
      if (failure) throw failure;
    },
  };
}
