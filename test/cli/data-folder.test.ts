/**
 * One server runs the jobs of a data folder: a second `assay serve` on it refuses to start and
 * says why, while commands that only manage the folder still work beside the server, and a
 * server that crashed leaves the folder free for the next one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server-process.js';
import { runCli } from './cli.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('a data folder in use', () => {
  it('refuses a second server, lets `assay keys` work beside the first, and is free again after a crash', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'assay-folder-'));
    dirs.push(dataDir);
    const first = await startServer({ dataDir });
    try {
      const second = await runCli(['serve', '--data-dir', dataDir, '--port', '0']);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toContain(`the data folder ${dataDir} is in use by another assay server`);
      expect(second.stdout).not.toContain('listening on');

      const keys = await runCli(['keys', 'create', '--owner', 'alice', '--data-dir', dataDir, '--json']);
      expect(keys.code).toBe(0);
      // The first server still answers.
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      // A crash: no chance to let go of anything.
      await first.stop('SIGKILL');
    }
    const next = await startServer({ dataDir });
    try {
      expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
    } finally {
      await next.stop();
    }
  });
});
