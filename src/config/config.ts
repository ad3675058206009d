/**
 * The one place assay reads its environment. Everything else receives a frozen `Config`.
 */
import path from 'node:path';
import type { PriceTable } from '../stats/usage.js';
import { parseEndpointLimits, type EndpointLimitsTable } from '../providers/endpoint-limits.js';

function prices(env: Env): PriceTable {
  const raw = str(env, 'ASSAY_PRICES');
  if (raw === null) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('ASSAY_PRICES must be JSON like {"model": {"input": 0.2, "output": 0.6}}');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('ASSAY_PRICES must be a JSON object');
  for (const [model, price] of Object.entries(parsed as Record<string, unknown>)) {
    const p = price as { input?: unknown; output?: unknown } | null;
    if (typeof p?.input !== 'number' || typeof p.output !== 'number' || p.input < 0 || p.output < 0) {
      throw new Error(`ASSAY_PRICES["${model}"] needs non-negative numbers "input" and "output" (per million tokens)`);
    }
  }
  return parsed as PriceTable;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL URL for the distributed shape; null runs embedded on SQLite. */
  databaseUrl: string | null;
  /** How long a PostgreSQL query waits for a connection (new, or free in the pool) before failing, in ms. */
  databaseConnectTimeoutMs: number;
  /** Whether `serve` also runs evaluation workers in its process. */
  serveWorkers: boolean;
  /**
   * Embedded shape: run jobs on a thread of their own, so the API stays fast while they run
   * (default). Off, jobs share the API's event loop (what in-process tests use).
   */
  engineThread: boolean;
  /** Seconds a worker may hold a row chunk before another worker takes it over (distributed). */
  chunkLeaseSeconds: number;
  /** How often the distributed queue returns chunks whose lease ended (seconds). */
  queueMaintenanceSeconds: number;
  /** Public origin used in signed upload URLs; derived from the request's Host header when unset. */
  publicUrl: string | null;
  /** The OpenAI-compatible server that answers `serverless` and `dedicated` models. */
  providerBaseUrl: string;
  providerApiKey: string | null;
  /** Models offered by `GET /v1/evaluation/model-list`. */
  models: string[];
  /** Emit `label_counts` as a JSON string (the upstream schema) instead of an object (the live API). */
  labelCountsAsString: boolean;
  /** Reject datasets with columns no template or response field uses (Together's 2026 rule). */
  strictColumns: boolean;
  /** Judge defaults when a request leaves them out (Together's documented defaults). */
  judgeMaxTokens: number;
  judgeTemperature: number;
  /** Generation defaults for model configs that leave them out. */
  generationMaxTokens: number;
  generationTemperature: number;
  /** Share of failed rows above which a job ends in `error` instead of `completed`. */
  maxFailedRowShare: number;
  /** Timeout of one provider call, in ms. */
  providerTimeoutMs: number;
  /** Retries of one provider call after the first attempt. */
  providerMaxRetries: number;
  /** Secret used to sign upload URLs; random per process when unset. */
  uploadSigningKey: string | null;
  /** How long a signed upload URL stays valid, in seconds. */
  uploadUrlTtlSeconds: number;
  logLevel: string;
  /** The shared call cache: on, and how many replies it keeps (least recently used go first). */
  cacheEnabled: boolean;
  cacheMaxEntries: number;
  /** Per-endpoint concurrency and rate budgets (ASSAY_ENDPOINT_LIMITS, JSON). */
  endpointLimits: EndpointLimitsTable;
  /** Model prices per million tokens, for job cost: `{"model": {"input": 0.2, "output": 0.6}}`. */
  prices: PriceTable;

  /** Serve on a non-loopback address without API keys (refused unless this is set). */
  insecureNoAuth: boolean;
  /** How long a looked-up API key (or the absence of any) is trusted before asking the store again, in ms. */
  apiKeyCacheMs: number;
  /** Hosts and CIDR networks a job's `external_base_url` may reach although they are private (ASSAY_ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** Requests per minute per API key (0: no limit), and how many may come at once. */
  rateLimitRpm: number;
  rateLimitBurst: number;
  /** Which requests get a log line: `errors` (status >= 400), `all`, or `off`. */
  requestLog: RequestLogMode;
  /** Input limits: see `Limits`. */
  limits: Limits;
}

