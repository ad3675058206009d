/**
 * A fake OpenAI-compatible chat-completions server on a real loopback port. Worker processes
 * spawned by end-to-end tests cannot see in-process interception, so the fake speaks HTTP; it
 * is scriptable per request (latency, 429 with `retry-after-ms`, 500s, hangs, malformed JSON,
 * missing `usage`) and deterministic by default, so end-to-end statistics are known in advance.
 *
 * Built on bare `node:http` because the benchmark pushes thousands of requests per second
 * through it. Never imported by production code.
 *
 * @example
 * const fake = await startFakeProvider({ reply: () => jsonReply({ verdict: 'pass' }) });
 * const client = new OpenAI({ baseURL: fake.url, apiKey: 'x' });
 * // ... run assay against fake.url, then assert on fake.calls
 * await fake.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createCallTiming } from './call-timing.js';

export interface FakeChatRequest {
  model: string;
  messages: Array<{ role: string; content: unknown }>;
  body: Record<string, unknown>;
  headers: Record<string, string | undefined>;
  /** concatenated text of all message contents */
  text: string;
  /** text of the last user message */
  userText: string;
  /** text of the system (and developer) message(s) */
  systemText: string;
  callIndex: number;
}

export type FakeReply =
  | { content: string; usage?: { prompt_tokens: number; completion_tokens: number } | null }
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { malformed: 'invalid-json' | 'no-choices' | 'empty-content' }
  | { hang: true };

export interface FakeProviderOptions {
  /** decides the reply to each call; default: echo, i.e. content `echo: <userText>` */
  reply?: (req: FakeChatRequest) => FakeReply | Promise<FakeReply>;
  /** added latency per call in ms, applied with setTimeout before the reply is decided */
  latencyMs?: number | ((req: FakeChatRequest) => number);
  /** answer 429 (with a retry-after-ms header) to any request beyond this many in flight */
  maxInFlight?: number;
  /**
   * Seeded fault injection: the share of calls answered 500 / invalid JSON. The fate of call n
   * depends only on the seed and n (not on timing), so runs are reproducible.
   */
  faults?: { errorRate?: number; malformedRate?: number; seed?: number };
  /** if set, every request must carry `Authorization: Bearer <apiKey>` or gets a 401 */
  apiKey?: string;
  /** keep parsed requests in `calls` (default true); benchmarks turn it off to bound memory */
  recordCalls?: boolean;
  host?: string;
  port?: number;
}

export interface FakeProviderStats {
  total: number;
  ok: number;
  errors: number;
  rateLimited: number;
  malformed: number;
  maxInFlightSeen: number;
  inFlight: number;
}

export interface FakeProvider {
  /** base URL including /v1, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  /** every well-formed chat completion request received, faulted ones included, in arrival order */
  calls: FakeChatRequest[];
  stats(): FakeProviderStats;
  setReply(fn: FakeProviderOptions['reply']): void;
  reset(): void;
  /** closes the server and drops hanging connections at once */
  close(): Promise<void>;
}

/** A scripted judge reply whose content is the JSON of `obj`. */
export function jsonReply(obj: unknown): FakeReply {
  return { content: JSON.stringify(obj) };
}

/** Hint sent with every in-flight 429; short so retrying clients do not slow tests down. */
const RETRY_AFTER_MS = '50';
const DEFAULT_MODEL = 'fake-judge';
/** Request header that overrides the fake's latency for that one call, in milliseconds. */
export const LATENCY_HEADER = 'x-fake-latency-ms';

const echo = (req: FakeChatRequest): FakeReply => ({ content: `echo: ${req.userText}` });

/**
 * The n-th output of mulberry32(seed), computed directly: mulberry32 advances its state by a
 * constant, so faults can be keyed on the call index instead of on a shared mutable generator.
 */
export function seededRandomAt(seed: number, n: number): number {
  let t = (seed + Math.imul(n + 1, 0x6d2b79f5)) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const part of content as unknown[]) {
    const p = part as { type?: unknown; text?: unknown } | null;
    if (p && p.type === 'text' && typeof p.text === 'string') parts.push(p.text);
  }
  return parts.join('\n');
}

type Usage = { prompt_tokens: number; completion_tokens: number };

/** Rough token counts (four characters a token): enough for cost and throughput sums. */
const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4));
const roughUsage = (prompt: string, completion: string): Usage => ({
  prompt_tokens: tokens(prompt),
  completion_tokens: tokens(completion),
});

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

