/**
 * The evaluation engine: creates jobs, runs their row chunks, finalizes them, and lets users
 * cancel a job or run its failed rows again. It runs on the contracts in contracts.ts and knows
 * nothing of SQLite, HTTP or processes.
 *
 * A job's life: created `pending` (validated; 400s happen before this), planned into row chunks and
 * `queued`, `running` from its first chunk, then exactly one caller wins the finalization claim,
 * writes the result file and sets `completed`, `error` (too many failed rows) or `user_error`
 * (a cause the user must fix, or a cancel).
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/config.js';
import { AssayError, NotFoundError, ValidationError } from '../domain/errors.js';
import { parseJobRequest } from '../domain/job-request.js';
import { FAILED_OUTCOMES, timestamp, TERMINAL_STATUSES, type FileRecord, type JobRecord, type JobStatus, type RowResult } from '../domain/types.js';
import { readRows } from '../datasets/rows.js';
import { csvRowOffsetBatches, rowOffsetBatches, type RowOffset } from '../datasets/offsets.js';
import { watchLoopStalls, type LoopStallWatch } from '../observability/loop-stalls.js';
import { defaultWorkers } from '../providers/endpoints.js';
import type { ModelRegistry } from '../providers/registry.js';
import { createSummarizer } from '../stats/aggregate.js';
import type { BlobStore, PendingCommit, ResultSegment, RowChunk, Store, TaskQueue } from './contracts.js';
import { ChunkAbandoned } from './chunk-abandoned.js';
import { newFileId, newJobId } from './ids.js';
import { createLimiter, createSlots, type Slots } from './limiter.js';
import { checkAgainstDataset, compileJob } from './prepare.js';
import { createProgress, progressFromStore, type JobProgress, type ProgressTracker } from './progress.js';
import { createRowWriter, type RowWriter } from './row-writer.js';
import { openLiveResultFile, openResultSegment, rowJson, writeResultFile, type LiveResultFile, type ResultFileInfo } from './result-file.js';
import { callsOf, neededSecrets } from './secrets.js';
import { evaluateRow, JobFatalError, type BoundModel, type RowContext } from './row-evaluator.js';

export { ChunkAbandoned };

export interface EngineDeps {
  store: Store;
  blobs: BlobStore;
  queue: TaskQueue;
  models: ModelRegistry;
  config: Config;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** Told of every finished row (for metrics). */
  onRowFinished?: (outcome: RowResult['outcome']) => void;
  /** Told of each block of a second or more of the event loop that runs the rows (for metrics). */
  onLoopStall?: (ms: number) => void;
  /** Checks each user-supplied `external_base_url` when a job is created (the SSRF guard). */
  endpointGuard?: { check(baseUrl: string, param: string): Promise<void> };
}

export interface Engine {
  createJob(body: unknown, ownerId: string): Promise<JobRecord>;
  /** Stops a job promptly, keeping its finished rows; it ends in `user_error` with `cancelled: true`. */
  cancelJob(id: string, ownerId: string): Promise<JobRecord>;
  /** Runs a finished job's failed rows again (and invalid ones, if asked), leaving the others alone. */
  retryFailed(id: string, ownerId: string, body: unknown): Promise<JobRecord>;
  /** Live progress of an unfinished job. */
  progress(job: JobRecord): Promise<JobProgress>;
  /** Progress of every job running in this process, by job id. */
  liveProgress(): Promise<Array<[string, JobProgress]>>;
  /**
   * Starts work: `consume` takes row chunks from the queue in this process; `resume` re-plans
   * unfinished jobs (needed where the queue does not survive a restart) — otherwise only jobs whose
   * planning never finished are planned again.
   */
  start(opts?: { consume?: boolean; resume?: boolean }): Promise<void>;
  /** Stops consuming; in-flight rows are abandoned (they run again on resume). */
  close(): Promise<void>;
}

