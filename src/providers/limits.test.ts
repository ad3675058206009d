import { describe, expect, it } from 'vitest';
import { createAdaptiveLimit } from './adaptive-limit.js';
import { DEFAULT_ENDPOINT_LIMITS, limitsFor, parseEndpointLimits } from './endpoint-limits.js';
import { createTokenBucket } from './token-bucket.js';

describe('endpoint limits', () => {
  const table = parseEndpointLimits(
    JSON.stringify({
      'http://127.0.0.1:8000/v1/': { maxConcurrency: 16, rpm: 600 },
      'http://127.0.0.1:8000/v1#big-judge': { tpm: 200_000 },
      '*': { maxConcurrency: 32, tpm: 1_000_000 },
    }),
  );

  it('resolves model over base URL over * over the defaults, field by field', () => {
    expect(limitsFor(table, 'http://127.0.0.1:8000/v1', 'big-judge')).toEqual({ maxConcurrency: 16, rpm: 600, tpm: 200_000 });
    expect(limitsFor(table, 'http://127.0.0.1:8000/v1', 'other')).toEqual({ maxConcurrency: 16, rpm: 600, tpm: 1_000_000 });
    expect(limitsFor(table, 'https://api.example.com/v1', 'm')).toEqual({ maxConcurrency: 32, rpm: null, tpm: 1_000_000 });
    expect(limitsFor({}, 'https://api.example.com/v1', 'm')).toEqual(DEFAULT_ENDPOINT_LIMITS);
    expect(parseEndpointLimits('  ')).toEqual({});
  });

  it('rejects bad values with a message naming the entry and field', () => {
    expect(() => parseEndpointLimits('{')).toThrow(/not valid JSON/);
    expect(() => parseEndpointLimits('[]')).toThrow(/JSON object/);
    expect(() => parseEndpointLimits('{"*": {"maxConcurrency": 0}}')).toThrow(/"\*"\.maxConcurrency must be an integer >= 1/);
    expect(() => parseEndpointLimits('{"*": {"rpm": "fast"}}')).toThrow(/rpm must be a number > 0/);
    expect(() => parseEndpointLimits('{"*": {"rps": 5}}')).toThrow(/unknown field "rps"/);
    expect(parseEndpointLimits('{"*": {"rpm": null}}')).toEqual({ '*': { rpm: null } });
  });
});

describe('token bucket', () => {
  it('holds a minute of budget, refills continuously and says how long to wait', () => {
    let now = 0;
    const bucket = createTokenBucket(60, () => now);
    for (let i = 0; i < 60; i++) {
      expect(bucket.delayFor(1)).toBe(0);
      bucket.take(1);
    }
    expect(bucket.delayFor(1)).toBe(1000);
    now += 500;
    expect(bucket.delayFor(1)).toBe(500);
    now += 500;
    expect(bucket.delayFor(1)).toBe(0);
    now += 10 * 60_000;
    expect(bucket.level()).toBe(60);
  });

  it('lets an oversized cost through once full, then waits off the debt; refunds reconcile estimates', () => {
    let now = 0;
    const bucket = createTokenBucket(6000, () => now);
    expect(bucket.delayFor(9000)).toBe(0);
    bucket.take(9000);
    expect(bucket.level()).toBe(-3000);
    expect(bucket.delayFor(100)).toBe(31_000);
    bucket.refund(8000); // the reply used 1000 of the 9000 reserved
    expect(bucket.level()).toBe(5000);
    expect(bucket.delayFor(100)).toBe(0);
  });
});

