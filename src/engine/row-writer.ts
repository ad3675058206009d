/**
 * Group commit for row results: a result is written as soon as it arrives, and results that
 * arrive while a write is under way go together in the next one. `add` resolves once the row is
 * durable, so a caller that holds a row slot until then bounds how many judged rows a crash can
 * lose to the rows in flight.
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
