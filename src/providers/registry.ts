/**
 * One ChatModel per endpoint (base URL + key + model), shared by every job on this server, so
 * each endpoint has one scheduler: one concurrency limit, one set of budgets, fair turns for jobs.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { ModelCall } from '../domain/types.js';
import type { ChatModel } from './chat-model.js';
import { limitsFor, type EndpointLimitsTable } from './endpoint-limits.js';
import { resolveEndpoint, type Endpoint, type ProviderDefaults } from './endpoints.js';
import { createOpenAIChatModel, type OpenAIChatModelOptions } from './openai-chat-model.js';
import type { RetryPolicy } from './retry.js';
import { withCallCache, type CallCacheOptions, type CallCacheStore } from './call-cache.js';
import { withCallerLimit } from './caller-limit.js';
import { undici } from './undici-module.js';

export interface ModelRegistry {
  get(call: ModelCall, secrets: Record<string, string>): ChatModel;
  /** Every endpoint model made so far (for metrics). */
  all(): ChatModel[];
  /**
   * Loads the HTTP client now. A node that runs rows calls it when it starts consuming, so the
   * first job does not pay for loading it; a node that only serves the API never does.
   */
  preload(): void;
}

export interface ModelRegistryOptions {
  /** Timeout of one attempt, in ms. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Per-endpoint limits (from `parseEndpointLimits`); endpoints not listed get the defaults. */
  limits?: EndpointLimitsTable;
  /** Backoff timing and jitter source, for tests. */
  retry?: Partial<Omit<RetryPolicy, 'maxRetries'>>;
  /** This process's share of every endpoint's budgets (distributed workers split them). */
  share?: () => number;
  /** The shared call cache, when enabled. */
  cache?: CallCacheOptions & { store: CallCacheStore };
  /** Wraps each new model, e.g. to time its calls. */
  wrap?: (model: ChatModel) => ChatModel;
  /**
   * Connections for `external` models, whose endpoints a user names (the SSRF guard's); the
   * configured provider is trusted and uses the shared pools. Asked for when the first such model
   * is made.
   */
  externalDispatcher?: () => Dispatcher;
}

export function createModelRegistry(
  defaults: ProviderDefaults,
  opts: ModelRegistryOptions,
  factory: (endpoint: Endpoint, opts: OpenAIChatModelOptions) => ChatModel = createOpenAIChatModel,
): ModelRegistry {
  const models = new Map<string, ChatModel>();
  return {
    get(call, secrets) {
      const endpoint = resolveEndpoint(call, secrets, defaults);
      // The key is part of the identity but must not sit in memory as a readable map key.
      const keyHash = endpoint.apiKey === null ? '' : createHash('sha256').update(endpoint.apiKey).digest('hex');
      const external = call.source === 'external' ? opts.externalDispatcher : undefined;
      const guarded = external !== undefined;
      const id = `${endpoint.baseUrl}\n${endpoint.model}\n${keyHash}\n${guarded ? 'guarded' : 'trusted'}`;
      let model = models.get(id);
      if (!model) {
        model = factory(endpoint, {
          timeoutMs: opts.timeoutMs,
          maxRetries: opts.maxRetries,
          limits: limitsFor(opts.limits ?? {}, endpoint.baseUrl, endpoint.model),
          ...(opts.retry ? { retry: opts.retry } : {}),
          ...(opts.share ? { share: opts.share } : {}),
          ...(external ? { dispatcher: external() } : {}),
        });
        if (opts.wrap) model = opts.wrap(model);
        // Outside the timing wrapper, so a call's time does not count its wait for the caller's limit.
        model = withCallerLimit(model);
        // Outermost, so a cache hit costs no scheduler slot, no place in the caller's limit, and
        // counts no provider call.
        if (opts.cache) model = withCallCache(model, id, opts.cache.store, opts.cache);
        models.set(id, model);
      }
      return model;
    },
    all: () => [...models.values()],
    preload: () => void undici(),
  };
}
