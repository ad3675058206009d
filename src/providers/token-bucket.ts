/**
 * A per-minute budget (requests or tokens) as a token bucket: it holds up to one minute's budget,
 * starts full and refills continuously. A cost larger than the whole bucket is let through once
 * the bucket is full, leaving it in debt, so one oversized request can neither block forever nor
 * be overtaken indefinitely.
 */

export interface TokenBucket {
  /** Milliseconds until `cost` may be taken; 0 when it may be taken now. */
  delayFor(cost: number): number;
  /** Takes `cost` (call after `delayFor` says 0); the level may go below zero. */
  take(cost: number): void;
  /** Gives back `amount` (negative to charge more), e.g. when actual usage replaces an estimate. */
  refund(amount: number): void;
  /** The current level, for tests and diagnostics. */
  level(): number;
}

/** `now` is a monotonic clock in milliseconds. */
export function createTokenBucket(perMinute: number, now: () => number): TokenBucket {
  const capacity = perMinute;
  const perMs = perMinute / 60_000;
  let tokens = capacity;
  let stamp = now();

  function refill(): void {
    const t = now();
    if (t > stamp) tokens = Math.min(capacity, tokens + (t - stamp) * perMs);
    stamp = t;
  }

  return {
    delayFor(cost) {
      refill();
      const needed = Math.min(cost, capacity);
      if (tokens >= needed) return 0;
      return Math.ceil((needed - tokens) / perMs);
    },
    take(cost) {
      refill();
      tokens -= cost;
    },
    refund(amount) {
      refill();
      tokens = Math.min(capacity, tokens + amount);
    },
    level() {
      refill();
      return tokens;
    },
  };
}
