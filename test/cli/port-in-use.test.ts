/**
 * A node started on a port that is taken says so and exits, leaving nothing running: before, the
 * error was printed and the process went on, kept alive by its engine thread and checkpointer
 * (`serve`) or its pool and queue, still taking chunks (`worker`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startServer } from '../support/server-process.js';
import { runCli } from './cli.js';

let dir: string;
let db: TestDatabase;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-port-'));
  db = await getTestDatabase();
});
afterAll(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a port in use', () => {
  it('makes `assay serve` say so and exit, leaving its data folder free', async () => {
    const first = await startServer();
    const dataDir = join(dir, 'serve');
    try {
      const taken = await runCli(['serve', '--data-dir', dataDir, '--port', new URL(first.url).port]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('EADDRINUSE');
    } finally {
      await first.cleanup();
    }
    const next = await startServer({ dataDir });
    await next.stop();
  });

  it('makes `assay worker` say so and exit', async () => {
    const url = await db.createDatabase();
    const first = await startServer({ command: 'worker', env: { ASSAY_DATABASE_URL: url, ASSAY_LOG_LEVEL: 'warn' } });
    try {
      const taken = await runCli(['worker', '--database', url, '--port', new URL(first.url).port], { env: { ASSAY_DATA_DIR: join(dir, 'worker') } });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('EADDRINUSE');
    } finally {
      await first.cleanup();
    }
  });
});
