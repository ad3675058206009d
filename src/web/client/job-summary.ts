/** A finished (or partly finished) job's figures as charts: one section per evaluation type. */
import type { Job } from './api.js';
import { intervalBars, scaleChart, stackedBar, stat, type IntervalBar } from './charts.js';
import { h, type Child } from './dom.js';
import { count, money, num, pct, pct100, pValue } from './format.js';

/** Rows per outcome, counted by the rows API. */
export interface OutcomeCounts {
  total: number;
  ok: number;
  invalid: number;
  generation_failed: number;
  judge_failed: number;
}

type Results = Record<string, unknown>;
type Interval = { low: number; high: number } | null;

const numberOr = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const interval = (v: unknown): Interval => {
  const i = v as { low?: unknown; high?: unknown } | null | undefined;
  return i && typeof i.low === 'number' && typeof i.high === 'number' ? { low: i.low, high: i.high } : null;
};
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A model config's name, or a response column as "column x". */
export function modelName(value: unknown): string {
  if (typeof value === 'string') return `column “${value}”`;
  const m = value as { model?: unknown; model_name?: unknown } | null | undefined;
  return String(m?.model ?? m?.model_name ?? '–');
}

function card(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

function classify(job: Job, r: Results, counts: OutcomeCounts): HTMLElement[] {
  const labels = strings(job.parameters.labels);
  const passLabels = new Set(strings(job.parameters.pass_labels));
  const proportions = (r.label_proportions ?? {}) as Record<string, { proportion: number; low: number; high: number } | null>;
  const rawCounts = r.label_counts as Record<string, number> | string | undefined;
  const labelCounts = typeof rawCounts === 'string' ? (JSON.parse(rawCounts) as Record<string, number>) : (rawCounts ?? {});
  const ordered = [...labels, ...Object.keys(proportions).filter((l) => !labels.includes(l))];
  const bars: IntervalBar[] = ordered.map((label) => {
    const p = proportions[label];
    const n = labelCounts[label] ?? 0;
    return { label, value: p?.proportion ?? 0, low: p?.low ?? null, high: p?.high ?? null, tone: passLabels.has(label) ? 'pass' : 'fail', note: `(${count(n)})` };
  });
  const ci = interval(r.pass_percentage_ci);
  return [
    card(
      'Labels',
      h(
        'div',
        { class: 'stats' },
        stat('Pass rate', pct100(numberOr(r.pass_percentage)), ci ? `95% CI ${pct100(ci.low)}–${pct100(ci.high)}` : 'no valid verdicts', 'pass'),
        stat('Valid verdicts', count(counts.ok), `of ${count(counts.total)} rows`),
        stat('Pass labels', [...passLabels].join(', ') || '–'),
      ),
      bars.length > 0 ? intervalBars(bars, 'Share of valid verdicts per label; whiskers show 95% Wilson intervals.') : h('p', { class: 'muted' }, 'No valid verdicts yet.'),
    ),
  ];
}

function score(job: Job, r: Results): HTMLElement[] {
  const agg = (r.aggregated_scores ?? {}) as Results;
  const min = numberOr(job.parameters.min_score) ?? 0;
  const max = numberOr(job.parameters.max_score) ?? 1;
  const threshold = numberOr(job.parameters.pass_threshold);
  const mean = numberOr(agg.mean_score);
  const ci = interval(agg.mean_score_ci);
  const passCi = interval(agg.pass_percentage_ci);
  const scale = scaleChart(
    {
      min,
      max,
      value: mean,
      low: ci?.low ?? null,
      high: ci?.high ?? null,
      ...(threshold !== null ? { marker: { at: threshold, label: `pass ≥ ${num(threshold)}` } } : {}),
      valueLabel: `Mean score ${num(mean)} on ${num(min)}–${num(max)}${ci ? `, 95% CI ${num(ci.low)}–${num(ci.high)}` : ''}`,
      valueText: num(mean),
      tone: 'neutral',
    },
    'Mean score with its 95% t interval, on the score range.',
  );
  return [
    card(
      'Scores',
      h(
        'div',
        { class: 'stats' },
        stat('Mean score', num(mean), ci ? `95% CI ${num(ci.low)}–${num(ci.high)}` : 'no interval'),
        stat('Std deviation', num(numberOr(agg.std_score))),
        stat('Pass rate', pct100(numberOr(agg.pass_percentage)), passCi ? `95% CI ${pct100(passCi.low)}–${pct100(passCi.high)}` : null, 'pass'),
      ),
      scale,
    ),
  ];
}

function compare(job: Job, r: Results): HTMLElement[] {
  const a = numberOr(r.A_wins) ?? 0;
  const b = numberOr(r.B_wins) ?? 0;
  const ties = numberOr(r.Ties) ?? 0;
  const rate = numberOr(r.win_rate_a);
  const ci = interval(r.win_rate_a_ci);
  const flip = numberOr(r.flip_rate);
  const first = numberOr(r.first_position_preference_rate);
  const nameA = modelName(job.parameters.model_a);
  const nameB = modelName(job.parameters.model_b);
  const winChart = scaleChart(
    {
      min: 0,
      max: 1,
      value: rate,
      low: ci?.low ?? null,
      high: ci?.high ?? null,
      reference: { at: 0.5, label: 'even' },
      ends: ['B better', 'A better'],
      valueLabel: `Win rate of A ${pct(rate)}${ci ? `, 95% CI ${pct(ci.low)}–${pct(ci.high)}` : ''}`,
      valueText: pct(rate),
      tone: 'a',
    },
    'Win rate of A (ties count half) with its 95% interval.',
  );
  const gauges: IntervalBar[] = [];
  if (flip !== null) gauges.push({ label: 'Flip rate', value: flip, low: null, high: null, tone: 'tie' });
  if (first !== null) gauges.push({ label: 'First position', value: first, low: null, high: null, tone: 'a', reference: 0.5 });
  const bias = gauges.length > 0
    ? intervalBars(gauges, 'Flip rate: rows whose two orders gave different winners. First position: how often the judge chose the response it saw first; an unbiased judge sits near the dashed 50% line.')
    : h('p', { class: 'muted' }, 'Position bias is measured only when the judge is asked in both orders.');
  return [
    card(
      'Head to head',
      h('p', { class: 'models' }, h('span', { class: 'swatch tone-a', 'aria-hidden': 'true' }), h('strong', null, 'A '), nameA, h('span', { class: 'vs' }, 'vs'), h('span', { class: 'swatch tone-b', 'aria-hidden': 'true' }), h('strong', null, 'B '), nameB),
      stackedBar(
        [
          { label: 'A wins', count: a, tone: 'a' },
          { label: 'Ties', count: ties, tone: 'tie' },
          { label: 'B wins', count: b, tone: 'b' },
        ],
        'Final decisions per row.',
      ),
      h('div', { class: 'stats' }, stat('Win rate A', pct(rate), ci ? `95% CI ${pct(ci.low)}–${pct(ci.high)}` : 'no interval', 'a'), stat('Sign test p', pValue(numberOr(r.sign_test_p_value)), 'A vs B, ties left out')),
      winChart,
    ),
    card('Position bias', bias),
  ];
}

function outcomes(counts: OutcomeCounts, r: Results): HTMLElement {
  const calls = `${count(numberOr(r.generation_fail_count))} failed generation calls, ${count(numberOr(r.judge_fail_count))} failed judge calls after retries.`;
  return card(
    'Rows',
    stackedBar(
      [
        { label: 'Valid', count: counts.ok, tone: 'pass' },
        { label: 'Invalid verdict', count: counts.invalid, tone: 'warn' },
        { label: 'Generation failed', count: counts.generation_failed, tone: 'error' },
        { label: 'Judge failed', count: counts.judge_failed, tone: 'fail' },
      ],
      `Outcome of each of ${count(counts.total)} rows. ${calls}`,
    ),
  );
}

function usage(r: Results): HTMLElement | null {
  const u = r.usage as { generation?: { prompt_tokens: number; completion_tokens: number }; judge?: { prompt_tokens: number; completion_tokens: number }; total_tokens?: number } | undefined;
  if (!u) return null;
  const cost = r.cost as { generation: number; judge: number; total: number } | undefined;
  const tokens = (t?: { prompt_tokens: number; completion_tokens: number }) => (t ? `${count(t.prompt_tokens)} in · ${count(t.completion_tokens)} out` : '–');
  return card(
    'Usage',
    h(
      'div',
      { class: 'stats' },
      stat('Total tokens', count(u.total_tokens ?? null)),
      stat('Judge', count(u.judge ? u.judge.prompt_tokens + u.judge.completion_tokens : 0), tokens(u.judge)),
      stat('Generation', count(u.generation ? u.generation.prompt_tokens + u.generation.completion_tokens : 0), tokens(u.generation)),
      cost ? stat('Cost', money(cost.total), `judge ${money(cost.judge)} · generation ${money(cost.generation)}`) : null,
    ),
  );
}

/** The charts and figures of a job with results. */
export function summarySections(job: Job, counts: OutcomeCounts): HTMLElement[] {
  const r = job.results ?? {};
  const typed = job.type === 'classify' ? classify(job, r, counts) : job.type === 'score' ? score(job, r) : compare(job, r);
  return [...typed, outcomes(counts, r), usage(r)].filter((x): x is HTMLElement => x !== null);
}
