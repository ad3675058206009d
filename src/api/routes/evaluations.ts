/** Evaluations API under /v1, with the legacy plural paths released SDKs still call. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { JOB_STATUSES, MODEL_SOURCES, TERMINAL_STATUSES, type JobRecord, type JobStatus } from '../../domain/types.js';
import type { Engine } from '../../engine/engine.js';
import type { Store } from '../../engine/contracts.js';
import { createJobsCache, frozen } from '../jobs-cache.js';
import { jobJson } from '../serialize.js';

interface Deps {
  engine: Engine;
  store: Store;
  models: string[];
}

const MAX_LIMIT = 100;
/** Job list answers kept (by owner and query), and jobs kept for their status. */
const LISTS_KEPT = 64;
const JOBS_KEPT = 256;

function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 10;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError(`limit must be a positive integer; got "${String(raw)}"`, 'limit');
  return Math.min(limit, MAX_LIMIT);
}

function parseStatus(raw: unknown): JobStatus | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !(JOB_STATUSES as readonly string[]).includes(raw)) {
    throw new ValidationError(`status must be one of ${JOB_STATUSES.join(', ')}; got "${String(raw)}"`, 'status');
  }
  return raw as JobStatus;
}

export function registerEvaluationRoutes(app: FastifyInstance, deps: Deps): void {
  const { engine, store } = deps;

  app.post('/v1/evaluation', async (request) => {
    const job = await engine.createJob(request.body, request.ownerId);
    return { workflow_id: job.id, status: 'pending' };
  });

  // Lists (as their JSON answers) and jobs are kept until a job changes, where the store can tell
  // (jobs-cache.ts). Kept jobs are shared between requests, so they are frozen.
  const version = store.jobsVersion?.bind(store);
  const lists = version ? createJobsCache<string>(version, LISTS_KEPT) : null;
  const jobs = version ? createJobsCache<JobRecord | undefined>(version, JOBS_KEPT) : null;

  const list = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const status = parseStatus(query.status);
    const limit = parseLimit(query.limit);
    const load = async () => (await store.listJobs({ ownerId: request.ownerId, limit, ...(status ? { status } : {}) })).map(jobJson);
    if (!lists) return load();
    const json = await lists.get(JSON.stringify([request.ownerId, limit, status ?? null]), async () => JSON.stringify(await load()));
    return reply.header('content-type', 'application/json; charset=utf-8').send(json);
  };
  app.get('/v1/evaluation', list);
  app.get('/v1/evaluations', list);

  const modelList = async (request: { query: unknown }) => {
    const source = ((request.query ?? {}) as Record<string, unknown>).model_source;
    if (source !== undefined && source !== 'all' && !(MODEL_SOURCES as readonly unknown[]).includes(source)) {
      throw new ValidationError(`model_source must be one of all, ${MODEL_SOURCES.join(', ')}`, 'model_source');
    }
    // Dedicated endpoints are ids the user owns and external models are open-ended: only serverless has a list.
    return { model_list: source === 'dedicated' || source === 'external' ? [] : deps.models };
  };
  app.get('/v1/evaluation/model-list', modelList);
  app.get('/v1/evaluations/model-list', modelList);

  const ownedJob = async (id: string, ownerId: string) => {
    const job = jobs ? await jobs.get(id, async () => frozen(await store.getJob(id))) : await store.getJob(id);
    if (!job || job.ownerId !== ownerId) throw new NotFoundError(`no evaluation job with id "${id}"`, 'id');
    return job;
  };
  /** Unfinished jobs also show their progress (an assay addition beside Together's fields). */
  const withProgress = async (job: JobRecord, body: Record<string, unknown>) =>
    TERMINAL_STATUSES.has(job.status) ? body : { ...body, progress: await engine.progress(job) };

  app.get<{ Params: { id: string } }>('/v1/evaluation/:id', async (request) => {
    const job = await ownedJob(request.params.id, request.ownerId);
    return withProgress(job, jobJson(job));
  });
  app.get<{ Params: { id: string } }>('/v1/evaluation/:id/status', async (request) => {
    const job = await ownedJob(request.params.id, request.ownerId);
    // The upstream schema does not allow `results: null`, so it is left out until there are results.
    return withProgress(job, job.results === null ? { status: job.status } : { status: job.status, results: job.results });
  });
  app.post<{ Params: { id: string } }>('/v1/evaluation/:id/cancel', async (request) =>
    jobJson(await engine.cancelJob(request.params.id, request.ownerId)),
  );
  app.post<{ Params: { id: string } }>('/v1/evaluation/:id/retry-failed', async (request) => {
    const job = await engine.retryFailed(request.params.id, request.ownerId, request.body);
    return withProgress(job, jobJson(job));
  });
}