export type RequestLogMode = 'off' | 'errors' | 'all';

/** What one request may bring; each answered with a 4xx that names the limit. */
export interface Limits {
  /** Largest JSON or form body, in bytes (413 beyond). */
  maxBodyBytes: number;
  /** Largest uploaded file, in bytes (413 beyond). */
  maxUploadBytes: number;
  /** Longest line (CSV: record) of an uploaded file, in bytes. */
  maxLineBytes: number;
  /** Most rows in an uploaded dataset. */
  maxRows: number;
  /** Deepest nesting of a JSON value (a dataset row or a request body). */
  maxJsonDepth: number;
  /** Longest template, in characters. */
  maxTemplateChars: number;
  /** Most labels of a classify job, and the longest label in characters. */
  maxLabels: number;
  maxLabelChars: number;
  /** Work and output allowed when rendering one template for one row (see src/templates). */
  maxRenderSteps: number;
  maxRenderChars: number;
}

/** Literal, so reading the configuration loads no other module; config.test.ts keeps them in step. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  maxUploadBytes: 1024 * 1024 * 1024,
  maxLineBytes: 16 * 1024 * 1024,
  maxRows: 1_000_000,
  maxJsonDepth: 64,
  maxTemplateChars: 100_000,
  maxLabels: 1000,
  maxLabelChars: 200,
  maxRenderSteps: 250_000,
  maxRenderChars: 1_000_000,
});

const DEFAULT_MODELS = [
  'openai/gpt-oss-120b',
  'openai/gpt-oss-20b',
  'deepseek-ai/DeepSeek-V3.1',
  'meta-llama/Llama-3.3-70B-Instruct-Turbo',
  'Qwen/Qwen3.5-9B',
];

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

/** A TCP port: 0 (any free port) to 65535. */
function port(env: Env, name: string, fallback: number): number {
  const value = int(env, name, fallback);
  if (value > 65_535) throw new Error(`${name} must be a port number from 0 to 65535, got "${env[name]}"`);
  return value;
}

