/**
 * The embedded Store: one SQLite file (WAL mode) under the data directory. better-sqlite3 is
 * synchronous; the async contract lets a networked store implement the same interface.
 */
import type Sqlite from 'better-sqlite3';
import { Database } from './sqlite-module.js';
import type { JobListQuery, Store } from '../../engine/contracts.js';
import { sha256Hex, type CachedCall } from '../../providers/call-cache.js';
import type { JobStatus, RowCounts, RowResult, StatusUpdate } from '../../domain/types.js';
import { RESULT_COLUMNS, toFile, toJob, toKey, toResult, toStoredResult, transitioned, type FileRow, type JobRow, type KeyRow, type ResultRow } from '../records.js';
import { TERMINAL_STATUSES } from '../../domain/types.js';
import { CACHE_WRITE_DELAY_MS, cacheWriteBatchLimit, createCacheWriteFailures } from '../cache-writes.js';

/**
 * Each entry moves the schema one version forward; PRAGMA user_version records where a file is.
 * Exported for the tests of a migration.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE files (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     filename TEXT NOT NULL,
     purpose TEXT NOT NULL,
     format TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     line_count INTEGER NOT NULL,
     columns TEXT NOT NULL,
     state TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX files_owner ON files (owner_id, created_at);
   CREATE TABLE jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     owner_id TEXT NOT NULL,
     type TEXT NOT NULL,
     status TEXT NOT NULL,
     status_updates TEXT NOT NULL,
     parameters TEXT NOT NULL,
     spec TEXT NOT NULL,
     row_count INTEGER NOT NULL,
     results TEXT,
     secrets TEXT,
     finalizing INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX jobs_owner_status ON jobs (owner_id, status, seq);
   CREATE TABLE rows (
     job_id TEXT NOT NULL,
     row_index INTEGER NOT NULL,
     outcome TEXT NOT NULL,
     label TEXT,
     score REAL,
     choice TEXT,
     generation_failures INTEGER NOT NULL,
     judge_failures INTEGER NOT NULL,
     fields TEXT NOT NULL,
     PRIMARY KEY (job_id, row_index)
   ) WITHOUT ROWID;`,
  `ALTER TABLE rows ADD COLUMN usage TEXT;
   ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;`,
  `ALTER TABLE rows ADD COLUMN input TEXT;
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     prefix TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );`,
  // Row counters kept by saveRows and deleteRows, so progress and completion checks need no scan.
  `ALTER TABLE jobs ADD COLUMN rows_done INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN rows_failed INTEGER NOT NULL DEFAULT 0;
   UPDATE jobs SET
     rows_done = (SELECT COUNT(*) FROM rows WHERE rows.job_id = jobs.id),
     rows_failed = (SELECT COUNT(*) FROM rows WHERE rows.job_id = jobs.id AND outcome IN ('generation_failed', 'judge_failed'));`,
  // A narrow covering index for browsing: filters, counts and pages read it instead of whole rows.
  `CREATE INDEX rows_browse ON rows (job_id, row_index, outcome, label, score, choice);`,
  `CREATE TABLE call_cache (
     key TEXT PRIMARY KEY,
     content TEXT NOT NULL,
     usage TEXT,
     last_used INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX call_cache_lru ON call_cache (last_used);`,
  // Lists a caller's jobs newest first without sorting them on every request.
  `CREATE INDEX jobs_owner ON jobs (owner_id, seq);`,
  // The call cache as a table in insertion order with the key in an index of its own. Keyed by the
  // key itself, each insert landed a whole reply at a random place in the tree, and a commit wrote
  // a page for nearly every entry it added (measured: 52 µs an entry with its row, 32 µs now).
  `CREATE TABLE call_cache_entries (
     id INTEGER PRIMARY KEY,
     key TEXT NOT NULL UNIQUE,
     content TEXT NOT NULL,
     usage TEXT,
     last_used INTEGER NOT NULL
   );
   INSERT INTO call_cache_entries (key, content, usage, last_used)
     SELECT key, content, usage, last_used FROM call_cache ORDER BY last_used;
   DROP TABLE call_cache;
   CREATE INDEX call_cache_entries_lru ON call_cache_entries (last_used);`,
  // The call cache indexed by a number taken from the key (cacheKeyNumber) instead of the key itself.
  `CREATE TABLE cached_calls (
     id INTEGER PRIMARY KEY,
     key_number INTEGER NOT NULL UNIQUE,
     key TEXT NOT NULL,
     content TEXT NOT NULL,
     usage TEXT,
     last_used INTEGER NOT NULL
   );
   INSERT OR IGNORE INTO cached_calls (key_number, key, content, usage, last_used)
     SELECT assay_cache_key_number(key), key, content, usage, last_used FROM call_cache_entries ORDER BY id;
   DROP TABLE call_cache_entries;
   CREATE INDEX cached_calls_lru ON cached_calls (last_used);`,
  // Row results in a table with rowids, keyed by a unique index of their own. As a table without
  // rowid, keyed by (job, row), the table was a b-tree of index pages, where an entry keeps at most
  // about 1,000 bytes on its page: a row with its judge's prompt (1.3 KB in the benchmark) spilled
  // the rest onto an overflow page of its own, a 4 KB page written to the WAL for every row. In a
  // table page a row keeps up to 4 KB, and rows added in order fill its last page. Measured in
  // isolation, 12,000 rows of 1.3 KB in commits of 3: 3.56 against 2.36 WAL pages a row and 27–37
  // against 20–22 µs a row; in commits of 14, 1.90 against 0.98 pages and 22 against 10 µs.
  `CREATE TABLE rows_by_rowid (
     job_id TEXT NOT NULL,
     row_index INTEGER NOT NULL,
     outcome TEXT NOT NULL,
     label TEXT,
     score REAL,
     choice TEXT,
     generation_failures INTEGER NOT NULL,
     judge_failures INTEGER NOT NULL,
     fields TEXT NOT NULL,
     usage TEXT,
     input TEXT
   );
   INSERT INTO rows_by_rowid (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, fields, usage, input)
     SELECT job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, fields, usage, input FROM rows ORDER BY job_id, row_index;
   DROP TABLE rows;
   ALTER TABLE rows_by_rowid RENAME TO rows;
   CREATE UNIQUE INDEX rows_key ON rows (job_id, row_index);
   CREATE INDEX rows_browse ON rows (job_id, row_index, outcome, label, score, choice);`,
  // A counter that moves whenever a job is added or removed or one of the fields a job list or a
  // status shows changes, whichever connection or process writes it: the API keeps job lists and
  // jobs until it moves (api/jobs-cache.ts). Row counters (rows_done, rows_failed), secrets,
  // claims and cancel requests do not move it: the counters change with every row written, and
  // the API shows none of them.
  `CREATE TABLE jobs_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
   INSERT INTO jobs_version (id, n) VALUES (1, 0);
   CREATE TRIGGER jobs_version_insert AFTER INSERT ON jobs BEGIN UPDATE jobs_version SET n = n + 1; END;
   CREATE TRIGGER jobs_version_delete AFTER DELETE ON jobs BEGIN UPDATE jobs_version SET n = n + 1; END;
   CREATE TRIGGER jobs_version_update AFTER UPDATE OF id, owner_id, type, status, status_updates, parameters, results, created_at, updated_at ON jobs
     BEGIN UPDATE jobs_version SET n = n + 1; END;`,
];

/** How often switching a new file to WAL mode is tried while another connection switches it too. */
const WAL_SWITCH_ATTEMPTS = 50;
const WAL_SWITCH_RETRY_MS = 10;

