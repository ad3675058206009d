/** One call to a chat model: the seam between judging logic and model servers. */
import type { SchedulerState } from './scheduler.js';

export type { SchedulerState };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** An OpenAI `response_format` value: `{type: 'json_schema', json_schema: {...}}` or `{type: 'json_object'}`. */
export type ResponseFormat = Record<string, unknown> & { type: string };

export interface ChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  /** Structured output wanted; dropped automatically for servers that do not support it. */
  responseFormat?: ResponseFormat;
  signal?: AbortSignal;
  /** Who the call is for (a job id): calls of different owners on one endpoint are served in turn. */
  owner?: string;
  /** False skips the shared call cache for this call (a job that opted out). Default true. */
  cache?: boolean;
  /** Whose cache entries the call may use (the job's owner): tenants never share replies. */
  cacheScope?: string;
  /**
   * The caller's own limit on its calls (a job's `num_workers`): the call to the server runs
   * within it, after the cache lookup, so a cached reply takes no place in it (caller-limit.ts).
   */
  underLimit?: <T>(call: () => Promise<T>) => Promise<T>;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResult {
  content: string;
  usage: TokenUsage | null;
  /** Attempts it took, this successful one included (1 when the first attempt succeeded). */
  attempts: number;
  /** True when the reply came from the shared call cache, without a call to the server. */
  cached?: boolean;
}

export interface ChatModel {
  /** Human-readable endpoint name for messages: model @ base URL. Never contains a key. */
  readonly label: string;
  complete(request: ChatRequest): Promise<ChatResult>;
  /** The endpoint's scheduler as it is now (shared by every job calling this endpoint). */
  state(): SchedulerState;
}
