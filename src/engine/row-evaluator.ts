/**
 * What happens to one dataset row: obtain the response(s) (read a column or generate), ask the
 * judge (twice for compare, once per order, unless position-bias correction is off), parse the
 * verdict, and describe the outcome as a `RowResult`. Rows fail as data: every failure becomes a
 * result with a reason; only errors that doom the whole job (bad credentials, unknown model) are
 * thrown, as `JobFatalError`.
 */
import { ProviderError } from '../domain/errors.js';
import type { GeneratorSpec, JobSpec, JudgeSpec, RowResult, RowUsage, UsageRole } from '../domain/types.js';
import type { ChatMessage, ChatModel, TokenUsage } from '../providers/chat-model.js';
import { buildJudgeMessages, parseVerdict, repairRequest, responseFormatFor, type ResponseFormat, type Verdict, type VerdictOptions } from '../judging/index.js';
import type { CompiledJob, CompiledSource } from './prepare.js';
import type { Limiter } from './limiter.js';

/** A failure that dooms every row of the job, so the job stops instead of failing row by row. */
export class JobFatalError extends Error {}

export interface BoundModel {
  model: ChatModel;
  limiter: Limiter;
}

export interface RowContext {
  jobId: string;
  /** The job's owner: the scope of its cached calls. */
  ownerId: string;
  spec: JobSpec;
  compiled: CompiledJob;
  judge: BoundModel;
  /** Generators by source name (`target`, `a`, `b`), for sources that generate. */
  generators: Partial<Record<'target' | 'a' | 'b', BoundModel>>;
  signal: AbortSignal;
}

type SourceName = 'target' | 'a' | 'b';
type Obtained = { ok: true; text: string; input: string | null; generated: boolean } | { ok: false; error: string };

/** What one judge conversation produced: a verdict, or why there is none. */
type Judged =
  | { ok: true; verdict: Verdict; raw: string; prompt: ChatMessage[]; repaired: boolean }
  | { ok: false; failed: boolean; raw: string | null; reason: string; prompt: ChatMessage[] };

const OUTPUT_COLUMN = { target: 'MODEL_TO_EVALUATE_OUTPUT', a: 'MODEL_TO_EVALUATE_OUTPUT_A', b: 'MODEL_TO_EVALUATE_OUTPUT_B' } as const;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const emptyUsage = (): RowUsage => ({});

/** Counts a call's tokens under its role; a reply from the cache cost nothing and counts as a hit. */
function addUsage(usage: RowUsage, role: UsageRole, spent: TokenUsage | null, cached: boolean | undefined): void {
  if (cached) {
    usage.cacheHits = (usage.cacheHits ?? 0) + 1;
    return;
  }
  usage.cacheMisses = (usage.cacheMisses ?? 0) + 1;
  if (!spent) return;
  const count = (usage[role] ??= { prompt: 0, completion: 0 });
  count.prompt += spent.promptTokens;
  count.completion += spent.completionTokens;
}

/** Auth, unknown-model and refused-address errors will not get better on the next row; stop the job. */
function rethrowIfFatal(err: unknown, role: string): void {
  if (err instanceof ProviderError && (err.kind === 'auth' || err.kind === 'not_found' || err.kind === 'forbidden_address')) {
    throw new JobFatalError(`${role} endpoint failed: ${err.message}`);
  }
}

async function call(
  ctx: RowContext,
  bound: BoundModel,
  messages: ChatMessage[],
  settings: JudgeSpec | GeneratorSpec,
  responseFormat?: Record<string, unknown> & { type: string },
) {
  // The job's signal goes straight to the call: the scheduler, the backoff and the HTTP client
  // each remove their abort listener when they are done, so listeners do not pile up on it.
  return bound.model.complete({
    messages,
    maxTokens: settings.maxTokens,
    temperature: settings.temperature,
    ...(responseFormat ? { responseFormat } : {}),
    signal: ctx.signal,
    owner: ctx.jobId,
    cache: ctx.spec.useCache !== false,
    cacheScope: ctx.ownerId,
    // The job's concurrency bounds its calls to the server, not its cache lookups.
    underLimit: (task) => bound.limiter.run(task),
  });
}

