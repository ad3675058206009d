import { describe, expect, it } from 'vitest';
import type { ModelCall } from '../domain/types.js';
import { createLimiter } from '../engine/limiter.js';
import type { CachedCall } from './call-cache.js';
import type { ChatModel, ChatRequest, ChatResult } from './chat-model.js';
import { parseEndpointLimits } from './endpoint-limits.js';
import type { OpenAIChatModelOptions } from './openai-chat-model.js';
import { createModelRegistry } from './registry.js';

const call = (model: string, baseUrl: string | null = null, secretRef: string | null = null): ModelCall => ({
  model,
  source: baseUrl === null ? 'serverless' : 'external',
  baseUrl,
  secretRef,
  maxTokens: 64,
  temperature: 0,
  numWorkers: null,
});

describe('model registry', () => {
  it('shares one model (one scheduler) per endpoint and gives it that endpoint\'s limits', () => {
    const made: Array<{ label: string; opts: OpenAIChatModelOptions }> = [];
    const registry = createModelRegistry(
      { providerBaseUrl: 'http://local:8000/v1', providerApiKey: null },
      {
        timeoutMs: 1000,
        maxRetries: 3,
        limits: parseEndpointLimits('{"http://local:8000/v1": {"maxConcurrency": 16}, "http://local:8000/v1#big": {"rpm": 60}}'),
      },
      (endpoint, opts) => {
        const label = `${endpoint.model} at ${endpoint.baseUrl}`;
        made.push({ label, opts });
        return { label } as ChatModel;
      },
    );
    const judge = registry.get(call('judge'), {});
    expect(registry.get(call('judge'), {})).toBe(judge);
    registry.get(call('big'), {});
    registry.get(call('judge', 'http://other/v1/', 'key'), { key: 'k1' });
    registry.get(call('judge', 'http://other/v1', 'key'), { key: 'k2' });
    expect(made.map((m) => [m.label, m.opts.limits])).toEqual([
      ['judge at http://local:8000/v1', { maxConcurrency: 16, rpm: null, tpm: null }],
      ['big at http://local:8000/v1', { maxConcurrency: 16, rpm: 60, tpm: null }],
      ['judge at http://other/v1', { maxConcurrency: 64, rpm: null, tpm: null }],
      ['judge at http://other/v1', { maxConcurrency: 64, rpm: null, tpm: null }],
    ]);
    expect(made[0]!.opts).toMatchObject({ timeoutMs: 1000, maxRetries: 3 });
  });
});

describe("a caller's limit on its calls (a job's num_workers)", () => {
  /** A model whose calls stay open until the test ends them, and a store that records lookups. */
  function setup(withCache: boolean) {
    const open: Array<{ request: ChatRequest; end: (r: ChatResult) => void }> = [];
    const lookups: string[] = [];
    const entries = new Map<string, CachedCall>();
    const registry = createModelRegistry(
      { providerBaseUrl: 'http://local:8000/v1', providerApiKey: null },
      {
        timeoutMs: 1000,
        maxRetries: 0,
        ...(withCache
          ? {
              cache: {
                maxEntries: 100,
                store: {
                  async getCachedCall(key: string) {
                    lookups.push(key);
                    return entries.get(key);
                  },
                  async putCachedCall(key: string, value: CachedCall) {
                    entries.set(key, value);
                  },
                },
              },
            }
          : {}),
      },
      (endpoint) =>
        ({
          label: endpoint.model,
          complete: (request: ChatRequest) => new Promise<ChatResult>((end) => open.push({ request, end })),
        }) as unknown as ChatModel,
    );
    const model = registry.get(call('judge'), {});
    const limiter = createLimiter(1);
    const ask = (text: string) => model.complete({ messages: [{ role: 'user', content: text }], maxTokens: 8, temperature: 0, underLimit: limiter.run });
    /** Lets every pending promise callback run (no timers involved). */
    const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
    return { open, lookups, ask, settle, limiter };
  }

  it('holds calls to the server to the limit, but not cache lookups or cached replies', async () => {
    const { open, lookups, ask, settle, limiter } = setup(true);
    const first = ask('one');
    await settle();
    expect(open).toHaveLength(1);
    open[0]!.end({ content: 'reply one', usage: null, attempts: 1 });
    expect(await first).toMatchObject({ content: 'reply one' });

    const second = ask('two');
    await settle();
    expect(open).toHaveLength(2);
    expect(limiter.active).toBe(1);
    // While 'two' holds the only place: 'three' has asked the cache and waits to call, and 'one'
    // is answered from the cache without a place.
    const third = ask('three');
    expect(await ask('one')).toMatchObject({ content: 'reply one', cached: true });
    await settle();
    expect(lookups).toHaveLength(4);
    expect(open).toHaveLength(2);
    open[1]!.end({ content: 'reply two', usage: null, attempts: 1 });
    await second;
    await settle();
    // The place 'two' freed goes straight to 'three', whose lookup was done before.
    expect(open).toHaveLength(3);
    expect(lookups).toHaveLength(4);
    open[2]!.end({ content: 'reply three', usage: null, attempts: 1 });
    expect(await third).toMatchObject({ content: 'reply three' });
    expect(limiter.active).toBe(0);
  });

  it('holds calls to the limit without a call cache too', async () => {
    const { open, ask, settle } = setup(false);
    const calls = [ask('one'), ask('two')];
    await settle();
    expect(open).toHaveLength(1);
    open[0]!.end({ content: 'reply one', usage: null, attempts: 1 });
    await settle();
    expect(open).toHaveLength(2);
    open[1]!.end({ content: 'reply two', usage: null, attempts: 1 });
    expect((await Promise.all(calls)).map((r) => r.content)).toEqual(['reply one', 'reply two']);
  });
});
