import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createPool, describeDatabase, inTransaction } from './pg-sql.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describe('a transaction on a pooled connection', () => {
  it('fails, without crashing the process, when its connection drops between two queries', async () => {
    const url = await db.createDatabase();
    const pool = createPool(url, { max: 2 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await pool.query('CREATE TABLE t (n int)');
      const run = inTransaction(pool, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        // The connection is dropped while the transaction waits on something other than a query.
        // (Not events.once, which would listen for 'error' itself.)
        const ended = new Promise((resolve) => client.once('end', resolve));
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await ended;
        await client.query('INSERT INTO t VALUES (2)');
      });
      await expect(run).rejects.toThrow(/terminat|not queryable|connection/i);
      expect((await pool.query<{ n: string }>('SELECT count(*) AS n FROM t')).rows[0]!.n).toBe('0');
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});

describe('a database URL in a message', () => {
  it('keeps where the database is and hides the password, in the URL or as a parameter', () => {
    expect(describeDatabase('postgres://assay:hunter2@db.internal:5432/assay')).toBe('postgres://assay:***@db.internal:5432/assay');
    expect(describeDatabase('postgres://db.internal/assay?password=hunter2&sslmode=require')).toBe('postgres://db.internal/assay?password=***&sslmode=require');
    expect(describeDatabase('postgresql://db.internal/assay')).toBe('postgresql://db.internal/assay');
  });

  it('shows nothing of a string that does not parse as a URL, which may hold a password anywhere', () => {
    expect(describeDatabase('host=db.internal password=hunter2')).toBe('the database (its URL does not parse)');
  });
});
