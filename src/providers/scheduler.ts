/**
 * One scheduler per provider endpoint, shared by every job on this server (the model registry
 * keeps one ChatModel, and so one scheduler, per base URL + key + model). Each attempt of each
 * call asks it for a slot; it decides when the attempt may go:
 *
 * - a concurrency limit that adapts to the server's 429s (see `adaptive-limit.ts`);
 * - optional requests-per-minute and tokens-per-minute budgets (token buckets; a call reserves its
 *   estimated tokens, reconciled with the reply's usage);
 * - a pause of the whole endpoint while a 429's `retry-after` hint lasts;
 * - fair shares: waiting calls are grouped by owner (a job id) and owners are served round-robin,
 *   so a small job is not stuck behind a large job's backlog. A retry goes to the front of its
 *   owner's line.
 *
 * @example
 * const scheduler = createEndpointScheduler({ limits: { maxConcurrency: 16, rpm: null, tpm: null } });
 * const permit = await scheduler.acquire({ owner: jobId, tokens: 1200, signal });
 * try { ... permit.release({ result: 'ok', tokensUsed: 830 }); } catch { permit.release({ result: 'failed' }); }
 */
import { createAdaptiveLimit } from './adaptive-limit.js';
import type { ResolvedEndpointLimits } from './endpoint-limits.js';
import { abortableDelay, abortError } from './retry.js';
import { createTokenBucket, type TokenBucket } from './token-bucket.js';
import { whenAborted } from './abort-listeners.js';

/** What progress reporting shows about an endpoint. */
export interface SchedulerState {
  /** Current concurrency limit (at most the configured maximum). */
  limit: number;
  inFlight: number;
  /** Attempts waiting for a slot or a budget. */
  queued: number;
  /** True while a 429 backoff or an empty RPM/TPM budget is delaying work. */
  waitingOnRateLimit: boolean;
  /** Attempts answered 429 so far. */
  rateLimited429s: number;
  /** Attempts sent so far. */
  totalCalls: number;
}

export interface AcquireOptions {
  /** Who the call is for (a job id); owners are served round-robin. */
  owner?: string;
  /** Estimated tokens of the call (prompt + max completion), reserved against the TPM budget. */
  tokens?: number;
  signal?: AbortSignal;
  /** A retry of an earlier attempt: served before its owner's other waiting calls. */
  retry?: boolean;
}

export interface CallOutcome {
  /** `rate_limited` for an HTTP 429; `failed` for anything else that went wrong, aborts included. */
  result: 'ok' | 'rate_limited' | 'failed';
  /** Tokens the call really cost (the reply's usage), replacing the reservation; null keeps it. */
  tokensUsed?: number | null;
  /** The server's wait hint with a 429, in ms; the endpoint pauses that long (capped). */
  retryAfterMs?: number | null;
}

/** A granted slot. Release it exactly once (later calls are ignored). */
export interface Permit {
  release(outcome: CallOutcome): void;
}

export interface SchedulerClock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface EndpointSchedulerOptions {
  limits: ResolvedEndpointLimits;
  /** Longest endpoint-wide pause a `retry-after` hint may impose (default 60 s). */
  maxPauseMs?: number;
  /** Injectable for tests; defaults to `performance.now` and the global timers. */
  clock?: SchedulerClock;
  /**
   * This process's share (0..1] of the endpoint's budgets, when several processes call the same
   * endpoint (distributed workers): concurrency and per-minute budgets are scaled by it, read
   * afresh for every call so the share follows workers joining and leaving.
   */
  share?: () => number;
}

export interface EndpointScheduler {
  /** Waits for a slot and the budget; rejects with the signal's reason if it aborts first. */
  acquire(opts?: AcquireOptions): Promise<Permit>;
  /** Waits out a retry backoff, abortably; after a 429 the endpoint reports `waitingOnRateLimit`. */
  backOff(ms: number, opts: { signal?: AbortSignal; rateLimited: boolean }): Promise<void>;
  state(): SchedulerState;
}

const REAL_CLOCK: SchedulerClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Waiter {
  owner: string;
  tokens: number;
  grant: () => void;
}

