/**
 * ChatModel over any OpenAI-compatible chat-completions server: one `POST {base}/chat/completions`
 * per attempt, sent with undici on keep-alive connection pools and read whole (no streaming; see
 * `requestText`).
 * assay retries itself (see `retry.ts`), so every attempt goes through the endpoint's scheduler
 * (see `scheduler.ts`) and is seen by it. On top: error classification, and a per-endpoint memory
 * of which structured-output modes the server accepts.
 *
 * Why not the `openai` client: assay uses one request of the API and no streaming, and the client's
 * per-request work (header merging, request logging, a Request object and WHATWG streams under
 * `fetch`) measured about 660 µs of CPU per call against the fake judge, this path under 100 µs.
 * At a thousand rows a second that was most of a core, on the loop that has to send the next call.
 * The fake provider's tests run the official `openai` client against the same server as this one.
 */
import type { Dispatcher } from 'undici';
import { ProviderError, type ProviderErrorKind } from '../domain/errors.js';
import type { ChatModel, ChatRequest, ChatResult, ResponseFormat } from './chat-model.js';
import type { Endpoint } from './endpoints.js';
import { DEFAULT_ENDPOINT_LIMITS, type ResolvedEndpointLimits } from './endpoint-limits.js';
import { MAX_REPLY_BYTES, requestText, sharedDispatcher } from './http-dispatch.js';
import { replyTurn } from './reply-turns.js';
import { formatJson, messagesJson } from './request-json.js';
import { DEFAULT_RETRY_POLICY, abortError, finalError, retryDelayMs, shouldRetry, type RetryPolicy } from './retry.js';
import { createEndpointScheduler, type SchedulerClock } from './scheduler.js';
import { ssrfRefusal } from '../security/ssrf.js';

export interface OpenAIChatModelOptions {
  /** Timeout of one attempt, in ms: for the reply to begin, and again for it to finish. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Limits of this endpoint (default: DEFAULT_ENDPOINT_LIMITS). */
  limits?: ResolvedEndpointLimits;
  /** This process's share of the endpoint's budgets (see scheduler.ts). */
  share?: () => number;
  /** Backoff timing and jitter source; tests shorten the waits and seed the jitter. */
  retry?: Partial<Omit<RetryPolicy, 'maxRetries'>>;
  /** For tests of the RPM/TPM budgets. */
  clock?: SchedulerClock;
  /** Where connections come from (the SSRF guard's, for endpoints a user named); default: the shared pools. */
  dispatcher?: Dispatcher;
}

/** Structured-output modes, most to least precise; a server that rejects one is asked with the next. */
type FormatMode = 'json_schema' | 'json_object' | 'none';
const FORMAT_FALLBACK: Record<FormatMode, FormatMode | null> = { json_schema: 'json_object', json_object: 'none', none: null };

type ReplyHeaders = Record<string, string | string[] | undefined>;

/** undici's errors for a reply that did not come in time. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** The server was never reached: refused, not resolvable, no route. */
const CONNECT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
/** The connection went away during the exchange. */
const LOST_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Raised for a reply with a non-2xx status, carrying what classification needs. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code: string | null,
    readonly headers: ReplyHeaders,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = 'HttpStatusError';
  }
}

function header(headers: ReplyHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The message and code of an error body: OpenAI's `{error: {message, code}}`, or what other servers send. */
function errorBody(text: string): { detail: string; code: string | null } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { detail: text.trim().slice(0, 500) || '(empty reply)', code: null };
  }
  const b = body as { error?: unknown; message?: unknown; detail?: unknown };
  const inner = typeof b.error === 'object' && b.error !== null ? (b.error as { message?: unknown; code?: unknown }) : null;
  const message = inner?.message ?? (typeof b.error === 'string' ? b.error : undefined) ?? b.message ?? b.detail;
  const code = inner?.code;
  return {
    detail: typeof message === 'string' ? message : text.slice(0, 500),
    code: typeof code === 'string' ? code : null,
  };
}

