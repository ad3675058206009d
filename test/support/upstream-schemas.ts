/**
 * Validates assay's response bodies against Together's own OpenAPI schemas
 * (`test/fixtures/together-openapi-evals-files.yaml`, an unedited upstream extract).
 *
 * The spec is OpenAPI 3.1 (JSON Schema 2020-12) written with 3.0 habits, so the schemas are
 * normalised before Ajv sees them:
 *
 * - `nullable: true` admits `null` (`type: [t, 'null']`, or `anyOf: [{type: 'null'}, …]` when the
 *   node has no single type); `nullable: false` is dropped. A 2020-12 validator would otherwise
 *   ignore the keyword and reject `null` counts.
 * - `$ref: '#/components/schemas/X'` points into one registered document, so named component
 *   schemas and schemas inlined in a path (like the `GET /evaluation/{id}/status` response) share
 *   the same definitions.
 * - `oneOf` is checked as `anyOf`. Upstream's unions are untagged and overlap: the three result
 *   schemas have no required fields, so any result object matches all of them and a strict
 *   `oneOf` rejects every real body. Use `resultsType` (or validate the specific
 *   `Evaluation*Results` schema) to check results properly.
 * - `format: integer` / `format: float` on numbers are ignored (the live API returns float
 *   percentages under `format: integer`), and any format Ajv does not know is accepted rather
 *   than failing. `date-time` is checked.
 * - `example` is accepted as an annotation.
 *
 * Where assay knowingly departs from the spec, callers opt in to a named deviation rather than
 * loosening the schemas for everyone: see {@link KnownDeviation}.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const UPSTREAM_SPEC_PATH = fileURLToPath(
  new URL('../fixtures/together-openapi-evals-files.yaml', import.meta.url),
);

/** `$id` of the registered document; never fetched. */
const DOC_ID = 'https://assay.invalid/together-openapi-evals-files.json';
const COMPONENT_REF = '#/components/schemas/';

/**
 * Deliberate departures from the upstream schemas that a test can allow explicitly.
 *
 * - `label_counts_object`: classify `label_counts` may be a JSON object of label → count (what
 *   the live API returns and assay emits by default) as well as the spec's JSON-encoded string.
 */
export type KnownDeviation = 'label_counts_object';

export type EvaluationType = 'classify' | 'score' | 'compare';

export interface ValidateOptions {
  deviations?: readonly KnownDeviation[];
  /**
   * For `validateResponse`: also check each non-error `results` object in the body (a job, a
   * status response, or a list of jobs) against the results schema of this evaluation type.
   */
  resultsType?: EvaluationType;
}

export interface ValidationResult {
  valid: boolean;
  /** One line per problem; empty when valid. */
  errors: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';

interface Spec {
  paths: Record<string, Partial<Record<HttpMethod, { responses?: Record<string, ResponseObject> }>>>;
  components: { schemas: Record<string, Json> };
}

interface ResponseObject {
  description?: string;
  content?: Record<string, { schema?: Json }>;
}

const RESULTS_SCHEMA: Record<EvaluationType, string> = {
  classify: 'EvaluationClassifyResults',
  score: 'EvaluationScoreResults',
  compare: 'EvaluationCompareResults',
};

const addFormats = addFormatsModule.default;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

let cachedSpec: Spec | undefined;

function loadSpec(): Spec {
  if (cachedSpec === undefined) {
    const raw: unknown = parse(readFileSync(UPSTREAM_SPEC_PATH, 'utf8'));
    if (!isObject(raw) || !isObject(raw['paths']) || !isObject(raw['components'])) {
      throw new Error(`${UPSTREAM_SPEC_PATH} is not an OpenAPI document with paths and components`);
    }
    cachedSpec = raw as unknown as Spec;
  }
  return cachedSpec;
}

/** Names of the component schemas in the upstream spec. */
export function upstreamSchemaNames(): string[] {
  return Object.keys(loadSpec().components.schemas).sort();
}

const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];
const SCHEMA_KEYWORDS = [
  'additionalProperties',
  'items',
  'contains',
  'not',
  'if',
  'then',
  'else',
  'propertyNames',
  'unevaluatedProperties',
  'unevaluatedItems',
];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];

