import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import {
  jsonReply,
  LATENCY_HEADER,
  seededRandomAt,
  startFakeProvider,
  type FakeProvider,
  type FakeProviderOptions,
} from './fake-provider.js';

const started: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.close()));
});

async function start(opts?: FakeProviderOptions): Promise<FakeProvider> {
  const fake = await startFakeProvider(opts);
  started.push(fake);
  return fake;
}

const client = (fake: FakeProvider, apiKey = 'test-key') => new OpenAI({ baseURL: fake.url, apiKey, maxRetries: 0 });
const ask = (text: string) => ({ model: 'judge-1', messages: [{ role: 'user' as const, content: text }] });

async function post(fake: FakeProvider, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Bounded wait on server-side state the client cannot observe directly (no fixed sleeps). */
async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('fake provider: completions', () => {
  it('echoes the last user message by default, with rough usage', async () => {
    const fake = await start();
    const res = await client(fake).chat.completions.create({
      model: 'judge-1',
      messages: [
        { role: 'system', content: 'You are a judge.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'Is 2+2=4?' },
      ],
      response_format: { type: 'json_object' },
      temperature: 0,
    });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('judge-1');
    expect(res.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'echo: Is 2+2=4?' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });

    const call = fake.calls[0];
    expect(fake.calls).toHaveLength(1);
    expect(call).toMatchObject({ callIndex: 0, systemText: 'You are a judge.', userText: 'Is 2+2=4?' });
    expect(call?.text).toBe('You are a judge.\nfirst\nok\nIs 2+2=4?');
    expect(call?.body).toMatchObject({ response_format: { type: 'json_object' }, temperature: 0 });
    expect(call?.headers.authorization).toBe('Bearer test-key');
    expect(fake.stats()).toMatchObject({ total: 1, ok: 1, errors: 0, inFlight: 0, maxInFlightSeen: 1 });
  });

  it('joins the text parts of array content and ignores images', async () => {
    const fake = await start();
    const content = [
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } },
      { type: 'text', text: 'here' },
    ];
    const res = await post(fake, { model: 'm', messages: [{ role: 'user', content }] });
    expect(JSON.parse(res.text).choices[0].message.content).toBe('echo: look\nhere');
    expect(fake.calls[0]?.messages[0]?.content).toEqual(content);
  });

  it('uses a custom reply, can swap it, and omits usage when asked', async () => {
    const fake = await start({ reply: (req) => jsonReply({ verdict: 'pass', n: req.callIndex }) });
    const openai = client(fake);
    const first = await openai.chat.completions.create(ask('a'));
    expect(JSON.parse(first.choices[0]?.message.content ?? '')).toEqual({ verdict: 'pass', n: 0 });

    fake.setReply(() => ({ content: 'B', usage: null }));
    const second = await openai.chat.completions.create(ask('b'));
    expect(second.choices[0]?.message.content).toBe('B');
    expect(second.usage).toBeUndefined();

    fake.setReply(() => ({ content: 'C', usage: { prompt_tokens: 7, completion_tokens: 3 } }));
    const third = await openai.chat.completions.create(ask('c'));
    expect(third.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  it('passes each request to a latency function', async () => {
    const seen: string[] = [];
    const fake = await start({ latencyMs: (req) => (seen.push(req.userText), 1) });
    await post(fake, ask('slow'));
    expect(seen).toEqual(['slow']);
  });

  it('lets one request set its own latency with a header (a benchmark warming the fake up)', async () => {
    const latency: string[] = [];
    // A minute of latency would outlast the test; the header asks for none, and the function is not asked.
    const fake = await start({ latencyMs: (req) => (latency.push(req.userText), 60_000) });
    const res = await post(fake, ask('warm-up'), { [LATENCY_HEADER]: '0' });
    expect(res.status).toBe(200);
    expect(latency).toEqual([]);
  });

  it('lists the models seen plus fake-judge, and 404s elsewhere in OpenAI error shape', async () => {
    const fake = await start();
    await client(fake).chat.completions.create(ask('x'));
    const models = await client(fake).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['fake-judge', 'judge-1']);

    const res = await fetch(`${fake.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'not_found_error', code: 'not_found' } });
  });

  it('resets calls, stats and call indices', async () => {
    const fake = await start();
    await post(fake, ask('x'));
    fake.reset();
    expect(fake.calls).toHaveLength(0);
    expect(fake.stats()).toMatchObject({ total: 0, ok: 0 });
    await post(fake, ask('y'));
    expect(fake.calls[0]?.callIndex).toBe(0);
  });
});

describe('fake provider: errors', () => {
  it('sends scripted HTTP errors in OpenAI shape, seen by the client as typed errors', async () => {
    const fake = await start({
      reply: (req) =>
        req.userText === 'limit' ? { status: 429, headers: { 'retry-after': '3' } } : { status: 500 },
    });
    const openai = client(fake);
    const limited = await openai.chat.completions.create(ask('limit')).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('3');
    await expect(openai.chat.completions.create(ask('boom'))).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(fake.stats()).toMatchObject({ total: 2, rateLimited: 1, errors: 1, ok: 0 });
  });

  it('answers 500 when the reply function throws', async () => {
    const fake = await start({ reply: () => { throw new Error('script bug'); } });
    const res = await post(fake, ask('x'));
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text).error.message).toContain('script bug');
  });

  it('rejects streaming and bodies that are not chat requests with 400', async () => {
    const fake = await start();
    await expect(client(fake).chat.completions.create({ ...ask('x'), stream: true })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
    expect(fake.calls[0]?.body.stream).toBe(true);
    expect((await post(fake, '{not json')).status).toBe(400);
    expect((await post(fake, { model: 'm' })).status).toBe(400);
    expect(fake.calls).toHaveLength(1);
    expect(fake.stats()).toMatchObject({ total: 3, errors: 3 });
  });

  it('requires the API key when one is set', async () => {
    const fake = await start({ apiKey: 'sk-right' });
    const wrong = client(fake, 'sk-wrong');
    await expect(wrong.chat.completions.create(ask('x'))).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const missing = await post(fake, ask('x'));
    expect(JSON.parse(missing.text)).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });
    const ok = await client(fake, 'sk-right').chat.completions.create(ask('x'));
    expect(ok.choices[0]?.message.content).toBe('echo: x');
    expect(fake.calls[0]?.headers.authorization).toBe('Bearer sk-wrong');
    expect(fake.stats()).toMatchObject({ total: 3, errors: 2, ok: 1 });
  });

  it('hands broken 200 replies to the client as they are', async () => {
    const fake = await start({
      reply: (req) => ({ malformed: req.userText as 'invalid-json' | 'no-choices' | 'empty-content' }),
    });
    const openai = client(fake);
    await expect(openai.chat.completions.create(ask('invalid-json'))).rejects.toBeInstanceOf(SyntaxError);
    const none = await openai.chat.completions.create(ask('no-choices'));
    expect(none.choices).toEqual([]);
    const empty = await openai.chat.completions.create(ask('empty-content'));
    expect(empty.choices[0]?.message.content).toBe('');
    expect(fake.stats()).toMatchObject({ total: 3, malformed: 3, ok: 0 });
  });
});

describe('fake provider: concurrency, faults and hangs', () => {
  it('answers 429 with retry-after-ms to exactly the requests beyond maxInFlight', async () => {
    const n = 12;
    let entered = 0;
    let settled = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Held requests cannot finish, so the gate opens only once every request is either held
    // or already answered: the split between admitted and rejected is fixed, not timing-bound.
    const check = () => entered + settled === n && release();
    const fake = await start({
      maxInFlight: 8,
      latencyMs: 5,
      reply: async () => {
        entered++;
        check();
        await gate;
        return { content: 'done' };
      },
    });
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        post(fake, ask(`q${i}`)).then((r) => {
          settled++;
          check();
          return r;
        }),
      ),
    );
    const limited = results.filter((r) => r.status === 429);
    expect(limited).toHaveLength(4);
    expect(results.filter((r) => r.status === 200)).toHaveLength(8);
    expect(limited[0]?.headers.get('retry-after-ms')).toBe('50');
    expect(JSON.parse(limited[0]?.text ?? '')).toMatchObject({ error: { type: 'rate_limit_error' } });
    expect(fake.calls).toHaveLength(n);
    expect(fake.stats()).toMatchObject({ total: 12, ok: 8, rateLimited: 4, maxInFlightSeen: 8, inFlight: 0 });
  });

  it('computes the n-th output of mulberry32 directly', () => {
    let a = 1234;
    const mulberry32 = () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = 0; i < 5; i++) expect(seededRandomAt(1234, i)).toBe(mulberry32());
  });

  it('injects the same faults on every run with the same seed', async () => {
    const outcomes = async (seed: number) => {
      const fake = await start({ faults: { errorRate: 0.2, malformedRate: 0.1, seed } });
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await post(fake, ask(`q${i}`));
        seen.push(res.status !== 200 ? String(res.status) : isJson(res.text) ? 'ok' : 'malformed');
      }
      const s = fake.stats();
      expect(s.ok + s.errors + s.malformed).toBe(40);
      expect(s.errors).toBe(seen.filter((o) => o === '500').length);
      return seen;
    };
    const first = await outcomes(7);
    expect(await outcomes(7)).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['ok', '500', 'malformed']));
    expect(await outcomes(8)).not.toEqual(first);
  });

  it('leaves a hanging call to the client timeout and frees its slot', async () => {
    const fake = await start({ reply: () => ({ hang: true }) });
    const err = await client(fake)
      .chat.completions.create(ask('x'), { timeout: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await waitFor(() => fake.stats().inFlight === 0);
    expect(fake.stats()).toMatchObject({ total: 1, ok: 0, maxInFlightSeen: 1 });
  });

  it('closes promptly while a call hangs', async () => {
    let arrived!: () => void;
    const hanging = new Promise<void>((r) => (arrived = r));
    const fake = await startFakeProvider({
      reply: () => {
        arrived();
        return { hang: true };
      },
    });
    const pending = post(fake, ask('x')).catch((e: unknown) => e);
    await hanging;
    const t0 = performance.now();
    await fake.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(TypeError); // fetch failed: socket closed
  });
});

describe('fake provider: the timing of a client cycle (/_timing)', () => {
  const timing = async (fake: FakeProvider, query: string) => {
    const res = await fetch(`${new URL(fake.url).origin}/_timing${query}`);
    return { status: res.status, body: (await res.json()) as { timing?: { calls: number; heldMs: number; turnaroundMs: number } | null; error?: { message: string } } };
  };

  it('measures the calls since DELETE: how long each was held, and the gap before the call its reply freed', async () => {
    const fake = await start({ latencyMs: 20 });
    // Calls before the measurement starts (a benchmark's warm-up) are not in it.
    await post(fake, ask('warm-up'), { [LATENCY_HEADER]: '1' });
    expect((await fetch(`${new URL(fake.url).origin}/_timing`, { method: 'DELETE' })).status).toBe(200);
    expect((await timing(fake, '?concurrency=1')).body.timing).toBeNull();
    // One call at a time: every reply but the last frees the next call.
    for (let i = 0; i < 5; i++) expect((await post(fake, ask(`q${i}`))).status).toBe(200);
    const { status, body } = await timing(fake, '?concurrency=1');
    expect(status).toBe(200);
    expect(body.timing!.calls).toBe(5);
    // Node's timers count whole milliseconds of the loop's clock: one may fire up to 1 ms early.
    expect(body.timing!.heldMs).toBeGreaterThanOrEqual(19);
    expect(body.timing!.turnaroundMs).toBeGreaterThan(0);
  });

  it('says why it cannot answer for a concurrency', async () => {
    const fake = await start();
    const { status, body } = await timing(fake, '?concurrency=0');
    expect(status).toBe(400);
    expect(body.error!.message).toMatch(/concurrency must be 1 to 4096/);
  });
});
