/**
 * A client's cycle as the judge sees it, for the benchmark. With C calls kept in flight, a cycle
 * of a slot is the judge's own time for a call (`held`: request read to reply sent, the latency it
 * was asked for included) plus the `turnaround`: from that reply leaving the judge to the call it
 * frees arriving (both transits, and the client's own work between a reply and its next call).
 * Efficiency against the ideal is about L / (held + turnaround), so the turnaround says how much
 * of a cycle the client costs (docs/benchmarks.md).
 *
 * In a closed loop every reply but the last C frees exactly one call, so the mean turnaround is
 * (Σ arrivals after the first C − Σ replies but the last C) / (arrivals − C), whichever reply freed
 * which call. That needs the sums and the first and last C times only: memory stays constant
 * however many calls a run makes. (At the run's end, a slot's last reply may come before another
 * slot's last but one; the mean is then off by their difference over the number of calls, under a
 * microsecond for a benchmark's run.)
 */

/** The most calls in flight a summary can be asked for. */
export const MAX_TIMED_CONCURRENCY = 4096;

export interface CallTimingSummary {
  /** Calls that arrived since the last reset (every one of them answered). */
  calls: number;
  /** Mean ms from a call's arrival to its reply being sent. */
  heldMs: number;
  /** Mean ms from a reply being sent to the arrival of the call it freed. */
  turnaroundMs: number;
}

export interface CallTiming {
  /** A call arrived at `at` (ms, any monotonic clock). */
  arrived(at: number): void;
  /** The reply to a call that arrived at `arrivedAt` was sent at `at`. */
  replied(arrivedAt: number, at: number): void;
  /** Forgets every call so far; replies to calls that arrived before `at` are not counted. */
  reset(at: number): void;
  /**
   * The means for a client that kept `concurrency` calls in flight, or null while calls are
   * unanswered or too few arrived to have freed any.
   */
  summary(concurrency: number): CallTimingSummary | null;
}

export function createCallTiming(): CallTiming {
  // Times are kept relative to the first arrival, so that sums over a long run keep their precision.
  let origin: number | null = null;
  let since = -Infinity;
  let arrivals = 0;
  let arrivalSum = 0;
  let replies = 0;
  let replySum = 0;
  let heldSum = 0;
  const firstArrivals: number[] = [];
  // The last MAX_TIMED_CONCURRENCY reply times, oldest overwritten first.
  const lastReplies = new Float64Array(MAX_TIMED_CONCURRENCY);

  return {
    arrived(at) {
      const t = at - (origin ??= at);
      arrivals++;
      arrivalSum += t;
      if (firstArrivals.length < MAX_TIMED_CONCURRENCY) firstArrivals.push(t);
    },
    replied(arrivedAt, at) {
      if (arrivedAt < since || origin === null) return;
      const t = at - origin;
      lastReplies[replies % MAX_TIMED_CONCURRENCY] = t;
      replies++;
      replySum += t;
      heldSum += at - arrivedAt;
    },
    reset(at) {
      origin = null;
      since = at;
      arrivals = arrivalSum = replies = replySum = heldSum = 0;
      firstArrivals.length = 0;
    },
    summary(concurrency) {
      const c = Math.floor(concurrency);
      if (!(c >= 1 && c <= MAX_TIMED_CONCURRENCY)) throw new RangeError(`concurrency must be 1 to ${MAX_TIMED_CONCURRENCY}, not ${concurrency}`);
      if (replies !== arrivals || arrivals <= c) return null;
      let freeing = replySum;
      for (let k = replies - c; k < replies; k++) freeing -= lastReplies[k % MAX_TIMED_CONCURRENCY]!;
      let freed = arrivalSum;
      for (let k = 0; k < c; k++) freed -= firstArrivals[k]!;
      return { calls: arrivals, heldMs: heldSum / replies, turnaroundMs: (freed - freeing) / (arrivals - c) };
    },
  };
}
