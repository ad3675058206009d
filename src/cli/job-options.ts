/**
 * The job flags shared by `evals create` and `run`, named as in Together's CLI, and the request body
 * they make (`{"type", "parameters"}` of `POST /v1/evaluation`). Combinations that cannot make a
 * job are refused here, before anything is uploaded, with a message naming the flags to use.
 */
import fs from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EVAL_TYPES, MODEL_SOURCES } from '../domain/types.js';
import { UsageError } from './errors.js';

/** The three ways to name the response being judged: for classify/score, and compare's A and B. */
const TARGETS = [
  { key: 'model_to_evaluate', model: 'model-to-evaluate', field: 'model-field', what: 'the response to judge', whose: 'the responses to judge' },
  { key: 'model_a', model: 'model-a', field: 'model-a-field', what: 'model A', whose: "model A's responses" },
  { key: 'model_b', model: 'model-b', field: 'model-b-field', what: 'model B', whose: "model B's responses" },
] as const;
type Target = (typeof TARGETS)[number];

/** Suffixes of the per-model flags: `--model-a-source`, `--model-to-evaluate-max-tokens`, … */
const MODEL_SUFFIXES = ['source', 'max-tokens', 'temperature', 'system-template', 'input-template', 'external-api-token', 'external-base-url'] as const;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseNumberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

function parseTemperature(value: string): number {
  const n = parseNumberArg(value);
  if (n < 0 || n > 2) throw new InvalidArgumentError('expected a number from 0 to 2.');
  return n;
}

/** Adds the job flags to `cmd`, grouped in its help. `withInput` adds `--input-data-file-path`. */
export function addJobOptions(cmd: Command, opts: { withInput: boolean }): Command {
  const group = (heading: string, options: Option[]) => {
    for (const option of options) cmd.addOption(option.helpGroup(heading));
  };
  group('Job:', [
    new Option('--type <type>', 'kind of evaluation').choices(EVAL_TYPES),
    ...(opts.withInput ? [new Option('--input-data-file-path <file>', 'dataset: a file id (file-…) or a local JSONL/CSV path, uploaded first')] : []),
    new Option('--num-workers <n>', 'concurrent calls per model (default: by source)').argParser(parsePositiveInt),
  ]);
  group('Judge:', [
    new Option('--judge-model <model>', 'judge model name, endpoint id or provider shortcut'),
    new Option('--judge-model-source <source>', 'where the judge runs').choices(MODEL_SOURCES).default('serverless'),
    new Option('--judge-system-template <template>', "Jinja2 system prompt of the judge; '@path' reads it from a file"),
    new Option('--judge-external-api-token <token>', 'API token of an external judge'),
    new Option('--judge-external-base-url <url>', 'OpenAI-compatible base URL of an external judge'),
    new Option('--judge-max-tokens <n>', 'judge max_tokens').argParser(parsePositiveInt),
    new Option('--judge-temperature <t>', 'judge temperature (0–2)').argParser(parseTemperature),
  ]);
  group('classify:', [
    new Option('--labels <labels>', "comma-separated labels the judge picks from, e.g. 'correct,incorrect'"),
    new Option('--pass-labels <labels>', 'comma-separated labels that count as a pass'),
  ]);
  group('score:', [
    new Option('--min-score <n>', 'lowest score').argParser(parseNumberArg),
    new Option('--max-score <n>', 'highest score').argParser(parseNumberArg),
    new Option('--pass-threshold <n>', 'scores at or above this pass').argParser(parseNumberArg),
  ]);
  for (const target of TARGETS) {
    const heading = target.key === 'model_to_evaluate' ? 'Response to judge (classify, score):' : `${target.what} (compare):`;
    group(heading, [
      new Option(`--${target.field} <column>`, `dataset column holding ${target.whose} (no generation)`),
      new Option(`--${target.model} <model>`, `generate ${target.whose} with this model`),
      new Option(`--${target.model}-source <source>`, 'where it runs (default serverless)').choices(MODEL_SOURCES),
      new Option(`--${target.model}-max-tokens <n>`, 'max_tokens').argParser(parsePositiveInt),
      new Option(`--${target.model}-temperature <t>`, 'temperature (0–2)').argParser(parseTemperature),
      new Option(`--${target.model}-system-template <template>`, "Jinja2 system prompt; '@path' reads a file"),
      new Option(`--${target.model}-input-template <template>`, "Jinja2 user message, e.g. '{{prompt}}'; '@path' reads a file"),
      new Option(`--${target.model}-external-api-token <token>`, 'API token of an external model'),
      new Option(`--${target.model}-external-base-url <url>`, 'OpenAI-compatible base URL of an external model'),
    ]);
  }
  cmd.addOption(new Option('--disable-position-bias-correction', 'compare: judge each row once, in the original order').helpGroup('compare:'));
  return cmd;
}

