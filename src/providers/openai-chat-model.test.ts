import { getEventListeners } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProviderError } from '../domain/errors.js';
import { startFakeProvider, type FakeProvider, type FakeProviderOptions } from '../testing/fake-provider.js';
import type { ChatModel, ChatRequest } from './chat-model.js';
import { DEFAULT_ENDPOINT_LIMITS, type ResolvedEndpointLimits } from './endpoint-limits.js';
import { classifyError, createOpenAIChatModel, withoutSecret } from './openai-chat-model.js';
import { seededRandom } from './retry.js';

const started: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.close()));
});

async function start(opts?: FakeProviderOptions): Promise<FakeProvider> {
  const fake = await startFakeProvider(opts);
  started.push(fake);
  return fake;
}

/** A model on the fake with short, seeded backoffs so retries cost milliseconds. */
function modelOn(
  fake: FakeProvider,
  opts: { maxRetries?: number; limits?: Partial<ResolvedEndpointLimits>; apiKey?: string | null; seed?: number } = {},
): ChatModel {
  return createOpenAIChatModel(
    { baseUrl: fake.url, apiKey: opts.apiKey === undefined ? 'test-key' : opts.apiKey, model: 'fake-judge' },
    {
      timeoutMs: 10_000,
      maxRetries: opts.maxRetries ?? 6,
      limits: { ...DEFAULT_ENDPOINT_LIMITS, ...opts.limits },
      retry: { baseDelayMs: 5, maxDelayMs: 40, random: seededRandom(opts.seed ?? 1) },
    },
  );
}

