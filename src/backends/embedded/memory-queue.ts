/**
 * The embedded TaskQueue: an in-process FIFO. Durability comes from the store, not the queue: on
 * restart the engine re-plans unfinished jobs and skips rows that already have results.
 */
import type { RowChunk, TaskQueue } from '../../engine/contracts.js';

const keyOf = (t: RowChunk): string => `${t.jobId}:${t.start}`;

export function createMemoryQueue(opts: { onError?: (err: unknown, task: RowChunk) => void } = {}): TaskQueue {
  const waiting: RowChunk[] = [];
  const known = new Set<string>();
  const perJob = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let handler: ((task: RowChunk) => Promise<void>) | null = null;
  let concurrency = 1;
  let closed = false;

  const bump = (jobId: string, by: number): void => {
    const n = (perJob.get(jobId) ?? 0) + by;
    if (n <= 0) perJob.delete(jobId);
    else perJob.set(jobId, n);
  };

  function pump(): void {
    while (!closed && handler && running.size < concurrency && waiting.length > 0) {
      const task = waiting.shift()!;
      const run = handler(task)
        .catch((err: unknown) => opts.onError?.(err, task))
        .finally(() => {
          running.delete(run);
          known.delete(keyOf(task));
          bump(task.jobId, -1);
          pump();
        });
      running.add(run);
    }
  }

  return {
    local: true,
    async enqueue(tasks) {
      for (const task of tasks) {
        const key = keyOf(task);
        if (known.has(key)) continue;
        known.add(key);
        bump(task.jobId, 1);
        waiting.push(task);
      }
      pump();
    },
    consume(fn, { concurrency: c }) {
      handler = fn;
      concurrency = Math.max(1, c);
      pump();
    },
    async cancel(jobId) {
      for (let i = waiting.length - 1; i >= 0; i--) {
        const task = waiting[i]!;
        if (task.jobId !== jobId) continue;
        waiting.splice(i, 1);
        known.delete(keyOf(task));
        bump(jobId, -1);
      }
    },
    pending: async (jobId) => perJob.get(jobId) ?? 0,
    size: async () => waiting.length + running.size,
    async close() {
      closed = true;
      await Promise.allSettled([...running]);
    },
  };
}
