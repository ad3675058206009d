/**
 * Notices when the event loop that runs rows was blocked for a second or more: a synchronous call
 * waiting on a slow disk, a long garbage collection, or the host pausing the machine. In a job it
 * shows only as a slow stretch (every row in flight waits as long), so it is logged and counted
 * where an operator, or a benchmark that finds one slow run among fast ones, can see it.
 *
 * How: a timer that should fire every `everyMs` is late by about as long as the loop was blocked.
 * Ordinary busy turns make it late by milliseconds, far below the threshold.
 */

/** A block this long is reported. */
export const LOOP_STALL_MS = 1000;
/** How often the timer looks; a stall is reported at most this much after it ends. */
const CHECK_EVERY_MS = 250;

export interface StallDetectorOptions {
  everyMs: number;
  thresholdMs: number;
  now: () => number;
}

/**
 * `tick()`, called every `everyMs`, returns how much later than due it came: at least that long
 * the loop was blocked since the last tick. 0 under the threshold.
 */
export function createStallDetector(opts: StallDetectorOptions): { tick(): number } {
  let last = opts.now();
  return {
    tick() {
      const now = opts.now();
      const late = now - last - opts.everyMs;
      last = now;
      return late >= opts.thresholdMs ? late : 0;
    },
  };
}

export interface LoopStallWatch {
  stop(): void;
}

/** Calls `onStall(ms)` after each block of the loop of `thresholdMs` or more (default one second), with at least how long it lasted. */
export function watchLoopStalls(onStall: (ms: number) => void, opts: Partial<StallDetectorOptions> = {}): LoopStallWatch {
  const everyMs = opts.everyMs ?? CHECK_EVERY_MS;
  const detector = createStallDetector({ everyMs, thresholdMs: opts.thresholdMs ?? LOOP_STALL_MS, now: opts.now ?? (() => performance.now()) });
  const timer = setInterval(() => {
    const ms = detector.tick();
    if (ms > 0) onStall(ms);
  }, everyMs);
  // Watching never keeps a process alive.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