/**
 * Puts the file in WAL mode (a setting the file keeps). Two connections switching a new file at
 * once can make one of them fail at once, without waiting: each holds the lock the other needs, so
 * SQLite refuses the wait rather than deadlock. The loser tries again a moment later and finds
 * the file switched.
 */
function useWal(db: Sqlite.Database): void {
  for (let attempt = 1; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || attempt >= WAL_SWITCH_ATTEMPTS) throw err;
      // Opening a store is synchronous, so the pause is too; it happens only while files are opened together.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, WAL_SWITCH_RETRY_MS);
    }
  }
}

/**
 * Brings a database file up to the last migration, one migration per transaction. Each takes the
 * write lock before it reads the file's version, so processes or threads that open one file at
 * once (a server starting on a fresh data folder while `assay keys` adds its first key, say, or
 * both after an upgrade) apply each migration once: the others wait, then find it done. Read
 * outside the lock, two of them would both apply it, and the second fail ("table files already
 * exists").
 */
function migrate(db: Sqlite.Database): void {
  /** Applies the next migration, if one is due; says whether it did. */
  const step = db.transaction((): boolean => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version >= MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[version]!);
    db.pragma(`user_version = ${version + 1}`);
    return true;
  });
  // The write lock is taken only while a migration may be due: a migrated file is only read.
  let due = (db.pragma('user_version', { simple: true }) as number) < MIGRATIONS.length;
  while (due) due = step.immediate();
}