type Opts = Record<string, unknown>;
const str = (opts: Opts, flag: string): string | undefined => {
  const v = opts[camel(flag)];
  return typeof v === 'string' ? v : undefined;
};
const numOpt = (opts: Opts, flag: string): number | undefined => {
  const v = opts[camel(flag)];
  return typeof v === 'number' ? v : undefined;
};
const given = (opts: Opts, flag: string): boolean => opts[camel(flag)] !== undefined;

/** A template flag's value, or the contents of the file it names with a leading `@`. */
async function template(opts: Opts, flag: string): Promise<string | undefined> {
  const value = str(opts, flag);
  if (value === undefined || !value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    throw new UsageError(`--${flag} ${value}: cannot read the file ${file}`, "a value starting with '@' names a file holding the template");
  }
}

function list(opts: Opts, flag: string): string[] | undefined {
  const raw = str(opts, flag);
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item)) throw new UsageError(`--${flag} names "${item}" twice`);
    seen.add(item);
  }
  return items;
}

/** The dataset column or model config for one target, or undefined when none of its flags is given. */
async function responseSource(opts: Opts, target: Target): Promise<string | Record<string, unknown> | undefined> {
  const field = str(opts, target.field);
  const configFlags = [target.model, ...MODEL_SUFFIXES.map((s) => `${target.model}-${s}`)].filter((f) => given(opts, f));
  if (field !== undefined) {
    if (configFlags.length > 0) {
      throw new UsageError(
        `--${target.field} cannot be combined with --${configFlags[0]}`,
        `use --${target.field} alone when the dataset already holds the responses, or --${target.model} MODEL (and its --${target.model}-* flags) to generate them`,
      );
    }
    return field;
  }
  if (configFlags.length === 0) return undefined;
  const model = str(opts, target.model);
  if (model === undefined) throw new UsageError(`--${configFlags[0]} needs --${target.model} MODEL`);
  const inputTemplate = await template(opts, `${target.model}-input-template`);
  if (inputTemplate === undefined) {
    throw new UsageError(`--${target.model} needs --${target.model}-input-template, the user message sent to it (e.g. '{{prompt}}')`);
  }
  const config: Record<string, unknown> = {
    model,
    model_source: str(opts, `${target.model}-source`) ?? 'serverless',
    input_template: inputTemplate,
  };
  const system = await template(opts, `${target.model}-system-template`);
  if (system !== undefined) config.system_template = system;
  const maxTokens = numOpt(opts, `${target.model}-max-tokens`);
  if (maxTokens !== undefined) config.max_tokens = maxTokens;
  const temperature = numOpt(opts, `${target.model}-temperature`);
  if (temperature !== undefined) config.temperature = temperature;
  const token = str(opts, `${target.model}-external-api-token`);
  if (token !== undefined) config.external_api_token = token;
  const baseUrl = str(opts, `${target.model}-external-base-url`);
  if (baseUrl !== undefined) config.external_base_url = baseUrl;
  const workers = numOpt(opts, 'num-workers');
  if (workers !== undefined) config.num_workers = workers;
  return config;
}

/** Refuses flags that belong to another type: they would be silently ignored otherwise. */
function refuseForeign(opts: Opts, type: string, flags: readonly string[], owner: string): void {
  const foreign = flags.find((f) => given(opts, f));
  if (foreign !== undefined) throw new UsageError(`--${foreign} applies to --type ${owner}, not ${type}`);
}

const targetFlags = (t: Target) => [t.field, t.model, ...MODEL_SUFFIXES.map((s) => `${t.model}-${s}`)];

/**
 * The `POST /v1/evaluation` body the flags describe. `inputFile` is the dataset's file id (a
 * placeholder for `run`, which uploads the dataset itself).
 */
