/**
 * The PostgreSQL Store: what many API and worker processes share in distributed mode. Same
 * semantics as the SQLite store; guarded updates (job transitions, the finalization claim) are
 * compare-and-set in the database, so they hold across processes.
 */
import type { CachedCall } from '../../providers/call-cache.js';
import type pg from 'pg';
import type { Store } from '../../engine/contracts.js';
import type { JobStatus } from '../../domain/types.js';
import { TERMINAL_STATUSES } from '../../domain/types.js';
import { toFile, toJob, toKey, transitioned, type FileRow, type JobRow, type KeyRow } from '../records.js';
import { rowMethods } from './pg-rows.js';
import { segmentMethods } from './pg-segments.js';
import { migrate } from './pg-schema.js';
import { createPool, DEFAULT_CONNECT_TIMEOUT_MS, describeDatabase, inTransaction, UNFINISHED, type PoolOptions } from './pg-sql.js';
import { CACHE_WRITE_DELAY_MS, cacheWriteBatchLimit, createCacheWriteFailures } from '../cache-writes.js';

export type PostgresStoreOptions = PoolOptions;

const JOB_COLUMNS = 'id, owner_id, type, status, status_updates, parameters, spec, row_count, results, cancel_requested, created_at, updated_at';

/**
 * Connects to `url`, brings the schema up to date and returns the store.
 *
 * @example
 * const store = await openPostgresStore('postgres://assay@db/assay', { max: 20 });
 */
/** Inserts between checks of the call cache's size against its bound. */
const CACHE_CHECK_EVERY = 200;

