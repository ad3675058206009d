import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, validVerdictReply, type FakeProvider } from '../src/testing/fake-provider.js';
import { bareLoop, judgeCallBody } from './bare-loop.js';

describe("the benchmark's bare loop", () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider({ reply: validVerdictReply, latencyMs: 2 });
  });
  afterAll(() => fake.close());

  it('makes every call, never more than C at once, shaped like a judge call', async () => {
    fake.reset();
    const result = await bareLoop({ url: fake.url, calls: 40, concurrency: 4, limitSeconds: 60 });
    expect(result.calls).toBe(40);
    expect(result.wallS).toBeGreaterThan(0);
    expect(fake.stats()).toMatchObject({ total: 40, ok: 40 });
    expect(fake.stats().maxInFlightSeen).toBeLessThanOrEqual(4);
    const sent = fake.calls.map((c) => c.body);
    expect(sent[0]).toEqual(JSON.parse(judgeCallBody(0, 'bare-judge')));
    expect(new Set(fake.calls.map((c) => c.userText)).size).toBe(40);
  });

  it('handles one reply per turn and keeps its thread busy as long as it is told to, still making every call', async () => {
    fake.reset();
    const result = await bareLoop({ url: fake.url, calls: 20, concurrency: 4, limitSeconds: 60, onePerTurn: true, cpuPerCallUs: 2_000 });
    expect(result.calls).toBe(20);
    // 20 replies × 2 ms of spinning, one after another on this thread, whatever the calls overlap.
    expect(result.wallS).toBeGreaterThanOrEqual(0.04);
  });

  it('stops sending at its time limit and says how many calls it made', async () => {
    fake.reset();
    const result = await bareLoop({ url: fake.url, calls: 1_000, concurrency: 2, limitSeconds: 0 });
    expect(result.calls).toBe(0);
    expect(fake.stats().total).toBe(0);
  });
});
