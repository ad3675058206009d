/**
 * Group commit for row results: results that arrive in the same turn of the event loop (replies
 * read in one I/O phase), or while a write is under way, go together in one write. `add` resolves
 * once the row is durable, so a caller that holds a row slot until then bounds how many judged
 * rows a crash can lose to the rows in flight.
 *
 * Waiting for the end of the turn matters for a synchronous store (SQLite): written at once, every
 * row would be its own transaction, and a transaction's fixed cost was most of a row's storage
 * time (measured: one transaction per row made saving 17% of the server's CPU at 800 rows/s).
 */
import type { RowResult } from '../domain/types.js';

export interface RowWriter {
  /** Queues a row; resolves when it is written, rejects if its write failed. */
  add(row: RowResult): Promise<void>;
  /** Resolves once everything added so far is written; rejects if a write failed. */
  flush(): Promise<void>;
}

interface Pending {
  row: RowResult;
  done: () => void;
  failed: (err: unknown) => void;
}

export function createRowWriter(save: (rows: RowResult[]) => Promise<void>): RowWriter {
  let pending: Pending[] = [];
  let writing: Promise<void> | null = null;
  let failure: unknown = null;

  async function drain(): Promise<void> {
    try {
      while (pending.length > 0) {
        // Let the rest of this turn's replies join the batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = pending;
        pending = [];
        try {
          await save(batch.map((p) => p.row));
          for (const p of batch) p.done();
        } catch (err) {
          failure ??= err;
          for (const p of batch) p.failed(err);
        }
      }
    } finally {
      writing = null;
    }
  }

  return {
    add(row) {
      const written = new Promise<void>((done, failed) => pending.push({ row, done, failed }));
      writing ??= drain();
      return written;
    },
    async flush() {
      while (writing) await writing;
      if (failure !== null) throw failure;
    },
  };
}
