import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { createGuardedDispatcher } from './guarded-dispatcher.js';
import { ssrfRefusal } from './ssrf.js';

let target: Server;
let redirector: Server;
let targetPort = 0;
let redirectPort = 0;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  target = createServer((_req, res) => res.end('reached'));
  // Sends every request on to the URL in its path: /to/<encoded URL>.
  redirector = createServer((req, res) => {
    res.statusCode = 302;
    res.setHeader('location', decodeURIComponent((req.url ?? '').replace(/^\/to\//, '')));
    res.end();
  });
  targetPort = await listen(target);
  redirectPort = await listen(redirector);
});
afterAll(async () => {
  target.closeAllConnections();
  redirector.closeAllConnections();
  await Promise.all([new Promise((r) => target.close(r)), new Promise((r) => redirector.close(r))]);
});

const on = async () => true;
const off = async () => false;

async function outcome(dispatcher: Dispatcher, url: string): Promise<string> {
  try {
    const { origin, pathname, search } = new URL(url);
    const res = await dispatcher.request({ origin, path: pathname + search, method: 'GET' });
    return `${res.statusCode} ${await res.body.text()}`;
  } catch (err) {
    const refusal = ssrfRefusal(err);
    return refusal ? `refused: ${refusal.message}` : `failed: ${String(err)}`;
  }
}

describe('createGuardedDispatcher', () => {
  it('reaches loopback while the guard is off', async () => {
    const f = createGuardedDispatcher({ allow: [] }, off);
    expect(await outcome(f, `http://127.0.0.1:${targetPort}/`)).toBe('200 reached');
    expect(await outcome(f, `http://localhost:${targetPort}/`)).toBe('200 reached');
  });

  it('refuses loopback addresses and names that resolve to them while it is on', async () => {
    const f = createGuardedDispatcher({ allow: [] }, on);
    expect(await outcome(f, `http://127.0.0.1:${targetPort}/`)).toMatch(/^refused: connection to 127\.0\.0\.1 refused: loopback address/);
    expect(await outcome(f, `http://localhost:${targetPort}/`)).toMatch(/^refused: .*loopback address/);
    expect(await outcome(f, `http://[::1]:${targetPort}/`)).toMatch(/^refused: .*loopback address/);
    expect(await outcome(f, `http://2130706433:${targetPort}/`)).toMatch(/^refused: .*loopback address/);
  });

  it('lets allowlisted names and networks through', async () => {
    expect(await outcome(createGuardedDispatcher({ allow: ['127.0.0.1'] }, on), `http://127.0.0.1:${targetPort}/`)).toBe('200 reached');
    expect(await outcome(createGuardedDispatcher({ allow: ['127.0.0.0/8'] }, on), `http://127.0.0.1:${targetPort}/`)).toBe('200 reached');
    expect(await outcome(createGuardedDispatcher({ allow: ['localhost'] }, on), `http://localhost:${targetPort}/`)).toBe('200 reached');
  });

  it('checks where a redirect leads, not only where it starts', async () => {
    const f = createGuardedDispatcher({ allow: ['localhost'] }, on);
    const via = (to: string) => `http://localhost:${redirectPort}/to/${encodeURIComponent(to)}`;
    expect(await outcome(f, via(`http://localhost:${targetPort}/`))).toBe('200 reached');
    expect(await outcome(f, via(`http://127.0.0.1:${targetPort}/`))).toMatch(/^refused: connection to 127\.0\.0\.1 refused: loopback/);
    expect(await outcome(f, via(`http://169.254.169.254/latest/meta-data/`))).toMatch(/^refused: .*link-local/);
  });
});