const HEX_PREFIX = /^[0-9a-f]{13}/;

/**
 * The number the call cache indexes a key by: its first 13 hex digits (52 bits, so a plain
 * number), or those of its SHA-256 for a key that is not a hex digest. An index of numbers is a
 * sixth the size of one of 64-character keys, so an insert reads and writes fewer pages (measured
 * in isolation at 20,000 entries: 35 µs an entry in commits of 14 against 20, and 13 in commits of
 * 115). The table keeps the key itself, so a read only answers for its own key; of two keys with
 * one number (about one in 10^9 at a million entries), the second is simply not cached.
 */
export function cacheKeyNumber(key: string): number {
  const hex = HEX_PREFIX.test(key) ? key : sha256Hex(key);
  return Number.parseInt(hex.slice(0, 13), 16);
}

/** A row's values for `insertRow` and `saveRow`, in their columns' order. */
function rowValues(jobId: string, r: RowResult): unknown[] {
  return [
    jobId,
    r.rowIndex,
    r.outcome,
    r.label,
    r.score,
    r.choice,
    r.generationFailures,
    r.judgeFailures,
    JSON.stringify(r.usage),
    r.json ? r.json.fields : JSON.stringify(r.fields),
    r.json ? r.json.input : r.input ? JSON.stringify(r.input) : null,
  ];
}

const isFailed = (outcome: string | undefined): number => (outcome === 'generation_failed' || outcome === 'judge_failed' ? 1 : 0);

const PAGE = 1000;

/**
 * WAL pages past which a connection whose checkpoints are made in the background checkpoints all
 * the same (64 MB). A busy job reaches it every few seconds, since a WAL written to without pause
 * never starts over otherwise (see checkpointer.ts); 1,000 pages cost both benchmark jobs 0.02–0.04
 * of efficiency, 65,536 gained nothing.
 */
const BACKGROUND_CHECKPOINT_BOUND_PAGES = 16_384;

export interface SqliteStoreOptions {
  /** A checkpointer thread checkpoints this file (see checkpointer.ts): commits here need not. */
  backgroundCheckpoints?: boolean;
}

export function openSqliteStore(file: string, opts: SqliteStoreOptions = {}): Store {
  let db: Sqlite.Database | undefined;
  try {
    db = new Database(file);
    prepareFile(db, opts);
  } catch (err) {
    db?.close();
    // SQLite's own words ("file is not a database") do not say which file.
    throw new Error(`cannot open the database ${file}: ${(err as Error).message}`, { cause: err });
  }
  return storeOn(db);
}

/** Settings, and the file brought up to the last migration. */
function prepareFile(db: Sqlite.Database, opts: SqliteStoreOptions): void {
  // First, so that a connection opened while another process or thread opens the same file waits
  // for it instead of failing at once.
  db.pragma('busy_timeout = 5000');
  useWal(db);
  // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commits.
  db.pragma('synchronous = NORMAL');
  if (opts.backgroundCheckpoints === true) db.pragma(`wal_autocheckpoint = ${BACKGROUND_CHECKPOINT_BOUND_PAGES}`);
  // Used by a migration; registered on every connection, which costs nothing.
  db.function('assay_cache_key_number', { deterministic: true }, (key) => cacheKeyNumber(String(key)));
  migrate(db);
}