/** Rows per queue task: large enough that the queue is never the bottleneck, small enough to spread. */
const CHUNK_SIZE = 64;
/** How often a worker node looks for jobs whose queued work was lost (distributed shape). */
const SWEEP_MS = 30_000;
/** How often a job running here checks whether another node cancelled or ended it. */
const CANCEL_POLL_MS = 1000;
/**
 * Chunks worked on at once in this process, across all jobs; rows inside are further limited per
 * job and endpoint. Enough to keep a job's model calls busy across chunk boundaries, few enough
 * that one worker does not hoard chunks other workers could run.
 */
const CHUNK_CONCURRENCY = 4;
/**
 * Rows in flight beyond the job's call limits, as a share of them (and at least a few): rows that
 * have asked the call cache and wait for a place to call, so a call that ends frees the next at
 * once instead of after a lookup (caller-limit.ts). Only where a lookup is a round trip to the
 * database (PostgreSQL): there a quarter more raised the distributed 50 ms scenario's warm job
 * from about 0.81 to 0.86 of the ideal. SQLite answers a lookup within this process, so staging
 * gains nothing there and would only widen what a crash costs.
 */
const STAGED_ROWS_SHARE = 0.25;
const MIN_STAGED_ROWS = 4;

/** Rows staged ahead of their calls (see STAGED_ROWS_SHARE): none unless lookups are round trips. */
export function stagedRows(callSlots: number, lookupsAreRoundTrips: boolean): number {
  return lookupsAreRoundTrips ? Math.max(MIN_STAGED_ROWS, Math.ceil(callSlots * STAGED_ROWS_SHARE)) : 0;
}
/**
 * Rows a live result file holds in memory while they wait for a slower row before them; past this,
 * the file is written at the job's end instead. Rows finish close to row order, so this is ample.
 */
const LIVE_FILE_MAX_WAITING = 4096;

/** Per-job runtime state shared by the chunks of that job running in this process. */
interface ActiveJob {
  ctx: RowContext;
  file: FileRecord;
  datasetPath: string;
  abort: AbortController;
  progress: ProgressTracker;
  /** Polls the store for a cancel or an end decided by another node. */
  watch: NodeJS.Timeout;
  /** One writer per job in this process: its chunks' results share transactions. */
  writer: RowWriter;
  /** Rows of this job in flight here, from the cache lookup to the written result. */
  rowSlots: Slots;
  /** The result file as rows finish, when this process runs all of a fresh job's rows. */
  liveFile: { id: string; file: LiveResultFile } | null;
  /** Chunks make result segments: the store keeps them, and other processes may run chunks too. */
  segmented: boolean;
  /** The job's segments being kept by this process: its chunks wait for them before finalizing. */
  segmentSaves: Set<Promise<void>>;
}

