/**
 * Parses a `POST /v1/evaluation` body into a `JobSpec`, accepting every shape a released SDK
 * sends: explicit nulls (treated as absent), the old `model_name` alias, unknown extra fields
 * (ignored), and fields newer than the upstream schema. Checks that need the dataset (columns,
 * templates) happen later, in engine/create-job.ts.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';
import {
  EVAL_TYPES,
  MODEL_SOURCES,
  type EvalType,
  type GeneratorSpec,
  type JobSpec,
  type JudgeSpec,
  type ModelSource,
  type ResponseSource,
} from './types.js';

export interface ModelDefaults {
  judgeMaxTokens: number;
  judgeTemperature: number;
  generationMaxTokens: number;
  generationTemperature: number;
  /** Size limits of a request (defaults: REQUEST_LIMITS). */
  limits?: RequestLimits;
}

export interface RequestLimits {
  /** Longest template, in characters. */
  maxTemplateChars: number;
  /** Most labels of a classify job, and the longest label. */
  maxLabels: number;
  maxLabelChars: number;
}

export const REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({ maxTemplateChars: 100_000, maxLabels: 1000, maxLabelChars: 200 });

/** Refuses templates and labels past the limits, naming the field. */
function checkSizes(spec: JobSpec, limits: RequestLimits): void {
  const templates: Array<[string, string]> = [['parameters.judge.system_template', spec.judge.systemTemplate]];
  const sources: Array<[string, ResponseSource]> = spec.type === 'compare' ? [['model_a', spec.a], ['model_b', spec.b]] : [['model_to_evaluate', spec.target]];
  for (const [param, source] of sources) {
    if (source.kind !== 'generate') continue;
    templates.push([`parameters.${param}.system_template`, source.generator.systemTemplate], [`parameters.${param}.input_template`, source.generator.inputTemplate]);
  }
  for (const [param, template] of templates) {
    if (template.length > limits.maxTemplateChars) {
      throw new ValidationError(`${param} is ${template.length} characters long; at most ${limits.maxTemplateChars} are allowed`, param, 'template_too_large');
    }
  }
}

/** Checked before anything compares labels with each other, which costs the square of their number. */
function checkLabels(param: string, labels: readonly string[], limits: RequestLimits): void {
  if (labels.length > limits.maxLabels) {
    throw new ValidationError(`${param} has ${labels.length} labels; at most ${limits.maxLabels} are allowed`, param, 'too_many_labels');
  }
  const long = labels.find((label) => label.length > limits.maxLabelChars);
  if (long !== undefined) {
    throw new ValidationError(`${param}: a label may be at most ${limits.maxLabelChars} characters long; one is ${long.length}`, param, 'label_too_long');
  }
}

export interface ParsedJobRequest {
  type: EvalType;
  spec: JobSpec;
  /** API tokens by reference (`judge`, `model_to_evaluate`, `model_a`, `model_b`); never echoed. */
  secrets: Record<string, string>;
  /** The caller's `parameters` with every token removed: what the job echoes back. */
  parameters: Record<string, unknown>;
}

/** Python SDK v1 sends `null` for every unset optional; treat it as absent, at any depth. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = dropNulls(v);
    return out;
  }
  return value;
}

/** Removes every `external_api_token` from a copy of the caller's parameters. */
export function redactTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactTokens);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (key !== 'external_api_token') out[key] = redactTokens(v);
    return out;
  }
  return value;
}

const modelSource = z.enum(MODEL_SOURCES);
const positiveInt = z.number().int().min(1);
const temperature = z.number().min(0).max(2);

/** Fields shared by the judge and the model configs; `model_name` is the pre-2025-10 spelling of `model`. */
const endpointFields = {
  model: z.string().min(1).optional(),
  model_name: z.string().min(1).optional(),
  model_source: modelSource.optional(),
  external_api_token: z.string().optional(),
  external_base_url: z.string().url().optional(),
  num_workers: positiveInt.optional(),
  max_tokens: positiveInt.optional(),
  temperature: temperature.optional(),
};

const judgeSchema = z.object({ ...endpointFields, system_template: z.string() });
const generatorSchema = z.object({
  ...endpointFields,
  system_template: z.string().optional(),
  input_template: z.string(),
});
/** A model config, or the name of a dataset column that already holds the responses. */
const modelOrColumn = z.union([z.string().min(1), generatorSchema]);

/** assay's opt-out of the shared call cache, beside Together's fields. */
const cacheField = { use_cache: z.boolean().optional() };

const classifySchema = z.object({
  ...cacheField,
  judge: judgeSchema,
  input_data_file_path: z.string().min(1),
  model_to_evaluate: modelOrColumn,
  labels: z.array(z.string().min(1)).min(2),
  pass_labels: z.array(z.string().min(1)).min(1),
});
const scoreSchema = z.object({
  ...cacheField,
  judge: judgeSchema,
  input_data_file_path: z.string().min(1),
  model_to_evaluate: modelOrColumn,
  min_score: z.number(),
  max_score: z.number(),
  pass_threshold: z.number(),
});
const compareSchema = z.object({
  ...cacheField,
  judge: judgeSchema,
  input_data_file_path: z.string().min(1),
  model_a: modelOrColumn,
  model_b: modelOrColumn,
  disable_position_bias_correction: z.boolean().optional(),
});

type EndpointInput = z.infer<typeof judgeSchema> | z.infer<typeof generatorSchema>;

