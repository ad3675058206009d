/**
 * The cases of the together-ai end-to-end test (together-sdk.e2e.test.ts): how the fake provider
 * answers, the datasets, and each job with the figures and result-file lines it must produce.
 *
 * The fake is deterministic and decides from what it is sent:
 *
 * - a call without `response_format` is a generation; it answers `ANSWER[<model>](<user message>)`;
 * - a call with one is a judge call; the verdict comes from markers in the text between the
 *   `<response>` tags (`LABEL=good`, `SCORE=7`; `GARBLE` or `SCORE=??` make the reply unparseable),
 *   or, for compare, from the `<response_a>` / `<response_b>` sections (`Q=<n>` quality markers in
 *   column mode, `WINNER=A|B` echoed by the generators in generation mode). `BIAS` in the input makes
 *   it prefer whichever response is shown first (the two orders disagree: a tie); `FLAKY` makes the
 *   pass in which the better response is shown second unparseable; `PREFER_FIRST` in the judge's
 *   system prompt makes it always choose the first response.
 *
 * A judge reply that cannot be used gets one repair turn (the verdict request, the reply, and a
 * follow-up saying why it was unusable). The fake answers a repair turn as it answered the request
 * it repeats, so an unusable reply stays unusable and every figure is the same as without repair.
 * Every reply reports fixed token usage (`USAGE`), so each job's usage totals are exact.
 *
 * Each job's judge template starts with a `[job-name]` tag, and each generator's system template
 * with `[job-name:gen|a|b]`, so the fake's calls can be told apart.
 */
import { expect } from 'vitest';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import type { EvaluationType, KnownDeviation } from '../support/upstream-schemas.js';

export type Json = Record<string, unknown>;

/** Sent as `external_api_token` by two jobs; must never come back. */
export const SECRET = 'secret-token-123';
export const PROVIDER_KEY = 'provider-key-e2e';
export const JUDGE = 'fake-judge';
export const DENIED_JUDGE = 'fake-judge-denied';
export const GEN = 'fake-gen';
export const GEN_A = 'fake-gen-a';
export const GEN_B = 'fake-gen-b';
/** Judge defaults the server is started with, for jobs that leave them out. */
export const JUDGE_DEFAULT_MAX_TOKENS = 2048;
export const JUDGE_DEFAULT_TEMPERATURE = 0.1;
/** The live API returns classify `label_counts` as an object; the upstream schema says string. */
export const DEVIATIONS: readonly KnownDeviation[] = ['label_counts_object'];
export const JOB_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// The fake provider's behaviour
// ---------------------------------------------------------------------------------------------

export const UNPARSEABLE = 'Hard to say, honestly.';
export const BIAS_FEEDBACK = 'The first response reads better.';
export const FIRST_FEEDBACK = 'I always prefer the first response.';

/** Token usage the fake reports, by kind of call. */
export const USAGE = {
  generation: { prompt_tokens: 7, completion_tokens: 3 },
  judge: { prompt_tokens: 300, completion_tokens: 20 },
  repair: { prompt_tokens: 500, completion_tokens: 40 },
} as const;

/** The start of the follow-up user message of a repair turn (src/judging/repair.ts). */
export const REPAIR_PREFIX = 'Your previous reply could not be used: ';

/** A repair turn: the verdict request, then the judge's reply, then the follow-up. */
export const isRepairTurn = (req: FakeChatRequest): boolean => req.messages.some((m) => m.role === 'assistant');

/** The exact text of a judge reply the fake sends: `{"feedback": …, "<key>": …}`. */
export function verdictText(feedback: string, key: 'label' | 'score' | 'choice', value: string | number): string {
  return JSON.stringify({ feedback, [key]: value });
}

/** What the fake answers to a generation call. */
export function generated(model: string, userMessage: string): string {
  return `ANSWER[${model}](${userMessage})`;
}