/** The row's other columns, shown to the judge as the input when no prompt was generated. */
function rowInput(row: Record<string, unknown>, exclude: readonly string[]): string | null {
  const rest = Object.fromEntries(Object.entries(row).filter(([k]) => !exclude.includes(k)));
  return Object.keys(rest).length === 0 ? null : JSON.stringify(rest);
}

function generatorOf(spec: JobSpec, name: SourceName): GeneratorSpec {
  const source = spec.type === 'compare' ? (name === 'a' ? spec.a : spec.b) : spec.target;
  if (source.kind !== 'generate') throw new Error(`source ${name} does not generate`);
  return source.generator;
}

async function obtain(ctx: RowContext, usage: RowUsage, name: SourceName, row: Record<string, unknown>, responseColumns: readonly string[]): Promise<Obtained> {
  const source: CompiledSource = ctx.compiled.sources[name]!;
  if (source.kind === 'column') {
    const value = row[source.column];
    if (value === undefined || value === null) return { ok: false, error: `the row has no value in column '${source.column}'` };
    return { ok: true, text: typeof value === 'string' ? value : JSON.stringify(value), input: rowInput(row, responseColumns), generated: false };
  }
  let system: string;
  let input: string;
  try {
    system = source.system.render(row);
    input = source.input.render(row);
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
  const messages: ChatMessage[] = system.trim() === '' ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: input });
  try {
    const result = await call(ctx, ctx.generators[name]!, messages, generatorOf(ctx.spec, name));
    addUsage(usage, name, result.usage, result.cached);
    return { ok: true, text: result.content, input, generated: true };
  } catch (err) {
    rethrowIfFatal(err, `model ${source.param}`);
    return { ok: false, error: errorText(err) };
  }
}

function verdictOptions(spec: JobSpec): VerdictOptions {
  if (spec.type === 'classify') return { type: 'classify', labels: spec.labels };
  if (spec.type === 'score') return { type: 'score', minScore: spec.minScore, maxScore: spec.maxScore };
  return { type: 'compare' };
}

const judgeFormats = new WeakMap<JobSpec, ResponseFormat>();

/** The judge's response format, one object per job, so its JSON is written once (request-json.ts). */
function judgeFormat(spec: JobSpec, opts: VerdictOptions): ResponseFormat {
  let format = judgeFormats.get(spec);
  if (format === undefined) judgeFormats.set(spec, (format = responseFormatFor(opts)));
  return format;
}

/** One judge conversation: the verdict request and, if the reply is unusable, one repair turn. */
async function askJudge(ctx: RowContext, usage: RowUsage, system: string, input: string | null, responses: string[]): Promise<Judged> {
  const opts = verdictOptions(ctx.spec);
  const built = buildJudgeMessages({ ...opts, systemPrompt: system, input, responses });
  const prompt: ChatMessage[] = [
    { role: 'system', content: built.system },
    { role: 'user', content: built.user },
  ];
  const ask = async (messages: ChatMessage[]) => {
    const result = await call(ctx, ctx.judge, messages, ctx.spec.judge, judgeFormat(ctx.spec, opts));
    addUsage(usage, 'judge', result.usage, result.cached);
    return result.content;
  };
  let raw: string;
  try {
    raw = await ask(prompt);
  } catch (err) {
    rethrowIfFatal(err, 'judge');
    return { ok: false, failed: true, raw: null, reason: `judge failed: ${errorText(err)}`, prompt };
  }
  const first = parseVerdict(raw, opts);
  if (first.ok) return { ok: true, verdict: first.verdict, raw, prompt, repaired: false };
  // One bounded repair turn: show the judge its reply and why it cannot be used.
  let repairedRaw: string;
  try {
    repairedRaw = await ask([...prompt, { role: 'assistant', content: raw }, { role: 'user', content: repairRequest(first.reason, opts) }]);
  } catch (err) {
    rethrowIfFatal(err, 'judge');
    return { ok: false, failed: false, raw, reason: first.reason, prompt };
  }
  const second = parseVerdict(repairedRaw, opts);
  if (second.ok) return { ok: true, verdict: second.verdict, raw: repairedRaw, prompt, repaired: true };
  return { ok: false, failed: false, raw: repairedRaw, reason: `${second.reason} (also after one repair request; first reply: ${first.reason})`, prompt };
}

