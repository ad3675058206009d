/**
 * Routes for browsing, beside Together's API (assay additions the web UI uses):
 * a job's rows, paged and filtered; the first rows of a dataset; and a template rendered against
 * one row, for a live preview while a job is being written.
 */
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import type { JobSpec, RowResult } from '../../domain/types.js';
import type { RowQuery, Store } from '../../engine/contracts.js';
import type { FileService } from '../../engine/file-service.js';
import type { Limits } from '../../config/config.js';
import { compileTemplate } from '../../templates/index.js';

interface Deps {
  store: Store;
  files: FileService;
  limits: Pick<Limits, 'maxTemplateChars' | 'maxRenderSteps' | 'maxRenderChars'>;
}

export const MAX_ROWS_PAGE = 500;
export const DEFAULT_ROWS_PAGE = 50;
export const MAX_PREVIEW_ROWS = 100;
const MAX_SEARCH_CHARS = 500;

const OUTCOMES = ['ok', 'invalid', 'failed', 'generation_failed', 'judge_failed'] as const;
const WINNERS = ['A', 'B', 'Tie'] as const;

type Query = Record<string, unknown>;

function single(query: Query, name: string): string | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new ValidationError(`${name} may be given once`, name);
  return raw;
}

function integer(query: Query, name: string, fallback: number, min: number): number {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(`${name} must be an integer of at least ${min}; got "${raw}"`, name);
  }
  return value;
}

function oneOf<T extends string>(query: Query, name: string, allowed: readonly T[]): T | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new ValidationError(`${name} must be one of ${allowed.join(', ')}; got "${raw}"`, name);
  return raw as T;
}

function onlyFor(spec: JobSpec, name: string, types: readonly JobSpec['type'][]): void {
  if (!types.includes(spec.type)) throw new ValidationError(`${name} does not apply to a ${spec.type} job`, name);
}

/**
 * Turns the query string of `GET /v1/evaluation/{id}/rows` into a store query, using the job's
 * spec to say what `pass` means: a label in `pass_labels` (classify) or a score at or above
 * `pass_threshold` (score).
 *
 * @example
 * rowQueryFromParams({ pass: 'false', limit: '20' }, classifySpec)
 * // { offset: 0, limit: 20, labels: ['incorrect'] }
 */
export function rowQueryFromParams(query: Query, spec: JobSpec): RowQuery {
  const out: RowQuery = {
    offset: integer(query, 'offset', 0, 0),
    limit: Math.min(integer(query, 'limit', DEFAULT_ROWS_PAGE, 1), MAX_ROWS_PAGE),
  };
  const outcome = oneOf(query, 'outcome', OUTCOMES);
  if (outcome !== undefined) out.outcome = outcome;

  const pass = oneOf(query, 'pass', ['true', 'false'] as const);
  const label = single(query, 'label');
  if (label !== undefined) {
    onlyFor(spec, 'label', ['classify']);
    if (spec.type === 'classify' && !spec.labels.includes(label)) {
      throw new ValidationError(`label must be one of the job's labels ${JSON.stringify(spec.labels)}; got "${label}"`, 'label');
    }
  }
  if (pass !== undefined) {
    onlyFor(spec, 'pass', ['classify', 'score']);
    if (spec.type === 'classify') {
      const wanted = spec.labels.filter((l) => spec.passLabels.includes(l) === (pass === 'true'));
      out.labels = label === undefined ? wanted : wanted.filter((l) => l === label);
    } else if (spec.type === 'score') {
      if (pass === 'true') out.minScore = spec.passThreshold;
      else out.belowScore = spec.passThreshold;
    }
  } else if (label !== undefined) {
    out.labels = [label];
  }

  const winner = oneOf(query, 'winner', WINNERS);
  if (winner !== undefined) {
    onlyFor(spec, 'winner', ['compare']);
    out.choice = winner;
  }
  const search = single(query, 'q');
  if (search !== undefined) {
    if (search.length > MAX_SEARCH_CHARS) throw new ValidationError(`q must be at most ${MAX_SEARCH_CHARS} characters`, 'q');
    out.search = search;
  }
  return out;
}

function rowJson(row: RowResult) {
  return { row_index: row.rowIndex, outcome: row.outcome, input: row.input ?? null, result: row.fields };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function registerBrowseRoutes(app: FastifyInstance, deps: Deps): void {
  const { store, files, limits } = deps;

  app.get<{ Params: { id: string } }>('/v1/evaluation/:id/rows', async (request) => {
    const job = await store.getJob(request.params.id);
    if (!job || job.ownerId !== request.ownerId) throw new NotFoundError(`no evaluation job with id "${request.params.id}"`, 'id');
    const query = rowQueryFromParams((request.query ?? {}) as Query, job.spec);
    const { total, rows } = await store.queryRows(job.id, query);
    return { object: 'list', total, offset: query.offset, limit: query.limit, data: rows.map(rowJson) };
  });

  app.get<{ Params: { id: string } }>('/v1/files/:id/preview', async (request) => {
    const limit = Math.min(integer((request.query ?? {}) as Query, 'limit', 20, 0), MAX_PREVIEW_ROWS);
    const { file, rows } = await files.head(request.params.id, request.ownerId, limit);
    const columns = file.columns.length > 0 ? file.columns : [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return { object: 'file_preview', id: file.id, columns, rows, line_count: file.lineCount };
  });

  app.post('/v1/templates/render', async (request) => {
    const body = request.body;
    if (!isRecord(body)) throw new ValidationError('the request body must be a JSON object with "template" and "row"', null);
    const { template, row } = body;
    if (typeof template !== 'string') throw new ValidationError('template must be a string', 'template');
    if (template.length > limits.maxTemplateChars) {
      throw new ValidationError(`template must be at most ${limits.maxTemplateChars} characters`, 'template', 'template_too_large');
    }
    if (row !== undefined && !isRecord(row)) throw new ValidationError('row must be an object of column values', 'row');
    const compiled = compileTemplate(template, 'template', { maxSteps: limits.maxRenderSteps, maxOutputChars: limits.maxRenderChars });
    return { rendered: compiled.render(row ?? {}), variables: [...compiled.variables] };
  });
}
