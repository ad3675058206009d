import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { requestText } from './http-dispatch.js';

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
});

/** A server on loopback and an agent for it; both closed after the test. */
async function serve(handler: http.RequestListener): Promise<{ origin: string; agent: Agent; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new Agent();
  closing.push(async () => {
    await agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, agent, requests: () => requests };
}

const post = (origin: string) => ({ origin, path: '/v1/chat/completions', method: 'POST' as const, body: '{}' });

describe('requestText', () => {
  it('reads a reply whole: its status, its headers, and text sent in pieces that split a character', async () => {
    const { origin, agent } = await serve((_req, res) => {
      const bytes = Buffer.from('\ufeff{"verdict":"très bien"}', 'utf8');
      const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "è"
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
      res.write(bytes.subarray(0, cut));
      setImmediate(() => res.end(bytes.subarray(cut)));
    });
    const reply = await requestText(agent, post(origin), null);
    expect(reply.statusCode).toBe(429);
    expect(reply.headers['retry-after']).toBe('2');
    // Whole, decoded as one, and without the byte order mark.
    expect(JSON.parse(reply.text)).toEqual({ verdict: 'très bien' });
  });

  it('gives up at once when its signal aborts mid-call, with the reason, and lets go of the signal', async () => {
    let arrived!: () => void;
    const inCall = new Promise<void>((resolve) => (arrived = resolve));
    const { origin, agent } = await serve(() => arrived()); // never answers
    const controller = new AbortController();
    const call = requestText(agent, post(origin), controller.signal);
    await inCall;
    controller.abort(new Error('job cancelled'));
    await expect(call).rejects.toThrow('job cancelled');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('sends nothing for a signal that has already aborted', async () => {
    const { origin, agent, requests } = await serve((_req, res) => res.end('{}'));
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(requestText(agent, post(origin), controller.signal)).rejects.toThrow('too late');
    // The next call goes through, so the server was listening: the first was never sent.
    await requestText(agent, post(origin), null);
    expect(requests()).toBe(1);
  });

  it('rejects with the client\'s error when the server goes away mid-reply', async () => {
    const { origin, agent } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"half":');
      setImmediate(() => res.socket?.destroy());
    });
    const err = await requestText(agent, post(origin), null).then(
      () => null,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).toMatch(/^UND_ERR_/);
  });
});
