import { describe, expect, it } from 'vitest';
import { createEndpointScheduler, type Permit, type SchedulerClock } from './scheduler.js';

/** A clock that moves only when told to, firing the timers that fall due. */
function manualClock(): SchedulerClock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(++nextId, { at: now + ms, fn });
      return nextId;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now) break;
        timers.delete(id);
        t.fn();
      }
    },
    pending: () => timers.size,
  };
}

const limits = (maxConcurrency: number, rpm: number | null = null, tpm: number | null = null) => ({ maxConcurrency, rpm, tpm });

/** Lets granted acquisitions run their continuations. */
const settle = () => new Promise((r) => setImmediate(r));

describe('endpoint scheduler', () => {
  it('serves owners round-robin: a small job is not stuck behind a large backlog', async () => {
    const scheduler = createEndpointScheduler({ limits: limits(1), clock: manualClock() });
    const order: string[] = [];
    const held: Permit[] = [];
    const take = (owner: string, i: number) =>
      scheduler.acquire({ owner }).then((p) => {
        order.push(`${owner}${i}`);
        held.push(p);
      });
    const all = [...Array.from({ length: 100 }, (_, i) => take('A', i))];
    await settle();
    expect(scheduler.state()).toMatchObject({ inFlight: 1, queued: 99 });
    all.push(...Array.from({ length: 5 }, (_, i) => take('B', i)));
    while (order.length < 105) {
      held.shift()!.release({ result: 'ok' });
      await settle();
    }
    await Promise.all(all);
    expect(order.slice(0, 11)).toEqual(['A0', 'A1', 'B0', 'A2', 'B1', 'A3', 'B2', 'A4', 'B3', 'A5', 'B4']);
    expect(order.slice(11)).toEqual(Array.from({ length: 94 }, (_, i) => `A${i + 6}`));
  });

  it('puts a retry at the front of its owner\'s line', async () => {
    const scheduler = createEndpointScheduler({ limits: limits(1), clock: manualClock() });
    const first = await scheduler.acquire({ owner: 'A' });
    const order: string[] = [];
    const waiting = [
      scheduler.acquire({ owner: 'A' }).then((p) => (order.push('new'), p.release({ result: 'ok' }))),
      scheduler.acquire({ owner: 'A', retry: true }).then((p) => (order.push('retry'), p.release({ result: 'ok' }))),
    ];
    first.release({ result: 'ok' });
    await Promise.all(waiting);
    expect(order).toEqual(['retry', 'new']);
  });

  it('holds calls to the RPM budget and says it is waiting on the rate limit', async () => {
    const clock = manualClock();
    const scheduler = createEndpointScheduler({ limits: limits(10, 2), clock });
    let granted = 0;
    const calls = Array.from({ length: 3 }, () =>
      scheduler.acquire().then((p) => {
        granted++;
        p.release({ result: 'ok' });
      }),
    );
    await settle();
    expect(granted).toBe(2);
    expect(scheduler.state()).toMatchObject({ queued: 1, inFlight: 0, waitingOnRateLimit: true });
    clock.advance(29_999);
    await settle();
    expect(granted).toBe(2);
    clock.advance(1);
    await Promise.all(calls);
    expect(granted).toBe(3);
    expect(scheduler.state()).toMatchObject({ queued: 0, waitingOnRateLimit: false, totalCalls: 3 });
    expect(clock.pending()).toBe(0);
  });

  it('reserves estimated tokens against the TPM budget and reconciles them with actual usage', async () => {
    const clock = manualClock();
    const scheduler = createEndpointScheduler({ limits: limits(10, null, 1000), clock });
    const a = await scheduler.acquire({ tokens: 600 });
    let bGranted = false;
    const b = scheduler.acquire({ tokens: 600 }).then((p) => ((bGranted = true), p));
    await settle();
    expect(bGranted).toBe(false);
    expect(scheduler.state().waitingOnRateLimit).toBe(true);
    a.release({ result: 'ok', tokensUsed: 150 }); // 450 of the reservation come back
    (await b).release({ result: 'ok', tokensUsed: null });
    expect(bGranted).toBe(true);
  });

  it('shrinks the limit on a 429 and pauses the endpoint for the retry-after hint', async () => {
    const clock = manualClock();
    const scheduler = createEndpointScheduler({ limits: limits(8), clock });
    const permits = await Promise.all(Array.from({ length: 5 }, () => scheduler.acquire()));
    permits[0]!.release({ result: 'rate_limited', retryAfterMs: 1000 });
    expect(scheduler.state()).toMatchObject({ limit: 4, inFlight: 4, rateLimited429s: 1, waitingOnRateLimit: true });
    for (const p of permits.slice(1)) p.release({ result: 'ok' });
    let granted = false;
    const next = scheduler.acquire().then((p) => ((granted = true), p));
    await settle();
    expect(granted).toBe(false);
    clock.advance(1000);
    (await next).release({ result: 'ok' });
    expect(scheduler.state()).toMatchObject({ waitingOnRateLimit: false, inFlight: 0, totalCalls: 6 });
  });

  it('drops a waiting call whose signal aborts, and rejects at once if already aborted', async () => {
    const scheduler = createEndpointScheduler({ limits: limits(1), clock: manualClock() });
    const held = await scheduler.acquire();
    const controller = new AbortController();
    const waiting = scheduler.acquire({ signal: controller.signal });
    expect(scheduler.state().queued).toBe(1);
    controller.abort(new Error('job cancelled'));
    await expect(waiting).rejects.toThrow('job cancelled');
    expect(scheduler.state().queued).toBe(0);
    await expect(scheduler.acquire({ signal: controller.signal })).rejects.toThrow('job cancelled');
    held.release({ result: 'ok' });
    held.release({ result: 'ok' }); // a second release is ignored
    expect(scheduler.state().inFlight).toBe(0);
  });

  it('scales concurrency and per-minute budgets to the share of the endpoint this process has', async () => {
    let share = 0.5;
    const clock = manualClock();
    const scheduler = createEndpointScheduler({ limits: limits(8, 20), clock, share: () => share });
    const held: Permit[] = [];
    const calls = Array.from({ length: 12 }, () => scheduler.acquire().then((p) => void held.push(p)));
    await settle();
    // Half of 8 slots; then each call spends two of the 20 per-minute tokens.
    expect(held).toHaveLength(4);
    expect(scheduler.state().limit).toBe(4);
    held.splice(0).forEach((p) => p.release({ result: 'ok' }));
    await settle();
    expect(held).toHaveLength(4);
    held.splice(0).forEach((p) => p.release({ result: 'ok' }));
    await settle();
    expect(held).toHaveLength(2);
    expect(scheduler.state()).toMatchObject({ waitingOnRateLimit: true });
    // A worker leaves: this process now has the whole budget.
    share = 1;
    held.splice(0).forEach((p) => p.release({ result: 'ok' }));
    clock.advance(60_000);
    await Promise.all(calls);
    expect(scheduler.state().limit).toBe(8);
  });
});

