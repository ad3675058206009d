/**
 * The evaluation engine: creates jobs, runs their row chunks, and finalizes them. It runs on the
 * contracts in contracts.ts and knows nothing of SQLite, HTTP or processes.
 *
 * A job's life: created `pending` (validated; 400s happen before this), planned into row chunks and
 * `queued`, `running` from its first chunk, then exactly one caller wins the finalization claim,
 * writes the result file and sets `completed`, `error` (too many failed rows) or `user_error`.
 */
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/config.js';
import { AssayError, NotFoundError, ValidationError } from '../domain/errors.js';
import { parseJobRequest } from '../domain/job-request.js';
import { timestamp, TERMINAL_STATUSES, type FileRecord, type JobRecord, type JobStatus, type RowResult } from '../domain/types.js';
import { readRows } from '../datasets/rows.js';
import { defaultWorkers } from '../providers/endpoints.js';
import type { ModelRegistry } from '../providers/registry.js';
import type { BlobStore, RowChunk, Store, TaskQueue } from './contracts.js';
import { newFileId, newJobId } from './ids.js';
import { createLimiter } from './limiter.js';
import { checkAgainstDataset, compileJob } from './prepare.js';
import { writeResultFile } from './result-file.js';
import { evaluateRow, JobFatalError, type BoundModel, type RowContext } from './row-evaluator.js';