export function createEngine(deps: EngineDeps): Engine {
  const { store, blobs, queue, models, config } = deps;
  const log = deps.log ?? (() => {});
  const active = new Map<string, Promise<ActiveJob>>();
  const runningChunks = new Map<string, Set<Promise<void>>>();
  const background = new Set<Promise<unknown>>();
  let closed = false;
  let sweeper: NodeJS.Timeout | undefined;
  let stalls: LoopStallWatch | undefined;
  const summaryOptions = { labelCountsAsString: config.labelCountsAsString, prices: config.prices };
  const renderOptions = config.limits ? { maxSteps: config.limits.maxRenderSteps, maxOutputChars: config.limits.maxRenderChars } : {};

  /**
   * A job still unfinished with no chunk queued or running has lost its work (a task that used up
   * its retries, a node that died while planning): plan it again. Planning is idempotent, rows
   * already done are skipped, and a job whose rows are all done is finalized.
   */
  async function sweep(): Promise<void> {
    for (const job of await store.listUnfinishedJobs()) {
      if (closed || job.status === 'pending' || job.cancelRequested) continue;
      if ((await queue.pending(job.id)) > 0) continue;
      log('warn', 'job has no queued work; planning it again', { job: job.id });
      await plan(job);
    }
  }

  /** Background work has an owner: it is tracked so close() can wait for it. */
  function track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => log('error', 'background task failed', { err: String(err) }));
    background.add(tracked);
    void tracked.finally(() => background.delete(tracked));
  }

  async function move(id: string, from: readonly JobStatus[], status: JobStatus, message: string, patch?: { results?: Record<string, unknown> | null; reopen?: boolean }) {
    return store.transitionJob(id, from, { status, message, timestamp: timestamp() }, patch);
  }

  function deactivate(jobId: string): void {
    active
      .get(jobId)
      ?.then((a) => {
        clearInterval(a.watch);
        a.abort.abort();
        void a.liveFile?.file.abandon();
        a.liveFile = null;
      })
      .catch(() => {});
    active.delete(jobId);
  }

  async function failJob(job: JobRecord, status: 'error' | 'user_error', message: string): Promise<void> {
    deactivate(job.id);
    await queue.cancel(job.id);
    const moved = await move(job.id, ['pending', 'queued', 'running'], status, message, { results: { error: message } });
    if (moved) log('warn', 'job failed', { job: job.id, status, message });
    await dropSegments(job.id);
  }

  /** Forgets a job's result segments once it has ended; a failure leaves rows that no job reads. */
  async function dropSegments(jobId: string): Promise<void> {
    await store.resultSegments?.drop(jobId).catch((err: unknown) => log('warn', 'could not drop result segments', { job: jobId, err: String(err) }));
  }

  async function ownedJob(id: string, ownerId: string): Promise<JobRecord> {
    const job = await store.getJob(id);
    if (!job || job.ownerId !== ownerId) throw new NotFoundError(`no evaluation job with id "${id}"`, 'id');
    return job;
  }

  async function loadFile(job: JobRecord): Promise<FileRecord> {
    const file = await store.getFile(job.spec.fileId);
    if (!file || file.state !== 'ready') throw new JobFatalError(`the dataset file ${job.spec.fileId} no longer exists`);
    return file;
  }

  function bind(call: Parameters<ModelRegistry['get']>[0], secrets: Record<string, string>): BoundModel {
    return { model: models.get(call, secrets), limiter: createLimiter(defaultWorkers(call)) };
  }

  async function activate(job: JobRecord): Promise<ActiveJob> {
    const file = await loadFile(job);
    const compiled = compileJob(job.spec, renderOptions);
    const secrets = await store.getJobSecrets(job.id);
    const abort = new AbortController();
    // One listener per call in flight is expected (up to the job's concurrency), not a leak.
    setMaxListeners(0, abort.signal);
    const generators: RowContext['generators'] = {};
    const spec = job.spec;
    if (spec.type === 'compare') {
      if (spec.a.kind === 'generate') generators.a = bind(spec.a.generator, secrets);
      if (spec.b.kind === 'generate') generators.b = bind(spec.b.generator, secrets);
    } else if (spec.target.kind === 'generate') {
      generators.target = bind(spec.target.generator, secrets);
    }
    const ctx: RowContext = { jobId: job.id, ownerId: job.ownerId, spec, compiled, judge: bind(spec.judge, secrets), generators, signal: abort.signal };
    const endpoints = [ctx.judge, ...Object.values(generators)].map((b) => b.model);
    const counts = await store.rowCounts(job.id);
    const progress = createProgress(job.rowCount, counts, endpoints);
    const watch = setInterval(() => {
      store.getJob(job.id).then(
        (now) => {
          if (!now || now.cancelRequested || TERMINAL_STATUSES.has(now.status)) deactivate(job.id);
        },
        () => {},
      );
    }, CANCEL_POLL_MS);
    watch.unref();
    const writer = createRowWriter((rows) => store.saveRows(job.id, rows));
    // As many rows as the job's model calls can use at once (every endpoint's concurrency), and,
    // where a cache lookup is a round trip, a few more that wait for a call with it done.
    const callSlots = [ctx.judge, ...Object.values(generators)].reduce((n, b) => n + b.limiter.limit, 0);
    const lookupsAreRoundTrips = config.cacheEnabled && spec.useCache !== false && store.readsAreRoundTrips === true;
    const staged = stagedRows(callSlots, lookupsAreRoundTrips);
    // Staged rows are let in half a stage at a time, so that their lookups share a query: one
    // freed slot at a time, a distributed job asked PostgreSQL once per 2.9 rows, and half a stage
    // at a time once per 9 (docs/benchmarks.md, step 49). Freed slots go at once whenever fewer
    // rows are held than the calls can take. Held rows include those being written, so while
    // slots are held back as few as half a stage of rows may wait for a call with their lookup
    // done: enough at 50 ms and C = 64, where a lookup takes a millisecond or two.
    const rowSlots = createSlots(callSlots + staged, { grantTogether: Math.max(1, Math.floor(staged / 2)), keepHeld: callSlots });
    return {
      ctx,
      file,
      datasetPath: await blobs.localPath(file.id),
      abort,
      progress,
      watch,
      writer,
      rowSlots,
      liveFile: openLiveFile(job, counts.done),
      segmented: store.resultSegments !== undefined && queue.local !== true,
      segmentSaves: new Set(),
    };
  }

  function openLiveFile(job: JobRecord, rowsDone: number): ActiveJob['liveFile'] {
    // Rows done earlier (a restart, a retry) or run elsewhere would never reach it.
    if (queue.local !== true || rowsDone > 0) return null;
    const id = newFileId();
    const file = openLiveResultFile({
      spec: job.spec,
      rowCount: job.rowCount,
      destPath: blobs.stagingPath(id),
      summary: summaryOptions,
      maxWaiting: LIVE_FILE_MAX_WAITING,
    });
    return { id, file };
  }

  /** Hands over a job's live result file, if this process has one for it. */
  async function takeLiveFile(jobId: string): Promise<ActiveJob['liveFile']> {
    const state = await active.get(jobId)?.catch(() => undefined);
    const live = state?.liveFile ?? null;
    if (state) state.liveFile = null;
    return live;
  }

  function activeJob(job: JobRecord): Promise<ActiveJob> {
    let entry = active.get(job.id);
    if (!entry) {
      entry = activate(job);
      active.set(job.id, entry);
      entry.catch(() => active.delete(job.id));
    }
    return entry;
  }

  /** Runs a chunk's rows not yet done; once `lost` is aborted (the chunk went elsewhere), starts no more of them. */
  async function runChunk(task: RowChunk, lost?: AbortSignal): Promise<void> {
    const job = await store.getJob(task.jobId);
    if (!job || TERMINAL_STATUSES.has(job.status) || job.cancelRequested) return;
    let state: ActiveJob;
    try {
      state = await activeJob(job);
    } catch (err) {
      await failJob(job, 'user_error', err instanceof Error ? err.message : String(err));
      return;
    }
    if (job.status === 'queued') await move(job.id, ['queued'], 'running', 'Job status updated');

    const done = await store.doneRowIndexes(job.id, task.start, task.end);
    const { writer } = state;
    // Each row written carries this run's id; a run that evaluates all of the chunk's rows keeps the
    // chunk's result segment, which stands for the rows while they carry its run.
    const run = state.segmented ? randomBytes(9).toString('base64url') : undefined;
    const segment =
      run !== undefined && done.size === 0
        ? openResultSegment({ jobId: job.id, start: task.start, end: task.end, run, spec: job.spec, summary: summaryOptions })
        : null;
    /**
     * Keeps the segment as soon as its last row is judged, alongside that row's write rather than
     * after it: a job's end, which may be another worker's, finds it kept. Kept before its rows are
     * written is as good: until every row is written the job does not end, and a row never written
     * (a crash) is written by another run, which the segment does not stand for.
     */
    const keep = (made: ResultSegment): void => {
      const saving = store.resultSegments!.save(made).catch((err: unknown) => {
        // Without it the job's end writes the file from the stored rows, as it would for a retry.
        log('warn', 'could not keep a result segment', { job: job.id, start: task.start, err: String(err) });
      });
      state.segmentSaves.add(saving);
      void saving.finally(() => state.segmentSaves.delete(saving));
    };
    const inFlight: Promise<void>[] = [];
    let fatal: JobFatalError | null = null;
    const range = { from: task.start, until: task.end, columns: state.file.columns, ...(task.offset ? { start: task.offset } : {}) };
    // The chunk's rows are read first (a chunk is small) and all wait for a slot at once, ranked by
    // row index: so the oldest chunk takes every free slot and finishes before the next ones
    // (one waiter per chunk would hand slots round-robin, and the chunks would end together).
    const rows: Array<{ index: number; data: Record<string, unknown> }> = [];
    for await (const row of readRows(state.datasetPath, state.file.format, range)) {
      if (!done.has(row.index)) rows.push(row);
    }
    for (const row of rows) {
      // A row holds its slot until its result is written, so the rows a crash can cost are the
      // rows in flight (the job's concurrency, and its staged rows).
      const evaluated = state.rowSlots.acquire(row.index).then(async () => {
        if (state.abort.signal.aborted || lost?.aborted) return;
        try {
          const result = await evaluateRow(state.ctx, row.index, row.data);
          // A row cut short by an abort (cancel, shutdown, a fatal error) is not a result: it runs again on resume.
          if (state.abort.signal.aborted) return;
          state.progress.rowDone(result.outcome);
          deps.onRowFinished?.(result.outcome);
          // The row's JSON, made once for its write and its line (the segment's or the live file's).
          const json = segment || state.liveFile ? rowJson(row.data, result) : undefined;
          const made = segment?.add(row.index, row.data, result, json);
          if (made && !lost?.aborted) keep(made);
          await writer.add({ ...result, input: row.data, run, json });
          state.liveFile?.file.add(row.index, row.data, result, json);
        } catch (err) {
          if (!(err instanceof JobFatalError)) throw err;
          fatal ??= err;
          state.abort.abort();
        }
      });
      inFlight.push(evaluated.finally(() => state.rowSlots.release()));
    }
    await Promise.all(inFlight);
    await writer.flush();
    // Before the chunk counts as done, so a job is only complete once every process can read its calls.
    await store.flushCachedCalls();
    if (fatal !== null) {
      await failJob(job, 'user_error', (fatal as JobFatalError).message);
      return;
    }
    if (state.abort.signal.aborted) {
      if (closed) throw new ChunkAbandoned(job.id);
      return;
    }
    if (lost?.aborted) {
      // Another worker runs the chunk now; its rows done here are stored and will be skipped there.
      log('warn', 'a chunk went to another worker while it ran here (its lease ended); stopped it', { job: job.id, start: task.start });
      return;
    }
    // This process's segments of the job, this chunk's among them, are kept before it may end the job.
    await Promise.all(state.segmentSaves);
    if ((await store.countRows(job.id)) >= job.rowCount) await finalize(job.id);
  }

  /** Runs a chunk, remembered per job so a cancel can wait for the job's chunks to stop. */
  function runTracked(task: RowChunk, lost?: AbortSignal): Promise<void> {
    let set = runningChunks.get(task.jobId);
    if (!set) runningChunks.set(task.jobId, (set = new Set()));
    const run = runChunk(task, lost).finally(() => {
      set.delete(run);
      if (set.size === 0) runningChunks.delete(task.jobId);
    });
    set.add(run);
    return run;
  }

  async function finalize(jobId: string): Promise<void> {
    // A claim as old as a chunk lease is presumed abandoned: its node died while finalizing. So the
    // claim is renewed while this node finalizes, which can take longer than a lease (the result
    // file of a large job); like a chunk's lease, three times per lease.
    const lease = config.chunkLeaseSeconds * 1000;
    if (!(await store.claimFinalization(jobId, { takeOverAfterMs: lease }))) return;
    const renewal = setInterval(() => {
      // One failed renewal is made good by the next; should all fail, another node may take over.
      store.renewFinalization(jobId).catch((err: unknown) => log('warn', 'could not renew the finalization claim', { job: jobId, err: String(err) }));
    }, lease / 3);
    renewal.unref();
    try {
      await finalizeClaimed(jobId);
    } finally {
      clearInterval(renewal);
    }
    // Kept while finalizing can fail and run again; once the job has ended they are never used.
    await dropSegments(jobId);
  }

  /**
   * The job's result file joined from its chunks' result segments and committed as `fileId`, when
   * they stand for all of its rows; otherwise null, and nothing is written.
   */
  async function joinedSegments(job: JobRecord, fileId: string): Promise<ResultFileInfo | null> {
    if (store.resultSegments === undefined || queue.local === true) return null;
    const joined = await store.resultSegments.commitFile(job.id, fileId, job.rowCount);
    if (joined === null) return null;
    const summarizer = createSummarizer(job.spec, summaryOptions);
    for (const state of joined.summaries) summarizer.merge(state);
    return { bytes: joined.bytes, lineCount: job.rowCount, summary: summarizer.finish() };
  }

  /** Finalizes a job whose finalization this node has claimed. */
  async function finalizeClaimed(jobId: string): Promise<void> {
    const began = performance.now();
    const job = await store.getJob(jobId);
    const live = await takeLiveFile(jobId);
    if (!job || TERMINAL_STATUSES.has(job.status)) {
      await live?.file.abandon();
      return;
    }
    deactivate(jobId);
    let file: FileRecord;
    try {
      file = await loadFile(job);
    } catch (err) {
      await live?.file.abandon();
      await failJob(job, 'user_error', (err as Error).message);
      return;
    }
    // The file written as rows finished, when it holds every row; or joined from the chunks'
    // result segments, when they hold every row; otherwise one pass over the stored rows now.
    const finished = live ? await live.file.finish() : null;
    const resultId = finished && live ? live.id : newFileId();
    const joined = finished ? null : await joinedSegments(job, resultId);
    let info: ResultFileInfo;
    let commit: PendingCommit | undefined;
    if (finished) info = finished;
    else if (joined) info = joined;
    else {
      const datasetPath = await blobs.localPath(file.id);
      // Where committing copies the file (PostgreSQL), the copy goes alongside the pass over the
      // rows instead of after it: both lie between the job's last row and its completion.
      commit = blobs.openCommit?.(resultId);
      info = await writeResultFile({
        store,
        jobId,
        spec: job.spec,
        datasetPath,
        datasetFormat: file.format,
        destPath: blobs.stagingPath(resultId),
        summary: summaryOptions,
        ...(commit ? { commit } : {}),
      });
    }
    if (!commit && !joined) await blobs.commit(resultId);
    // How the file was made, and what it cost: all of it lies between the job's last row and its end.
    log('info', 'result file written', {
      job: jobId,
      rows: info.lineCount,
      bytes: info.bytes,
      from: finished ? 'live file' : joined ? 'result segments' : 'stored rows',
      ms: Math.round(performance.now() - began),
    });
    await store.insertFile({
      id: resultId,
      ownerId: job.ownerId,
      filename: `${job.id}-results.jsonl`,
      purpose: 'eval-output',
      format: 'jsonl',
      bytes: info.bytes,
      lineCount: info.lineCount,
      columns: [],
      state: 'ready',
      createdAt: Math.floor(Date.now() / 1000),
    });
    const { summary } = info;
    const results = { ...summary.results, result_file_id: resultId };
    const unfinished = ['pending', 'queued', 'running'] as const;
    if (job.cancelRequested) {
      const done = summary.totalRows;
      const message = `Job cancelled by the user after ${done} of ${job.rowCount} rows; finished rows are in the result file`;
      await move(jobId, unfinished, 'user_error', message, { results: { error: message, cancelled: true, ...results } });
      return;
    }
    const failedShare = summary.totalRows === 0 ? 0 : summary.failedRows / summary.totalRows;
    if (failedShare > config.maxFailedRowShare) {
      const message =
        `${summary.failedRows} of ${summary.totalRows} rows failed (${(100 * failedShare).toFixed(1)}%, above the ` +
        `${(100 * config.maxFailedRowShare).toFixed(0)}% limit); see the result file's error fields`;
      await move(jobId, unfinished, 'error', message, { results: { error: message, ...results } });
    } else {
      await move(jobId, unfinished, 'completed', 'Job completed', { results });
    }
  }

  /**
   * Splits a job's rows into chunks and queues them; rows already done are skipped by the workers.
   * The first chunk is queued at once and the others as a scan of the file finds where they start
   * (a newline scan for JSONL, a parse for CSV), so rows are judged while a large file is scanned
   * and no chunk reads the file from the top.
   */
  async function plan(job: JobRecord): Promise<void> {
    const file = await store.getFile(job.spec.fileId);
    const chunk = (start: number, offset?: RowOffset): RowChunk => ({
      jobId: job.id,
      start,
      end: Math.min(start + CHUNK_SIZE, job.rowCount),
      ...(offset ? { offset } : {}),
    });
    if (job.status === 'pending') await move(job.id, ['pending'], 'queued', 'Job queued');
    await queue.enqueue([chunk(0)]);
    let next = CHUNK_SIZE;
    if (file) {
      const path = await blobs.localPath(file.id);
      const batches = file.format === 'jsonl' ? rowOffsetBatches(path, CHUNK_SIZE, job.rowCount) : csvRowOffsetBatches(path, CHUNK_SIZE);
      try {
        for await (const offsets of batches) {
          const tasks: RowChunk[] = [];
          for (const offset of offsets) {
            // Row 0's chunk is already queued; the others follow in order.
            if (offset.index !== next || next >= job.rowCount) continue;
            tasks.push(chunk(next, offset));
            next += CHUNK_SIZE;
          }
          if (tasks.length > 0) await queue.enqueue(tasks);
        }
      } catch {
        // An unreadable file is reported by the chunks that read it; they still run from the top.
      }
    }
    const rest: RowChunk[] = [];
    for (; next < job.rowCount; next += CHUNK_SIZE) rest.push(chunk(next));
    if (rest.length > 0) await queue.enqueue(rest);
    if ((await store.countRows(job.id)) >= job.rowCount) await finalize(job.id);
  }

  return {
    async createJob(body, ownerId) {
      const parsed = parseJobRequest(body, config);
      const file = await store.getFile(parsed.spec.fileId);
      if (!file || file.state !== 'ready' || file.ownerId !== ownerId) {
        throw new ValidationError(
          `input_data_file_path: no uploaded file with id "${parsed.spec.fileId}"`,
          'parameters.input_data_file_path',
          'file_not_found',
        );
      }
      if (file.lineCount === 0) throw new ValidationError(`the file ${file.id} has no rows`, 'parameters.input_data_file_path');
      checkAgainstDataset(compileJob(parsed.spec, renderOptions), file, config.strictColumns);
      // Last, since it may resolve names: every cheaper reason to refuse the job comes first.
      for (const [param, call] of callsOf(parsed.spec)) {
        if (call.source === 'external' && call.baseUrl !== null) await deps.endpointGuard?.check(call.baseUrl, `parameters.${param}.external_base_url`);
      }
      const now = timestamp();
      const job: JobRecord = {
        id: newJobId(),
        ownerId,
        type: parsed.type,
        status: 'pending',
        statusUpdates: [{ status: 'pending', message: 'Job created and pending for processing', timestamp: now }],
        parameters: parsed.parameters,
        spec: parsed.spec,
        rowCount: file.lineCount,
        results: null,
        cancelRequested: false,
        createdAt: now,
        updatedAt: now,
      };
      await store.insertJob(job, parsed.secrets);
      track(plan(job));
      return job;
    },

    async cancelJob(id, ownerId) {
      const job = await ownedJob(id, ownerId);
      // Cancelling a finished job changes nothing: answer with it as it is.
      if (TERMINAL_STATUSES.has(job.status) || !(await store.requestCancel(id))) return ownedJob(id, ownerId);
      deactivate(id);
      await queue.cancel(id);
      await Promise.allSettled([...(runningChunks.get(id) ?? [])]);
      await finalize(id);
      log('info', 'job cancelled', { job: id });
      return ownedJob(id, ownerId);
    },

    async retryFailed(id, ownerId, body) {
      const job = await ownedJob(id, ownerId);
      if (!TERMINAL_STATUSES.has(job.status)) {
        throw new AssayError(`job ${id} is ${job.status}; only a finished job's failed rows can be run again`, { code: 'job_not_finished', httpStatus: 409 });
      }
      if (job.results === null || typeof job.results.result_file_id !== 'string') {
        throw new AssayError(`job ${id} ended before any row ran (${String(job.results?.error ?? job.status)}); create a new job instead`, {
          code: 'nothing_to_retry',
          httpStatus: 409,
        });
      }
      const options = (body ?? {}) as Record<string, unknown>;
      const secrets = neededSecrets(job.spec, options);
      const outcomes: string[] = [...FAILED_OUTCOMES, ...(options.include_invalid === true ? ['invalid'] : [])];
      const removed = await store.deleteRows(id, outcomes);
      const missing = job.rowCount - (await store.countRows(id));
      if (missing === 0) {
        throw new AssayError(`job ${id} has no failed rows to run again`, { code: 'nothing_to_retry', httpStatus: 409 });
      }
      await store.setJobSecrets(id, secrets);
      const reopened = await move(id, [job.status], 'queued', `Running ${missing} rows again (${removed} failed or invalid, ${missing - removed} never finished)`, {
        results: null,
        reopen: true,
      });
      if (!reopened) throw new AssayError(`job ${id} changed while retrying; try again`, { code: 'conflict', httpStatus: 409 });
      deactivate(id);
      track(plan(reopened));
      return reopened;
    },

    async progress(job) {
      const entry = active.get(job.id);
      if (entry) {
        const state = await entry.catch(() => undefined);
        if (state) return state.progress.snapshot();
      }
      return progressFromStore(job, await store.rowCounts(job.id));
    },

    async liveProgress() {
      const live: Array<[string, JobProgress]> = [];
      for (const [id, entry] of active) {
        const state = await entry.catch(() => undefined);
        if (state) live.push([id, state.progress.snapshot()]);
      }
      return live;
    },

    async start(opts = {}) {
      const { consume = true, resume = true } = opts;
      if (consume) {
        models.preload();
        queue.consume(
          (task, lost) =>
            runTracked(task, lost).catch(async (err: unknown) => {
              if (err instanceof ChunkAbandoned) throw err;
              // An unexpected failure (not a row's): end the job rather than leave it running forever.
              log('error', 'chunk failed', { job: task.jobId, err: err instanceof Error ? err.stack : String(err) });
              const job = await store.getJob(task.jobId);
              const message = err instanceof AssayError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
              if (job) await failJob(job, 'error', message);
            }),
          { concurrency: CHUNK_CONCURRENCY },
        );
        stalls ??= watchLoopStalls((ms) => {
          log('warn', 'the event loop that runs rows was blocked; every row in flight waited as long', { blockedMs: Math.round(ms) });
          deps.onLoopStall?.(ms);
        });
      }
      if (consume && !resume) {
        sweeper = setInterval(() => track(sweep()), SWEEP_MS);
        sweeper.unref();
      }
      for (const job of await store.listUnfinishedJobs()) {
        if (!resume && job.status !== 'pending' && !job.cancelRequested) continue;
        if (resume) await store.releaseFinalization(job.id);
        log('info', 'resuming job', { job: job.id, status: job.status });
        track(job.cancelRequested ? finalize(job.id) : plan(job));
      }
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      stalls?.stop();
      for (const id of [...active.keys()]) deactivate(id);
      await queue.close();
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}