function retryAfterMs(headers: ReplyHeaders | undefined): number | null {
  const ms = header(headers, 'retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const s = header(headers, 'retry-after');
  if (!s) return null;
  if (Number.isFinite(Number(s))) return Number(s) * 1000;
  const date = Date.parse(s);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

/** Maps a failed attempt (a connection error, a timeout, an error status, a bad reply) to assay's provider errors. */
export function classifyError(err: unknown, label: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const refusal = ssrfRefusal(err);
  if (refusal) {
    return new ProviderError(`${label}: ${refusal.message} (an administrator can allow it with ASSAY_ALLOWED_HOSTS)`, {
      kind: 'forbidden_address',
      cause: err,
    });
  }
  if (err instanceof HttpStatusError) {
    const { status, detail } = err;
    let kind: ProviderErrorKind;
    let hint = '';
    if (status === 401 || status === 403) {
      kind = 'auth';
      hint = ' (check the API key for this endpoint)';
    } else if (status === 404) {
      kind = 'not_found';
      hint = ' (check the model name and base URL)';
    } else if (status === 429 && (err.code === 'insufficient_quota' || /exceeded your current quota/i.test(detail))) {
      // Waiting will not refill an exhausted account: stop like a bad key does.
      kind = 'auth';
      hint = ' (the account behind this API key is out of quota: check its plan and billing)';
    } else if (status === 429) kind = 'rate_limit';
    else if (status === 408 || status === 409 || status >= 500) kind = 'transient';
    else if (status === 413 || /context|maximum.*tokens|too long/i.test(detail)) {
      kind = 'context_length';
      hint = ' (shorten the prompt or lower max_tokens)';
    } else kind = 'bad_request';
    return new ProviderError(`${label}: HTTP ${status}: ${detail}${hint}`, {
      kind,
      status,
      retryAfterMs: retryAfterMs(err.headers),
      cause: err,
    });
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new ProviderError(`${label}: malformed reply: larger than ${MAX_REPLY_BYTES / 2 ** 20} MiB`, { kind: 'malformed', cause: err });
  }
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return new ProviderError(`${label}: the request timed out`, { kind: 'timeout', cause: err });
  }
  if (typeof code === 'string') {
    // All worth another try: the server may be back soon, or the next reply whole.
    const text = err instanceof Error && err.message ? err.message : code;
    const what = CONNECT_CODES.has(code)
      ? 'could not connect'
      : LOST_CODES.has(code)
        ? 'the connection was lost during the call'
        : // A reply cut short or not valid HTTP (a body shorter than its length, a bad header).
          'the reply was broken';
    return new ProviderError(`${label}: ${what} (${text.includes(code) ? text : `${code}: ${text}`})`, { kind: 'transient', cause: err });
  }
  // A 200 whose body is not a chat completion (invalid JSON, no choices) surfaces as a plain error.
  const text = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${label}: malformed reply: ${text}`, { kind: 'malformed', cause: err });
}

/**
 * Some servers quote the key they were given in their error message ("Incorrect API key provided:
 * sk-…"); such a message ends up in results and logs, so the key is cut out of it.
 */
export function withoutSecret(err: ProviderError, secret: string | null): ProviderError {
  if (secret === null || secret.length < 4 || !err.message.includes(secret)) return err;
  return new ProviderError(err.message.split(secret).join('[redacted]'), {
    kind: err.kind,
    status: err.status,
    retryAfterMs: err.retryAfterMs,
  });
}

/** One object, so its JSON is written once (request-json.ts). */
const JSON_OBJECT_FORMAT: ResponseFormat = Object.freeze({ type: 'json_object' });

function formatFor(mode: FormatMode, wanted: ResponseFormat): ResponseFormat | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'json_object') return JSON_OBJECT_FORMAT;
  return wanted;
}

/** A 400 that complains about `response_format` means the server lacks that structured-output mode. */
function rejectsFormat(err: ProviderError): boolean {
  return err.kind === 'bad_request' && /response_format|json_schema|json_object|structured|guided/i.test(err.message);
}

/** Rough prompt size in tokens (four characters a token, a few per message for the framing). */
export function estimatePromptTokens(request: ChatRequest): number {
  let chars = 0;
  for (const m of request.messages) chars += m.content.length;
  return Math.ceil(chars / 4) + 4 * request.messages.length;
}

export function createOpenAIChatModel(endpoint: Endpoint, opts: OpenAIChatModelOptions): ChatModel {
  const label = `${endpoint.model} at ${endpoint.baseUrl}`;
  const dispatcher = opts.dispatcher ?? sharedDispatcher();
  const url = new URL(endpoint.baseUrl);
  const origin = url.origin;
  const path = `${url.pathname.replace(/\/+$/, '')}/chat/completions${url.search}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': 'assay',
    // Local servers (vLLM, Ollama, llama.cpp) often need no key: then none is sent.
    ...(endpoint.apiKey !== null ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
  };
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry, maxRetries: opts.maxRetries };
  const scheduler = createEndpointScheduler({
    limits: opts.limits ?? DEFAULT_ENDPOINT_LIMITS,
    maxPauseMs: policy.maxRetryAfterMs,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.share ? { share: opts.share } : {}),
  });
  let formatMode: FormatMode = 'json_schema';
  const bodyStart = `{"model":${JSON.stringify(endpoint.model)},"messages":`;

  async function once(request: ChatRequest, mode: FormatMode): Promise<Omit<ChatResult, 'attempts'>> {
    const responseFormat = request.responseFormat && formatFor(mode, request.responseFormat);
    // {model, messages, max_tokens, temperature, response_format}, from parts serialized once
    // (request-json.ts); an absent field is left out, as JSON.stringify does.
    let body = `${bodyStart}${messagesJson(request)}`;
    if (request.maxTokens !== undefined) body += `,"max_tokens":${JSON.stringify(request.maxTokens)}`;
    if (request.temperature !== undefined) body += `,"temperature":${JSON.stringify(request.temperature)}`;
    body += responseFormat ? `,"response_format":${formatJson(responseFormat)}}` : '}';
    const reply = await requestText(
      dispatcher,
      { origin, path, method: 'POST', headers, body, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs },
      request.signal ?? null,
    );
    const { text } = reply;
    // Not all of a burst of replies at once: see reply-turns.ts.
    await replyTurn();
    if (reply.statusCode < 200 || reply.statusCode >= 300) {
      const { detail, code } = errorBody(text);
      throw new HttpStatusError(reply.statusCode, detail, code, reply.headers);
    }
    const completion = JSON.parse(text) as {
      choices?: Array<{ message?: { content?: unknown } }>;
      usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
    };
    const content = completion?.choices?.[0]?.message?.content;
    if (typeof content !== 'string' || content.trim() === '') {
      throw new ProviderError(`${label}: the reply has no message content`, { kind: 'malformed' });
    }
    const usage = completion.usage
      ? { promptTokens: completion.usage.prompt_tokens ?? 0, completionTokens: completion.usage.completion_tokens ?? 0 }
      : null;
    return { content, usage };
  }

  return {
    label,
    state: () => scheduler.state(),
    async complete(request) {
      const { signal } = request;
      const promptTokens = estimatePromptTokens(request);
      let attempts = 0;
      let retries = 0;
      for (;;) {
        const mode = formatMode;
        const permit = await scheduler.acquire({
          owner: request.owner ?? '',
          tokens: promptTokens + request.maxTokens,
          ...(signal ? { signal } : {}),
          retry: attempts > 0,
        });
        attempts++;
        let err: ProviderError;
        try {
          const result = await once(request, mode);
          const used = result.usage ? result.usage.promptTokens + result.usage.completionTokens : null;
          permit.release({ result: 'ok', tokensUsed: used });
          return { ...result, attempts };
        } catch (raw) {
          if (signal?.aborted) {
            permit.release({ result: 'failed', tokensUsed: promptTokens });
            throw abortError(signal);
          }
          err = withoutSecret(classifyError(raw, label), endpoint.apiKey);
          const rateLimited = err.kind === 'rate_limit';
          permit.release({ result: rateLimited ? 'rate_limited' : 'failed', tokensUsed: promptTokens, retryAfterMs: err.retryAfterMs });
        }
        if (request.responseFormat && rejectsFormat(err)) {
          const next = FORMAT_FALLBACK[mode];
          if (next !== null) {
            // Remember for every later call to this endpoint, not just this one.
            if (formatMode === mode) formatMode = next;
            continue;
          }
        }
        if (!shouldRetry(err) || retries >= policy.maxRetries) throw finalError(err, attempts, label);
        const wait = retryDelayMs(policy, retries++, err);
        await scheduler.backOff(wait, { ...(signal ? { signal } : {}), rateLimited: err.kind === 'rate_limit' });
      }
    },
  };
}
