/**
 * How records are stored, the same in both backends, and how a table row becomes a record.
 * Structured values are JSON text (text, not JSONB, so key order survives). The two databases
 * differ only in types: PostgreSQL returns bigint columns as strings and booleans as booleans,
 * SQLite returns numbers and 0/1.
 *
 * A row result keeps the scalar columns queries filter on apart, and its usage, result fields and
 * input as JSON text.
 */
import type { ApiKeyRecord, FileRecord, JobRecord, JobStatus, RowResult, RowUsage, StatusUpdate, StoredRowResult } from '../domain/types.js';

/** A bigint column: a string from PostgreSQL, a number from SQLite; every value assay stores fits a double. */
type Big = number | string;

export interface FileRow {
  id: string;
  owner_id: string;
  filename: string;
  purpose: string;
  format: string;
  bytes: Big;
  line_count: number;
  columns: string;
  state: string;
  created_at: Big;
}

export interface JobRow {
  id: string;
  owner_id: string;
  type: string;
  status: string;
  status_updates: string;
  parameters: string;
  spec: string;
  row_count: number;
  results: string | null;
  cancel_requested: boolean | number;
  created_at: string;
  updated_at: string;
}

export interface KeyRow {
  id: string;
  owner_id: string;
  hash: string;
  prefix: string;
  created_at: Big;
  revoked_at: Big | null;
}

export function toFile(row: FileRow): FileRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    filename: row.filename,
    purpose: row.purpose as FileRecord['purpose'],
    format: row.format as FileRecord['format'],
    bytes: Number(row.bytes),
    lineCount: row.line_count,
    columns: JSON.parse(row.columns) as string[],
    state: row.state as FileRecord['state'],
    createdAt: Number(row.created_at),
  };
}

export function toJob(row: JobRow): JobRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    type: row.type as JobRecord['type'],
    status: row.status as JobStatus,
    statusUpdates: JSON.parse(row.status_updates) as StatusUpdate[],
    parameters: JSON.parse(row.parameters) as Record<string, unknown>,
    spec: JSON.parse(row.spec) as JobRecord['spec'],
    rowCount: row.row_count,
    results: row.results === null ? null : (JSON.parse(row.results) as Record<string, unknown>),
    cancelRequested: row.cancel_requested === true || row.cancel_requested === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * A job row moved by a status transition, as both stores return it (they then write it back):
 * the new status and its update appended, results replaced if given, a reopen clearing the cancel.
 */
export function transitioned(row: JobRow, update: StatusUpdate, patch?: { results?: Record<string, unknown> | null; reopen?: boolean }): JobRecord {
  const job = toJob(row);
  job.status = update.status;
  job.statusUpdates.push(update);
  job.updatedAt = update.timestamp;
  if (patch?.results !== undefined) job.results = patch.results;
  if (patch?.reopen === true) job.cancelRequested = false;
  return job;
}

export function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

/** A `rows` table row as both databases return it. */
export interface ResultRow {
  row_index: number;
  outcome: string;
  label: string | null;
  score: number | null;
  choice: string | null;
  generation_failures: number;
  judge_failures: number;
  usage: string | null;
  fields: string;
  input?: string | null;
}

/** The columns a RowResult needs, without the input (selected only when browsing). */
export const RESULT_COLUMNS = 'row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields';

export function toResult(row: ResultRow): RowResult {
  const { fieldsJson, ...stored } = toStoredResult(row);
  return {
    ...stored,
    fields: JSON.parse(fieldsJson) as Record<string, unknown>,
    ...(row.input ? { input: JSON.parse(row.input) as Record<string, unknown> } : {}),
  };
}

/** A row result with its fields left as stored, for the result file's pass over every row. */
export function toStoredResult(row: ResultRow): StoredRowResult {
  return {
    rowIndex: row.row_index,
    outcome: row.outcome as RowResult['outcome'],
    label: row.label,
    score: row.score,
    choice: row.choice as RowResult['choice'],
    generationFailures: row.generation_failures,
    judgeFailures: row.judge_failures,
    usage: row.usage === null ? {} : (JSON.parse(row.usage) as RowUsage),
    fieldsJson: row.fields,
  };
}