export interface EngineDeps {
  store: Store;
  blobs: BlobStore;
  queue: TaskQueue;
  models: ModelRegistry;
  config: Config;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

export interface Engine {
  createJob(body: unknown, ownerId: string): Promise<JobRecord>;
  /** Starts consuming chunks and resumes jobs left unfinished by a previous process. */
  start(): Promise<void>;
  /** Resolves when no job is being planned or finalized; for tests and shutdown. */
  close(): Promise<void>;
}

/** Rows per queue task: large enough that the queue is never the bottleneck, small enough to spread. */
const CHUNK_SIZE = 64;
/** Rows buffered before a write; also written at the end of every chunk. */
const WRITE_BATCH = 32;
/** Chunks worked on at once across all jobs; rows inside are further limited per job and endpoint. */
const CHUNK_CONCURRENCY = 16;

/** Per-job runtime state shared by the chunks of that job running in this process. */
interface ActiveJob {
  ctx: RowContext;
  file: FileRecord;
  datasetPath: string;
  abort: AbortController;
}

export function createEngine(deps: EngineDeps): Engine {
  const { store, blobs, queue, models, config } = deps;
  const log = deps.log ?? (() => {});
  const active = new Map<string, Promise<ActiveJob>>();
  const background = new Set<Promise<unknown>>();

  /** Background work has an owner: it is tracked so close() can wait for it. */
  function track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => log('error', 'background task failed', { err: String(err) }));
    background.add(tracked);
    void tracked.finally(() => background.delete(tracked));
  }

  async function move(id: string, from: readonly JobStatus[], status: JobStatus, message: string, results?: Record<string, unknown> | null) {
    return store.transitionJob(id, from, { status, message, timestamp: timestamp() }, results === undefined ? undefined : { results });
  }

  async function failJob(job: JobRecord, status: 'error' | 'user_error', message: string): Promise<void> {
    active.get(job.id)?.then((a) => a.abort.abort()).catch(() => {});
    await queue.cancel(job.id);
    const moved = await move(job.id, ['pending', 'queued', 'running'], status, message, { error: message });
    if (moved) log('warn', 'job failed', { job: job.id, status, message });
  }

  async function loadFile(job: JobRecord): Promise<FileRecord> {
    const file = await store.getFile(job.spec.fileId);
    if (!file || file.state !== 'ready') {
      throw new JobFatalError(`the dataset file ${job.spec.fileId} no longer exists`);
    }
    return file;
  }

  function bind(call: Parameters<ModelRegistry['get']>[0], secrets: Record<string, string>): BoundModel {
    return { model: models.get(call, secrets), limiter: createLimiter(defaultWorkers(call)) };
  }

  async function activate(job: JobRecord): Promise<ActiveJob> {
    const file = await loadFile(job);
    const compiled = compileJob(job.spec);
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
    const ctx: RowContext = { spec, compiled, judge: bind(spec.judge, secrets), generators, signal: abort.signal };
    return { ctx, file, datasetPath: blobs.pathFor(file.id), abort };
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

  async function runChunk(task: RowChunk): Promise<void> {
    const job = await store.getJob(task.jobId);
    if (!job || TERMINAL_STATUSES.has(job.status)) return;
    let state: ActiveJob;
    try {
      state = await activeJob(job);
    } catch (err) {
      await failJob(job, 'user_error', err instanceof Error ? err.message : String(err));
      return;
    }
    if (job.status === 'queued') await move(job.id, ['queued'], 'running', 'Job status updated');

    const done = await store.doneRowIndexes(job.id, task.start, task.end);
    const pending: RowResult[] = [];
    const inFlight: Promise<void>[] = [];
    const flush = async (): Promise<void> => {
      if (pending.length > 0) await store.saveRows(job.id, pending.splice(0));
    };
    let fatal: JobFatalError | null = null;
    for await (const row of readRows(state.datasetPath, state.file.format, { from: task.start })) {
      if (row.index >= task.end || state.abort.signal.aborted) break;
      if (done.has(row.index)) continue;
      inFlight.push(
        evaluateRow(state.ctx, row.index, row.data).then(
          async (result) => {
            // A row cut short by an abort (shutdown, a fatal error) is not a result: it runs again on resume.
            if (state.abort.signal.aborted) return;
            pending.push(result);
            if (pending.length >= WRITE_BATCH) await flush();
          },
          (err: unknown) => {
            if (err instanceof JobFatalError) {
              fatal ??= err;
              state.abort.abort();
            } else throw err;
          },
        ),
      );
    }
    await Promise.all(inFlight);
    await flush();
    if (fatal !== null) {
      await failJob(job, 'user_error', (fatal as JobFatalError).message);
      return;
    }
    if (state.abort.signal.aborted) return;
    if ((await store.countRows(job.id)) >= job.rowCount) await finalize(job.id);
  }

  async function finalize(jobId: string): Promise<void> {
    if (!(await store.claimFinalization(jobId))) return;
    const job = await store.getJob(jobId);
    if (!job || TERMINAL_STATUSES.has(job.status)) return;
    active.delete(jobId);
    let file: FileRecord;
    try {
      file = await loadFile(job);
    } catch (err) {
      await failJob(job, 'user_error', (err as Error).message);
      return;
    }
    const resultId = newFileId();
    const destPath = blobs.pathFor(resultId);
    const info = await writeResultFile({
      store,
      jobId,
      spec: job.spec,
      datasetPath: blobs.pathFor(file.id),
      datasetFormat: file.format,
      destPath,
      summary: { labelCountsAsString: config.labelCountsAsString },
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
    const failedShare = summary.totalRows === 0 ? 0 : summary.failedRows / summary.totalRows;
    if (failedShare > config.maxFailedRowShare) {
      const message =
        `${summary.failedRows} of ${summary.totalRows} rows failed (${(100 * failedShare).toFixed(1)}%, above the ` +
        `${(100 * config.maxFailedRowShare).toFixed(0)}% limit); see the result file's error fields`;
      await move(jobId, ['running', 'queued'], 'error', message, { error: message, ...results });
    } else {
      await move(jobId, ['running', 'queued'], 'completed', 'Job completed', results);
    }
  }

  /** Splits a job's rows into chunks and queues them; rows already done are skipped by the workers. */
  async function plan(job: JobRecord): Promise<void> {
    const tasks: RowChunk[] = [];
    for (let start = 0; start < job.rowCount; start += CHUNK_SIZE) {
      tasks.push({ jobId: job.id, start, end: Math.min(start + CHUNK_SIZE, job.rowCount) });
    }
    if (job.status === 'pending') await move(job.id, ['pending'], 'queued', 'Job queued');
    await queue.enqueue(tasks);
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
      if (file.purpose === 'eval-output' && file.lineCount === 0) {
        throw new ValidationError(`the file ${file.id} has no rows`, 'parameters.input_data_file_path');
      }
      checkAgainstDataset(compileJob(parsed.spec), file, config.strictColumns);
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
        createdAt: now,
        updatedAt: now,
      };
      await store.insertJob(job, parsed.secrets);
      track(plan(job));
      return job;
    },

    async start() {
      queue.consume(
        (task) =>
          runChunk(task).catch(async (err: unknown) => {
            // An unexpected failure (not a row's): end the job rather than leave it running forever.
            log('error', 'chunk failed', { job: task.jobId, err: err instanceof Error ? err.stack : String(err) });
            const job = await store.getJob(task.jobId);
            const message = err instanceof AssayError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
            if (job) await failJob(job, 'error', message);
          }),
        { concurrency: CHUNK_CONCURRENCY },
      );
      for (const job of await store.listUnfinishedJobs()) {
        await store.releaseFinalization(job.id);
        log('info', 'resuming job', { job: job.id, status: job.status });
        track(plan(job));
      }
    },

    async close() {
      for (const entry of active.values()) entry.then((a) => a.abort.abort()).catch(() => {});
      await queue.close();
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

export { NotFoundError };