function num(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got "${raw}"`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

function str(env: Env, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw === '' ? null : raw;
}

function list(env: Env, name: string): string[] {
  return (str(env, name)?.split(',') ?? []).map((s) => s.trim().toLowerCase()).filter(Boolean);
}

function requestLog(env: Env): RequestLogMode {
  const raw = str(env, 'ASSAY_REQUEST_LOG') ?? 'errors';
  if (raw !== 'off' && raw !== 'errors' && raw !== 'all') throw new Error(`ASSAY_REQUEST_LOG must be off, errors or all, got "${raw}"`);
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Checked here, so a typo is named as a setting rather than by the logger as the server starts. */
function logLevel(env: Env): string {
  const raw = str(env, 'ASSAY_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(raw)) throw new Error(`ASSAY_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

function limits(env: Env): Limits {
  const d = DEFAULT_LIMITS;
  return {
    maxBodyBytes: int(env, 'ASSAY_MAX_BODY_BYTES', d.maxBodyBytes, 1024),
    maxUploadBytes: int(env, 'ASSAY_MAX_UPLOAD_BYTES', d.maxUploadBytes, 1),
    maxLineBytes: int(env, 'ASSAY_MAX_LINE_BYTES', d.maxLineBytes, 1),
    maxRows: int(env, 'ASSAY_MAX_ROWS', d.maxRows, 1),
    maxJsonDepth: int(env, 'ASSAY_MAX_JSON_DEPTH', d.maxJsonDepth, 2),
    maxTemplateChars: int(env, 'ASSAY_MAX_TEMPLATE_CHARS', d.maxTemplateChars, 1),
    maxLabels: int(env, 'ASSAY_MAX_LABELS', d.maxLabels, 2),
    maxLabelChars: int(env, 'ASSAY_MAX_LABEL_CHARS', d.maxLabelChars, 1),
    maxRenderSteps: int(env, 'ASSAY_MAX_RENDER_STEPS', d.maxRenderSteps, 1),
    maxRenderChars: int(env, 'ASSAY_MAX_RENDER_CHARS', d.maxRenderChars, 1),
  };
}

/** Checks an allowlist entry: a host name, an IP address, or a CIDR network. */
function allowedHosts(env: Env): string[] {
  const entries = list(env, 'ASSAY_ALLOWED_HOSTS');
  for (const entry of entries) {
    const [net, prefix, extra] = entry.split('/');
    const ok =
      extra === undefined &&
      net !== undefined &&
      /^[a-z0-9.:_-]+$/.test(net) &&
      (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (net.includes(':') ? 128 : 32)));
    if (!ok) throw new Error(`ASSAY_ALLOWED_HOSTS: "${entry}" is not a host name, an IP address or a CIDR network (10.0.0.0/8)`);
  }
  return entries;
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const config: Config = {
    host: str(env, 'HOST') ?? '127.0.0.1',
    port: port(env, 'PORT', 8080),
    dataDir: path.resolve(str(env, 'ASSAY_DATA_DIR') ?? '.assay'),
    databaseUrl: str(env, 'ASSAY_DATABASE_URL'),
    databaseConnectTimeoutMs: int(env, 'ASSAY_DATABASE_CONNECT_TIMEOUT_SECONDS', 30, 1) * 1000,
    serveWorkers: bool(env, 'ASSAY_SERVE_WORKERS', true),
    engineThread: bool(env, 'ASSAY_ENGINE_THREAD', true),
    chunkLeaseSeconds: int(env, 'ASSAY_CHUNK_LEASE_SECONDS', 120, 1),
    queueMaintenanceSeconds: int(env, 'ASSAY_QUEUE_MAINTENANCE_SECONDS', 60, 1),
    publicUrl: str(env, 'ASSAY_PUBLIC_URL')?.replace(/\/+$/, '') ?? null,
    providerBaseUrl: (str(env, 'ASSAY_PROVIDER_BASE_URL') ?? 'https://api.together.ai/v1').replace(/\/+$/, ''),
    providerApiKey: str(env, 'ASSAY_PROVIDER_API_KEY') ?? str(env, 'TOGETHER_API_KEY'),
    models: (str(env, 'ASSAY_MODELS')?.split(',') ?? DEFAULT_MODELS).map((m) => m.trim()).filter(Boolean),
    labelCountsAsString: bool(env, 'ASSAY_LABEL_COUNTS_AS_STRING', false),
    strictColumns: bool(env, 'ASSAY_STRICT_COLUMNS', false),
    judgeMaxTokens: int(env, 'ASSAY_JUDGE_MAX_TOKENS', 32768, 1),
    judgeTemperature: num(env, 'ASSAY_JUDGE_TEMPERATURE', 0.05),
    generationMaxTokens: int(env, 'ASSAY_GENERATION_MAX_TOKENS', 1024, 1),
    generationTemperature: num(env, 'ASSAY_GENERATION_TEMPERATURE', 0.05),
    maxFailedRowShare: num(env, 'ASSAY_MAX_FAILED_ROW_SHARE', 0.3),
    providerTimeoutMs: int(env, 'ASSAY_PROVIDER_TIMEOUT_MS', 600_000, 1),
    providerMaxRetries: int(env, 'ASSAY_PROVIDER_MAX_RETRIES', 6, 0),
    uploadSigningKey: str(env, 'ASSAY_UPLOAD_SIGNING_KEY'),
    uploadUrlTtlSeconds: int(env, 'ASSAY_UPLOAD_URL_TTL_SECONDS', 3600, 1),
    logLevel: logLevel(env),
    prices: prices(env),
    cacheEnabled: bool(env, 'ASSAY_CACHE', true),
    cacheMaxEntries: int(env, 'ASSAY_CACHE_MAX_ENTRIES', 1_000_000, 1),
    endpointLimits: parseEndpointLimits(str(env, 'ASSAY_ENDPOINT_LIMITS') ?? ''),
    insecureNoAuth: bool(env, 'ASSAY_INSECURE_NO_AUTH', false),
    apiKeyCacheMs: 1000 * int(env, 'ASSAY_API_KEY_CACHE_SECONDS', 10, 0),
    allowedHosts: allowedHosts(env),
    rateLimitRpm: int(env, 'ASSAY_RATE_LIMIT_RPM', 600, 0),
    rateLimitBurst: int(env, 'ASSAY_RATE_LIMIT_BURST', 100, 1),
    requestLog: requestLog(env),
    limits: limits(env),
    ...overrides,
  };
  return Object.freeze(config);
}