/** The content of a `<tag>` section of the judge's user message (see src/judging/messages.ts). */
export function section(text: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>\\n([\\s\\S]*?)\\n</${tag}>`).exec(text)?.[1];
}

function badLayout(what: string): FakeReply {
  return { status: 400, body: { error: { message: `fake judge: ${what}`, type: 'invalid_request_error', param: null, code: null } } };
}

/** Which of the two shown responses is better, by content: `Q=<n>` markers, or the generator named in `WINNER=`. */
function better(first: string, second: string): 'A' | 'B' | null {
  const q1 = /\bQ=(\d+)/.exec(first)?.[1];
  const q2 = /\bQ=(\d+)/.exec(second)?.[1];
  if (q1 !== undefined && q2 !== undefined) return Number(q1) > Number(q2) ? 'A' : 'B';
  const winner = /WINNER=([AB])\b/.exec(first)?.[1];
  if (winner === undefined) return null;
  return first.includes(`[fake-gen-${winner.toLowerCase()}]`) ? 'A' : 'B';
}

function judgeReply(req: FakeChatRequest): FakeReply {
  // The verdict request's user message; in a repair turn it is the first of two user messages.
  const asked = req.messages.find((m) => m.role === 'user')?.content;
  const user = typeof asked === 'string' ? asked : '';
  const single = section(user, 'response');
  if (single !== undefined) {
    const label = /LABEL=([a-z]+)/.exec(single)?.[1];
    if (label !== undefined) return { content: verdictText(`Looks ${label}.`, 'label', label) };
    const score = /SCORE=(\d+)/.exec(single)?.[1];
    if (score !== undefined) return { content: verdictText(`Worth ${score}.`, 'score', Number(score)) };
    return { content: UNPARSEABLE };
  }
  const first = section(user, 'response_a');
  const second = section(user, 'response_b');
  if (first === undefined || second === undefined) return badLayout('no <response> or <response_a>/<response_b> sections');
  if (req.systemText.includes('PREFER_FIRST')) return { content: verdictText(FIRST_FEEDBACK, 'choice', 'A') };
  if (user.includes('BIAS')) return { content: verdictText(BIAS_FEEDBACK, 'choice', 'A') };
  const pick = better(first, second);
  if (pick === null) return badLayout('no quality markers in the responses');
  if (user.includes('FLAKY') && pick === 'B') return { content: UNPARSEABLE };
  return { content: verdictText(`Response ${pick} is better.`, 'choice', pick) };
}

export function fakeReply(req: FakeChatRequest): FakeReply {
  if (req.model === DENIED_JUDGE) return { status: 401 };
  if (req.body['response_format'] === undefined) return { content: generated(req.model, req.userText), usage: USAGE.generation };
  const reply = judgeReply(req);
  return 'content' in reply ? { ...reply, usage: isRepairTurn(req) ? USAGE.repair : USAGE.judge } : reply;
}

// ---------------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------------

// classify, column mode: 7 good, 3 bad, 1 unparseable → pass 7/10 valid labels = 70 %.
export const CLASSIFY_COLUMN_VERDICTS = ['good', 'good', 'bad', 'good', 'GARBLE', 'good', 'bad', 'good', 'good', 'bad', 'good'] as const;
export const classifyColumnRows: Json[] = CLASSIFY_COLUMN_VERDICTS.map((v, i) => ({
  question: `Question ${i}?`,
  answer: v === 'GARBLE' ? `Answer ${i}: GARBLE` : `Answer ${i}: LABEL=${v}`,
  meta: { id: i, tags: ['e2e'] },
}));

// classify, generation mode: 4 good, 4 bad, 2 ugly; good and ugly pass → 60 %.
export const CLASSIFY_GENERATION_LABELS = ['good', 'bad', 'ugly', 'good', 'good', 'bad', 'ugly', 'bad', 'good', 'bad'] as const;
export const classifyGenerationRows: Json[] = CLASSIFY_GENERATION_LABELS.map((label, i) => ({ topic: `topic ${i} LABEL=${label}` }));

// score, column mode (CSV): valid scores 1 1 2 7 8 9 10 10 → mean 6, sample std 4, 5 of 8 ≥ 7 → 62.5 %;
// 42 is outside [1, 10] and ?? is not a number: 2 invalid.
export const SCORE_COLUMN_MARKS = ['7', '1', '42', '10', '2', '8', '??', '10', '1', '9'] as const;
export const scoreColumnRows: Json[] = SCORE_COLUMN_MARKS.map((mark, i) => ({ question: `Question ${i}?`, answer: `SCORE=${mark}` }));

// score, generation mode: 1 2 3 3 4 4 4 5 6 8 → mean 4, sample std 2, 3 of 10 ≥ 5 → 30 %.
export const SCORE_GENERATION_SCORES = [4, 8, 1, 5, 3, 6, 4, 2, 3, 4] as const;
export const scoreGenerationRows: Json[] = SCORE_GENERATION_SCORES.map((score, i) => ({ task: `task ${i} SCORE=${score}` }));

export type Winner = 'A' | 'B' | 'BIAS';

// compare, column mode: A wins 5 (one of them FLAKY), B wins 3, 2 ties from position bias.
export const COMPARE_COLUMN_ROWS: ReadonlyArray<{ winner: Winner; flaky?: true }> = [
  { winner: 'A' },
  { winner: 'B' },
  { winner: 'A' },
  { winner: 'BIAS' },
  { winner: 'B' },
  { winner: 'A', flaky: true },
  { winner: 'A' },
  { winner: 'BIAS' },
  { winner: 'B' },
  { winner: 'A' },
];
export const compareColumnRows: Json[] = COMPARE_COLUMN_ROWS.map(({ winner, flaky }, i) => ({
  prompt: `Prompt ${i}${winner === 'BIAS' ? ' BIAS' : ''}${flaky ? ' FLAKY' : ''}`,
  resp_a: `Reply A${i} Q=${winner === 'A' ? 8 : winner === 'B' ? 2 : 5}`,
  resp_b: `Reply B${i} Q=${winner === 'A' ? 3 : winner === 'B' ? 7 : 5}`,
}));

// compare, generation mode: A wins 6, B wins 3, 1 tie.
export const COMPARE_GENERATION_WINNERS: readonly Winner[] = ['A', 'B', 'A', 'A', 'BIAS', 'B', 'A', 'B', 'A', 'A'];
export const compareGenerationRows: Json[] = COMPARE_GENERATION_WINNERS.map((w, i) => ({ prompt: `Prompt ${i} WINNER=${w}` }));

export const DATASETS = {
  classifyColumn: { file: 'classify-answers.jsonl', rows: classifyColumnRows, type: 'jsonl' },
  classifyGeneration: { file: 'topics.jsonl', rows: classifyGenerationRows, type: 'jsonl' },
  scoreColumn: { file: 'graded-answers.csv', rows: scoreColumnRows, type: 'csv' },
  scoreGeneration: { file: 'tasks.jsonl', rows: scoreGenerationRows, type: 'jsonl' },
  compareColumn: { file: 'paired-replies.jsonl', rows: compareColumnRows, type: 'jsonl' },
  compareGeneration: { file: 'prompts.jsonl', rows: compareGenerationRows, type: 'jsonl' },
} as const;
export type DatasetName = keyof typeof DATASETS;
export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

export function serialize(name: DatasetName): string {
  const { rows, type } = DATASETS[name];
  if (type === 'jsonl') return rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
  const columns = Object.keys(rows[0] ?? {});
  // Plain cells only: the SDK's local CSV check splits on every comma.
  return [columns.join(','), ...rows.map((row) => columns.map((c) => String(row[c])).join(','))].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Expected figures and result-file lines
// ---------------------------------------------------------------------------------------------

/** Mean and sample (n - 1) standard deviation, computed here independently of the server. */
function sampleStats(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (xs.length - 1)) };
}

/**
 * The reason of a row whose reply was unusable twice: the fake answered the repair turn as it
 * answered the request, so the reason after the repair is the first reason again.
 */
const UNUSABLE_TWICE = expect.stringMatching(/^(.+) \(also after one repair request; first reply: \1\)$/);

function classifyLine(row: Json, verdict: string): Json {
  if (verdict === 'GARBLE') {
    return { ...row, evaluation_successful: false, label: null, feedback: null, judge_raw_output: UNPARSEABLE, invalid_reason: UNUSABLE_TWICE };
  }
  const feedback = `Looks ${verdict}.`;
  return { ...row, evaluation_successful: true, label: verdict, feedback, judge_raw_output: verdictText(feedback, 'label', verdict) };
}

function scoreLine(row: Json, mark: string, min: number, max: number): Json {
  const score = Number(mark);
  if (!Number.isFinite(score)) {
    return { ...row, evaluation_successful: false, score: null, feedback: null, judge_raw_output: UNPARSEABLE, invalid_reason: UNUSABLE_TWICE };
  }
  const feedback = `Worth ${mark}.`;
  const raw = verdictText(feedback, 'score', score);
  if (score < min || score > max) {
    return { ...row, evaluation_successful: false, score: null, feedback: null, judge_raw_output: raw, invalid_reason: UNUSABLE_TWICE };
  }
  return { ...row, evaluation_successful: true, score, feedback, judge_raw_output: raw };
}

/** The compare fields of a two-pass row; `choice_flipped` is in original terms (A = model A). */
function twoPassFields(winner: Winner, flaky = false): Json {
  if (winner === 'BIAS') {
    const raw = verdictText(BIAS_FEEDBACK, 'choice', 'A');
    return {
      judge_raw_output_original: raw,
      choice_original: 'A',
      judge_feedback_original_order: BIAS_FEEDBACK,
      judge_raw_output_flipped: raw,
      choice_flipped: 'B',
      judge_feedback_flipped_order: BIAS_FEEDBACK,
      evaluation_successful: true,
      final_decision: 'Tie',
      is_invalid_judge_output: false,
      passes_agree: false,
    };
  }
  // In the flipped pass the winner is shown second, so the judge answers with the other letter.
  const shownFlipped = winner === 'A' ? 'B' : 'A';
  const original = {
    judge_raw_output_original: verdictText(`Response ${winner} is better.`, 'choice', winner),
    choice_original: winner,
    judge_feedback_original_order: `Response ${winner} is better.`,
  };
  if (flaky) {
    return {
      ...original,
      judge_raw_output_flipped: UNPARSEABLE,
      choice_flipped: null,
      judge_feedback_flipped_order: null,
      evaluation_successful: true,
      final_decision: winner,
      is_invalid_judge_output: true,
      error: UNUSABLE_TWICE,
    };
  }
  return {
    ...original,
    judge_raw_output_flipped: verdictText(`Response ${shownFlipped} is better.`, 'choice', shownFlipped),
    choice_flipped: winner,
    judge_feedback_flipped_order: `Response ${shownFlipped} is better.`,
    evaluation_successful: true,
    final_decision: winner,
    is_invalid_judge_output: false,
    passes_agree: true,
  };
}

export const count = <T>(xs: readonly T[], pred: (x: T) => boolean): number => xs.filter(pred).length;

// ---------------------------------------------------------------------------------------------
// Expected assay additions to the results (docs/results.md, docs/statistics.md), computed here
// independently of the server
// ---------------------------------------------------------------------------------------------

/** The normal quantile at 0.975. */
const Z95 = 1.959963984540054;
/** Student's t quantile at 0.975 by degrees of freedom, from SciPy (`scipy.stats.t.ppf(0.975, df)`). */
const T975: Readonly<Record<number, number>> = { 7: 2.364624251592784, 9: 2.262157162798205 };

/** Estimates and rates are reported rounded to 6 decimals. */
const round6 = (x: number): number => Number(x.toFixed(6));
/** An interval bound, reported rounded to 6 decimals. */
const bound = (x: number): unknown => expect.closeTo(x, 5);

/** Wilson's score interval for x successes of n, unrounded. */
function wilson(x: number, n: number): { low: number; high: number } {
  const p = x / n;
  const z2 = Z95 * Z95;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

const wilsonPercent = (x: number, n: number): Json => {
  const w = wilson(x, n);
  return { low: bound(100 * w.low), high: bound(100 * w.high) };
};
const labelShare = (x: number, n: number): Json => {
  const w = wilson(x, n);
  return { proportion: round6(x / n), low: bound(w.low), high: bound(w.high) };
};

/** Mean ± t · s / √n for n values with sample standard deviation s, kept inside the score scale. */
function meanCi(mean: number, std: number, n: number, min: number, max: number): Json {
  const se = std / Math.sqrt(n);
  const half = T975[n - 1]! * se;
  return {
    mean_score_stderr: bound(se),
    mean_score_ci: { low: bound(Math.max(min, mean - half)), high: bound(Math.min(max, mean + half)) },
  };
}

/** The exact two-sided sign test: 2 · P(X <= min(a, b)) for X ~ Binomial(a + b, ½), at most 1. */
function signTestP(a: number, b: number): number {
  const m = a + b;
  const k = Math.min(a, b);
  let tail = 0;
  let choose = 1; // C(m, i)
  for (let i = 0; i <= k; i++) {
    tail += choose;
    choose = (choose * (m - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** m);
}

/** A p-value, reported to 6 significant digits. */
function pValue(exact: number): unknown {
  const unit = 10 ** (Math.floor(Math.log10(exact)) - 5);
  return expect.toSatisfy((p: unknown) => typeof p === 'number' && Math.abs(p - exact) <= unit, `a p-value of ${exact}`);
}

/** An interval `{low, high}` that holds `estimate` and lies within [min, max]. */
export function intervalAround(estimate: number, min: number, max: number): unknown {
  return expect.toSatisfy(
    (ci: unknown) => {
      if (ci === null || typeof ci !== 'object') return false;
      const { low, high, ...rest } = ci as Record<string, unknown>;
      return typeof low === 'number' && typeof high === 'number' && Object.keys(rest).length === 0 &&
        min <= low && low <= estimate && estimate <= high && high <= max;
    },
    `an interval in [${min}, ${max}] holding ${estimate}`,
  );
}

/**
 * The position-bias figures of a compare job over the fixture rows, from how the fake judges:
 * for each pass, whether it picked the response shown first, second, or gave no usable reply.
 * The two passes of a row disagree (a tie) exactly when they picked the same position.
 */
function positionFigures(picks: ReadonlyArray<ReadonlyArray<'first' | 'second' | null>>, twoPass: boolean): Json {
  const valid = picks.flat().filter((p) => p !== null);
  const paired = picks.filter((row) => row.length === 2 && row[0] !== null && row[1] !== null);
  return {
    flip_rate: twoPass ? round6(count(paired, (row) => row[0] === row[1]) / paired.length) : null,
    // With one pass the share of first-position picks measures the models, not the judge: null.
    first_position_preference_rate: twoPass ? round6(count(valid, (p) => p === 'first') / valid.length) : null,
  };
}

/** What the fake picks in the original and flipped order of a row of the two-pass fixtures. */
function twoPassPicks(winner: Winner, flaky = false): Array<'first' | 'second' | null> {
  if (winner === 'BIAS') return ['first', 'first'];
  // The better response is shown first in the original order when it is A's, in the flipped order when it is B's.
  const original = winner === 'A' ? 'first' : 'second';
  const flipped = winner === 'A' ? 'second' : 'first';
  // FLAKY: the pass that shows the better response second gets an unusable reply.
  return [flaky && original === 'second' ? null : original, flaky && flipped === 'second' ? null : flipped];
}

/** The compare additions for a + b + ties decided rows, none invalid. */
function compareFigures(a: number, b: number, ties: number): Json {
  const winRate = (a + ties / 2) / (a + b + ties);
  return {
    invalid_judge_count: 0,
    win_rate_a: round6(winRate),
    win_rate_a_ci: intervalAround(winRate, 0, 1),
    sign_test_p_value: pValue(signTestP(a, b)),
  };
}

type TokenUsage = { prompt_tokens: number; completion_tokens: number };
const times = (n: number, u: TokenUsage): TokenUsage => ({ prompt_tokens: n * u.prompt_tokens, completion_tokens: n * u.completion_tokens });

/** The `usage` of a job: every call reported `USAGE` for its kind. */
export function expectedUsage(jobCase: JobCase): Json {
  if (jobCase.judgeCalls === null) throw new Error(`${jobCase.name}: judge calls depend on timing`);
  const generations = Object.values(jobCase.generationCalls).reduce((a, b) => a + b, 0);
  const repairs = jobCase.repairs.length;
  const generation = times(generations, USAGE.generation);
  const first = times(jobCase.judgeCalls - repairs, USAGE.judge);
  const repair = times(repairs, USAGE.repair);
  const judge = { prompt_tokens: first.prompt_tokens + repair.prompt_tokens, completion_tokens: first.completion_tokens + repair.completion_tokens };
  return {
    generation,
    judge,
    total_tokens: generation.prompt_tokens + generation.completion_tokens + judge.prompt_tokens + judge.completion_tokens,
  };
}

/** The call cache's figures of a job: every call of these distinct jobs goes to the fake. */
export function expectedCache(jobCase: JobCase): Json {
  if (jobCase.judgeCalls === null) throw new Error(`${jobCase.name}: judge calls depend on timing`);
  const generations = Object.values(jobCase.generationCalls).reduce((a, b) => a + b, 0);
  return { hits: 0, misses: jobCase.judgeCalls + generations };
}

// ---------------------------------------------------------------------------------------------
// The jobs
// ---------------------------------------------------------------------------------------------

export interface Ctx {
  fileIds: Record<DatasetName, string>;
  fakeUrl: string;
}

/** What the judge is shown in one pass over a row: the `<input>` and the response(s), in order. */
export interface Shown {
  input: string;
  responses: string[];
}

export interface JobCase {
  /** Also the `[name]` tag that starts the judge template. */
  name: string;
  type: EvaluationType;
  dataset: DatasetName;
  parameters(ctx: Ctx): Json;
  status: 'completed' | 'user_error';
  /** The expected `results`: Together's fields, without `result_file_id`. */
  results: Json;
  /** assay's additions to the results of a completed job, besides `usage` (see expectedUsage). */
  additions?: Json;
  /** The expected result file, one object per dataset row, without the judge prompts (see `shown`). */
  lines?: Json[];
  /** What the judge is shown for a row, per pass (the original order first). */
  shown?: (row: Json) => Shown[];
  /** Exact judge calls, repair turns included, or null when it depends on timing. */
  judgeCalls: number | null;
  /** The repair turns: the row and the pass (index into `shown`) whose reply was unusable. */
  repairs: Array<{ row: number; pass: number }>;
  /** Exact generation calls by generator tag (`gen`, `a`, `b`). */
  generationCalls: Record<string, number>;
}

const scoreColumnValid = SCORE_COLUMN_MARKS.map(Number).filter((s) => Number.isFinite(s) && s >= 1 && s <= 10);
const scoreColumnStats = sampleStats(scoreColumnValid); // mean 6, std 4
const scoreGenerationStats = sampleStats(SCORE_GENERATION_SCORES); // mean 4, std 2

const indexesOf = <T>(xs: readonly T[], pred: (x: T) => boolean): number[] => xs.flatMap((x, i) => (pred(x) ? [i] : []));
/** Column mode: the input is the row without its response column(s). */
const columnInput = (row: Json, ...responseColumns: string[]): string =>
  JSON.stringify(Object.fromEntries(Object.entries(row).filter(([k]) => !responseColumns.includes(k))));
const bothOrders = (input: string, a: string, b: string): Shown[] => [
  { input, responses: [a, b] },
  { input, responses: [b, a] },
];

export const JOBS: JobCase[] = [
  {
    name: 'classify-column',
    type: 'classify',
    dataset: 'classifyColumn',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.classifyColumn,
      judge: { model: JUDGE, model_source: 'serverless', system_template: '[classify-column] Grade the answer to: {{question}}' },
      model_to_evaluate: 'answer',
      labels: ['good', 'bad'],
      pass_labels: ['good'],
    }),
    status: 'completed',
    results: {
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_label_count: 1,
      pass_percentage: 70,
      label_counts: { good: 7, bad: 3 },
    },
    additions: {
      pass_percentage_ci: wilsonPercent(7, 10),
      label_proportions: { good: labelShare(7, 10), bad: labelShare(3, 10) },
    },
    lines: classifyColumnRows.map((row, i) => classifyLine(row, CLASSIFY_COLUMN_VERDICTS[i]!)),
    shown: (row) => [{ input: columnInput(row, 'answer'), responses: [String(row['answer'])] }],
    // 11 rows, and a repair turn for the unparseable one.
    judgeCalls: 12,
    repairs: indexesOf(CLASSIFY_COLUMN_VERDICTS, (v) => v === 'GARBLE').map((row) => ({ row, pass: 0 })),
    generationCalls: {},
  },
  {
    name: 'classify-generation',
    type: 'classify',
    dataset: 'classifyGeneration',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.classifyGeneration,
      judge: {
        model: JUDGE,
        model_source: 'serverless',
        system_template: '[classify-generation] Judge the text about {{topic}}.',
        max_tokens: 512,
        temperature: 0,
      },
      model_to_evaluate: {
        model: GEN,
        model_source: 'serverless',
        system_template: '[classify-generation:gen] You are a writer.',
        input_template: 'Write about {{topic}}.',
        max_tokens: 64,
        temperature: 0.3,
      },
      labels: ['good', 'bad', 'ugly'],
      pass_labels: ['good', 'ugly'],
    }),
    status: 'completed',
    results: {
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_label_count: 0,
      pass_percentage: 60,
      label_counts: { good: 4, bad: 4, ugly: 2 },
    },
    additions: {
      pass_percentage_ci: wilsonPercent(6, 10),
      label_proportions: { good: labelShare(4, 10), bad: labelShare(4, 10), ugly: labelShare(2, 10) },
    },
    lines: classifyGenerationRows.map((row, i) => ({
      ...classifyLine(row, CLASSIFY_GENERATION_LABELS[i]!),
      MODEL_TO_EVALUATE_OUTPUT: generated(GEN, `Write about ${String(row['topic'])}.`),
    })),
    shown: (row) => {
      const input = `Write about ${String(row['topic'])}.`;
      return [{ input, responses: [generated(GEN, input)] }];
    },
    judgeCalls: 10,
    repairs: [],
    generationCalls: { gen: 10 },
  },
  {
    name: 'score-column',
    type: 'score',
    dataset: 'scoreColumn',
    parameters: ({ fileIds, fakeUrl }) => ({
      input_data_file_path: fileIds.scoreColumn,
      judge: {
        model: JUDGE,
        model_source: 'external',
        external_base_url: fakeUrl,
        external_api_token: SECRET,
        system_template: '[score-column] Rate the answer to {{question}} from 1 to 10.',
        max_tokens: 256,
        temperature: 0,
      },
      model_to_evaluate: 'answer',
      min_score: 1,
      max_score: 10,
      pass_threshold: 7,
    }),
    status: 'completed',
    results: {
      aggregated_scores: {
        mean_score: expect.closeTo(scoreColumnStats.mean, 9),
        std_score: expect.closeTo(scoreColumnStats.std, 9),
        pass_percentage: (100 * count(scoreColumnValid, (s) => s >= 7)) / scoreColumnValid.length,
      },
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_score_count: 2,
      failed_samples: 2,
    },
    additions: {
      aggregated_scores: {
        ...meanCi(scoreColumnStats.mean, scoreColumnStats.std, scoreColumnValid.length, 1, 10),
        pass_percentage_ci: wilsonPercent(count(scoreColumnValid, (s) => s >= 7), scoreColumnValid.length),
      },
    },
    lines: scoreColumnRows.map((row, i) => scoreLine(row, SCORE_COLUMN_MARKS[i]!, 1, 10)),
    shown: (row) => [{ input: columnInput(row, 'answer'), responses: [String(row['answer'])] }],
    // 10 rows, and a repair turn each for the out-of-range and the unparseable score.
    judgeCalls: 12,
    repairs: indexesOf(SCORE_COLUMN_MARKS, (m) => m === '42' || m === '??').map((row) => ({ row, pass: 0 })),
    generationCalls: {},
  },
  {
    name: 'score-generation',
    type: 'score',
    dataset: 'scoreGeneration',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.scoreGeneration,
      judge: { model: JUDGE, model_source: 'serverless', system_template: '[score-generation] Rate how well the task was done.' },
      model_to_evaluate: {
        model: GEN,
        model_source: 'serverless',
        system_template: '[score-generation:gen] Be brief.',
        input_template: 'Do {{task}}',
        max_tokens: 128,
        temperature: 0.7,
      },
      min_score: 0,
      max_score: 10,
      pass_threshold: 5,
    }),
    status: 'completed',
    results: {
      aggregated_scores: {
        mean_score: expect.closeTo(scoreGenerationStats.mean, 9),
        std_score: expect.closeTo(scoreGenerationStats.std, 9),
        pass_percentage: 30,
      },
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_score_count: 0,
      failed_samples: 0,
    },
    additions: {
      aggregated_scores: {
        ...meanCi(scoreGenerationStats.mean, scoreGenerationStats.std, SCORE_GENERATION_SCORES.length, 0, 10),
        pass_percentage_ci: wilsonPercent(3, 10),
      },
    },
    lines: scoreGenerationRows.map((row, i) => ({
      ...scoreLine(row, String(SCORE_GENERATION_SCORES[i]), 0, 10),
      MODEL_TO_EVALUATE_OUTPUT: generated(GEN, `Do ${String(row['task'])}`),
    })),
    shown: (row) => {
      const input = `Do ${String(row['task'])}`;
      return [{ input, responses: [generated(GEN, input)] }];
    },
    judgeCalls: 10,
    repairs: [],
    generationCalls: { gen: 10 },
  },
  {
    name: 'compare-column',
    type: 'compare',
    dataset: 'compareColumn',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.compareColumn,
      judge: { model: JUDGE, model_source: 'serverless', system_template: '[compare-column] Which reply to {{prompt}} is better?' },
      model_a: 'resp_a',
      model_b: 'resp_b',
    }),
    status: 'completed',
    results: { A_wins: 5, B_wins: 3, Ties: 2, generation_fail_count: 0, judge_fail_count: 0 },
    additions: {
      ...compareFigures(5, 3, 2),
      ...positionFigures(COMPARE_COLUMN_ROWS.map(({ winner, flaky }) => twoPassPicks(winner, flaky)), true),
    },
    lines: compareColumnRows.map((row, i) => ({ ...row, ...twoPassFields(COMPARE_COLUMN_ROWS[i]!.winner, COMPARE_COLUMN_ROWS[i]!.flaky) })),
    shown: (row) => bothOrders(columnInput(row, 'resp_a', 'resp_b'), String(row['resp_a']), String(row['resp_b'])),
    // Two passes for each of 10 rows, and a repair turn for the unparseable flipped pass of the FLAKY row.
    judgeCalls: 21,
    repairs: indexesOf(COMPARE_COLUMN_ROWS, (r) => r.flaky === true).map((row) => ({ row, pass: 1 })),
    generationCalls: {},
  },
  {
    name: 'compare-generation',
    type: 'compare',
    dataset: 'compareGeneration',
    parameters: ({ fileIds, fakeUrl }) => ({
      input_data_file_path: fileIds.compareGeneration,
      judge: { model: JUDGE, model_source: 'serverless', system_template: '[compare-generation] Which answer is more helpful?' },
      model_a: {
        model: GEN_A,
        model_source: 'external',
        external_base_url: fakeUrl,
        external_api_token: SECRET,
        system_template: '[compare-generation:a] You are model A.',
        input_template: '{{prompt}}',
        max_tokens: 48,
        temperature: 0.2,
      },
      model_b: {
        model: GEN_B,
        model_source: 'serverless',
        system_template: '[compare-generation:b] You are model B.',
        input_template: 'Please answer: {{prompt}}',
        max_tokens: 40,
        temperature: 0.4,
      },
    }),
    status: 'completed',
    results: { A_wins: 6, B_wins: 3, Ties: 1, generation_fail_count: 0, judge_fail_count: 0 },
    additions: {
      ...compareFigures(6, 3, 1),
      ...positionFigures(COMPARE_GENERATION_WINNERS.map((winner) => twoPassPicks(winner)), true),
    },
    lines: compareGenerationRows.map((row, i) => ({
      ...row,
      MODEL_TO_EVALUATE_OUTPUT_A: generated(GEN_A, String(row['prompt'])),
      MODEL_TO_EVALUATE_OUTPUT_B: generated(GEN_B, `Please answer: ${String(row['prompt'])}`),
      ...twoPassFields(COMPARE_GENERATION_WINNERS[i]!),
    })),
    // The judge's input is model A's rendered input template: the prompt itself.
    shown: (row) => bothOrders(String(row['prompt']), generated(GEN_A, String(row['prompt'])), generated(GEN_B, `Please answer: ${String(row['prompt'])}`)),
    judgeCalls: 20,
    repairs: [],
    generationCalls: { a: 10, b: 10 },
  },
  {
    name: 'compare-first',
    type: 'compare',
    dataset: 'compareColumn',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.compareColumn,
      judge: { model: JUDGE, model_source: 'serverless', system_template: '[compare-first] PREFER_FIRST Which reply to {{prompt}} is better?' },
      model_a: 'resp_a',
      model_b: 'resp_b',
      disable_position_bias_correction: true,
    }),
    status: 'completed',
    results: { A_wins: 10, B_wins: 0, Ties: 0, generation_fail_count: 0, judge_fail_count: 0 },
    additions: {
      ...compareFigures(10, 0, 0),
      // Without ties the win-rate interval is Wilson's interval for A's wins (docs/statistics.md).
      win_rate_a_ci: { low: bound(wilson(10, 10).low), high: 1 },
      // One pass: no flip rate; the judge always picked the response shown first.
      ...positionFigures(compareColumnRows.map(() => ['first']), false),
    },
    // One pass: no flipped-order fields at all.
    lines: compareColumnRows.map((row) => ({
      ...row,
      judge_raw_output_original: verdictText(FIRST_FEEDBACK, 'choice', 'A'),
      choice_original: 'A',
      judge_feedback_original_order: FIRST_FEEDBACK,
      evaluation_successful: true,
      final_decision: 'A',
      is_invalid_judge_output: false,
    })),
    shown: (row) => [{ input: columnInput(row, 'resp_a', 'resp_b'), responses: [String(row['resp_a']), String(row['resp_b'])] }],
    judgeCalls: 10,
    repairs: [],
    generationCalls: {},
  },
  {
    name: 'classify-denied',
    type: 'classify',
    dataset: 'classifyColumn',
    parameters: ({ fileIds }) => ({
      input_data_file_path: fileIds.classifyColumn,
      judge: { model: DENIED_JUDGE, model_source: 'serverless', system_template: '[classify-denied] Grade the answer to: {{question}}' },
      model_to_evaluate: 'answer',
      labels: ['good', 'bad'],
      pass_labels: ['good'],
    }),
    status: 'user_error',
    results: { error: expect.stringMatching(/judge.*401/) },
    judgeCalls: null,
    repairs: [],
    generationCalls: {},
  },
];

export const COMPLETED = JOBS.filter((job) => job.status === 'completed');