/** Applies the normalisation described in the module comment to one schema, recursively. */
function normalize(schema: Json): Json {
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'nullable') continue;
    if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) {
      out[key] = `${DOC_ID}#/$defs/${value.slice(COMPONENT_REF.length)}`;
    } else if (SCHEMA_MAP_KEYWORDS.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, normalize(sub)]));
    } else if (SCHEMA_KEYWORDS.includes(key) && isObject(value)) {
      out[key] = normalize(value);
    } else if (SCHEMA_LIST_KEYWORDS.includes(key) && Array.isArray(value)) {
      out[key === 'oneOf' ? 'anyOf' : key] = value.map((sub) => normalize(sub));
    } else {
      out[key] = value;
    }
  }
  if (schema['nullable'] !== true) return out;
  const type = out['type'];
  if (typeof type === 'string' && !('enum' in out) && !('const' in out)) {
    return { ...out, type: [type, 'null'] };
  }
  return { anyOf: [{ type: 'null' }, out] };
}

/** Every `format: <string>` anywhere in the document (inline path schemas included). */
function collectFormats(node: Json, formats: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectFormats(item, formats);
  } else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') formats.add(value);
      else collectFormats(value, formats);
    }
  }
}

function applyDeviations(schemas: Record<string, Json>, deviations: readonly KnownDeviation[]): void {
  if (deviations.includes('label_counts_object')) {
    const classify = schemas['EvaluationClassifyResults'];
    const properties = isObject(classify) ? classify['properties'] : undefined;
    if (!isObject(properties)) throw new Error('EvaluationClassifyResults has no properties to patch');
    properties['label_counts'] = {
      anyOf: [
        { type: 'string' },
        { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
      ],
    };
  }
}

interface Validators {
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

const validatorsByDeviations = new Map<string, Validators>();

function validatorsFor(deviations: readonly KnownDeviation[]): Validators {
  const key = [...new Set(deviations)].sort().join(',');
  const existing = validatorsByDeviations.get(key);
  if (existing !== undefined) return existing;

  const spec = loadSpec();
  const defs: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(spec.components.schemas)) defs[name] = normalize(schema);
  applyDeviations(defs, deviations);
  const formats = new Set<string>();
  collectFormats(spec as unknown as Json, formats);

  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'example', schemaType: ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] });
  ajv.addFormat('integer', true);
  ajv.addFormat('float', true);
  for (const format of formats) {
    if (ajv.formats[format] === undefined) ajv.addFormat(format, true);
  }
  ajv.addSchema({ $id: DOC_ID, $defs: defs });

  const validators: Validators = { ajv, compiled: new Map() };
  validatorsByDeviations.set(key, validators);
  return validators;
}

function formatErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): string {
  if (!errors || errors.length === 0) return '';
  return errors
    .map((e) => {
      const where = `${prefix}${e.instancePath}` || '(root)';
      return `${where}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)} [schema ${e.schemaPath}]`;
    })
    .join('\n');
}

function namedValidator(schemaName: string, deviations: readonly KnownDeviation[]): ValidateFunction {
  const spec = loadSpec();
  if (!(schemaName in spec.components.schemas)) {
    throw new Error(`Unknown upstream schema "${schemaName}". Known: ${upstreamSchemaNames().join(', ')}`);
  }
  const validators = validatorsFor(deviations);
  const cacheKey = `schema:${schemaName}`;
  let validate = validators.compiled.get(cacheKey);
  if (validate === undefined) {
    validate = validators.ajv.compile({ $ref: `${DOC_ID}#/$defs/${schemaName}` });
    validators.compiled.set(cacheKey, validate);
  }
  return validate;
}

/**
 * Checks `body` against the upstream component schema `schemaName` (e.g. `FileResponse`,
 * `EvaluationJob`). Throws if the spec has no such schema.
 */
export function validateAgainst(
  schemaName: string,
  body: unknown,
  options: Pick<ValidateOptions, 'deviations'> = {},
): ValidationResult {
  const validate = namedValidator(schemaName, options.deviations ?? []);
  const valid = validate(body);
  return { valid, errors: valid ? '' : formatErrors(validate.errors) };
}

function describeBody(body: unknown): string {
  const text = JSON.stringify(body, null, 2) ?? String(body);
  return text.length > 4000 ? `${text.slice(0, 4000)}\n… (${text.length} characters)` : text;
}

/** `validateAgainst`, throwing an error that lists every problem and shows the body. */
export function expectSchema(
  schemaName: string,
  body: unknown,
  options: Pick<ValidateOptions, 'deviations'> = {},
): void {
  const { valid, errors } = validateAgainst(schemaName, body, options);
  if (!valid) {
    throw new Error(`Body does not match upstream schema ${schemaName}:\n${errors}\n--- body ---\n${describeBody(body)}`);
  }
}