function describeIssue(issue: z.core.$ZodIssue, input: unknown): ValidationError {
  const where = ['parameters', ...issue.path.map(String)].join('.');
  let given: unknown = input;
  for (const key of issue.path) given = (given as Record<PropertyKey, unknown> | undefined)?.[key];
  let message: string;
  if (given === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) message = `${where} is required`;
  else if (issue.code === 'invalid_union') message = `${where} must be a dataset column name or a model config object with model, model_source and input_template`;
  else message = `${where}: ${issue.message}`;
  return new ValidationError(message, where);
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw issue ? describeIssue(issue, input) : new ValidationError('parameters are invalid', 'parameters');
  }
  return result.data;
}

function endpoint(input: EndpointInput, param: string, secrets: Record<string, string>) {
  const model = input.model ?? input.model_name;
  if (model === undefined) throw new ValidationError(`parameters.${param}.model is required`, `parameters.${param}.model`);
  const source: ModelSource = input.model_source ?? 'serverless';
  if (input.external_api_token !== undefined) secrets[param] = input.external_api_token;
  return {
    model,
    source,
    baseUrl: input.external_base_url ?? null,
    secretRef: input.external_api_token !== undefined ? param : null,
    numWorkers: input.num_workers ?? null,
  };
}

function responseSource(
  input: z.infer<typeof modelOrColumn>,
  param: string,
  defaults: ModelDefaults,
  secrets: Record<string, string>,
): ResponseSource {
  if (typeof input === 'string') return { kind: 'column', column: input };
  const generator: GeneratorSpec = {
    ...endpoint(input, param, secrets),
    systemTemplate: input.system_template ?? '',
    inputTemplate: input.input_template,
    maxTokens: input.max_tokens ?? defaults.generationMaxTokens,
    temperature: input.temperature ?? defaults.generationTemperature,
  };
  return { kind: 'generate', generator };
}

export function parseJobRequest(body: unknown, defaults: ModelDefaults): ParsedJobRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('the request body must be a JSON object with "type" and "parameters"', null);
  }
  const { type, parameters } = body as { type?: unknown; parameters?: unknown };
  if (typeof type !== 'string' || !(EVAL_TYPES as readonly string[]).includes(type)) {
    const got = type === undefined || type === null ? 'nothing' : JSON.stringify(type);
    throw new ValidationError(`type must be one of ${EVAL_TYPES.join(', ')}; got ${got}`, 'type');
  }
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new ValidationError('parameters must be an object', 'parameters');
  }
  const clean = dropNulls(parameters);
  const secrets: Record<string, string> = {};

  const judgeOf = (input: z.infer<typeof judgeSchema>): JudgeSpec => ({
    ...endpoint(input, 'judge', secrets),
    systemTemplate: input.system_template,
    maxTokens: input.max_tokens ?? defaults.judgeMaxTokens,
    temperature: input.temperature ?? defaults.judgeTemperature,
  });

  let spec: JobSpec;
  if (type === 'classify') {
    const p = parseWith(classifySchema, clean);
    checkLabels('parameters.labels', p.labels, defaults.limits ?? REQUEST_LIMITS);
    checkLabels('parameters.pass_labels', p.pass_labels, defaults.limits ?? REQUEST_LIMITS);
    const labels = p.labels;
    if (new Set(labels).size !== labels.length) {
      throw new ValidationError('parameters.labels must not repeat a label', 'parameters.labels');
    }
    const unknown = p.pass_labels.filter((l) => !labels.includes(l));
    if (unknown.length > 0) {
      throw new ValidationError(
        `parameters.pass_labels must be among labels ${JSON.stringify(labels)}; not found: ${JSON.stringify(unknown)}`,
        'parameters.pass_labels',
      );
    }
    spec = {
      type,
      fileId: p.input_data_file_path,
      judge: judgeOf(p.judge),
      target: responseSource(p.model_to_evaluate, 'model_to_evaluate', defaults, secrets),
      labels,
      passLabels: p.pass_labels,
    };
  } else if (type === 'score') {
    const p = parseWith(scoreSchema, clean);
    if (p.min_score >= p.max_score) {
      throw new ValidationError(
        `parameters.min_score (${p.min_score}) must be less than parameters.max_score (${p.max_score})`,
        'parameters.min_score',
      );
    }
    if (p.pass_threshold < p.min_score || p.pass_threshold > p.max_score) {
      throw new ValidationError(
        `parameters.pass_threshold (${p.pass_threshold}) must lie within [${p.min_score}, ${p.max_score}]`,
        'parameters.pass_threshold',
      );
    }
    spec = {
      type,
      fileId: p.input_data_file_path,
      judge: judgeOf(p.judge),
      target: responseSource(p.model_to_evaluate, 'model_to_evaluate', defaults, secrets),
      minScore: p.min_score,
      maxScore: p.max_score,
      passThreshold: p.pass_threshold,
    };
  } else {
    const p = parseWith(compareSchema, clean);
    spec = {
      type: 'compare',
      fileId: p.input_data_file_path,
      judge: judgeOf(p.judge),
      a: responseSource(p.model_a, 'model_a', defaults, secrets),
      b: responseSource(p.model_b, 'model_b', defaults, secrets),
      positionBiasCorrection: p.disable_position_bias_correction !== true,
    };
  }
  if ((clean as { use_cache?: unknown }).use_cache === false) spec.useCache = false;
  checkSizes(spec, defaults.limits ?? REQUEST_LIMITS);
  return {
    type: type as EvalType,
    spec,
    secrets,
    parameters: redactTokens(parameters) as Record<string, unknown>,
  };
}
