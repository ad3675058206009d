import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPooledFetch } from './pooled-fetch.js';

let server: Server;
let base = '';
/** Requests that never get an answer, ended in afterAll. */
const held: IncomingMessage[] = [];

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      if (req.url === '/hang') {
        held.push(req);
        return;
      }
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/echo?from=moved' }).end();
        return;
      }
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-request-id', 'req-7');
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization ?? null, body }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('createPooledFetch', () => {
  const f = createPooledFetch();

  it('sends method, headers and body, and reads status, headers and JSON', async () => {
    const res = await f(`${base}/echo?q=1`, { method: 'POST', headers: new Headers({ authorization: 'Bearer k' }), body: '{"x":1}' });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-7');
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(await res.json()).toEqual({ method: 'POST', url: '/echo?q=1', auth: 'Bearer k', body: '{"x":1}' });
  });

  it('hands back error statuses as replies, not exceptions', async () => {
    const res = await f(`${base}/missing`, { headers: { authorization: 'Bearer k' } });
    expect(res.ok).toBe(false);
    expect(res.status).toBe(404);
    expect(JSON.parse(await res.text())).toMatchObject({ method: 'GET', auth: 'Bearer k' });
  });

  it('follows a redirect as fetch does (a POST answered 302 continues as a GET)', async () => {
    const res = await f(`${base}/moved`, { method: 'POST', body: '{}' });
    expect(await res.json()).toMatchObject({ method: 'GET', url: '/echo?from=moved' });
  });

  it('stops waiting when the signal aborts, with an AbortError', async () => {
    const controller = new AbortController();
    const pending = f(`${base}/hang`, { method: 'POST', body: '{}', signal: controller.signal });
    await expect.poll(() => held.length).toBe(1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('fails with the connection error when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(f(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
