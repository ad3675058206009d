import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { loadConfig } from '../config/config.js';
import { openBackend } from './backend.js';

let db: TestDatabase;
const dirs: string[] = [];
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(async () => {
  await db?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const configFor = (databaseUrl: string | null) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'assay-backend-'));
  dirs.push(dataDir);
  return loadConfig({}, { dataDir, databaseUrl });
};

describe('a backend opened without a queue (the API thread beside an engine thread)', () => {
  it('starts no pg-boss in the distributed shape, and its queue refuses any use', async () => {
    const url = await db.createDatabase();
    const backend = await openBackend(configFor(url), () => {}, { queue: false });
    try {
      expect(backend.shape).toBe('distributed');
      await expect(backend.queue.enqueue([{ jobId: 'j', start: 0, end: 64 }])).rejects.toThrow(/opened without a queue/);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = 'pgboss'`);
      await client.end();
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await backend.queue.close();
      await backend.close();
    }
  });

  it('has no in-process queue in the embedded shape either', async () => {
    const backend = await openBackend(configFor(null), () => {}, { queue: false });
    try {
      expect(backend.shape).toBe('embedded');
      await expect(backend.queue.size()).rejects.toThrow(/opened without a queue/);
    } finally {
      await backend.close();
    }
  });
});

describe('a distributed backend whose database drops its connections', () => {
  it('carries on (a restart, a failover): no crash, and the next queries reconnect', async () => {
    const url = await db.createDatabase();
    const backend = await openBackend(configFor(url), () => {});
    try {
      // Connections open in every pool: the store's, the node's (files, heartbeat) and the queue's.
      await backend.ping();
      await backend.store.jobCounts();
      await backend.queue.size();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        expect(rows[0]!.n).toBeGreaterThanOrEqual(3);
      } finally {
        await admin.end();
      }
      // An idle connection's error reaches its pool as an event; one without a listener would
      // have ended the process (and failed this run) by the time these answer.
      await expect.poll(() => backend.ping().then(() => true, () => false), { timeout: 10_000 }).toBe(true);
      expect(await backend.store.jobCounts()).toEqual({});
      expect(await backend.queue.size()).toBe(0);
    } finally {
      await backend.queue.close();
      await backend.close();
    }
  });
});

describe('a distributed backend that cannot open one of its parts', () => {
  it('fails with that part’s error and leaves no connection open', async () => {
    const url = await db.createDatabase();
    const config = configFor(url);
    // The file cache's folder cannot be made: a file stands where it goes. The store and the
    // queue, opened at the same time, succeed and must be closed again.
    writeFileSync(path.join(config.dataDir, 'cache'), 'not a folder');
    await expect(openBackend(config, () => {})).rejects.toThrow(/EEXIST|ENOTDIR/);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const others = async () =>
        (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0]!.n;
      // A pool's end resolves as its connections are told to close; the server sees them go soon
      // after. Left open, an idle connection would stay for the pools' idle timeout, 10 s.
      await expect.poll(others, { timeout: 5_000 }).toBe(0);
      // What the store and the queue made is there: they did open before the failure closed them.
      const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = 'pgboss'`);
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await admin.end();
    }
  });
});
