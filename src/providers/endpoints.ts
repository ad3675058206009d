/**
 * Turns a job's model reference (model, model_source, optional base URL and token) into a
 * concrete OpenAI-compatible endpoint.
 */
import type { ModelCall } from '../domain/types.js';
import { ValidationError } from '../domain/errors.js';

export interface Endpoint {
  baseUrl: string;
  apiKey: string | null;
  /** The model name sent to the server (a shortcut's provider prefix removed). */
  model: string;
}

/** Well-known providers reachable through an OpenAI-compatible API, by model prefix. */
export const PROVIDER_SHORTCUTS: Readonly<Record<string, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
  google: 'https://generativelanguage.googleapis.com/v1beta/openai',
  together: 'https://api.together.ai/v1',
  groq: 'https://api.groq.com/openai/v1',
  mistral: 'https://api.mistral.ai/v1',
  deepseek: 'https://api.deepseek.com/v1',
  fireworks: 'https://api.fireworks.ai/inference/v1',
  openrouter: 'https://openrouter.ai/api/v1',
};

export interface ProviderDefaults {
  providerBaseUrl: string;
  providerApiKey: string | null;
}

function shortcutOf(model: string): { baseUrl: string; model: string } | null {
  const slash = model.indexOf('/');
  if (slash <= 0) return null;
  const baseUrl = PROVIDER_SHORTCUTS[model.slice(0, slash).toLowerCase()];
  return baseUrl ? { baseUrl, model: model.slice(slash + 1) } : null;
}

/** Checked at job creation, so a job that cannot reach its model is a 400, not a late failure. */
export function checkEndpoint(call: ModelCall, param: string): void {
  if (call.source === 'external' && call.baseUrl === null && shortcutOf(call.model) === null) {
    throw new ValidationError(
      `${param}: an external model needs external_base_url, or a model name with a known provider prefix ` +
        `(${Object.keys(PROVIDER_SHORTCUTS).map((p) => `${p}/`).join(', ')}); got "${call.model}"`,
      `${param}.external_base_url`,
    );
  }
}

export function resolveEndpoint(call: ModelCall, secrets: Record<string, string>, defaults: ProviderDefaults): Endpoint {
  const token = call.secretRef === null ? null : (secrets[call.secretRef] ?? null);
  if (call.source !== 'external') {
    return { baseUrl: defaults.providerBaseUrl, apiKey: defaults.providerApiKey, model: call.model };
  }
  if (call.baseUrl !== null) return { baseUrl: call.baseUrl.replace(/\/+$/, ''), apiKey: token, model: call.model };
  const shortcut = shortcutOf(call.model);
  if (!shortcut) throw new ValidationError(`no base URL for external model "${call.model}"`, 'external_base_url');
  return { baseUrl: shortcut.baseUrl, apiKey: token, model: shortcut.model };
}

/** Together's documented default concurrency per model source. */
export function defaultWorkers(call: ModelCall): number {
  if (call.numWorkers !== null) return call.numWorkers;
  if (call.source === 'serverless') return 25;
  if (call.source === 'dedicated') return 5;
  return call.baseUrl === null ? 2 : 20;
}