function result(rowIndex: number, usage: RowUsage, patch: Partial<RowResult> & Pick<RowResult, 'outcome' | 'fields'>): RowResult {
  return { rowIndex, label: null, score: null, choice: null, generationFailures: 0, judgeFailures: 0, usage, ...patch };
}

async function evaluateSingle(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  const spec = ctx.spec;
  if (spec.type === 'compare') throw new Error('compare rows go to evaluateCompare');
  const usage = emptyUsage();
  const source = ctx.compiled.sources.target!;
  const responseColumns = source.kind === 'column' ? [source.column] : [];
  const key = spec.type === 'classify' ? 'label' : 'score';
  const fields: Record<string, unknown> = {};
  const response = await obtain(ctx, usage, 'target', row, responseColumns);
  if (source.kind === 'generate') fields[OUTPUT_COLUMN.target] = response.ok ? response.text : null;
  if (!response.ok) {
    return result(rowIndex, usage, {
      outcome: 'generation_failed',
      generationFailures: 1,
      fields: { ...fields, evaluation_successful: false, [key]: null, feedback: null, error: `generation failed: ${response.error}` },
    });
  }
  let system: string;
  try {
    system = ctx.compiled.judgeSystem.render(row);
  } catch (err) {
    return result(rowIndex, usage, {
      outcome: 'judge_failed',
      judgeFailures: 1,
      fields: { ...fields, evaluation_successful: false, [key]: null, feedback: null, error: `judge template failed: ${errorText(err)}` },
    });
  }
  const judged = await askJudge(ctx, usage, system, response.input, [response.text]);
  const audit = { judge_prompt: judged.prompt, judge_raw_output: judged.raw };
  if (!judged.ok) {
    return result(rowIndex, usage, {
      outcome: judged.failed ? 'judge_failed' : 'invalid',
      judgeFailures: judged.failed ? 1 : 0,
      fields: { ...fields, evaluation_successful: false, [key]: null, feedback: null, ...audit, [judged.failed ? 'error' : 'invalid_reason']: judged.reason },
    });
  }
  const { verdict } = judged;
  return result(rowIndex, usage, {
    outcome: 'ok',
    label: verdict.label ?? null,
    score: verdict.score ?? null,
    fields: {
      ...fields,
      evaluation_successful: true,
      [key]: spec.type === 'classify' ? verdict.label : verdict.score,
      feedback: verdict.feedback,
      ...audit,
      ...(judged.repaired ? { judge_repaired: true } : {}),
    },
  });
}

/** One compare pass, with the choice translated to original terms (A = model A). */
interface Pass {
  judged: Judged;
  choice: 'A' | 'B' | null;
}

async function comparePass(ctx: RowContext, usage: RowUsage, system: string, input: string | null, a: string, b: string, flipped: boolean): Promise<Pass> {
  const judged = await askJudge(ctx, usage, system, input, flipped ? [b, a] : [a, b]);
  if (!judged.ok) return { judged, choice: null };
  const shown = judged.verdict.choice!;
  // In the flipped pass model B was shown first, so a raw "A" means model B.
  return { judged, choice: flipped ? (shown === 'A' ? 'B' : 'A') : shown };
}

