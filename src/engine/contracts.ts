/**
 * The seams between the engine and its backends. The engine imports only these; the embedded
 * backend (SQLite, a local folder, an in-process queue) implements them today, and a PostgreSQL
 * backend can implement the same contracts without touching the engine.
 */
import type { Readable } from 'node:stream';
import type { RowOffset } from '../datasets/offsets.js';
import type { CachedCall } from '../providers/call-cache.js';
import type { SummaryState } from '../stats/aggregate.js';
import type { ApiKeyRecord, FileRecord, JobRecord, JobStatus, RowCounts, RowResult, StatusUpdate, StoredRowResult } from '../domain/types.js';

export interface JobListQuery {
  ownerId?: string;
  status?: JobStatus;
  limit: number;
}

export interface JobCounts {
  total: number;
  done: number;
}

/** A page of a job's rows for browsing; every filter is optional and they combine with AND. */
export interface RowQuery {
  offset: number;
  limit: number;
  /** One outcome, or `failed` for both failure outcomes. */
  outcome?: RowResult['outcome'] | 'failed';
  /** classify: rows whose label is one of these. */
  labels?: readonly string[];
  /** score: rows with score >= minScore and/or score < belowScore. */
  minScore?: number;
  belowScore?: number;
  /** compare: rows with this final decision. */
  choice?: 'A' | 'B' | 'Tie';
  /** Case-insensitive text to find in the row's input or result fields. */
  search?: string;
}

export interface Store {
  insertFile(file: FileRecord): Promise<void>;
  getFile(id: string): Promise<FileRecord | undefined>;
  listFiles(ownerId: string): Promise<FileRecord[]>;
  /** Marks an announced file stored, with what ingest learned about it. */
  completeFile(id: string, patch: Pick<FileRecord, 'bytes' | 'lineCount' | 'columns' | 'format'>): Promise<void>;
  deleteFile(id: string): Promise<boolean>;

  /** Stores a new job with the secrets it needs while it runs (never returned by `getJob`). */
  insertJob(job: JobRecord, secrets: Record<string, string>): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  getJobSecrets(id: string): Promise<Record<string, string>>;
  listJobs(query: JobListQuery): Promise<JobRecord[]>;
  /**
   * A number that changes whenever a job is added or removed, or a field a job list or a status
   * shows changes (status and its updates, parameters, results, timestamps), by any connection or
   * process that shares the database; row counters do not change it. Optional: without it, the API
   * reads jobs and job lists anew for every request.
   */
  jobsVersion?(): Promise<number>;
  /** Jobs not yet in a terminal status, oldest first: what a restarted server resumes. */
  listUnfinishedJobs(): Promise<JobRecord[]>;
  /** How many jobs are in each status (for metrics). */
  jobCounts(): Promise<Partial<Record<JobStatus, number>>>;
  /**
   * Moves a job to `to` only if its status is one of `from` (compare-and-set), appending a status
   * update; returns the updated job, or undefined when another actor moved it first.
   * Terminal moves also forget the job's secrets. `reopen` (a terminal job running again) also
   * clears the finalization claim and any cancel request.
   */
  transitionJob(
    id: string,
    from: readonly JobStatus[],
    update: StatusUpdate,
    patch?: { results?: Record<string, unknown> | null; reopen?: boolean },
  ): Promise<JobRecord | undefined>;
  /** Marks a job for cancellation; false when it is unknown or already terminal. */
  requestCancel(id: string): Promise<boolean>;
  /** Replaces the secrets a job runs with (retry-failed may bring tokens again). */
  setJobSecrets(id: string, secrets: Record<string, string>): Promise<void>;
  /**
   * Claims the right to finalize a job; true for exactly one caller. With `takeOverAfterMs`, a
   * claim made that long ago or earlier counts as abandoned (its holder died mid-finalization)
   * and is taken over.
   */
  claimFinalization(id: string, opts?: { takeOverAfterMs?: number }): Promise<boolean>;
  /** Makes a held claim as fresh as a new one, so a finalization longer than `takeOverAfterMs` keeps it. */
  renewFinalization(id: string): Promise<void>;
  /** Gives up a claim whose holder died before finishing (embedded restart). */
  releaseFinalization(id: string): Promise<void>;

  /** Upserts row results on (job, row index). */
  saveRows(jobId: string, rows: readonly RowResult[]): Promise<void>;
  /** Row indexes in [from, to) that already have a result. */
  doneRowIndexes(jobId: string, from: number, to: number): Promise<Set<number>>;
  countRows(jobId: string): Promise<number>;
  rowCounts(jobId: string): Promise<RowCounts>;
  /** Deletes a job's rows with one of these outcomes, so they run again; returns how many. */
  deleteRows(jobId: string, outcomes: readonly string[]): Promise<number>;
  /** Row results in row order, their fields as stored JSON, read in pages so memory stays flat. */
  iterateRows(jobId: string): AsyncIterable<StoredRowResult>;
  /** A filtered page of rows in row order, with inputs, and how many rows match in all. */
  queryRows(jobId: string, query: RowQuery): Promise<{ total: number; rows: RowResult[] }>;

