/**
 * Per-endpoint limits from configuration: how many requests may be in flight at once, and the
 * optional requests-per-minute and tokens-per-minute budgets.
 *
 * @example
 * const table = parseEndpointLimits('{"http://127.0.0.1:8000/v1": {"maxConcurrency": 16, "rpm": 600}, "*": {"tpm": 200000}}');
 * limitsFor(table, 'http://127.0.0.1:8000/v1', 'judge'); // { maxConcurrency: 16, rpm: 600, tpm: 200000 }
 */

/** Limits of one endpoint as configured; fields left out come from a less specific entry. */
export interface EndpointLimits {
  /** Most requests in flight at once; the scheduler adapts below it when the server answers 429. */
  maxConcurrency?: number;
  /** Requests per minute; null or absent for no budget. */
  rpm?: number | null;
  /** Tokens (prompt + completion) per minute; null or absent for no budget. */
  tpm?: number | null;
}

/** Limits that apply to one endpoint, every field decided. */
export type ResolvedEndpointLimits = Required<EndpointLimits>;

/**
 * Keys are a base URL (`http://host/v1`), a base URL and model (`http://host/v1#model`), or `*`
 * for every endpoint.
 */
export type EndpointLimitsTable = Readonly<Record<string, EndpointLimits>>;

export const DEFAULT_ENDPOINT_LIMITS: Readonly<ResolvedEndpointLimits> = Object.freeze({
  maxConcurrency: 64,
  rpm: null,
  tpm: null,
});

const FIELDS = new Set(['maxConcurrency', 'rpm', 'tpm']);

function normalizeKey(key: string): string {
  if (key === '*') return key;
  const hash = key.indexOf('#');
  const base = (hash < 0 ? key : key.slice(0, hash)).trim().replace(/\/+$/, '');
  return hash < 0 ? base : `${base}#${key.slice(hash + 1).trim()}`;
}

function checkEntry(key: string, value: unknown): EndpointLimits {
  const where = `endpoint limits: "${key}"`;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where} must be an object like {"maxConcurrency": 16, "rpm": 600, "tpm": 200000}`);
  }
  const entry: EndpointLimits = {};
  for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
    if (!FIELDS.has(field)) throw new Error(`${where} has unknown field "${field}" (known: maxConcurrency, rpm, tpm)`);
    if (field === 'maxConcurrency') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
        throw new Error(`${where}.maxConcurrency must be an integer >= 1, got ${JSON.stringify(v)}`);
      }
      entry.maxConcurrency = v;
    } else {
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
        throw new Error(`${where}.${field} must be a number > 0 or null for no budget, got ${JSON.stringify(v)}`);
      }
      entry[field as 'rpm' | 'tpm'] = v as number | null;
    }
  }
  return entry;
}

/** Parses and checks the JSON of an endpoint limits table; empty text means no entries. */
export function parseEndpointLimits(json: string): EndpointLimitsTable {
  if (json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`endpoint limits: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('endpoint limits: expected a JSON object keyed by base URL, "base URL#model" or "*"');
  }
  const table: Record<string, EndpointLimits> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    table[normalizeKey(key)] = checkEntry(key, value);
  }
  return Object.freeze(table);
}

/** The limits of one endpoint: `base#model` over `base` over `*` over the defaults, field by field. */
export function limitsFor(table: EndpointLimitsTable, baseUrl: string, model: string): ResolvedEndpointLimits {
  const base = normalizeKey(baseUrl);
  const layers = [table['*'], table[base], table[`${base}#${model}`]];
  const resolved: ResolvedEndpointLimits = { ...DEFAULT_ENDPOINT_LIMITS };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.maxConcurrency !== undefined) resolved.maxConcurrency = layer.maxConcurrency;
    if (layer.rpm !== undefined) resolved.rpm = layer.rpm;
    if (layer.tpm !== undefined) resolved.tpm = layer.tpm;
  }
  return resolved;
}
