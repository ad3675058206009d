/** One ChatModel per endpoint (base URL + key + model), shared by every job on this server. */
import { createHash } from 'node:crypto';
import type { ModelCall } from '../domain/types.js';
import type { ChatModel } from './chat-model.js';
import { resolveEndpoint, type Endpoint, type ProviderDefaults } from './endpoints.js';
import { createOpenAIChatModel, type OpenAIChatModelOptions } from './openai-chat-model.js';

export interface ModelRegistry {
  get(call: ModelCall, secrets: Record<string, string>): ChatModel;
}

export function createModelRegistry(
  defaults: ProviderDefaults,
  opts: OpenAIChatModelOptions,
  factory: (endpoint: Endpoint, opts: OpenAIChatModelOptions) => ChatModel = createOpenAIChatModel,
): ModelRegistry {
  const models = new Map<string, ChatModel>();
  return {
    get(call, secrets) {
      const endpoint = resolveEndpoint(call, secrets, defaults);
      // The key is part of the identity but must not sit in memory as a readable map key.
      const keyHash = endpoint.apiKey === null ? '' : createHash('sha256').update(endpoint.apiKey).digest('hex');
      const id = `${endpoint.baseUrl}\n${endpoint.model}\n${keyHash}`;
      let model = models.get(id);
      if (!model) {
        model = factory(endpoint, opts);
        models.set(id, model);
      }
      return model;
    },
  };
}
