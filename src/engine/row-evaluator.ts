/**
 * What happens to one dataset row: obtain the response(s) (read a column or generate), ask the
 * judge (twice for compare, once per order, unless position-bias correction is off), parse the
 * verdict, and describe the outcome as a `RowResult`. Rows fail as data: every failure becomes a
 * result with a reason; only errors that doom the whole job (bad credentials, unknown model) are
 * thrown, as `JobFatalError`.
 */
import { ProviderError } from '../domain/errors.js';
import type { GeneratorSpec, JobSpec, JudgeSpec, RowResult } from '../domain/types.js';
import type { ChatMessage, ChatModel, TokenUsage } from '../providers/chat-model.js';
import { buildJudgeMessages, parseVerdict, responseFormatFor, type VerdictOptions } from '../judging/index.js';
import type { CompiledJob, CompiledSource } from './prepare.js';
import type { Limiter } from './limiter.js';

/** A failure that dooms every row of the job, so the job stops instead of failing row by row. */
export class JobFatalError extends Error {}

export interface BoundModel {
  model: ChatModel;
  limiter: Limiter;
}

export interface RowContext {
  spec: JobSpec;
  compiled: CompiledJob;
  judge: BoundModel;
  /** Generators by source name (`target`, `a`, `b`), for sources that generate. */
  generators: Partial<Record<'target' | 'a' | 'b', BoundModel>>;
  signal: AbortSignal;
}

type Obtained = { ok: true; text: string; input: string | null; generated: boolean } | { ok: false; error: string };
type JudgeCall = { ok: true; raw: string } | { ok: false; error: string };

const OUTPUT_COLUMN = { target: 'MODEL_TO_EVALUATE_OUTPUT', a: 'MODEL_TO_EVALUATE_OUTPUT_A', b: 'MODEL_TO_EVALUATE_OUTPUT_B' } as const;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Auth and unknown-model errors will not get better on the next row; stop the job. */
function rethrowIfFatal(err: unknown, role: string): void {
  if (err instanceof ProviderError && (err.kind === 'auth' || err.kind === 'not_found')) {
    throw new JobFatalError(`${role} endpoint failed: ${err.message}`);
  }
}

async function call(bound: BoundModel, messages: ChatMessage[], settings: JudgeSpec | GeneratorSpec, ctx: RowContext, responseFormat?: Record<string, unknown> & { type: string }) {
  return bound.limiter.run(async () => {
    // A signal per call, linked to the job's: HTTP clients attach listeners to the signal they are
    // given and keep them, so handing every call the job-wide signal would grow it row by row.
    const perCall = new AbortController();
    const onAbort = (): void => perCall.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await bound.model.complete({
        messages,
        maxTokens: settings.maxTokens,
        temperature: settings.temperature,
        ...(responseFormat ? { responseFormat } : {}),
        signal: perCall.signal,
      });
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  });
}

/** The row's other columns, shown to the judge as the input when no prompt was generated. */
function rowInput(row: Record<string, unknown>, exclude: string[]): string | null {
  const rest = Object.fromEntries(Object.entries(row).filter(([k]) => !exclude.includes(k)));
  return Object.keys(rest).length === 0 ? null : JSON.stringify(rest);
}

