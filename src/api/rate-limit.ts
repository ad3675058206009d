/**
 * Requests per API key as token buckets: each key may make `burst` requests at once and
 * `perMinute` a minute over time. A request over the budget is told how long to wait.
 *
 * @example
 * const limiter = createRateLimiter({ perMinute: 600, burst: 100 });
 * const waitMs = limiter.take('key_1a2b'); // 0: go ahead; otherwise answer 429 with retry-after
 */

export interface RateLimiter {
  /** Takes one request from the key's bucket: 0 when allowed, else the milliseconds until it would be. */
  take(keyId: string): number;
}

export interface RateLimiterOptions {
  perMinute: number;
  burst: number;
  now?: () => number;
  /** Buckets remembered at most; full ones are forgotten first (a full bucket is the default). */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  stamp: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const now = opts.now ?? (() => performance.now());
  const perMs = opts.perMinute / 60_000;
  const capacity = Math.max(1, opts.burst);
  const maxBuckets = opts.maxBuckets ?? 10_000;
  const buckets = new Map<string, Bucket>();

  function forgetFull(t: number): void {
    for (const [id, b] of buckets) if (b.tokens + (t - b.stamp) * perMs >= capacity) buckets.delete(id);
  }

  return {
    take(keyId) {
      const t = now();
      let bucket = buckets.get(keyId);
      if (!bucket) {
        if (buckets.size >= maxBuckets) forgetFull(t);
        bucket = { tokens: capacity, stamp: t };
        buckets.set(keyId, bucket);
      }
      bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.stamp) * perMs);
      bucket.stamp = t;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) / perMs);
    },
  };
}