export function createEndpointScheduler(opts: EndpointSchedulerOptions): EndpointScheduler {
  const clock = opts.clock ?? REAL_CLOCK;
  const maxPauseMs = opts.maxPauseMs ?? 60_000;
  const adaptive = createAdaptiveLimit(opts.limits.maxConcurrency);
  const share = (): number => Math.min(1, Math.max(1e-3, opts.share?.() ?? 1));
  /** The adaptive limit, scaled to this process's share of the endpoint. */
  const limitNow = (): number => Math.max(1, Math.floor(adaptive.limit * share()));
  const rpm: TokenBucket | null = opts.limits.rpm === null ? null : createTokenBucket(opts.limits.rpm, () => clock.now());
  const tpm: TokenBucket | null = opts.limits.tpm === null ? null : createTokenBucket(opts.limits.tpm, () => clock.now());

  /** Waiting calls by owner, and the owners' turn order (each owner with waiting calls appears once). */
  const lines = new Map<string, Waiter[]>();
  const turns: string[] = [];
  let queued = 0;
  let inFlight = 0;
  let totalCalls = 0;
  let rateLimited429s = 0;
  let backingOff = 0;
  let pausedUntil = 0;
  let blocked = false;
  let timer: unknown = null;

  function enqueue(w: Waiter, front: boolean): void {
    let line = lines.get(w.owner);
    if (!line) {
      line = [];
      lines.set(w.owner, line);
      turns.push(w.owner);
    }
    if (front) line.unshift(w);
    else line.push(w);
    queued++;
  }

  function remove(w: Waiter): void {
    const line = lines.get(w.owner);
    const i = line ? line.indexOf(w) : -1;
    if (!line || i < 0) return;
    line.splice(i, 1);
    queued--;
    if (line.length === 0) {
      lines.delete(w.owner);
      turns.splice(turns.indexOf(w.owner), 1);
    }
  }

  /** Retries `pump` after `ms`, when a pause or a budget will have let the next call through. */
  function wakeIn(ms: number): void {
    if (timer !== null) clock.clearTimeout(timer);
    timer = clock.setTimeout(
      () => {
        timer = null;
        pump();
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  /** Sends waiting calls while there are free slots and budget, owners in turn. */
  function pump(): void {
    blocked = false;
    while (queued > 0 && inFlight < limitNow()) {
      const owner = turns[0]!;
      const line = lines.get(owner)!;
      const next = line[0]!;
      const now = clock.now();
      // A process with a share s of the budgets spends 1/s of a bucket's tokens per unit, so all
      // processes together stay within the endpoint's budget.
      const scale = 1 / share();
      const wait = Math.max(pausedUntil - now, rpm?.delayFor(scale) ?? 0, tpm?.delayFor(next.tokens * scale) ?? 0);
      if (wait > 0) {
        blocked = true;
        wakeIn(wait);
        return;
      }
      rpm?.take(scale);
      tpm?.take(next.tokens * scale);
      line.shift();
      queued--;
      turns.shift();
      if (line.length > 0) turns.push(owner);
      else lines.delete(owner);
      next.grant();
    }
    if (timer !== null && queued === 0) {
      clock.clearTimeout(timer);
      timer = null;
    }
  }

  function permitFor(tokens: number): Permit {
    inFlight++;
    totalCalls++;
    // The adaptive limit is the endpoint's whole limit: what is in flight here stands for 1/share of it.
    const call = adaptive.sent(Math.round(inFlight / share()));
    let released = false;
    return {
      release(outcome) {
        if (released) return;
        released = true;
        if (outcome.result === 'rate_limited') {
          rateLimited429s++;
          adaptive.rateLimited(call, Math.round(inFlight / share()));
          const hint = outcome.retryAfterMs;
          if (hint != null && hint > 0) pausedUntil = Math.max(pausedUntil, clock.now() + Math.min(hint, maxPauseMs));
        } else if (outcome.result === 'ok') {
          adaptive.succeeded(call);
        }
        // A 429 was not served, so its tokens were not spent.
        const used = outcome.result === 'rate_limited' ? 0 : outcome.tokensUsed;
        if (tpm && used != null) tpm.refund(tokens - used);
        inFlight--;
        pump();
      },
    };
  }

  return {
    acquire(options = {}) {
      const { owner = '', tokens = 0, signal, retry = false } = options;
      if (signal?.aborted) return Promise.reject(abortError(signal));
      return new Promise<Permit>((resolve, reject) => {
        const stopListening = signal
          ? whenAborted(signal, () => {
              remove(waiter);
              reject(abortError(signal));
              pump();
            })
          : null;
        const waiter: Waiter = {
          owner,
          tokens,
          grant: () => {
            stopListening?.();
            resolve(permitFor(tokens));
          },
        };
        enqueue(waiter, retry);
        pump();
      });
    },

    async backOff(ms, { signal, rateLimited }) {
      if (rateLimited) backingOff++;
      try {
        await abortableDelay(ms, signal);
      } finally {
        if (rateLimited) backingOff--;
      }
    },

    state() {
      return {
        limit: limitNow(),
        inFlight,
        queued,
        waitingOnRateLimit: backingOff > 0 || clock.now() < pausedUntil || (blocked && queued > 0),
        rateLimited429s,
        totalCalls,
      };
    },
  };
}