async function evaluateCompare(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  const spec = ctx.spec;
  if (spec.type !== 'compare') throw new Error('only compare rows go to evaluateCompare');
  const usage = emptyUsage();
  const { a: sourceA, b: sourceB } = ctx.compiled.sources;
  const responseColumns = [sourceA, sourceB].flatMap((s) => (s?.kind === 'column' ? [s.column] : []));
  const [a, b] = await Promise.all([obtain(ctx, usage, 'a', row, responseColumns), obtain(ctx, usage, 'b', row, responseColumns)]);
  const fields: Record<string, unknown> = {};
  if (sourceA!.kind === 'generate') fields[OUTPUT_COLUMN.a] = a.ok ? a.text : null;
  if (sourceB!.kind === 'generate') fields[OUTPUT_COLUMN.b] = b.ok ? b.text : null;
  const undecided = { evaluation_successful: false, final_decision: null, is_invalid_judge_output: true };
  if (!a.ok || !b.ok) {
    const errors = [!a.ok ? `model_a: ${a.error}` : null, !b.ok ? `model_b: ${b.error}` : null].filter(Boolean);
    return result(rowIndex, usage, {
      outcome: 'generation_failed',
      generationFailures: errors.length,
      fields: { ...fields, ...undecided, error: `generation failed: ${errors.join('; ')}` },
    });
  }
  let system: string;
  try {
    system = ctx.compiled.judgeSystem.render(row);
  } catch (err) {
    return result(rowIndex, usage, { outcome: 'judge_failed', judgeFailures: 1, fields: { ...fields, ...undecided, error: `judge template failed: ${errorText(err)}` } });
  }
  const input = a.input ?? b.input;
  const [original, flipped] = await Promise.all([
    comparePass(ctx, usage, system, input, a.text, b.text, false),
    spec.positionBiasCorrection ? comparePass(ctx, usage, system, input, a.text, b.text, true) : Promise.resolve(null),
  ]);
  const passes = flipped ? [original, flipped] : [original];
  const describe = (pass: Pass, order: 'original' | 'flipped') => ({
    [`judge_prompt_${order}`]: pass.judged.prompt,
    [`judge_raw_output_${order}`]: pass.judged.raw,
    [`choice_${order}`]: pass.choice,
    [`judge_feedback_${order}_order`]: pass.judged.ok ? pass.judged.verdict.feedback : null,
  });
  Object.assign(fields, describe(original, 'original'), flipped ? describe(flipped, 'flipped') : {});
  const judgeFailures = passes.filter((p) => !p.judged.ok && p.judged.failed).length;
  const valid = passes.flatMap((p) => (p.choice === null ? [] : [p.choice]));
  const reasons = passes.flatMap((p) => (p.judged.ok ? [] : [p.judged.reason]));
  if (valid.length === 0) {
    return result(rowIndex, usage, {
      outcome: judgeFailures === passes.length ? 'judge_failed' : 'invalid',
      judgeFailures,
      fields: { ...fields, ...undecided, error: reasons.join('; ') },
    });
  }
  // Both passes agree: that side wins; they disagree: the judge followed the position, a tie.
  const agree = valid.length === 2 ? valid[0] === valid[1] : null;
  const decision: 'A' | 'B' | 'Tie' = agree === false ? 'Tie' : valid[0]!;
  return result(rowIndex, usage, {
    outcome: 'ok',
    choice: decision,
    judgeFailures,
    fields: {
      ...fields,
      evaluation_successful: true,
      final_decision: decision,
      is_invalid_judge_output: valid.length < passes.length,
      ...(agree === null ? {} : { passes_agree: agree }),
      ...(reasons.length > 0 ? { error: reasons.join('; ') } : {}),
    },
  });
}

export function evaluateRow(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  return ctx.spec.type === 'compare' ? evaluateCompare(ctx, rowIndex, row) : evaluateSingle(ctx, rowIndex, row);
}