  /**
   * True when a read is a round trip to a database server (PostgreSQL), false or absent when it is
   * a call into this process (SQLite). The engine stages rows ahead of their model calls only where
   * a cache lookup is a round trip (engine.ts, `stagedRows`).
   */
  readonly readsAreRoundTrips?: boolean;
  /** The shared call cache (see providers/call-cache.ts); a hit also marks the entry used. */
  getCachedCall(key: string): Promise<CachedCall | undefined>;
  /**
   * Stores a reply; when more than `maxEntries` are stored, the least recently used go. A store
   * that writes entries behind may reject with the failure of an earlier batch, so it is logged.
   */
  putCachedCall(key: string, value: CachedCall, maxEntries: number): Promise<void>;
  /**
   * Resolves once the entries put so far can be read by every process sharing the store, so a job
   * rerun on other workers finds its calls. Never rejects: a failure is told to the next put.
   */
  flushCachedCalls(): Promise<void>;

  /**
   * Result segments (PostgreSQL): where a job's result file is assembled from the chunks' own
   * lines instead of from a pass over its stored rows after the last one. Absent where a job's
   * rows all run in one process, which writes the live result file instead (result-file.ts).
   */
  readonly resultSegments?: ResultSegments;

  insertApiKey(key: ApiKeyRecord): Promise<void>;
  /** The unrevoked key with this hash. */
  findApiKey(hash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Revokes by id; false when there is no such unrevoked key. */
  revokeApiKey(id: string, at: number): Promise<boolean>;
  /** True when at least one unrevoked key exists: the server then requires keys. */
  hasApiKeys(): Promise<boolean>;

  close(): Promise<void>;
}

/**
 * A chunk's share of its job's result file: the lines of its rows, in row order, and the summary
 * state of those rows, made by the chunk run that evaluated every one of its rows (`run`, stamped on
 * each row it wrote).
 */
export interface ResultSegment {
  jobId: string;
  /** The chunk's rows: [start, end). */
  start: number;
  end: number;
  run: string;
  /** The result file's lines of rows start to end - 1, as UTF-8. */
  lines: Buffer;
  summary: SummaryState;
}

/**
 * A job's result segments, kept until the job ends (finalized or failed). A segment stands for its rows only
 * while every stored row of its range carries its run: a row written again afterwards (by another
 * worker that took the chunk over, or by a retry) makes the job's file be written the usual way.
 */
export interface ResultSegments {
  /** Keeps a chunk's segment, replacing one kept for the same chunk before; none for a job that has ended. */
  save(segment: ResultSegment): Promise<void>;
  /**
   * Commits the job's result file, as file `fileId`, joined from its segments, when they stand for
   * every row of the job: they cover rows 0 to `rowCount` - 1, and each stored row carries its
   * segment's run. Then it returns the file's size and the segments' summary states in row order;
   * otherwise null, and nothing is written. The bytes go from the segments into the file inside
   * the database.
   */
  commitFile(jobId: string, fileId: string, rowCount: number): Promise<{ bytes: number; summaries: SummaryState[] } | null>;
  /** Forgets the job's segments (once its result file is written, either way). */
  drop(jobId: string): Promise<void>;
}

/**
 * File contents. Bytes are written locally first (ingest validates while it writes), then
 * committed to where every node can read them; readers get a local path, fetched when needed.
 * The embedded backend keeps files in a local folder, so staging, committing and fetching are free.
 */
export interface BlobStore {
  /** A local path where new bytes for this file may be written (atomically, via a temp file). */
  stagingPath(fileId: string): string;
  /** Makes the staged bytes durable and readable by every node. */
  commit(fileId: string): Promise<void>;
  /**
   * A commit that takes the file's bytes while they are staged, instead of reading them back after:
   * for a store that copies files elsewhere (PostgreSQL), so the copy runs alongside the writing.
   * Absent where committing copies nothing (the local folder).
   */
  openCommit?(fileId: string): PendingCommit;
  /** A local path holding the file's bytes. */
  localPath(fileId: string): Promise<string>;
  openRead(fileId: string): Promise<Readable>;
  size(fileId: string): Promise<number>;
  delete(fileId: string): Promise<void>;
}

/** A file's commit under way (BlobStore.openCommit): its bytes in order, then finish or abort. */
export interface PendingCommit {
  /** Takes the next bytes; waits while the store is behind, and rejects once the copy has failed. */
  add(bytes: Buffer): Promise<void>;
  /** After the last bytes: the file is durable and readable by every node, as after `commit`. */
  finish(): Promise<void>;
  /** Gives up: nothing of the file is kept. */
  abort(): Promise<void>;
}

/** A chunk of one job's rows: [start, end). */
export interface RowChunk {
  jobId: string;
  start: number;
  end: number;
  /** Where row `start` begins in the dataset file, so the chunk is read without a scan. */
  offset?: RowOffset;
}

export interface TaskQueue {
  /**
   * True when every task is delivered in this process (the embedded queue): a job's chunks then all
   * run here, and the engine may keep per-job state across them, such as a result file written as
   * rows finish.
   */
  readonly local?: boolean;
  /** Adds tasks; a task whose key (job, start) is already queued or running is not added twice. */
  enqueue(tasks: readonly RowChunk[]): Promise<void>;
  /**
   * Starts delivering tasks to `handler`, at most `concurrency` at once. A shared queue aborts
   * `lost` when it learns that a task it delivered here was given to another consumer (its lease
   * ended, say after a long pause): the handler should start no more of that task's work.
   */
  consume(handler: (task: RowChunk, lost?: AbortSignal) => Promise<void>, opts: { concurrency: number }): void;
  /** Drops a job's queued tasks (running ones finish). */
  cancel(jobId: string): Promise<void>;
  /** Number of tasks of a job that are queued or running (a query on a shared queue, hence async). */
  pending(jobId: string): Promise<number>;
  /** Tasks queued or running, over all jobs (for metrics). */
  size(): Promise<number>;
  /** Stops delivering and waits for the running handlers to finish. */
  close(): Promise<void>;
}
