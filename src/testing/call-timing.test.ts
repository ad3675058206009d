import { describe, expect, it } from 'vitest';
import { createCallTiming } from './call-timing.js';
import { seededRandomAt } from './fake-provider.js';

/**
 * A closed loop of `slots` slots, `calls` calls: each call is held `held(n)` ms by the judge and
 * its slot's next call arrives `gap(n)` ms after the reply. Events go to the timing in time order,
 * as a judge sees them; returns the true means.
 */
function simulate(slots: number, calls: number, held: (n: number) => number, gap: (n: number) => number, start = 1000) {
  const timing = createCallTiming();
  const events: Array<{ at: number; kind: 'arrive' | 'reply'; arrivedAt: number }> = [];
  const gaps: number[] = [];
  const helds: number[] = [];
  const slotTime = Array.from({ length: slots }, (_, s) => start + s * 0.25);
  const lastReply: Array<number | null> = Array.from({ length: slots }, () => null);
  for (let n = 0; n < calls; n++) {
    // The slot free soonest takes the next call, as a client's pool does.
    const s = slotTime.indexOf(Math.min(...slotTime));
    const arrive = slotTime[s]!;
    const previous = lastReply[s];
    if (previous !== null && previous !== undefined) gaps.push(arrive - previous);
    const reply = arrive + held(n);
    events.push({ at: arrive, kind: 'arrive', arrivedAt: arrive }, { at: reply, kind: 'reply', arrivedAt: arrive });
    helds.push(held(n));
    lastReply[s] = reply;
    slotTime[s] = reply + gap(n);
  }
  events.sort((a, b) => a.at - b.at || (a.kind === 'reply' ? -1 : 1));
  for (const e of events) {
    if (e.kind === 'arrive') timing.arrived(e.at);
    else timing.replied(e.arrivedAt, e.at);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { timing, heldMs: mean(helds), turnaroundMs: mean(gaps) };
}

describe('call timing', () => {
  it('finds the mean turnaround of a closed loop, whichever reply freed which call', () => {
    const held = (n: number) => 50 + 3 * seededRandomAt(7, n);
    const gap = (n: number) => 0.5 + 4 * seededRandomAt(11, n);
    const { timing, heldMs, turnaroundMs } = simulate(8, 500, held, gap);
    const summary = timing.summary(8)!;
    expect(summary.calls).toBe(500);
    expect(summary.heldMs).toBeCloseTo(heldMs, 9);
    // Not the turnaround of each reply, only their mean: it holds whatever the order of arrivals.
    expect(summary.turnaroundMs).toBeCloseTo(turnaroundMs, 6);
  });

  it('keeps its precision over a long run on a clock that has run for hours', () => {
    const { timing, turnaroundMs } = simulate(64, 20_000, () => 50, (n) => 1 + (n % 5), 3.6e7);
    // Off only by the run's end: a slot's last reply may come before another slot's last but one.
    expect(timing.summary(64)!.turnaroundMs).toBeCloseTo(turnaroundMs, 3);
  });

  it('has no figures while a call is unanswered or before any call was freed', () => {
    const timing = createCallTiming();
    expect(timing.summary(2)).toBeNull();
    timing.arrived(0);
    timing.arrived(1);
    timing.replied(0, 10);
    timing.replied(1, 11);
    expect(timing.summary(2)).toBeNull();
    timing.arrived(12);
    expect(timing.summary(2)).toBeNull();
    timing.replied(12, 22);
    expect(timing.summary(2)).toEqual({ calls: 3, heldMs: 10, turnaroundMs: 2 });
  });

  it('starts afresh on reset, not counting replies to calls from before it', () => {
    const timing = createCallTiming();
    timing.arrived(0);
    timing.arrived(5);
    timing.reset(6);
    timing.replied(0, 10);
    timing.arrived(11);
    timing.replied(5, 12);
    timing.replied(11, 21);
    timing.arrived(23);
    timing.replied(23, 33);
    expect(timing.summary(1)).toEqual({ calls: 2, heldMs: 10, turnaroundMs: 2 });
  });

  it('refuses a concurrency it cannot answer for', () => {
    const timing = createCallTiming();
    expect(() => timing.summary(0)).toThrow(RangeError);
    expect(() => timing.summary(5000)).toThrow(/1 to 4096/);
    expect(() => timing.summary(Number.NaN)).toThrow(RangeError);
  });
});
