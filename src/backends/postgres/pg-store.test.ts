import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeStoreContract, jobRecord } from '../../../test/contract/store-contract.js';
import { getTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import type { RowResult } from '../../domain/types.js';
import { openPostgresStore } from './pg-store.js';
import { MIGRATIONS } from './pg-schema.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describeStoreContract('postgres', async () => openPostgresStore(await db.createDatabase(), { max: 4 }));

describe('postgres store across processes', () => {
  it('lets exactly one of two stores (two pools, as two processes would) claim finalization', async () => {
    const url = await db.createDatabase();
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    try {
      await a.insertJob(jobRecord('eval-1'), {});
      const claims = await Promise.all([a, b, a, b].map((s) => s.claimFinalization('eval-1')));
      expect(claims.filter(Boolean)).toHaveLength(1);
      const update = { status: 'queued' as const, message: 'queued', timestamp: '2026-01-01T00:00:01.000000Z' };
      const moves = await Promise.all([a, b].map((s) => s.transitionJob('eval-1', ['pending'], update)));
      expect(moves.filter((m) => m !== undefined)).toHaveLength(1);
      expect((await b.getJob('eval-1'))?.statusUpdates).toHaveLength(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('keeps row counters exact while two stores rewrite the same rows at once', async () => {
    const url = await db.createDatabase();
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    try {
      await a.insertJob(jobRecord('eval-1', { rowCount: 300 }), {});
      // Overlapping redeliveries: each round both stores write rows 0..299 with different outcomes.
      const batch = (round: number, who: number) =>
        Array.from({ length: 300 }, (_, i) => row(i, { outcome: (i + round + who) % 3 === 0 ? 'judge_failed' : 'ok' }));
      for (let round = 0; round < 5; round++) {
        await Promise.all([a.saveRows('eval-1', batch(round, 0)), b.saveRows('eval-1', batch(round, 1)), a.deleteRows('eval-1', ['judge_failed'])]);
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ done: number; failed: number }>(
        `SELECT count(*)::int AS done, (count(*) FILTER (WHERE outcome = 'judge_failed'))::int AS failed FROM rows WHERE job_id = 'eval-1'`,
      );
      await client.end();
      expect(await b.rowCounts('eval-1')).toEqual(rows[0]);
      expect(await a.countRows('eval-1')).toBe(rows[0]!.done);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('migrates once when three processes start together, and reopens a migrated database', async () => {
    const url = await db.createDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(url, { max: 2 })));
    await Promise.all(stores.map((s) => s.close()));
    const again = await openPostgresStore(url);
    await again.insertJob(jobRecord('eval-1'), { judge: 'k' });
    expect(await again.getJobSecrets('eval-1')).toEqual({ judge: 'k' });
    await again.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    await client.end();
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('keeps key order and stores strings that JSON columns would refuse', async () => {
    const store = await openPostgresStore(await db.createDatabase());
    try {
      const fields = { zeta: 1, alpha: 'lone \ud800 surrogate', mid: { b: 1, a: 2 } };
      const input = { question: 'Q', answer: 'A', context: 'nul \u0000 inside' };
      await store.saveRows('eval-1', [{ ...row(0), fields, input }]);
      const [got] = (await store.queryRows('eval-1', { offset: 0, limit: 1 })).rows;
      expect(Object.keys(got!.fields)).toEqual(['zeta', 'alpha', 'mid']);
      expect(Object.keys(got!.fields.mid as object)).toEqual(['b', 'a']);
      expect(Object.keys(got!.input!)).toEqual(['question', 'answer', 'context']);
      expect(got!.input!.context).toBe('nul \u0000 inside');
    } finally {
      await store.close();
    }
  });

  it('writes a batch whose rows have and lack inputs, with separators, quotes and backslashes inside values', async () => {
    const url = await db.createDatabase();
    const store = await openPostgresStore(url);
    try {
      const tricky = 'a \u001e record separator, "quotes", a \\ backslash, a \u0000 and {braces}, and a comma,';
      await store.saveRows('eval-1', [
        { ...row(0), input: { q: tricky }, fields: { feedback: tricky } },
        { ...row(1), input: undefined, fields: { feedback: '' } },
        { ...row(2), input: { q: '' }, fields: {} },
      ]);
      // A batch of one row without input.
      await store.saveRows('eval-1', [{ ...row(3), input: undefined, fields: { n: 3 } }]);
      const { rows } = await store.queryRows('eval-1', { offset: 0, limit: 10 });
      expect(rows.map((r) => [r.rowIndex, r.input ?? null, r.fields])).toEqual([
        [0, { q: tricky }, { feedback: tricky }],
        [1, null, { feedback: '' }],
        [2, { q: '' }, {}],
        [3, null, { n: 3 }],
      ]);
      // A row written again without its input keeps the one stored before: a missing input is NULL.
      await store.saveRows('eval-1', [{ ...row(0), input: undefined, fields: { again: true } }]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const stored = await client.query<{ row_index: number; missing: boolean }>('SELECT row_index, input IS NULL AS missing FROM rows ORDER BY row_index');
      await client.end();
      expect(stored.rows.map((r) => r.missing)).toEqual([false, true, false, true]);
      expect((await store.queryRows('eval-1', { offset: 0, limit: 1 })).rows[0]?.input).toEqual({ q: tricky });
    } finally {
      await store.close();
    }
  });

  it('writes cache entries behind, many to a statement; another process sees them once written', async () => {
    const url = await db.createDatabase();
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    try {
      for (let i = 0; i < 300; i++) await a.putCachedCall(`k${i}`, { content: `v${i}`, usage: i % 2 ? null : { promptTokens: i, completionTokens: 1 } }, 1_000_000);
      // The writer answers from what it has not written yet; a flush makes it everyone's.
      expect(await a.getCachedCall('k299')).toEqual({ content: 'v299', usage: null });
      await a.flushCachedCalls();
      for (const i of [0, 1, 255, 256, 299]) {
        expect(await b.getCachedCall(`k${i}`)).toEqual({ content: `v${i}`, usage: i % 2 ? null : { promptTokens: i, completionTokens: 1 } });
      }
      // Closing writes what was waiting.
      await a.putCachedCall('last', { content: 'at close', usage: null }, 1_000_000);
      await a.close();
      expect(await b.getCachedCall('last')).toEqual({ content: 'at close', usage: null });
    } finally {
      await b.close();
    }
  });

  it('reads a cached call without writing, and marks it used with the next batch', async () => {
    const url = await db.createDatabase();
    const store = await openPostgresStore(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const lastUsed = async () => Number((await client.query<{ t: string }>(`SELECT last_used AS t FROM call_cache WHERE key = 'k'`)).rows[0]!.t);
    try {
      await store.putCachedCall('k', { content: 'reply', usage: null }, 1_000_000);
      await store.flushCachedCalls();
      const written = await lastUsed();
      expect(await store.getCachedCall('k')).toEqual({ content: 'reply', usage: null });
      // The hit rewrote nothing yet: a read is a read.
      expect(await lastUsed()).toBe(written);
      await store.flushCachedCalls();
      expect(await lastUsed()).toBeGreaterThan(written);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('tells the next put why a batch of cache writes failed, and leaves out a reply PostgreSQL cannot store', async () => {
    const url = await db.createDatabase();
    const store = await openPostgresStore(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the disk says no'; END $$ LANGUAGE plpgsql`);
      await client.query('CREATE TRIGGER refuse BEFORE INSERT ON call_cache FOR EACH ROW EXECUTE FUNCTION refuse()');
      // A bound of 10 writes every entry at once, so the failure is known by the end of the put.
      await expect(store.putCachedCall('k1', { content: 'one', usage: null }, 10)).rejects.toThrow('1 call cache entry could not be written: the disk says no');
      await client.query('DROP TRIGGER refuse ON call_cache');
      await store.putCachedCall('k2', { content: 'nul \u0000 inside', usage: null }, 10);
      await store.putCachedCall('k3', { content: 'three', usage: null }, 10);
      const { rows } = await client.query<{ key: string }>('SELECT key FROM call_cache ORDER BY key');
      expect(rows.map((r) => r.key)).toEqual(['k3']);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('saves 100,000 rows in a few seconds, in batches, last write winning', async () => {
    const store = await openPostgresStore(await db.createDatabase());
    try {
      const n = 100_000;
      await store.insertJob(jobRecord('eval-big', { rowCount: n }), {});
      const rows = Array.from({ length: n }, (_, i) => row(i));
      const started = performance.now();
      await store.saveRows('eval-big', rows);
      const ms = performance.now() - started;
      console.info(`postgres saveRows: ${n} rows in ${ms.toFixed(0)} ms`);
      // A bound against regressions (row-by-row writes take far longer), loose for busy CI machines.
      expect(ms).toBeLessThan(15_000);
      expect(await store.countRows('eval-big')).toBe(n);
      // Duplicates inside one call do not break the statement; the later one is kept.
      await store.saveRows('eval-big', [row(5, { label: 'b' }), row(5, { label: 'c' })]);
      expect((await store.queryRows('eval-big', { offset: 5, limit: 1 })).rows[0]?.label).toBe('c');
    } finally {
      await store.close();
    }
  });
});

function row(rowIndex: number, patch: Partial<RowResult> = {}): RowResult {
  return {
    rowIndex,
    outcome: 'ok',
    label: 'a',
    score: null,
    choice: null,
    generationFailures: 0,
    judgeFailures: 0,
    usage: { judge: { prompt: 120, completion: 30 } },
    fields: { judge_feedback: `The response is correct and complete for row ${rowIndex}.`, label: 'a', evaluation_successful: true },
    input: { prompt: `What is ${rowIndex} + ${rowIndex}?`, response: String(rowIndex * 2) },
    ...patch,
  };
}

describe('postgres call cache size', () => {
  it('is kept exact by the writes of two stores at once, entries written again and evictions included', async () => {
    const url = await db.createDatabase();
    const [a, b] = await Promise.all([openPostgresStore(url, { max: 4 }), openPostgresStore(url, { max: 4 })]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const size = async () => {
      const { rows } = await client.query<{ kept: string; counted: string }>(
        'SELECT (SELECT n FROM call_cache_size) AS kept, (SELECT count(*) FROM call_cache) AS counted',
      );
      return { kept: Number(rows[0]!.kept), counted: Number(rows[0]!.counted) };
    };
    try {
      // Overlapping keys from both stores, each writing some of its own twice.
      const put = (s: typeof a, from: number, to: number, bound: number) =>
        Promise.all(Array.from({ length: to - from }, (_, i) => s.putCachedCall(`key-${from + i}`, { content: `v${from + i}`, usage: null }, bound)));
      await Promise.all([put(a, 0, 600, 10_000), put(b, 300, 900, 10_000), put(a, 500, 700, 10_000)]);
      await Promise.all([a.flushCachedCalls(), b.flushCachedCalls()]);
      expect(await size()).toEqual({ kept: 900, counted: 900 });
      // A bound of 500 evicts down to 90% of it once the size is next checked.
      await put(b, 900, 1_100, 500);
      await b.flushCachedCalls();
      const after = await size();
      expect(after.kept).toBe(after.counted);
      expect(after.counted).toBeLessThanOrEqual(500);
    } finally {
      await client.end();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('starts counting from the entries a database of the version before already holds', async () => {
    const url = await db.createDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // A database migrated up to the version before, with entries in its cache.
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of MIGRATIONS.filter((m) => m.version < 7)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      }
      await client.query(`INSERT INTO call_cache (key, content, last_used) SELECT 'k' || i, 'v', i FROM generate_series(1, 250) i`);
      const store = await openPostgresStore(url);
      await store.putCachedCall('new', { content: 'v', usage: null }, 100);
      await store.flushCachedCalls();
      await store.close();
      // Past the bound of 100 at the first check: evicted to 90.
      const { rows } = await client.query<{ kept: string; counted: string }>('SELECT (SELECT n FROM call_cache_size) AS kept, (SELECT count(*) FROM call_cache) AS counted');
      expect([Number(rows[0]!.kept), Number(rows[0]!.counted)]).toEqual([90, 90]);
    } finally {
      await client.end();
    }
  });
});

describe('postgres call cache lookups', () => {
  it('reads the lookups asked for in one turn with one statement, each answered with its own entry', async () => {
    const url = await db.createDatabase();
    const store = await openPostgresStore(url, { max: 4 });
    const query = vi.spyOn(pg.Pool.prototype, 'query');
    try {
      for (let i = 0; i < 30; i += 3) await store.putCachedCall(`key-${i}`, { content: `reply ${i}`, usage: { promptTokens: i, completionTokens: 1 } }, 1000);
      await store.flushCachedCalls();
      query.mockClear();
      // Thirty keys, every third stored, one asked for twice.
      const keys = [...Array.from({ length: 30 }, (_, i) => `key-${i}`), 'key-3'];
      const found = await Promise.all(keys.map((key) => store.getCachedCall(key)));
      expect(found.map((hit) => hit?.content ?? null)).toEqual(keys.map((key) => (Number(key.slice(4)) % 3 === 0 ? `reply ${key.slice(4)}` : null)));
      expect(found[3]?.usage).toEqual({ promptTokens: 3, completionTokens: 1 });
      const reads = query.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.includes('FROM call_cache'));
      expect(reads).toHaveLength(1);
      // Lookups of a later turn go in a statement of their own.
      expect((await store.getCachedCall('key-6'))?.content).toBe('reply 6');
      expect(query.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.includes('FROM call_cache'))).toHaveLength(2);
    } finally {
      query.mockRestore();
      await store.close();
    }
  });
});