const ask = (text: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content: text }],
  maxTokens: 64,
  temperature: 0,
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe('OpenAI-compatible chat model: retries and scheduling', () => {
  it('survives 500s, malformed replies and a concurrency cap: 400 calls, few wasted', async () => {
    const fake = await start({ faults: { errorRate: 0.1, malformedRate: 0.1, seed: 12 }, maxInFlight: 8, latencyMs: 5 });
    // The fake draws its faults in the order requests arrive, which timing decides, so one call can
    // draw several in a row: with 6 retries, some call of the 400 drew 7 faults in about one run of
    // 200 (20% faults: 400 × 0.2^7), and the test failed. With 12, about one in three million.
    const model = modelOn(fake, { limits: { maxConcurrency: 25 }, maxRetries: 12 });
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => model.complete(ask(`row ${i}`))));
    expect(results.map((r) => r.content)).toEqual(Array.from({ length: 400 }, (_, i) => `echo: row ${i}`));
    const stats = fake.stats();
    const state = model.state();
    const ratio = stats.total / 400;
    console.log(`400 calls: ${stats.total} attempts (ratio ${ratio.toFixed(3)}), ${stats.rateLimited} answered 429, ` +
      `${stats.errors} 500s, ${stats.malformed} malformed; limit ${state.limit}`);
    // Faults: the fake's seeded stream puts 20% of them in the attempts that reach it, 1.25
    // attempts a call (1.23–1.25 seen). 429s: how soon the limiter finds the cap of 8 depends on
    // timing, 5–12 on an idle machine and 25 once under CI's load (which took the ratio of all
    // attempts, once bounded at 1.3, to 1.302); a limiter that did not learn would draw hundreds.
    expect((stats.total - stats.rateLimited) / 400).toBeLessThanOrEqual(1.3);
    expect(stats.rateLimited).toBeLessThanOrEqual(40);
    expect(state).toMatchObject({ inFlight: 0, queued: 0, totalCalls: stats.total, rateLimited429s: stats.rateLimited });
    expect(results.reduce((n, r) => n + r.attempts, 0)).toBe(stats.total);
  });

  it('with a steady cap and no faults, wastes only the first burst and a few probes', async () => {
    const fake = await start({ maxInFlight: 8, latencyMs: 5 });
    const model = modelOn(fake, { limits: { maxConcurrency: 25 } });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => model.complete(ask(`row ${i}`))));
    const { total, rateLimited } = fake.stats();
    console.log(`1000 calls at cap 8: ${total} attempts, ${rateLimited} answered 429, limit ${model.state().limit}`);
    expect(total).toBe(1000 + rateLimited);
    // at most 17 in the first burst (25 sent, 8 fit), then one episode per ever rarer probe
    expect(rateLimited).toBeLessThanOrEqual(17 + 10);
  });

  it('waits at least the retry-after-ms the server asks for', async () => {
    const seen: number[] = [];
    const fake = await start({
      reply: () => {
        seen.push(performance.now());
        return seen.length === 1 ? { status: 429, headers: { 'retry-after-ms': '200' } } : { content: 'ok' };
      },
    });
    const model = modelOn(fake);
    const result = await model.complete(ask('hi'));
    expect(result).toMatchObject({ content: 'ok', attempts: 2 });
    expect(seen).toHaveLength(2);
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(195);
    expect(model.state()).toMatchObject({ rateLimited429s: 1, totalCalls: 2 });
  });

  it('fails fast on a bad key, naming the endpoint and saying to check the key', async () => {
    const fake = await start({ apiKey: 'right-key' });
    const model = modelOn(fake, { apiKey: 'wrong-key' });
    const err = await failure(model.complete(ask('hi')));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain(`fake-judge at ${fake.url}`);
    expect(err.message).toMatch(/check the API key/);
    expect(fake.stats().total).toBe(1);
  });

  it('fails fast when the prompt is too long, saying to shorten it', async () => {
    const fake = await start({
      reply: () => ({
        status: 400,
        body: { error: { message: "This model's maximum context length is 4096 tokens.", type: 'invalid_request_error' } },
      }),
    });
    const err = await failure(modelOn(fake).complete(ask('a very long prompt')));
    expect(err.kind).toBe('context_length');
    expect(err.message).toMatch(/shorten the prompt/);
    expect(fake.stats().total).toBe(1);
  });

  it('retries empty, choiceless and invalid-JSON replies until one is good', async () => {
    const script = [{ malformed: 'empty-content' }, { malformed: 'no-choices' }, { malformed: 'invalid-json' }] as const;
    const fake = await start({ reply: (req) => script[req.callIndex] ?? { content: 'finally' } });
    const result = await modelOn(fake).complete(ask('hi'));
    expect(result).toMatchObject({ content: 'finally', attempts: 4 });
    expect(result.usage).not.toBeNull();
  });

  it('gives up after maxRetries + 1 attempts, saying how many and the last cause', async () => {
    const fake = await start({ reply: () => ({ status: 503, body: { error: { message: 'overloaded' } } }) });
    const err = await failure(modelOn(fake, { maxRetries: 2 }).complete(ask('hi')));
    expect(err.kind).toBe('transient');
    expect(err.message).toBe(`fake-judge at ${fake.url}: failed after 3 attempts; the last: HTTP 503: overloaded`);
    expect(fake.stats().total).toBe(3);
  });

  it('stops waiting at once when the call is aborted during a backoff', async () => {
    const fake = await start({ reply: () => ({ status: 429, headers: { 'retry-after-ms': '30000' } }) });
    const model = modelOn(fake);
    const controller = new AbortController();
    const call = model.complete(ask('hi', { signal: controller.signal }));
    await vi.waitFor(() => expect(model.state()).toMatchObject({ waitingOnRateLimit: true, inFlight: 0 }), { timeout: 2000, interval: 5 });
    const abortedAt = performance.now();
    controller.abort(new Error('job cancelled'));
    await expect(call).rejects.toThrow('job cancelled');
    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect(fake.stats().total).toBe(1);
  });

  it('serves jobs in turn: a small job finishes long before a large job\'s backlog drains', async () => {
    const fake = await start({ latencyMs: 2 });
    const model = modelOn(fake, { limits: { maxConcurrency: 4 } });
    const done: string[] = [];
    const run = (owner: string, i: number) => model.complete(ask(`${owner}${i}`, { owner })).then(() => done.push(owner));
    const big = Array.from({ length: 100 }, (_, i) => run('big', i));
    await vi.waitFor(() => expect(model.state().totalCalls).toBeGreaterThanOrEqual(4), { timeout: 2000, interval: 1 });
    const small = Array.from({ length: 5 }, (_, i) => run('small', i));
    await Promise.all([...big, ...small]);
    const lastSmall = done.lastIndexOf('small');
    const bigDoneBefore = done.slice(0, lastSmall).filter((o) => o === 'big').length;
    console.log(`the small job's last call finished after ${bigDoneBefore} of the big job's 100`);
    expect(bigDoneBefore).toBeLessThanOrEqual(20);
  });

  it('falls back from json_schema when the server rejects structured output, and remembers it', async () => {
    const fake = await start({
      reply: (req) =>
        req.body.response_format && (req.body.response_format as { type: string }).type === 'json_schema'
          ? { status: 400, body: { error: { message: 'response_format json_schema is not supported' } } }
          : { content: '{"score": 3}' },
    });
    const model = modelOn(fake, { maxRetries: 0 });
    const format = { type: 'json_schema', json_schema: { name: 'v', schema: { type: 'object' } } };
    expect(await model.complete(ask('hi', { responseFormat: format }))).toMatchObject({ content: '{"score": 3}', attempts: 2 });
    expect(await model.complete(ask('again', { responseFormat: format }))).toMatchObject({ attempts: 1 });
    expect(fake.stats().total).toBe(3);
  });
});

