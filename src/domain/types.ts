/** The vocabulary of assay's records; see docs/glossary.md. */

export const EVAL_TYPES = ['classify', 'score', 'compare'] as const;
export type EvalType = (typeof EVAL_TYPES)[number];

export const JOB_STATUSES = ['pending', 'queued', 'running', 'completed', 'error', 'user_error'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['completed', 'error', 'user_error']);

export const MODEL_SOURCES = ['serverless', 'dedicated', 'external'] as const;
export type ModelSource = (typeof MODEL_SOURCES)[number];

export const FILE_PURPOSES = [
  'fine-tune',
  'eval',
  'eval-sample',
  'eval-output',
  'eval-summary',
  'batch-generated',
  'batch-api',
] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];
export type FileFormat = 'jsonl' | 'csv';

/** Where a file is in its life: announced by `POST /files`, then stored once its bytes arrive. */
export type FileState = 'awaiting_upload' | 'ready';

export interface FileRecord {
  id: string;
  ownerId: string;
  filename: string;
  purpose: FilePurpose;
  format: FileFormat;
  bytes: number;
  lineCount: number;
  columns: string[];
  state: FileState;
  createdAt: number; // unix seconds
}

export interface StatusUpdate {
  status: JobStatus;
  message: string;
  timestamp: string;
}

/** One model endpoint as a job uses it: a judge, the model under test, or model A/B. */
export interface ModelCall {
  model: string;
  source: ModelSource;
  /** Explicit base URL for `external` models; null means the server's configured provider or a shortcut. */
  baseUrl: string | null;
  /** Key into the job's secrets map for this endpoint's API token, when one was given. */
  secretRef: string | null;
  maxTokens: number;
  temperature: number;
  numWorkers: number | null;
}

export interface JudgeSpec extends ModelCall {
  systemTemplate: string;
}

export interface GeneratorSpec extends ModelCall {
  systemTemplate: string;
  inputTemplate: string;
}

/** How a row's judged response is obtained: read from a dataset column, or generated. */
export type ResponseSource = { kind: 'column'; column: string } | { kind: 'generate'; generator: GeneratorSpec };

interface SpecBase {
  fileId: string;
  judge: JudgeSpec;
  /** False: every call goes to the model, bypassing the shared call cache. */
  useCache?: boolean;
}
export interface ClassifySpec extends SpecBase {
  type: 'classify';
  target: ResponseSource;
  labels: string[];
  passLabels: string[];
}
export interface ScoreSpec extends SpecBase {
  type: 'score';
  target: ResponseSource;
  minScore: number;
  maxScore: number;
  passThreshold: number;
}
export interface CompareSpec extends SpecBase {
  type: 'compare';
  a: ResponseSource;
  b: ResponseSource;
  positionBiasCorrection: boolean;
}
/** A validated, normalised job: what the engine runs. Holds no secrets, only references to them. */
export type JobSpec = ClassifySpec | ScoreSpec | CompareSpec;

export interface JobRecord {
  id: string;
  ownerId: string;
  type: EvalType;
  status: JobStatus;
  statusUpdates: StatusUpdate[];
  /** The request's `parameters` as the caller sent them, tokens removed: what GET echoes. */
  parameters: Record<string, unknown>;
  spec: JobSpec;
  rowCount: number;
  results: Record<string, unknown> | null;
  /** Set by a cancel request; the job then stops and ends in `user_error` with what it finished. */
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Rows a job has results for, and how many of those failed. */
export interface RowCounts {
  done: number;
  failed: number;
}

/** Outcomes that count as failed rows (and that retry-failed runs again). */
export const FAILED_OUTCOMES = ['generation_failed', 'judge_failed'] as const;

/** Who spent tokens on a row: the judge, or the model under test (`target`, or compare's `a` / `b`). */
export type UsageRole = 'judge' | 'target' | 'a' | 'b';
export interface TokenCount {
  prompt: number;
  completion: number;
}
/**
 * Tokens a row spent, by role (roles that made no call are absent), and how many of its calls the
 * shared call cache answered (`cacheHits`) or had to pass to a model (`cacheMisses`).
 */
export type RowUsage = Partial<Record<UsageRole, TokenCount>> & { cacheHits?: number; cacheMisses?: number };

/** What one row produced. Written by an upsert on (job, row index), so redelivery is harmless. */
export interface RowResult {
  rowIndex: number;
  /** The row counts toward the job's pass/score/win figures only when `ok`. */
  outcome: 'ok' | 'invalid' | 'generation_failed' | 'judge_failed';
  label: string | null;
  score: number | null;
  /** compare: the final decision. */
  choice: 'A' | 'B' | 'Tie' | null;
  /** Failed calls counted by this row: generation (compare: both models) and judge (compare: both passes). */
  generationFailures: number;
  judgeFailures: number;
  usage: RowUsage;
  /** The dataset row itself, kept so rows can be browsed and searched without the file. */
  input?: Record<string, unknown>;
  /**
   * The chunk run that wrote the row (distributed shape): a result segment stands for its rows only
   * while each stored row carries the segment's run (contracts.ts, `ResultSegments`).
   */
  run?: string;
  /** The fields this row adds to the result file (generations, verdict, feedback, audit). */
  fields: Record<string, unknown>;
  /**
   * `input` and `fields` as JSON text, when the engine has made them for the row's line in the
   * result file: the stores write these instead of serializing the same objects again.
   */
  json?: RowJson;
}

/** A finished row's input and fields as JSON text (`JSON.stringify` of each), made once per row. */
export interface RowJson {
  input: string;
  fields: string;
}

/**
 * A stored row result as a job's result file reads it: its fields left as the JSON text they were
 * stored as, which the file can splice in without parsing (result-file.ts, `storedResultLine`).
 */
export type StoredRowResult = Omit<RowResult, 'fields' | 'input'> & { fieldsJson: string };

/** RFC 3339 UTC with microseconds, as Together's API writes timestamps. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace('Z', '000Z');
}

/** An API key; only its SHA-256 hash is stored. */
export interface ApiKeyRecord {
  id: string;
  ownerId: string;
  /** Hex SHA-256 of the key. */
  hash: string;
  /** The key's first characters, to recognise it in a listing. */
  prefix: string;
  createdAt: number; // unix seconds
  revokedAt: number | null;
}