/** The store's statements and operations on an opened, migrated file. */
function storeOn(db: Sqlite.Database): Store {
  const q = {
    insertFile: db.prepare(
      `INSERT INTO files (id, owner_id, filename, purpose, format, bytes, line_count, columns, state, created_at)
       VALUES (@id, @ownerId, @filename, @purpose, @format, @bytes, @lineCount, @columns, @state, @createdAt)`,
    ),
    getFile: db.prepare(`SELECT * FROM files WHERE id = ?`),
    listFiles: db.prepare(`SELECT * FROM files WHERE owner_id = ? AND state = 'ready' ORDER BY created_at DESC, rowid DESC`),
    completeFile: db.prepare(
      `UPDATE files SET bytes = @bytes, line_count = @lineCount, columns = @columns, format = @format, state = 'ready' WHERE id = @id`,
    ),
    deleteFile: db.prepare(`DELETE FROM files WHERE id = ?`),
    insertJob: db.prepare(
      `INSERT INTO jobs (id, owner_id, type, status, status_updates, parameters, spec, row_count, results, secrets, created_at, updated_at)
       VALUES (@id, @ownerId, @type, @status, @statusUpdates, @parameters, @spec, @rowCount, @results, @secrets, @createdAt, @updatedAt)`,
    ),
    getJob: db.prepare(`SELECT * FROM jobs WHERE id = ?`),
    jobsVersion: db.prepare(`SELECT n FROM jobs_version WHERE id = 1`).pluck(),
    getSecrets: db.prepare(`SELECT secrets FROM jobs WHERE id = ?`),
    jobCounts: db.prepare(`SELECT status, COUNT(*) AS n FROM jobs GROUP BY status`),
    unfinished: db.prepare(`SELECT * FROM jobs WHERE status NOT IN ('completed', 'error', 'user_error') ORDER BY seq`),
    updateJob: db.prepare(
      `UPDATE jobs SET status = @status, status_updates = @statusUpdates, results = @results, updated_at = @updatedAt,
         secrets = CASE WHEN @terminal THEN NULL ELSE secrets END,
         finalizing = CASE WHEN @reopen THEN 0 ELSE finalizing END,
         cancel_requested = CASE WHEN @reopen THEN 0 ELSE cancel_requested END
       WHERE id = @id`,
    ),
    cancel: db.prepare(
      `UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status NOT IN ('completed', 'error', 'user_error')`,
    ),
    setSecrets: db.prepare(`UPDATE jobs SET secrets = ? WHERE id = ?`),
    // `finalizing` holds the claim's time in ms (0: unclaimed); an older claim may be taken over.
    claim: db.prepare(`UPDATE jobs SET finalizing = @now WHERE id = @id AND (finalizing = 0 OR finalizing <= @staleBefore)`),
    renewClaim: db.prepare(`UPDATE jobs SET finalizing = @now WHERE id = @id AND finalizing <> 0`),
    release: db.prepare(`UPDATE jobs SET finalizing = 0 WHERE id = ?`),
    // Positional parameters, as `rowValues` lists them: binding a row by name, from an object
    // spread for the purpose, cost 25 µs a row against 17 (commit included).
    insertRow: db.prepare(
      `INSERT INTO rows (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields, input)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, row_index) DO NOTHING`,
    ),
    saveRow: db.prepare(
      `INSERT INTO rows (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields, input)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, row_index) DO UPDATE SET outcome = excluded.outcome, label = excluded.label,
         score = excluded.score, choice = excluded.choice, generation_failures = excluded.generation_failures,
         judge_failures = excluded.judge_failures, usage = excluded.usage, fields = excluded.fields,
         input = COALESCE(excluded.input, rows.input)`,
    ),
    doneRows: db.prepare(`SELECT row_index FROM rows WHERE job_id = ? AND row_index >= ? AND row_index < ?`),
    rowCounts: db.prepare(`SELECT rows_done AS done, rows_failed AS failed FROM jobs WHERE id = ?`),
    rowOutcome: db.prepare(`SELECT outcome FROM rows WHERE job_id = ? AND row_index = ?`),
    bumpCounts: db.prepare(`UPDATE jobs SET rows_done = rows_done + ?, rows_failed = rows_failed + ? WHERE id = ?`),
    pageRows: db.prepare(`SELECT ${RESULT_COLUMNS} FROM rows WHERE job_id = ? AND row_index > ? ORDER BY row_index LIMIT ${PAGE}`),
    cacheGet: db.prepare(`SELECT content, usage FROM cached_calls WHERE key_number = ? AND key = ?`),
    cacheTouch: db.prepare(`UPDATE cached_calls SET last_used = ? WHERE key_number = ? AND key = ?`),
    cacheInsert: db.prepare(
      `INSERT INTO cached_calls (key_number, key, content, usage, last_used) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_number) DO NOTHING`,
    ),
    cacheCount: db.prepare(`SELECT COUNT(*) AS n FROM cached_calls`),
    cacheEvict: db.prepare(`DELETE FROM cached_calls WHERE id IN (SELECT id FROM cached_calls ORDER BY last_used LIMIT ?)`),
    insertKey: db.prepare(
      `INSERT INTO api_keys (id, owner_id, hash, prefix, created_at, revoked_at) VALUES (@id, @ownerId, @hash, @prefix, @createdAt, @revokedAt)`,
    ),
    findKey: db.prepare(`SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL`),
    listKeys: db.prepare(`SELECT * FROM api_keys ORDER BY created_at, rowid`),
    revokeKey: db.prepare(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
    anyKey: db.prepare(`SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1`),
  };

  const listJobsStatements = new Map<string, Sqlite.Statement>();
  /** Recency of cache entries: a counter, so two uses in one millisecond still order. */
  let cacheClock = Date.now() * 1000;
  let cacheEntries: number | undefined;
  let cacheBound = Number.POSITIVE_INFINITY;
  const cacheWrites = new Map<string, CachedCall>();
  /** Recency of entries read since the last write, by key. */
  const cacheTouches = new Map<string, number>();
  let cacheTimer: NodeJS.Timeout | null = null;

  /** Writes the cache entries gathered so far, in a transaction of their own. */
  const cacheTransaction = db.transaction((): void => {
    cacheEntries ??= (q.cacheCount.get() as { n: number }).n;
    for (const [key, value] of cacheWrites) {
      const n = cacheKeyNumber(key);
      const added = q.cacheInsert.run(n, key, value.content, value.usage === null ? null : JSON.stringify(value.usage), ++cacheClock).changes;
      if (added > 0) cacheEntries++;
      else q.cacheTouch.run(cacheClock, n, key);
    }
    for (const [key, clock] of cacheTouches) q.cacheTouch.run(clock, cacheKeyNumber(key), key);
    if (cacheEntries > cacheBound) {
      // Evict a little below the bound, so eviction runs once per batch of inserts, not per insert.
      cacheEntries -= q.cacheEvict.run(cacheEntries - Math.floor(cacheBound * 0.9)).changes;
    }
  });
  const cacheWriteFailures = createCacheWriteFailures();
  /**
   * A cache that cannot be written only misses later: a failure here never throws from a timer.
   * What was gathered is dropped either way, and the next put rejects with the cause, so the
   * caller can log it.
   */
  const writeCachedCalls = (): void => {
    if (cacheTimer) clearTimeout(cacheTimer);
    cacheTimer = null;
    if ((cacheWrites.size === 0 && cacheTouches.size === 0) || !db.open) return;
    try {
      cacheTransaction();
    } catch (err) {
      // Counted anew on the next write, since the rolled-back inserts were counted.
      cacheEntries = undefined;
      cacheWriteFailures.record(cacheWrites.size, err);
    } finally {
      cacheWrites.clear();
      cacheTouches.clear();
    }
  };

  const saveRows = db.transaction((jobId: string, rows: readonly RowResult[]) => {
    let added = 0;
    let failed = 0;
    for (const r of rows) {
      const values = rowValues(jobId, r);
      // Nearly every row is new: one statement. A row written before (a retry) also needs its old
      // outcome, for the failed-row counter.
      if (q.insertRow.run(...values).changes === 1) {
        added++;
        failed += isFailed(r.outcome);
        continue;
      }
      const before = q.rowOutcome.get(jobId, r.rowIndex) as { outcome: string };
      q.saveRow.run(...values);
      failed += isFailed(r.outcome) - isFailed(before.outcome);
    }
    q.bumpCounts.run(added, failed, jobId);
  });

  const deleteRows = db.transaction((jobId: string, outcomes: readonly string[]) => {
    const marks = outcomes.map(() => '?').join(', ');
    const failed = (db.prepare(`SELECT COUNT(*) AS n FROM rows WHERE job_id = ? AND outcome IN (${marks}) AND outcome IN ('generation_failed', 'judge_failed')`).get(jobId, ...outcomes) as { n: number }).n;
    const removed = db.prepare(`DELETE FROM rows WHERE job_id = ? AND outcome IN (${marks})`).run(jobId, ...outcomes).changes;
    q.bumpCounts.run(-removed, -failed, jobId);
    return removed;
  });

  const transition = db.transaction(
    (id: string, from: readonly JobStatus[], update: StatusUpdate, patch?: { results?: Record<string, unknown> | null; reopen?: boolean }) => {
      const row = q.getJob.get(id) as JobRow | undefined;
      if (!row || !from.includes(row.status as JobStatus)) return undefined;
      const job = transitioned(row, update, patch);
      q.updateJob.run({
        id,
        status: job.status,
        statusUpdates: JSON.stringify(job.statusUpdates),
        results: job.results === null ? null : JSON.stringify(job.results),
        updatedAt: job.updatedAt,
        terminal: TERMINAL_STATUSES.has(job.status) ? 1 : 0,
        reopen: patch?.reopen ? 1 : 0,
      });
      return job;
    },
  );

  return {
    async insertFile(file) {
      q.insertFile.run({ ...file, columns: JSON.stringify(file.columns) });
    },
    async getFile(id) {
      const row = q.getFile.get(id) as FileRow | undefined;
      return row && toFile(row);
    },
    async listFiles(ownerId) {
      return (q.listFiles.all(ownerId) as FileRow[]).map(toFile);
    },
    async completeFile(id, patch) {
      q.completeFile.run({ id, ...patch, columns: JSON.stringify(patch.columns) });
    },
    async deleteFile(id) {
      return q.deleteFile.run(id).changes > 0;
    },
    async insertJob(job, secrets) {
      q.insertJob.run({
        id: job.id,
        ownerId: job.ownerId,
        type: job.type,
        status: job.status,
        statusUpdates: JSON.stringify(job.statusUpdates),
        parameters: JSON.stringify(job.parameters),
        spec: JSON.stringify(job.spec),
        rowCount: job.rowCount,
        results: job.results === null ? null : JSON.stringify(job.results),
        secrets: JSON.stringify(secrets),
        createdAt: job.createdAt,
        updatedAt: job.updatedAt,
      });
    },
    async getJob(id) {
      const row = q.getJob.get(id) as JobRow | undefined;
      return row && toJob(row);
    },
    async getJobSecrets(id) {
      const row = q.getSecrets.get(id) as { secrets: string | null } | undefined;
      return row?.secrets ? (JSON.parse(row.secrets) as Record<string, string>) : {};
    },
    async listJobs(query: JobListQuery) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.ownerId !== undefined) {
        where.push('owner_id = ?');
        args.push(query.ownerId);
      }
      if (query.status !== undefined) {
        where.push('status = ?');
        args.push(query.status);
      }
      const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
      // Four shapes at most; preparing one cost more than running it.
      let statement = listJobsStatements.get(sql);
      if (!statement) listJobsStatements.set(sql, (statement = db.prepare(sql)));
      return (statement.all(...args, query.limit) as JobRow[]).map(toJob);
    },
    async jobsVersion() {
      return q.jobsVersion.get() as number;
    },
    async jobCounts() {
      const rows = q.jobCounts.all() as Array<{ status: JobStatus; n: number }>;
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async listUnfinishedJobs() {
      return (q.unfinished.all() as JobRow[]).map(toJob);
    },
    async transitionJob(id, from, update, patch) {
      return transition(id, from, update, patch);
    },
    async requestCancel(id) {
      return q.cancel.run(id).changes > 0;
    },
    async setJobSecrets(id, secrets) {
      q.setSecrets.run(JSON.stringify(secrets), id);
    },
    async claimFinalization(id, opts = {}) {
      const now = Date.now();
      const staleBefore = opts.takeOverAfterMs === undefined ? -1 : now - opts.takeOverAfterMs;
      return q.claim.run({ id, now, staleBefore }).changes === 1;
    },
    async renewFinalization(id) {
      q.renewClaim.run({ id, now: Date.now() });
    },
    async releaseFinalization(id) {
      q.release.run(id);
    },
    async saveRows(jobId, rows) {
      if (rows.length > 0) saveRows(jobId, rows);
    },
    async doneRowIndexes(jobId, from, to) {
      const rows = q.doneRows.all(jobId, from, to) as Array<{ row_index: number }>;
      return new Set(rows.map((r) => r.row_index));
    },
    async countRows(jobId) {
      return ((q.rowCounts.get(jobId) as RowCounts | undefined) ?? { done: 0 }).done;
    },
    async rowCounts(jobId) {
      return (q.rowCounts.get(jobId) as RowCounts | undefined) ?? { done: 0, failed: 0 };
    },
    async deleteRows(jobId, outcomes) {
      return outcomes.length === 0 ? 0 : deleteRows(jobId, outcomes);
    },
    async *iterateRows(jobId) {
      let after = -1;
      for (;;) {
        const page = q.pageRows.all(jobId, after) as ResultRow[];
        for (const row of page) yield toStoredResult(row);
        if (page.length < PAGE) return;
        after = page[page.length - 1]!.row_index;
      }
    },
    async queryRows(jobId, query) {
      const where = ['job_id = ?'];
      const args: unknown[] = [jobId];
      if (query.outcome === 'failed') where.push(`outcome IN ('generation_failed', 'judge_failed')`);
      else if (query.outcome !== undefined) {
        where.push('outcome = ?');
        args.push(query.outcome);
      }
      if (query.labels !== undefined) {
        where.push(`label IN (${query.labels.map(() => '?').join(', ') || 'NULL'})`);
        args.push(...query.labels);
      }
      if (query.minScore !== undefined) {
        where.push('score >= ?');
        args.push(query.minScore);
      }
      if (query.belowScore !== undefined) {
        where.push('score < ?');
        args.push(query.belowScore);
      }
      if (query.choice !== undefined) {
        where.push('choice = ?');
        args.push(query.choice);
      }
      const clause = where.join(' AND ');
      // Row indexes first (from the narrow index when there is no text search), then only the
      // page's full rows: deep pages and counts never read the bodies of the rows they skip.
      let total: number;
      let page: number[];
      if (query.search !== undefined && query.search !== '') {
        // LIKE folds ASCII case as lower() does, without building a lowered copy of every row.
        const pattern = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        const matches = db
          .prepare(`SELECT row_index FROM rows WHERE ${clause} AND (COALESCE(input, '') LIKE ? ESCAPE '\\' OR fields LIKE ? ESCAPE '\\') ORDER BY row_index`)
          .pluck()
          .all(...args, pattern, pattern) as number[];
        total = matches.length;
        page = matches.slice(query.offset, query.offset + query.limit);
      } else {
        total = db.prepare(`SELECT COUNT(*) FROM rows INDEXED BY rows_browse WHERE ${clause}`).pluck().get(...args) as number;
        page = db
          .prepare(`SELECT row_index FROM rows INDEXED BY rows_browse WHERE ${clause} ORDER BY row_index LIMIT ? OFFSET ?`)
          .pluck()
          .all(...args, query.limit, query.offset) as number[];
      }
      if (page.length === 0) return { total, rows: [] };
      const rows = db
        .prepare(`SELECT ${RESULT_COLUMNS}, input FROM rows WHERE job_id = ? AND row_index IN (${page.map(() => '?').join(', ')}) ORDER BY row_index`)
        .all(jobId, ...page) as ResultRow[];
      return { total, rows: rows.map(toResult) };
    },
    async getCachedCall(key) {
      const waiting = cacheWrites.get(key);
      if (waiting) return waiting;
      const row = q.cacheGet.get(cacheKeyNumber(key), key) as { content: string; usage: string | null } | undefined;
      if (!row) return undefined;
      // Recency is written behind with the next writes, not as a commit per hit.
      cacheTouches.set(key, ++cacheClock);
      cacheTimer ??= setTimeout(writeCachedCalls, CACHE_WRITE_DELAY_MS);
      return { content: row.content, usage: row.usage === null ? null : (JSON.parse(row.usage) as CachedCall['usage']) };
    },
    async putCachedCall(key, value, maxEntries) {
      // Written behind, many to a transaction (see cache-writes.ts).
      cacheWrites.set(key, value);
      cacheBound = maxEntries;
      if (cacheWrites.size >= cacheWriteBatchLimit(maxEntries)) writeCachedCalls();
      else cacheTimer ??= setTimeout(writeCachedCalls, CACHE_WRITE_DELAY_MS);
      cacheWriteFailures.throwKept();
    },
    // One process runs an embedded store's jobs, and its reads see the entries still waiting: they
    // need not be written any sooner.
    async flushCachedCalls() {},
    async insertApiKey(key) {
      q.insertKey.run(key);
    },
    async findApiKey(hash) {
      const row = q.findKey.get(hash) as KeyRow | undefined;
      return row && toKey(row);
    },
    async listApiKeys() {
      return (q.listKeys.all() as KeyRow[]).map(toKey);
    },
    async revokeApiKey(id, at) {
      return q.revokeKey.run(at, id).changes > 0;
    },
    async hasApiKeys() {
      return q.anyKey.get() !== undefined;
    },
    async close() {
      writeCachedCalls();
      db.close();
    },
  };
}
