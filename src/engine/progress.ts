/** Live progress of a job in this process: rows done and failed, rate, ETA, rate-limit waits. */
import { FAILED_OUTCOMES, type JobRecord, type RowCounts, type RowResult } from '../domain/types.js';
import type { ChatModel } from '../providers/chat-model.js';

export interface JobProgress {
  rows_total: number;
  rows_done: number;
  rows_failed: number;
  /** Rows finished per second since this process started on the job; null before the first. */
  rows_per_second: number | null;
  eta_seconds: number | null;
  /** True while a model endpoint of the job is holding requests back for a rate limit. */
  waiting_on_rate_limit: boolean;
}

export interface ProgressTracker {
  rowDone(outcome: RowResult['outcome']): void;
  snapshot(): JobProgress;
}

const FAILED: ReadonlySet<string> = new Set(FAILED_OUTCOMES);

export function createProgress(total: number, start: RowCounts, endpoints: readonly ChatModel[], now: () => number = Date.now): ProgressTracker {
  const startedAt = now();
  let done = start.done;
  let failed = start.failed;
  return {
    rowDone(outcome) {
      done++;
      if (FAILED.has(outcome)) failed++;
    },
    snapshot() {
      const finishedHere = done - start.done;
      const seconds = (now() - startedAt) / 1000;
      const rate = finishedHere > 0 && seconds > 0 ? finishedHere / seconds : null;
      return {
        rows_total: total,
        rows_done: Math.min(done, total),
        rows_failed: failed,
        rows_per_second: rate === null ? null : Number(rate.toFixed(3)),
        eta_seconds: rate === null ? null : Number((Math.max(0, total - done) / rate).toFixed(1)),
        waiting_on_rate_limit: endpoints.some((model) => model.state().waitingOnRateLimit),
      };
    },
  };
}

/**
 * Progress of a job that is not running in this process (another node's, or not started yet),
 * from the store's counts; the rate is measured from when the job last started running.
 */
export function progressFromStore(job: JobRecord, counts: RowCounts, now: number = Date.now()): JobProgress {
  const lastRun = [...job.statusUpdates].reverse().find((u) => u.status === 'running');
  const seconds = lastRun ? (now - Date.parse(lastRun.timestamp)) / 1000 : 0;
  const rate = counts.done > 0 && seconds > 0 ? counts.done / seconds : null;
  return {
    rows_total: job.rowCount,
    rows_done: Math.min(counts.done, job.rowCount),
    rows_failed: counts.failed,
    rows_per_second: rate === null ? null : Number(rate.toFixed(3)),
    eta_seconds: rate === null ? null : Number((Math.max(0, job.rowCount - counts.done) / rate).toFixed(1)),
    waiting_on_rate_limit: false,
  };
}
