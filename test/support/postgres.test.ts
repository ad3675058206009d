/**
 * The PostgreSQL test harness: a test's own pool must outlive the server dropping its connections,
 * which is what every test file's teardown does when it stops the server.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, testPool, type TestDatabase } from './postgres.js';
import { waitFor } from './server-process.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describe('a test pool', () => {
  it('lets the server terminate its idle connections without an uncaught error', async () => {
    const url = await db.createDatabase();
    const pool = testPool(url, 2);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
      expect(pool.idleCount).toBe(2);
      const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      expect(rowCount).toBe(2);
      // Each idle connection reports the termination as an error event and leaves the pool; with
      // no listener that event would be thrown, and vitest would fail the run.
      await waitFor(() => pool.totalCount === 0, { what: 'the pool to drop its terminated connections' });
      // The pool connects again for the next query.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});
