import { describe, expect, it } from 'vitest';
import { callKey, reportAtMostEvery, sha256Hex, withCallCache, type CachedCall } from './call-cache.js';
import type { ChatModel, ChatRequest } from './chat-model.js';

const request = (patch: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content: 'hello' }],
  maxTokens: 10,
  temperature: 0,
  ...patch,
});

function counting(): ChatModel & { calls: number } {
  const model = {
    calls: 0,
    label: 'm',
    state: () => ({ limit: 1, inFlight: 0, queued: 0, waitingOnRateLimit: false, rateLimited429s: 0, totalCalls: 0 }),
    async complete() {
      model.calls++;
      if (model.calls === 1) throw new Error('first call fails');
      return { content: `reply ${model.calls}`, usage: null, attempts: 1 };
    },
  };
  return model;
}

function memoryStore() {
  const map = new Map<string, CachedCall>();
  return { getCachedCall: async (k: string) => map.get(k), putCachedCall: async (k: string, v: CachedCall) => void map.set(k, v) };
}

describe('call cache', () => {
  it('keys on everything that decides the reply, and on the owner', () => {
    const base = callKey('e', request());
    expect(callKey('e', request())).toBe(base);
    expect(callKey('other', request())).not.toBe(base);
    expect(callKey('e', request({ temperature: 0.5 }))).not.toBe(base);
    expect(callKey('e', request({ maxTokens: 11 }))).not.toBe(base);
    expect(callKey('e', request({ responseFormat: { type: 'json_object' } }))).not.toBe(base);
    expect(callKey('e', request({ cacheScope: 'alice' }))).not.toBe(callKey('e', request({ cacheScope: 'bob' })));
    // Who asks (the job) and how it is scheduled do not change the reply.
    expect(callKey('e', request({ owner: 'job-1' }))).toBe(base);
  });

  it('keeps the keys of earlier versions: the hash of the whole call as one JSON array', () => {
    // Entries written before the key was built from parts must still be found after an upgrade.
    const format = { type: 'json_schema', json_schema: { name: 'verdict', strict: true, schema: { enum: ['a', 'é "b"'] } } };
    const variants: ChatRequest[] = [
      request(),
      request({ cacheScope: 'owner "1"', responseFormat: format }),
      request({ messages: [{ role: 'system', content: 'line\nbreak, 💡, \u2028' }, { role: 'user', content: '' }], temperature: 0.7, maxTokens: 0 }),
    ];
    for (const r of variants) {
      const whole = JSON.stringify([r.cacheScope ?? '', 'endpoint\nmodel', r.messages, r.maxTokens, r.temperature, r.responseFormat ?? null]);
      expect(callKey('endpoint\nmodel', r)).toBe(sha256Hex(whole));
    }
  });

  it('never caches an error, serves a success again, and stays out of the way when asked', async () => {
    const model = counting();
    const cached = withCallCache(model, 'e', memoryStore(), { maxEntries: 100 });
    await expect(cached.complete(request())).rejects.toThrow('first call fails');
    expect(await cached.complete(request())).toMatchObject({ content: 'reply 2', attempts: 1 });
    expect(await cached.complete(request())).toMatchObject({ content: 'reply 2', attempts: 0, cached: true });
    expect(await cached.complete(request({ cache: false }))).toMatchObject({ content: 'reply 3' });
    expect(await cached.complete(request({ cacheScope: 'bob' }))).toMatchObject({ content: 'reply 4' });
    expect(model.calls).toBe(4);
  });

  it('reports a cache it cannot read or write, and answers the call all the same', async () => {
    const broken = {
      getCachedCall: async () => Promise.reject(new Error('cannot read')),
      putCachedCall: async () => Promise.reject(new Error('cannot write')),
    };
    const seen: string[] = [];
    const model = counting();
    const cached = withCallCache(model, 'e', broken, { maxEntries: 10, onError: (err, op) => seen.push(`${op}: ${(err as Error).message}`) });
    await expect(cached.complete(request())).rejects.toThrow('first call fails');
    expect(await cached.complete(request())).toMatchObject({ content: 'reply 2' });
    expect(seen).toEqual(['read: cannot read', 'read: cannot read', 'write: cannot write']);
  });

  it('reports at most once per period, with how many it held back', () => {
    let now = 1_000;
    const reports: Array<[number, string]> = [];
    const report = reportAtMostEvery(60_000, (skipped, what: string) => reports.push([skipped, what]), () => now);
    report('a');
    report('b');
    now += 59_999;
    report('c');
    now += 1;
    report('d');
    report('e');
    expect(reports).toEqual([
      [0, 'a'],
      [2, 'd'],
    ]);
  });
});
