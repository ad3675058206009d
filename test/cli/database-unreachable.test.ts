/**
 * A PostgreSQL that cannot be reached makes every command that needs it say which database and
 * why, and exit: at once when the connection is refused, and within ASSAY_DATABASE_CONNECT_TIMEOUT_SECONDS
 * when the host never answers (packets dropped), where it used to wait out the OS's TCP timeout,
 * about two minutes, in silence. The password in the URL is not shown.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

let dir: string;
/** Accepts connections and never answers, like a database behind a firewall that drops them. */
let silent: Server;
const held: Socket[] = [];
let silentUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-db-'));
  silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  silentUrl = `postgres://assay:hunter2@127.0.0.1:${port}/assay`;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('a database that never answers', () => {
  const env = { ASSAY_DATABASE_CONNECT_TIMEOUT_SECONDS: '1', ASSAY_LOG_LEVEL: 'warn' };
  for (const [name, args] of [
    ['serve', ['serve', '--port', '0']],
    ['serve --no-workers', ['serve', '--port', '0', '--no-workers']],
    ['worker', ['worker']],
    ['keys list', ['keys', 'list']],
  ] as const) {
    it(`makes \`assay ${name}\` name it, say how long it waited, and exit`, async () => {
      const res = await runCli([...args, '--database', silentUrl], { env: { ...env, ASSAY_DATA_DIR: join(dir, name) }, timeoutMs: 20_000 });
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toContain(`cannot open the database postgres://assay:***@127.0.0.1:${new URL(silentUrl).port}/assay`);
      expect(res.stderr).toMatch(/no answer within 1 s; ASSAY_DATABASE_CONNECT_TIMEOUT_SECONDS/);
      expect(res.stderr).not.toContain('hunter2');
    });
  }
});

describe('a database that refuses connections', () => {
  it('makes `assay serve` name it and exit', async () => {
    // A port just freed: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const res = await runCli(['serve', '--port', '0', '--database', `postgres://127.0.0.1:${port}/assay`], { env: { ASSAY_DATA_DIR: join(dir, 'refused') }, timeoutMs: 20_000 });
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toContain(`cannot open the database postgres://127.0.0.1:${port}/assay: connect ECONNREFUSED`);
  });
});