/** `/v1/evaluation/abc/status?x=1` or a full URL → `/evaluation/abc/status`. */
function apiPath(path: string): string {
  const pathname = new URL(path, 'http://placeholder').pathname;
  return pathname.replace(/^\/v1(?=\/|$)/, '') || '/';
}

/** The spec path template matching a concrete path; literal segments beat `{params}`. */
function matchTemplate(spec: Spec, path: string): string | undefined {
  let best: { template: string; params: number } | undefined;
  for (const template of Object.keys(spec.paths)) {
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
    if (!new RegExp(`^${pattern}$`).test(path)) continue;
    const params = (template.match(/\{/g) ?? []).length;
    if (best === undefined || params < best.params) best = { template, params };
  }
  return best?.template;
}

function responseValidator(
  method: string,
  path: string,
  status: number,
  deviations: readonly KnownDeviation[],
): { validate: ValidateFunction; label: string } {
  const spec = loadSpec();
  const verb = method.toLowerCase() as HttpMethod;
  const concrete = apiPath(path);
  const template = matchTemplate(spec, concrete);
  if (template === undefined) {
    throw new Error(`The upstream spec has no path matching ${concrete} (paths: ${Object.keys(spec.paths).join(', ')})`);
  }
  const operation = spec.paths[template]?.[verb];
  if (operation === undefined) throw new Error(`The upstream spec has no ${method.toUpperCase()} ${template}`);

  const label = `${method.toUpperCase()} ${template} → ${status}`;
  const validators = validatorsFor(deviations);
  const cacheKey = `response:${label}`;
  const cached = validators.compiled.get(cacheKey);
  if (cached !== undefined) return { validate: cached, label };

  const response = operation.responses?.[String(status)];
  let schema: Json;
  if (response !== undefined) {
    const json = response.content?.['application/json']?.schema;
    if (json === undefined) {
      const types = Object.keys(response.content ?? {}).join(', ') || 'no content';
      throw new Error(`The upstream spec's ${label} response is not JSON (${types}); nothing to validate`);
    }
    schema = normalize(json);
  } else if (status >= 400) {
    // Every error answer uses the ErrorData envelope, documented or not.
    schema = { $ref: `${DOC_ID}#/$defs/ErrorData` };
  } else {
    const documented = Object.keys(operation.responses ?? {}).join(', ');
    throw new Error(`The upstream spec documents no ${status} for ${method.toUpperCase()} ${template} (documented: ${documented})`);
  }
  const validate = validators.ajv.compile(isObject(schema) ? schema : { allOf: [schema] });
  validators.compiled.set(cacheKey, validate);
  return { validate, label };
}

/** Non-error `results` objects of a job, a status response or a list of jobs, with their paths. */
function resultsIn(body: unknown): Array<{ at: string; results: JsonObject }> {
  const found: Array<{ at: string; results: JsonObject }> = [];
  const visit = (item: unknown, at: string): void => {
    if (!isObject(item)) return;
    const results = item['results'];
    if (isObject(results) && !('error' in results)) found.push({ at: `${at}/results`, results });
  };
  if (Array.isArray(body)) body.forEach((item, i) => visit(item, `/${i}`));
  else visit(body, '');
  return found;
}

/**
 * Checks a response body against the schema the upstream spec gives for `method path` with
 * `status`. `path` may carry the `/v1` prefix, a query string or an origin. An error status the
 * spec does not list is checked against `ErrorData`. Throws when the spec documents no such
 * operation or response, or when that response is not JSON.
 */
export function validateResponse(
  method: string,
  path: string,
  status: number,
  body: unknown,
  options: ValidateOptions = {},
): ValidationResult {
  const deviations = options.deviations ?? [];
  const { validate } = responseValidator(method, path, status, deviations);
  const problems: string[] = [];
  if (!validate(body)) problems.push(formatErrors(validate.errors));
  if (options.resultsType !== undefined) {
    const results = namedValidator(RESULTS_SCHEMA[options.resultsType], deviations);
    for (const { at, results: value } of resultsIn(body)) {
      if (!results(value)) problems.push(formatErrors(results.errors, at));
    }
  }
  return { valid: problems.length === 0, errors: problems.join('\n') };
}

/** `validateResponse`, throwing an error that lists every problem and shows the body. */
export function expectResponse(
  method: string,
  path: string,
  status: number,
  body: unknown,
  options: ValidateOptions = {},
): void {
  const { valid, errors } = validateResponse(method, path, status, body, options);
  if (!valid) {
    const label = `${method.toUpperCase()} ${apiPath(path)} → ${status}`;
    throw new Error(`${label} does not match the upstream spec:\n${errors}\n--- body ---\n${describeBody(body)}`);
  }
}
