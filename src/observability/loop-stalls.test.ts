import { describe, expect, it } from 'vitest';
import { createStallDetector, watchLoopStalls } from './loop-stalls.js';

describe('loop stalls', () => {
  it('reports a tick as late as the loop was blocked, and not the small delays of busy turns', () => {
    let clock = 0;
    const detector = createStallDetector({ everyMs: 250, thresholdMs: 1000, now: () => clock });
    clock = 251;
    expect(detector.tick()).toBe(0);
    clock += 260;
    expect(detector.tick()).toBe(0);
    // Blocked: the tick due 250 ms after the last came 3.25 s after it.
    clock += 3250;
    expect(detector.tick()).toBe(3000);
    // Measured from the late tick, not from when it was due: one stall is reported once.
    clock += 250;
    expect(detector.tick()).toBe(0);
  });

  it('tells of a real block of the event loop once it ends', async () => {
    const seen = new Promise<number>((resolve) => {
      const watch = watchLoopStalls(
        (ms) => {
          watch.stop();
          resolve(ms);
        },
        { everyMs: 20, thresholdMs: 150 },
      );
    });
    // Hold the loop for 300 ms, as a synchronous call on a slow disk would.
    const until = performance.now() + 300;
    while (performance.now() < until);
    const ms = await seen;
    expect(ms).toBeGreaterThanOrEqual(150);
    // The 300 ms, and whatever else kept this process off a core on a busy machine.
    expect(ms).toBeLessThan(5000);
  });
});
