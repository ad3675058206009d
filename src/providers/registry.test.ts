import { describe, expect, it } from 'vitest';
import type { ModelCall } from '../domain/types.js';
import type { ChatModel } from './chat-model.js';
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