describe('adaptive concurrency limit', () => {
  /** Drives the limit like saturated traffic against a server that allows `cap` in flight. */
  function simulate(max: number, cap: number, calls: number) {
    const limit = createAdaptiveLimit(max);
    let rejected = 0;
    for (let i = 0; i < calls; i++) {
      if (limit.limit > cap) {
        // every call beyond the cap is answered 429; the last of them with cap + 1 in flight
        const burst = Array.from({ length: limit.limit }, (_, j) => limit.sent(j + 1));
        rejected += burst.length - cap;
        for (let j = burst.length; j > cap; j--) limit.rateLimited(burst[j - 1]!, j);
      } else limit.succeeded(limit.sent(limit.limit));
    }
    return { limit: limit.limit, rejected };
  }

  it('shrinks straight to what the server allows on a 429, never above the current limit', () => {
    const limit = createAdaptiveLimit(25);
    const calls = Array.from({ length: 25 }, (_, i) => limit.sent(i + 1));
    limit.rateLimited(calls[24]!, 9);
    expect(limit.limit).toBe(8);
    limit.rateLimited(calls[23]!, 20);
    expect(limit.limit).toBe(8);
    limit.rateLimited(calls[22]!, 1);
    expect(limit.limit).toBe(1);
  });

  it('grows by one after 2 x limit saturated successes; others do not count', () => {
    const limit = createAdaptiveLimit(4);
    limit.rateLimited(limit.sent(4), 3); // limit 2, remembered level 4
    for (let i = 0; i < 100; i++) limit.succeeded(limit.sent(1));
    expect(limit.limit).toBe(2);
    for (let i = 0; i < 3; i++) limit.succeeded(limit.sent(2));
    expect(limit.limit).toBe(2);
    limit.succeeded(limit.sent(2));
    expect(limit.limit).toBe(3);
    // the next step reaches the remembered level: a run twice as long
    for (let i = 0; i < 11; i++) limit.succeeded(limit.sent(3));
    expect(limit.limit).toBe(3);
    limit.succeeded(limit.sent(3));
    expect(limit.limit).toBe(4);
  });

  it('a steady server cap costs a logarithmic number of 429s', () => {
    const few = simulate(64, 8, 1_000);
    const many = simulate(64, 8, 100_000);
    expect(few.limit).toBeLessThanOrEqual(9);
    expect(few.limit).toBeGreaterThanOrEqual(8);
    // the first burst (56 over the cap), then one 429 per probe, probes ever further apart
    expect(few.rejected).toBeLessThanOrEqual(56 + 5);
    // 99,000 more calls cost under a dozen more 429s (probing at a fixed pace of 2 x limit: ~6,000)
    expect(many.rejected - few.rejected).toBeLessThanOrEqual(10);
  });

  it('counts one strike per episode: the 429s of one burst do not stack', () => {
    const limit = createAdaptiveLimit(13);
    const burst = Array.from({ length: 13 }, (_, i) => limit.sent(i + 1));
    for (let k = 13; k >= 9; k--) limit.rateLimited(burst[k - 1]!, k);
    expect(limit.limit).toBe(8);
    // one strike at 13: growth to 12 at the normal pace, then a doubled run to probe 13
    let sent = 0;
    while (limit.limit < 12) {
      limit.succeeded(limit.sent(limit.limit));
      sent++;
    }
    expect(sent).toBe(2 * (8 + 9 + 10 + 11));
  });

  it('probes past a level that stopped answering 429, and forgets it as runs there pass', () => {
    const limit = createAdaptiveLimit(20);
    const step = (n: number) => {
      for (let i = 0; i < n; i++) limit.succeeded(limit.sent(limit.limit));
    };
    limit.rateLimited(limit.sent(20), 9); // the first burst: limit 8
    step(16);
    expect(limit.limit).toBe(9);
    limit.rateLimited(limit.sent(9), 9); // a second episode, at 9: two strikes
    expect(limit.limit).toBe(8);
    step(63);
    expect(limit.limit).toBe(8);
    step(1); // 2 x 8 x 2^2
    expect(limit.limit).toBe(9);
    step(72); // a full run at 9 without a 429: one strike off, the memory moves to 10
    expect(limit.limit).toBe(10);
    step(40); // a full run at 10: no strikes left, the memory is gone
    expect(limit.limit).toBe(11);
    step(22);
    expect(limit.limit).toBe(12);
  });
});