function errorBody(status: number, message: string, code: string | null = null): unknown {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message, type, param: null, code } };
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.destroyed || res.writableEnded) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Waits `ms`, or less if the client goes away first, so no timer outlives its request. */
function delay(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseChat(raw: string, headers: IncomingMessage['headers'], callIndex: number): FakeChatRequest | null {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !Array.isArray(b.messages)) return null;
  const messages = (b.messages as unknown[]).map((m) => {
    const msg = (m ?? {}) as { role?: unknown; content?: unknown };
    return { role: String(msg.role), content: msg.content };
  });
  const texts = messages.map((m) => contentText(m.content));
  const system = texts.filter((_, i) => messages[i]?.role === 'system' || messages[i]?.role === 'developer');
  let userText = '';
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') {
      userText = texts[i] ?? '';
      break;
    }
  }
  const flat: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) flat[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    model: b.model,
    messages,
    body: b,
    headers: flat,
    text: texts.join('\n'),
    userText,
    systemText: system.join('\n'),
    callIndex,
  };
}

export async function startFakeProvider(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
  let reply = opts.reply ?? echo;
  const { latencyMs, maxInFlight, apiKey, faults } = opts;
  const record = opts.recordCalls ?? true;
  const seed = faults?.seed ?? 0;
  const errorRate = faults?.errorRate ?? 0;
  const malformedRate = faults?.malformedRate ?? 0;
  const calls: FakeChatRequest[] = [];
  const models = new Set<string>([DEFAULT_MODEL]);
  const zero = () => ({ total: 0, ok: 0, errors: 0, rateLimited: 0, malformed: 0, maxInFlightSeen: 0 });
  let counts = zero();
  let inFlight = 0;
  let nextIndex = 0;
  const timing = createCallTiming();

  /** Writes a reply and counts its outcome; `hang` writes nothing and is left to close(). */
  function answer(res: ServerResponse, r: FakeReply, req: FakeChatRequest): void {
    if ('hang' in r) return;
    if ('malformed' in r) {
      counts.malformed++;
      if (r.malformed === 'invalid-json') {
        return send(res, 200, '{"id":"chatcmpl-', { 'content-type': 'application/json' });
      }
      const choices = r.malformed === 'no-choices' ? [] : [choice('')];
      return send(res, 200, completion(req, choices, undefined));
    }
    if ('status' in r) {
      if (r.status === 429) counts.rateLimited++;
      else if (r.status >= 400) counts.errors++;
      else counts.ok++;
      return send(res, r.status, r.body ?? errorBody(r.status, `fake provider error ${r.status}`), r.headers);
    }
    counts.ok++;
    const usage = r.usage === null ? undefined : (r.usage ?? roughUsage(req.text, r.content));
    send(res, 200, completion(req, [choice(r.content)], usage));
  }

  function choice(content: string) {
    return { index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' };
  }

  function completion(req: FakeChatRequest, choices: unknown[], usage: Usage | undefined) {
    return {
      id: `chatcmpl-fake-${req.callIndex}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: req.model,
      choices,
      ...(usage && { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
    };
  }

  /** Answers 401 when an API key is required and the request does not carry it. */
  function denied(req: IncomingMessage, res: ServerResponse): boolean {
    if (apiKey === undefined || req.headers.authorization === `Bearer ${apiKey}`) return false;
    send(res, 401, errorBody(401, 'Incorrect API key provided.', 'invalid_api_key'));
    return true;
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counts.total++;
    const raw = await readBody(req);
    const parsed = parseChat(raw, req.headers, nextIndex);
    if (parsed) {
      nextIndex++;
      models.add(parsed.model);
      if (record) calls.push(parsed);
    }
    if (denied(req, res)) {
      counts.errors++;
      return;
    }
    if (!parsed || parsed.body.stream === true) {
      counts.errors++;
      const why = parsed ? 'stream is not supported by the fake provider' : 'body must be JSON with model and messages';
      return send(res, 400, errorBody(400, why, 'invalid_request'));
    }
    if (maxInFlight !== undefined && inFlight >= maxInFlight) {
      counts.rateLimited++;
      const body = errorBody(429, 'Rate limit reached: too many requests in flight.', 'rate_limit_exceeded');
      return send(res, 429, body, { 'retry-after-ms': RETRY_AFTER_MS });
    }
    inFlight++;
    counts.maxInFlightSeen = Math.max(counts.maxInFlightSeen, inFlight);
    res.once('close', () => inFlight--);

    // A caller may set its own latency (a benchmark warming the fake up before it measures).
    const asked = parsed.headers[LATENCY_HEADER];
    const ms = asked !== undefined ? Number(asked) || 0 : typeof latencyMs === 'function' ? latencyMs(parsed) : (latencyMs ?? 0);
    if (ms > 0) await delay(ms, res);
    if (res.destroyed) return;
    const u = errorRate + malformedRate > 0 ? seededRandomAt(seed, parsed.callIndex) : 1;
    if (u < errorRate) return answer(res, { status: 500, body: errorBody(500, 'Injected fault.') }, parsed);
    if (u < errorRate + malformedRate) return answer(res, { malformed: 'invalid-json' }, parsed);
    let r: FakeReply;
    try {
      r = await reply(parsed);
    } catch (err) {
      r = { status: 500, body: errorBody(500, `fake reply threw: ${String(err)}`) };
    }
    answer(res, r, parsed);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const arrived = performance.now();
      timing.arrived(arrived);
      chat(req, res).then(
        () => {
          if (res.writableEnded) timing.replied(arrived, performance.now());
        },
        () => res.destroy(),
      );
      return;
    }
    // Test and benchmark processes read the counters of a fake running in another process here.
    if (req.method === 'GET' && path === '/_stats') return send(res, 200, { ...counts, inFlight });
    // The benchmark's view of a client's cycle (call-timing.ts): DELETE starts a measurement, GET
    // with the client's concurrency reads it (null while calls are unanswered).
    if (path === '/_timing' && req.method === 'DELETE') {
      timing.reset(performance.now());
      return send(res, 200, {});
    }
    if (path === '/_timing' && req.method === 'GET') {
      const concurrency = Number(new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get('concurrency'));
      try {
        return send(res, 200, { timing: timing.summary(concurrency) });
      } catch (err) {
        return send(res, 400, errorBody(400, (err as Error).message, 'invalid_request'));
      }
    }
    if (req.method === 'GET' && path === '/v1/models') {
      if (denied(req, res)) return;
      const data = [...models].map((id) => ({ id, object: 'model', created: 0, owned_by: 'assay-fake' }));
      return send(res, 200, { object: 'list', data });
    }
    req.resume();
    send(res, 404, errorBody(404, `Unknown route ${req.method ?? ''} ${path}`, 'not_found'));
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}/v1`,
    port,
    calls,
    stats: () => ({ ...counts, inFlight }),
    setReply(fn) {
      reply = fn ?? echo;
    },
    reset() {
      calls.length = 0;
      nextIndex = 0;
      counts = zero();
      counts.maxInFlightSeen = inFlight;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // close() alone waits for active requests, and hanging ones never finish.
        server.closeAllConnections();
      });
    },
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * A judge that always answers with a valid verdict for the structured-output schema it is sent
 * (the first allowed label, the top score, choice "A"), and echoes anything else. For benchmarks
 * and process-level tests, where the fake runs in its own process.
 */
export function validVerdictReply(req: FakeChatRequest): FakeReply {
  const format = req.body['response_format'] as { json_schema?: { schema?: { properties?: Record<string, { enum?: unknown[]; maximum?: number }> } } } | undefined;
  const props = format?.json_schema?.schema?.properties;
  if (props?.['label']?.enum) return jsonReply({ feedback: 'ok', label: props['label'].enum[0] });
  if (props?.['score']) return jsonReply({ feedback: 'ok', score: props['score'].maximum ?? 1 });
  if (props?.['choice']) return jsonReply({ feedback: 'ok', choice: 'A' });
  return { content: `answer: ${req.userText.slice(0, 200)}` };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const fake = await startFakeProvider({
    port: Number(flag(args, '--port') ?? 0),
    latencyMs: Number(flag(args, '--latency-ms') ?? 0),
    host: flag(args, '--host') ?? '127.0.0.1',
    apiKey: flag(args, '--api-key'),
    recordCalls: false,
    ...(args.includes('--verdicts') ? { reply: validVerdictReply } : {}),
    ...(flag(args, '--max-in-flight') !== undefined ? { maxInFlight: Number(flag(args, '--max-in-flight')) } : {}),
  });
  console.log(`fake provider listening on ${fake.url}`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
