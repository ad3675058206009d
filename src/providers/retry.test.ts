import { describe, expect, it } from 'vitest';
import { ProviderError } from '../domain/errors.js';
import { abortableDelay, finalError, retryDelayMs, seededRandom, shouldRetry, type RetryPolicy } from './retry.js';

const policy = (random: () => number): RetryPolicy => ({
  maxRetries: 6,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  random,
});
const err = (kind: ProviderError['kind'], retryAfterMs: number | null = null) =>
  new ProviderError(`judge at http://x/v1: ${kind}`, { kind, retryAfterMs });

describe('retry policy', () => {
  it('retries rate limits, transient errors, timeouts and malformed replies; not the rest', () => {
    for (const kind of ['rate_limit', 'transient', 'timeout', 'malformed'] as const) expect(shouldRetry(err(kind))).toBe(true);
    for (const kind of ['auth', 'bad_request', 'context_length', 'not_found'] as const) expect(shouldRetry(err(kind))).toBe(false);
  });

  it('backs off exponentially with full jitter, up to the cap', () => {
    const top = policy(() => 0.999_999);
    expect(retryDelayMs(top, 0, err('transient'))).toBeCloseTo(250, 0);
    expect(retryDelayMs(top, 3, err('transient'))).toBeCloseTo(2000, 0);
    expect(retryDelayMs(top, 20, err('transient'))).toBeCloseTo(20_000, 0);
    expect(retryDelayMs(policy(() => 0), 5, err('transient'))).toBe(0);
    const random = seededRandom(7);
    const delays = Array.from({ length: 200 }, () => retryDelayMs(policy(random), 2, err('transient')));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(new Set(delays).size).toBeGreaterThan(150);
  });

  it('waits at least the retry-after hint, but no longer than maxRetryAfterMs', () => {
    expect(retryDelayMs(policy(() => 0), 0, err('rate_limit', 1500))).toBe(1500);
    expect(retryDelayMs(policy(() => 0.999_999), 10, err('rate_limit', 1500))).toBeGreaterThan(1500);
    expect(retryDelayMs(policy(() => 0), 0, err('rate_limit', 3_600_000))).toBe(60_000);
    expect(retryDelayMs(policy(() => 0), 0, err('rate_limit', -5))).toBe(0);
  });

  it('seeded jitter is reproducible', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });

  it('the final error says how many attempts were made and the last cause', () => {
    const last = new ProviderError('judge at http://x/v1: HTTP 500: boom', { kind: 'transient', status: 500 });
    const final = finalError(last, 5, 'judge at http://x/v1');
    expect(final.message).toBe('judge at http://x/v1: failed after 5 attempts; the last: HTTP 500: boom');
    expect(final.kind).toBe('transient');
    expect(final.status).toBe(500);
    expect(finalError(last, 1, 'judge at http://x/v1')).toBe(last);
  });

  it('an abortable delay rejects as soon as its signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const waiting = abortableDelay(60_000, controller.signal);
    controller.abort(new Error('job cancelled'));
    await expect(waiting).rejects.toThrow('job cancelled');
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(abortableDelay(10, controller.signal)).rejects.toThrow('job cancelled');
  });
});