export async function buildJobRequest(opts: Opts, inputFile: string): Promise<{ type: string; parameters: Record<string, unknown> }> {
  const type = str(opts, 'type');
  if (type === undefined) throw new UsageError(`--type is required: one of ${EVAL_TYPES.join(', ')}`);
  const judgeModel = str(opts, 'judge-model');
  if (judgeModel === undefined) throw new UsageError('--judge-model is required: the model that judges each row');
  const judgeTemplate = await template(opts, 'judge-system-template');
  if (judgeTemplate === undefined || judgeTemplate.trim() === '') {
    throw new UsageError('--judge-system-template is required: the judge\'s instructions (Jinja2; dataset columns like {{prompt}} are available)', "pass it inline or as '@path/to/template.txt'");
  }
  const judge: Record<string, unknown> = {
    model: judgeModel,
    model_source: str(opts, 'judge-model-source') ?? 'serverless',
    system_template: judgeTemplate,
  };
  const judgeToken = str(opts, 'judge-external-api-token');
  if (judgeToken !== undefined) judge.external_api_token = judgeToken;
  const judgeBase = str(opts, 'judge-external-base-url');
  if (judgeBase !== undefined) judge.external_base_url = judgeBase;
  const judgeMax = numOpt(opts, 'judge-max-tokens');
  if (judgeMax !== undefined) judge.max_tokens = judgeMax;
  const judgeTemp = numOpt(opts, 'judge-temperature');
  if (judgeTemp !== undefined) judge.temperature = judgeTemp;
  const workers = numOpt(opts, 'num-workers');
  if (workers !== undefined) judge.num_workers = workers;

  const parameters: Record<string, unknown> = { input_data_file_path: inputFile, judge };
  const [target, a, b] = TARGETS;
  const scoreFlags = ['min-score', 'max-score', 'pass-threshold'];
  const classifyFlags = ['labels', 'pass-labels'];
  const compareFlags = [...targetFlags(a), ...targetFlags(b), 'disable-position-bias-correction'];

  if (type === 'classify' || type === 'score') {
    refuseForeign(opts, type, compareFlags, 'compare');
    refuseForeign(opts, type, type === 'classify' ? scoreFlags : classifyFlags, type === 'classify' ? 'score' : 'classify');
    const response = await responseSource(opts, target);
    if (response === undefined) {
      throw new UsageError(
        `${type} needs the response to judge: --model-field COLUMN (the dataset holds the responses) or --model-to-evaluate MODEL with --model-to-evaluate-input-template (generate them)`,
      );
    }
    parameters.model_to_evaluate = response;
  }
  if (type === 'classify') {
    const labels = list(opts, 'labels');
    if (labels === undefined || labels.length < 2) {
      throw new UsageError('--labels needs at least two labels', "separate them with commas, e.g. --labels 'correct,incorrect'");
    }
    const passLabels = list(opts, 'pass-labels');
    if (passLabels === undefined || passLabels.length === 0) {
      throw new UsageError('--pass-labels needs at least one of the --labels', `e.g. --pass-labels '${labels[0]}'`);
    }
    const unknown = passLabels.find((l) => !labels.includes(l));
    if (unknown !== undefined) throw new UsageError(`--pass-labels "${unknown}" is not one of --labels (${labels.join(', ')})`);
    parameters.labels = labels;
    parameters.pass_labels = passLabels;
  } else if (type === 'score') {
    const min = numOpt(opts, 'min-score');
    const max = numOpt(opts, 'max-score');
    const threshold = numOpt(opts, 'pass-threshold');
    const missing = scoreFlags.filter((f) => !given(opts, f));
    if (missing.length > 0) throw new UsageError(`score needs ${missing.map((f) => `--${f}`).join(', ')}`, 'e.g. --min-score 1 --max-score 10 --pass-threshold 7');
    if (min! >= max!) throw new UsageError(`--min-score (${min}) must be below --max-score (${max})`);
    if (threshold! < min! || threshold! > max!) throw new UsageError(`--pass-threshold (${threshold}) must lie between --min-score (${min}) and --max-score (${max})`);
    parameters.min_score = min;
    parameters.max_score = max;
    parameters.pass_threshold = threshold;
  } else {
    refuseForeign(opts, type, classifyFlags, 'classify');
    refuseForeign(opts, type, scoreFlags, 'score');
    refuseForeign(opts, type, targetFlags(target), 'classify or score');
    for (const side of [a, b]) {
      const response = await responseSource(opts, side);
      if (response === undefined) {
        throw new UsageError(`compare needs ${side.what}: --${side.field} COLUMN or --${side.model} MODEL with --${side.model}-input-template`);
      }
      parameters[side.key] = response;
    }
    if (opts.disablePositionBiasCorrection === true) parameters.disable_position_bias_correction = true;
  }
  return { type, parameters };
}
