/** One call to a chat model: the seam between judging logic and model servers. */

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
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResult {
  content: string;
  usage: TokenUsage | null;
}

export interface ChatModel {
  /** Human-readable endpoint name for messages: model @ base URL. Never contains a key. */
  readonly label: string;
  complete(request: ChatRequest): Promise<ChatResult>;
}
