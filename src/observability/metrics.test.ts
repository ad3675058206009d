import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('metrics', () => {
  it('counts blocks of the event loop that runs rows, and the time they took', async () => {
    const metrics = createMetrics();
    metrics.loopStalled(1500);
    metrics.loopStalled(2250);
    const text = await metrics.render();
    expect(text).toMatch(/^assay_engine_loop_stalls_total 2$/m);
    expect(text).toMatch(/^assay_engine_loop_stalled_seconds_total 3\.75$/m);
  });
});
