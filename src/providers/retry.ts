/**
 * assay's retry policy for provider calls. The `openai` client runs with `maxRetries: 0`, so
 * every attempt passes through the endpoint scheduler and is counted there; this module decides
 * whether a failure is worth another attempt and how long to wait first.
 *
 * Retried: rate_limit (429), transient (408, 409, 5xx, dropped connections), timeout, malformed
 * (invalid JSON, no choices, empty content). Failed at once: auth, bad_request, context_length,
 * not_found, whose messages say what to fix.
 *
 * Waits are exponential with full jitter (`random() * min(cap, base * 2^retry)`), raised to the
 * server's `retry-after-ms` / `retry-after` hint when it asks for longer; the hint itself is capped
 * so a confused server cannot park a job for an hour.
 */
import { ProviderError } from '../domain/errors.js';
import { whenAborted } from './abort-listeners.js';

export interface RetryPolicy {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts). */
  maxRetries: number;
  /** Backoff ceiling of the first retry, doubled on each later one. */
  baseDelayMs: number;
  /** Largest backoff ceiling. */
  maxDelayMs: number;
  /** Longest `retry-after` hint honoured; longer hints are cut to this. */
  maxRetryAfterMs: number;
  /** Uniform source in [0, 1) for the jitter; inject a seeded one in tests. */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 6,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  random: Math.random,
});

/** Whether another attempt may succeed where this one failed. */
export function shouldRetry(err: ProviderError): boolean {
  return err.retryable;
}

/** The server's wait hint, bounded to [0, maxRetryAfterMs]; 0 when there is none. */
export function retryAfterHintMs(err: ProviderError, policy: Pick<RetryPolicy, 'maxRetryAfterMs'>): number {
  if (err.retryAfterMs === null || !Number.isFinite(err.retryAfterMs)) return 0;
  return Math.min(Math.max(0, err.retryAfterMs), policy.maxRetryAfterMs);
}

/**
 * How long to wait before retry number `retry` (0 for the first retry): full-jitter exponential
 * backoff, or the server's hint when that is longer.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, err: ProviderError): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.max(retryAfterHintMs(err, policy), policy.random() * ceiling);
}

/** The error an aborted wait or call rejects with: the signal's reason when it is an Error. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(reason === undefined ? 'the operation was aborted' : `aborted: ${String(reason)}`);
  err.name = 'AbortError';
  return err;
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts: a cancelled job never sits in a backoff. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stopListening?.();
      resolve();
    }, Math.max(0, ms));
    const stopListening = signal
      ? whenAborted(signal, () => {
          clearTimeout(timer);
          reject(abortError(signal));
        })
      : null;
  });
}

/**
 * The error a call ends with after `attempts` attempts: the last failure, its message saying how
 * many attempts were made. A single attempt keeps the original message.
 */
export function finalError(err: ProviderError, attempts: number, label: string): ProviderError {
  if (attempts <= 1) return err;
  const prefix = `${label}: `;
  const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new ProviderError(`${label}: failed after ${attempts} attempts; the last: ${detail}`, {
    kind: err.kind,
    status: err.status,
    retryAfterMs: err.retryAfterMs,
    cause: err,
  });
}

/** A seeded uniform source (mulberry32), for reproducible jitter in tests and benchmarks. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