export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const pool = createPool(url, opts);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    // The first connection is made here: pg's own words ("connect ECONNREFUSED …", "Connection
    // terminated due to connection timeout") do not say which database, nor how long it waited.
    const message = (err as Error).message;
    const waited = /timeout/i.test(message) ? ` (no answer within ${(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000} s; ASSAY_DATABASE_CONNECT_TIMEOUT_SECONDS sets how long to wait)` : '';
    throw new Error(`cannot open the database ${describeDatabase(url)}: ${message}${waited}`, { cause: err });
  }
  let cacheTick = 0;
  const cacheClock = (): number => Date.now() * 1000 + (cacheTick++ % 1000);
  let cachePuts = 0;
  let cacheBound = Number.POSITIVE_INFINITY;
  /** New entries not yet sent, and the batch being written: both answer reads (see cache-writes.ts). */
  let cacheWrites = new Map<string, { value: CachedCall; lastUsed: number }>();
  let cacheWriting: typeof cacheWrites = new Map();
  /**
   * Entries read since the last write, and when: marked used with the next batch, not with an
   * UPDATE per read (a read was a write before, rewriting the entry's row on every hit).
   */
  let cacheTouches = new Map<string, number>();
  let cacheTimer: NodeJS.Timeout | null = null;
  /** The batch writes, one after another, so a later batch never lands before an earlier one. */
  let cacheFlushes: Promise<void> = Promise.resolve();
  const cacheWriteFailures = createCacheWriteFailures();

  /** Writes the entries and marks gathered so far, a statement each, then keeps the bound now and then. */
  async function writeCachedCalls(): Promise<void> {
    if (cacheTimer) clearTimeout(cacheTimer);
    cacheTimer = null;
    if (cacheWrites.size === 0 && cacheTouches.size === 0) return;
    const batch = cacheWrites;
    cacheWrites = new Map();
    cacheWriting = batch;
    const entries = [...batch];
    const touches = [...cacheTouches];
    cacheTouches = new Map();
    try {
      if (touches.length > 0) {
        await pool.query(
          `UPDATE call_cache SET last_used = GREATEST(call_cache.last_used, used.at)
           FROM unnest($1::text[], $2::bigint[]) AS used(key, at) WHERE call_cache.key = used.key`,
          [touches.map(([key]) => key), touches.map(([, at]) => at)],
        );
      }
      if (entries.length === 0) return;
      await pool.query(
        `INSERT INTO call_cache (key, content, usage, last_used)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used`,
        [
          entries.map(([key]) => key),
          entries.map(([, e]) => e.value.content),
          entries.map(([, e]) => (e.value.usage === null ? null : JSON.stringify(e.value.usage))),
          entries.map(([, e]) => e.lastUsed),
        ],
      );
      // Several processes share the table, so the bound is checked now and then against the size
      // the table's triggers keep (pg-schema.ts), not kept in memory.
      cachePuts += entries.length;
      if (cachePuts >= CACHE_CHECK_EVERY || cacheBound <= CACHE_CHECK_EVERY) {
        cachePuts = 0;
        const n = Number((await one<{ n: string }>('SELECT n FROM call_cache_size WHERE id = 1', []))?.n ?? 0);
        if (n > cacheBound) {
          await pool.query('DELETE FROM call_cache WHERE key IN (SELECT key FROM call_cache ORDER BY last_used LIMIT $1)', [n - Math.floor(cacheBound * 0.9)]);
        }
      }
    } catch (err) {
      cacheWriteFailures.record(entries.length, err);
    } finally {
      cacheWriting = new Map();
    }
  }
  const flushCachedCalls = (): Promise<void> => (cacheFlushes = cacheFlushes.then(writeCachedCalls));

  type CacheRow = { key: string; content: string; usage: string | null };
  /**
   * Lookups asked for in this turn of the event loop, by key, read with one statement at its end.
   * A busy worker asks for one a row, and a statement is a socket write that wakes a PostgreSQL
   * backend: on two cores shared with the database, those writes were a quarter of the worker's
   * CPU a row (docs/benchmarks.md, step 42).
   */
  let lookups: Map<string, Array<{ found: (row: CacheRow | undefined) => void; failed: (err: unknown) => void }>> | null = null;
  const lookUp = (key: string): Promise<CacheRow | undefined> =>
    new Promise((found, failed) => {
      if (lookups === null) {
        lookups = new Map();
        setImmediate(readLookups);
      }
      const waiting = lookups.get(key);
      if (waiting) waiting.push({ found, failed });
      else lookups.set(key, [{ found, failed }]);
    });
  function readLookups(): void {
    const batch = lookups!;
    lookups = null;
    pool.query<CacheRow>('SELECT key, content, usage FROM call_cache WHERE key = ANY($1::text[])', [[...batch.keys()]]).then(
      ({ rows }) => {
        const byKey = new Map(rows.map((row) => [row.key, row]));
        for (const [key, waiting] of batch) for (const w of waiting) w.found(byKey.get(key));
      },
      (err: unknown) => {
        for (const waiting of batch.values()) for (const w of waiting) w.failed(err);
      },
    );
  }
  const one = async <R extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<R | undefined> => (await pool.query<R>(sql, args)).rows[0];
  const changed = async (sql: string, args: unknown[]): Promise<boolean> => ((await pool.query(sql, args)).rowCount ?? 0) > 0;

  return {
    readsAreRoundTrips: true,
    resultSegments: segmentMethods(pool),
    async insertFile(file) {
      await pool.query(
        `INSERT INTO files (id, owner_id, filename, purpose, format, bytes, line_count, columns, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [file.id, file.ownerId, file.filename, file.purpose, file.format, file.bytes, file.lineCount, JSON.stringify(file.columns), file.state, file.createdAt],
      );
    },
    async getFile(id) {
      const row = await one<FileRow>('SELECT * FROM files WHERE id = $1', [id]);
      return row && toFile(row);
    },
    async listFiles(ownerId) {
      const { rows } = await pool.query<FileRow>(`SELECT * FROM files WHERE owner_id = $1 AND state = 'ready' ORDER BY created_at DESC, seq DESC`, [ownerId]);
      return rows.map(toFile);
    },
    async completeFile(id, patch) {
      await pool.query(`UPDATE files SET bytes = $2, line_count = $3, columns = $4, format = $5, state = 'ready' WHERE id = $1`, [
        id,
        patch.bytes,
        patch.lineCount,
        JSON.stringify(patch.columns),
        patch.format,
      ]);
    },
    deleteFile: (id) => changed('DELETE FROM files WHERE id = $1', [id]),

    async insertJob(job, secrets) {
      await pool.query(
        `INSERT INTO jobs (id, owner_id, type, status, status_updates, parameters, spec, row_count, results, secrets, cancel_requested, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          job.id,
          job.ownerId,
          job.type,
          job.status,
          JSON.stringify(job.statusUpdates),
          JSON.stringify(job.parameters),
          JSON.stringify(job.spec),
          job.rowCount,
          job.results === null ? null : JSON.stringify(job.results),
          JSON.stringify(secrets),
          job.cancelRequested,
          job.createdAt,
          job.updatedAt,
        ],
      );
    },
    async getJob(id) {
      const row = await one<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
      return row && toJob(row);
    },
    async getJobSecrets(id) {
      const row = await one<{ secrets: string | null }>('SELECT secrets FROM jobs WHERE id = $1', [id]);
      return row?.secrets ? (JSON.parse(row.secrets) as Record<string, string>) : {};
    },
    async listJobs(query) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.ownerId !== undefined) where.push(`owner_id = $${args.push(query.ownerId)}`);
      if (query.status !== undefined) where.push(`status = $${args.push(query.status)}`);
      const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const { rows } = await pool.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs ${filter} ORDER BY seq DESC LIMIT $${args.push(query.limit)}`, args);
      return rows.map(toJob);
    },
    async jobsVersion() {
      const row = await one<{ n: string }>('SELECT n FROM jobs_version WHERE id = 1', []);
      return Number(row!.n);
    },
    async jobCounts() {
      const { rows } = await pool.query<{ status: JobStatus; n: number }>('SELECT status, count(*)::int AS n FROM jobs GROUP BY status');
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async listUnfinishedJobs() {
      const { rows } = await pool.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE ${UNFINISHED} ORDER BY seq`);
      return rows.map(toJob);
    },
    transitionJob(id, from, update, patch) {
      // Compare-and-set: the row stays locked from the status check to the write.
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE`, [id]);
        const row = rows[0];
        if (!row || !from.includes(row.status as JobStatus)) return undefined;
        const job = transitioned(row, update, patch);
        const reopen = patch?.reopen === true;
        await client.query(
          `UPDATE jobs SET status = $2, status_updates = $3, results = $4, updated_at = $5,
             secrets = CASE WHEN $6 THEN NULL ELSE secrets END,
             finalizing = CASE WHEN $7 THEN false ELSE finalizing END,
             cancel_requested = CASE WHEN $7 THEN false ELSE cancel_requested END
           WHERE id = $1`,
          [id, job.status, JSON.stringify(job.statusUpdates), job.results === null ? null : JSON.stringify(job.results), job.updatedAt, TERMINAL_STATUSES.has(job.status), reopen],
        );
        return job;
      });
    },
    requestCancel: (id) => changed(`UPDATE jobs SET cancel_requested = true WHERE id = $1 AND ${UNFINISHED}`, [id]),
    async setJobSecrets(id, secrets) {
      await pool.query('UPDATE jobs SET secrets = $2 WHERE id = $1', [id, JSON.stringify(secrets)]);
    },
    // The database's clock decides staleness, so nodes with skewed clocks agree.
    claimFinalization: (id, opts = {}) =>
      opts.takeOverAfterMs === undefined
        ? changed('UPDATE jobs SET finalizing = true, finalizing_since = now() WHERE id = $1 AND finalizing = false', [id])
        : changed(
            `UPDATE jobs SET finalizing = true, finalizing_since = now()
             WHERE id = $1 AND (finalizing = false OR finalizing_since IS NULL OR finalizing_since <= now() - make_interval(secs => $2))`,
            [id, opts.takeOverAfterMs / 1000],
          ),
    async renewFinalization(id) {
      await pool.query('UPDATE jobs SET finalizing_since = now() WHERE id = $1 AND finalizing = true', [id]);
    },
    async releaseFinalization(id) {
      await pool.query('UPDATE jobs SET finalizing = false WHERE id = $1', [id]);
    },

    ...rowMethods(pool),

    async getCachedCall(key) {
      const waiting = cacheWrites.get(key) ?? cacheWriting.get(key);
      if (waiting) return waiting.value;
      const row = await lookUp(key);
      if (!row) return undefined;
      cacheTouches.set(key, cacheClock());
      cacheTimer ??= setTimeout(() => void flushCachedCalls(), CACHE_WRITE_DELAY_MS);
      return { content: row.content, usage: row.usage === null ? null : (JSON.parse(row.usage) as CachedCall['usage']) };
    },
    async putCachedCall(key, value, maxEntries) {
      // A text column refuses NUL, and one such entry would fail its whole batch: not cached.
      if (value.content.includes('\u0000')) return;
      // Written behind, many to a statement (see cache-writes.ts): a row does not wait on a round
      // trip for its reply's entry, except for the put that fills a batch.
      cacheWrites.set(key, { value, lastUsed: cacheClock() });
      cacheBound = maxEntries;
      if (cacheWrites.size >= cacheWriteBatchLimit(maxEntries)) await flushCachedCalls();
      else cacheTimer ??= setTimeout(() => void flushCachedCalls(), CACHE_WRITE_DELAY_MS);
      cacheWriteFailures.throwKept();
    },
    flushCachedCalls,
    async insertApiKey(key) {
      await pool.query('INSERT INTO api_keys (id, owner_id, hash, prefix, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        key.id,
        key.ownerId,
        key.hash,
        key.prefix,
        key.createdAt,
        key.revokedAt,
      ]);
    },
    async findApiKey(hash) {
      const row = await one<KeyRow>('SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL', [hash]);
      return row && toKey(row);
    },
    async listApiKeys() {
      const { rows } = await pool.query<KeyRow>('SELECT * FROM api_keys ORDER BY created_at, seq');
      return rows.map(toKey);
    },
    revokeApiKey: (id, at) => changed('UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at]),
    async hasApiKeys() {
      return (await one('SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1', [])) !== undefined;
    },

    async close() {
      await flushCachedCalls();
      await pool.end();
    },
  };
}
