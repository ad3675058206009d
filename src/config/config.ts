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
  /** Whether `serve` also runs evaluation workers in its process. */
  serveWorkers: boolean;
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
  /** Per-endpoint concurrency and rate budgets (ASSAY_ENDPOINT_LIMITS, JSON). */
  endpointLimits: EndpointLimitsTable;
  /** Model prices per million tokens, for job cost: `{"model": {"input": 0.2, "output": 0.6}}`. */
  prices: PriceTable;
}

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

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const config: Config = {
    host: str(env, 'HOST') ?? '127.0.0.1',
    port: int(env, 'PORT', 8080),
    dataDir: path.resolve(str(env, 'ASSAY_DATA_DIR') ?? '.assay'),
    databaseUrl: str(env, 'ASSAY_DATABASE_URL'),
    serveWorkers: bool(env, 'ASSAY_SERVE_WORKERS', true),
    chunkLeaseSeconds: int(env, 'ASSAY_CHUNK_LEASE_SECONDS', 900, 1),
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
    logLevel: str(env, 'ASSAY_LOG_LEVEL') ?? 'info',
    prices: prices(env),
    endpointLimits: parseEndpointLimits(str(env, 'ASSAY_ENDPOINT_LIMITS') ?? ''),
    ...overrides,
  };
  return Object.freeze(config);
}