describe('the HTTP exchange', () => {
  it('ends an attempt that gets no reply within the timeout as a timeout, and retries it', async () => {
    const fake = await start({ latencyMs: 2_000 });
    const model = createOpenAIChatModel(
      { baseUrl: fake.url, apiKey: null, model: 'slow' },
      { timeoutMs: 100, maxRetries: 1, retry: { baseDelayMs: 1, maxDelayMs: 2, random: seededRandom(3) } },
    );
    const err = await failure(model.complete(ask('anyone there?')));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/slow at .*: the request timed out/);
    expect(fake.stats().total).toBe(2);
  });

  it('says the server could not be reached, as a transient failure', async () => {
    const fake = await start();
    const url = fake.url;
    await fake.close();
    started.splice(started.indexOf(fake), 1);
    const model = createOpenAIChatModel({ baseUrl: url, apiKey: null, model: 'gone' }, { timeoutMs: 1000, maxRetries: 0 });
    const err = await failure(model.complete(ask('hello')));
    expect(err.kind).toBe('transient');
    expect(err.message).toMatch(/could not connect \(.*ECONNREFUSED|could not connect \(connect ECONNREFUSED/);
  });

  it('tells a connection lost mid-call from one never made, and a reply that is not HTTP from both', async () => {
    // Raw sockets: a server that hangs up on reading the request, one that breaks off its reply,
    // one that does not speak HTTP.
    const behaviours: Record<string, (socket: net.Socket) => void> = {
      'hangs up': (socket) => socket.once('data', () => socket.destroy()),
      'breaks off': (socket) =>
        socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"id":')),
      'is not HTTP': (socket) => socket.once('data', () => socket.end('HELLO THERE\r\n\r\n')),
    };
    const messages: Record<string, string> = {};
    for (const [name, behave] of Object.entries(behaviours)) {
      const server = net.createServer(behave);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      const model = createOpenAIChatModel({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: null, model: 'm' }, { timeoutMs: 5000, maxRetries: 0 });
      const err = await failure(model.complete(ask('hello')));
      messages[name] = `${err.kind}: ${err.message.replace(/^m at \S+: /, '')}`;
      await new Promise((resolve) => server.close(resolve));
    }
    expect(messages).toEqual({
      'hangs up': 'transient: the connection was lost during the call (UND_ERR_SOCKET: other side closed)',
      'breaks off': 'transient: the connection was lost during the call (UND_ERR_SOCKET: other side closed)',
      'is not HTTP': expect.stringMatching(/^malformed: malformed reply: .*HTTP/),
    });
  });

  it('leaves no abort listener on the caller\'s signal once calls are done', async () => {
    const fake = await start({ latencyMs: 2 });
    const model = modelOn(fake);
    const controller = new AbortController();
    await Promise.all(Array.from({ length: 50 }, (_, i) => model.complete(ask(`row ${i}`, { signal: controller.signal }))));
    // The HTTP client lets go of a request's listener as the request completes, a moment after its body is read.
    await expect.poll(() => getEventListeners(controller.signal, 'abort').length).toBe(0);
  });

  it('refuses a reply larger than 16 MiB rather than holding it', async () => {
    const fake = await start({ reply: () => ({ content: 'x'.repeat(17 * 2 ** 20) }) });
    const model = createOpenAIChatModel({ baseUrl: fake.url, apiKey: null, model: 'verbose' }, { timeoutMs: 10_000, maxRetries: 0 });
    const err = await failure(model.complete(ask('say a lot')));
    expect(err.kind).toBe('malformed');
    expect(err.message).toMatch(/verbose at .*: malformed reply: larger than 16 MiB/);
  });

  it('sends the model, messages, sampling settings and response format as one JSON body, with every field after a fallback', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const fake = await start({
      reply: (req) => {
        bodies.push(req.body);
        const format = req.body.response_format as { type: string } | undefined;
        return format?.type === 'json_schema' ? { status: 400, body: { error: { message: 'json_schema is not supported' } } } : { content: 'ok' };
      },
    });
    const model = createOpenAIChatModel({ baseUrl: fake.url, apiKey: null, model: 'judge "q" é' }, { timeoutMs: 1000, maxRetries: 0 });
    const messages = [
      { role: 'system' as const, content: 'Rules:\n"quoted", \\ back, tab\t, é, 💡, \u2028' },
      { role: 'user' as const, content: '' },
    ];
    const format = { type: 'json_schema', json_schema: { name: 'verdict', strict: true, schema: { type: 'object', required: ['label'] } } };
    await model.complete({ messages, maxTokens: 7, temperature: 0.25, responseFormat: format });
    const expected = { model: 'judge "q" é', messages, max_tokens: 7, temperature: 0.25 };
    // The first attempt asks for the schema; the server refuses it, and the retry asks for a JSON object.
    expect(bodies).toEqual([
      { ...expected, response_format: format },
      { ...expected, response_format: { type: 'json_object' } },
    ]);
    await model.complete({ messages, maxTokens: 7, temperature: 0.25 });
    expect(bodies[2]).toEqual(expected);
  });

  it('sends the key as a bearer token, and none when the endpoint has no key', async () => {
    const seen: Array<string | undefined> = [];
    const fake = await start({ reply: (req) => (seen.push(req.headers.authorization), { content: 'ok' }) });
    await createOpenAIChatModel({ baseUrl: fake.url, apiKey: 'k-1', model: 'm' }, { timeoutMs: 1000, maxRetries: 0 }).complete(ask('a'));
    await createOpenAIChatModel({ baseUrl: fake.url, apiKey: null, model: 'm' }, { timeoutMs: 1000, maxRetries: 0 }).complete(ask('b'));
    expect(seen).toEqual(['Bearer k-1', undefined]);
  });
});

describe('errors that must not leak or linger', () => {
  it('cuts a key the server quoted back out of the message', () => {
    const err = new ProviderError('m at u: HTTP 401: Incorrect API key provided: sk-abcdef123. Again: sk-abcdef123', { kind: 'auth', status: 401 });
    const clean = withoutSecret(err, 'sk-abcdef123');
    expect(clean.message).toBe('m at u: HTTP 401: Incorrect API key provided: [redacted]. Again: [redacted]');
    expect({ kind: clean.kind, status: clean.status }).toEqual({ kind: 'auth', status: 401 });
    expect(withoutSecret(err, null)).toBe(err);
  });

  it('classifies a connection the SSRF guard refused as final, with the reason', () => {
    const refusal = Object.assign(new Error('connection to 127.0.0.1 refused: loopback address'), { code: 'EASSAYSSRF' });
    const err = classifyError(new TypeError('fetch failed', { cause: refusal }), 'm at http://x/v1');
    expect(err.kind).toBe('forbidden_address');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^m at http:\/\/x\/v1: connection to 127\.0\.0\.1 refused: loopback address/);
  });
});