async function obtain(
  source: CompiledSource,
  name: 'target' | 'a' | 'b',
  row: Record<string, unknown>,
  ctx: RowContext,
  responseColumns: string[],
): Promise<Obtained> {
  if (source.kind === 'column') {
    const value = row[source.column];
    if (value === undefined || value === null) return { ok: false, error: `the row has no value in column '${source.column}'` };
    return { ok: true, text: typeof value === 'string' ? value : JSON.stringify(value), input: rowInput(row, responseColumns), generated: false };
  }
  const bound = ctx.generators[name]!;
  const spec = ctx.spec;
  const generator =
    spec.type === 'compare'
      ? (name === 'a' ? spec.a : spec.b)
      : spec.target;
  if (generator.kind !== 'generate') throw new Error('generation source without a generator');
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
    const result = await call(bound, messages, generator.generator, ctx);
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

async function askJudge(ctx: RowContext, system: string, input: string | null, responses: string[]): Promise<JudgeCall> {
  const opts = verdictOptions(ctx.spec);
  const messages = buildJudgeMessages({ ...opts, systemPrompt: system, input, responses });
  try {
    const result = await call(
      ctx.judge,
      [
        { role: 'system', content: messages.system },
        { role: 'user', content: messages.user },
      ],
      ctx.spec.judge,
      ctx,
      responseFormatFor(opts),
    );
    return { ok: true, raw: result.content };
  } catch (err) {
    rethrowIfFatal(err, 'judge');
    return { ok: false, error: errorText(err) };
  }
}

function failedRow(rowIndex: number, outcome: RowResult['outcome'], fields: Record<string, unknown>, counts: { generation?: number; judge?: number }): RowResult {
  return {
    rowIndex,
    outcome,
    label: null,
    score: null,
    choice: null,
    generationFailures: counts.generation ?? 0,
    judgeFailures: counts.judge ?? 0,
    fields: { ...fields, evaluation_successful: false },
  };
}

async function evaluateSingle(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  const spec = ctx.spec;
  if (spec.type === 'compare') throw new Error('unreachable');
  const source = ctx.compiled.sources.target!;
  const responseColumns = source.kind === 'column' ? [source.column] : [];
  const fields: Record<string, unknown> = {};
  const response = await obtain(source, 'target', row, ctx, responseColumns);
  if (!response.ok) {
    if (source.kind === 'generate') fields[OUTPUT_COLUMN.target] = null;
    return failedRow(rowIndex, 'generation_failed', { ...fields, error: `generation failed: ${response.error}` }, { generation: 1 });
  }
  if (response.generated) fields[OUTPUT_COLUMN.target] = response.text;

  let system: string;
  try {
    system = ctx.compiled.judgeSystem.render(row);
  } catch (err) {
    return failedRow(rowIndex, 'judge_failed', { ...fields, error: `judge template failed: ${errorText(err)}` }, { judge: 1 });
  }
  const judged = await askJudge(ctx, system, response.input, [response.text]);
  const key = spec.type === 'classify' ? 'label' : 'score';
  if (!judged.ok) {
    return failedRow(rowIndex, 'judge_failed', { ...fields, [key]: null, feedback: null, error: `judge failed: ${judged.error}` }, { judge: 1 });
  }
  const verdict = parseVerdict(judged.raw, verdictOptions(spec));
  if (!verdict.ok) {
    return failedRow(rowIndex, 'invalid', { ...fields, [key]: null, feedback: null, judge_raw_output: judged.raw, invalid_reason: verdict.reason }, {});
  }
  const value = spec.type === 'classify' ? verdict.verdict.label! : verdict.verdict.score!;
  return {
    rowIndex,
    outcome: 'ok',
    label: spec.type === 'classify' ? (value as string) : null,
    score: spec.type === 'score' ? (value as number) : null,
    choice: null,
    generationFailures: 0,
    judgeFailures: 0,
    fields: { ...fields, evaluation_successful: true, [key]: value, feedback: verdict.verdict.feedback, judge_raw_output: judged.raw },
  };
}

/** One compare pass: the choice in original terms (A = model A), or why there is none. */
type PassOutcome = { choice: 'A' | 'B'; feedback: string; raw: string } | { failed: true; raw: string | null; reason: string };

async function comparePass(ctx: RowContext, system: string, input: string | null, first: string, second: string, flipped: boolean): Promise<PassOutcome> {
  const judged = await askJudge(ctx, system, input, [first, second]);
  if (!judged.ok) return { failed: true, raw: null, reason: `judge failed: ${judged.error}` };
  const verdict = parseVerdict(judged.raw, { type: 'compare' });
  if (!verdict.ok) return { failed: true, raw: judged.raw, reason: verdict.reason };
  const shown = verdict.verdict.choice!;
  // In the flipped pass model B was shown first, so a raw "A" means model B.
  const choice = flipped ? (shown === 'A' ? 'B' : 'A') : shown;
  return { choice, feedback: verdict.verdict.feedback, raw: judged.raw };
}

async function evaluateCompare(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  const { a: sourceA, b: sourceB } = ctx.compiled.sources;
  const responseColumns = [sourceA, sourceB].flatMap((s) => (s?.kind === 'column' ? [s.column] : []));
  const [a, b] = await Promise.all([obtain(sourceA!, 'a', row, ctx, responseColumns), obtain(sourceB!, 'b', row, ctx, responseColumns)]);
  const fields: Record<string, unknown> = {};
  if (sourceA!.kind === 'generate') fields[OUTPUT_COLUMN.a] = a.ok ? a.text : null;
  if (sourceB!.kind === 'generate') fields[OUTPUT_COLUMN.b] = b.ok ? b.text : null;
  if (!a.ok || !b.ok) {
    const errors = [!a.ok ? `model_a: ${a.error}` : null, !b.ok ? `model_b: ${b.error}` : null].filter(Boolean);
    return failedRow(rowIndex, 'generation_failed', { ...fields, error: `generation failed: ${errors.join('; ')}` }, { generation: errors.length });
  }
  let system: string;
  try {
    system = ctx.compiled.judgeSystem.render(row);
  } catch (err) {
    return failedRow(rowIndex, 'judge_failed', { ...fields, error: `judge template failed: ${errorText(err)}` }, { judge: 1 });
  }
  const input = a.input ?? b.input;
  const twoPasses = ctx.spec.type === 'compare' && ctx.spec.positionBiasCorrection;
  const [original, flipped] = await Promise.all([
    comparePass(ctx, system, input, a.text, b.text, false),
    twoPasses ? comparePass(ctx, system, input, b.text, a.text, true) : Promise.resolve(null),
  ]);
  const passes = flipped ? [original, flipped] : [original];
  const judgeFailures = passes.filter((p) => 'failed' in p && p.raw === null).length;
  const valid = passes.filter((p): p is Extract<PassOutcome, { choice: 'A' | 'B' }> => 'choice' in p);

  fields.judge_raw_output_original = original.raw;
  fields.choice_original = 'choice' in original ? original.choice : null;
  fields.judge_feedback_original_order = 'choice' in original ? original.feedback : null;
  if (flipped) {
    fields.judge_raw_output_flipped = flipped.raw;
    fields.choice_flipped = 'choice' in flipped ? flipped.choice : null;
    fields.judge_feedback_flipped_order = 'choice' in flipped ? flipped.feedback : null;
  }
  const reasons = passes.flatMap((p) => ('failed' in p ? [p.reason] : []));
  if (valid.length === 0) {
    const outcome = judgeFailures === passes.length ? 'judge_failed' : 'invalid';
    return failedRow(rowIndex, outcome, { ...fields, final_decision: null, is_invalid_judge_output: true, error: reasons.join('; ') }, { judge: judgeFailures });
  }
  // Both passes agree: that side wins; they disagree: the judge's preference followed position, a tie.
  const decision: 'A' | 'B' | 'Tie' = valid.length === 2 && valid[0]!.choice !== valid[1]!.choice ? 'Tie' : valid[0]!.choice;
  return {
    rowIndex,
    outcome: 'ok',
    label: null,
    score: null,
    choice: decision,
    generationFailures: 0,
    judgeFailures,
    fields: {
      ...fields,
      evaluation_successful: true,
      final_decision: decision,
      is_invalid_judge_output: valid.length < passes.length,
      ...(reasons.length > 0 ? { error: reasons.join('; ') } : {}),
    },
  };
}

export function evaluateRow(ctx: RowContext, rowIndex: number, row: Record<string, unknown>): Promise<RowResult> {
  return ctx.spec.type === 'compare' ? evaluateCompare(ctx, rowIndex, row) : evaluateSingle(ctx, rowIndex, row);
}

export type { TokenUsage };
