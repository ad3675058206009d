/**
 * Group commit for row results: a result is written as soon as it arrives, and results that
 * arrive while a write is under way go together in the next one. A crash therefore loses at most
 * the results of one write, so almost nothing already judged is sent to a model again on resume,
 * while a busy job still writes in batches.
 */
import type { RowResult } from '../domain/types.js';

export interface RowWriter {
  add(row: RowResult): void;
  /** Resolves once everything added so far is written; rejects if a write failed. */
  flush(): Promise<void>;
}

export function createRowWriter(save: (rows: RowResult[]) => Promise<void>): RowWriter {
  let pending: RowResult[] = [];
  let writing: Promise<void> | null = null;
  let failure: unknown = null;

  async function drain(): Promise<void> {
    try {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        await save(batch);
      }
    } catch (err) {
      failure ??= err;
    } finally {
      writing = null;
    }
  }

  return {
    add(row) {
      pending.push(row);
      writing ??= drain();
    },
    async flush() {
      while (writing) await writing;
      if (pending.length > 0) await (writing = drain());
      if (failure !== null) throw failure;
    },
  };
}
