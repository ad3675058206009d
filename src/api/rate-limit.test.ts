import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

describe('createRateLimiter', () => {
  it('lets a burst through, then one request per 60000/perMinute ms, per key', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 60, burst: 3, now: () => t });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1000);
    expect(limiter.take('b')).toBe(0);
    t = 500;
    expect(limiter.take('a')).toBe(500);
    t = 1000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1000);
    // Idle for long: the bucket refills to the burst, no more.
    t = 1_000_000;
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0, 1000]);
  });

  it('forgets full buckets first when it remembers too many', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 60, burst: 1, now: () => t, maxBuckets: 2 });
    expect(limiter.take('a')).toBe(0);
    t = 5000;
    expect(limiter.take('b')).toBe(0);
    // 'a' is full again and may be forgotten; 'b' is empty and must not be.
    expect(limiter.take('c')).toBe(0);
    expect(limiter.take('b')).toBeGreaterThan(0);
  });
});
