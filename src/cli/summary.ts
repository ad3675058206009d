/**
 * A job's results as a table for people: Together's figures with the intervals assay adds beside
 * them (pass % [low, high], mean score ± CI, win rate with its CI, flip rate), the invalid and
 * failed counts, and tokens. Fields a server does not send (Together sends no intervals) are left
 * out rather than shown as blanks.
 */
import { count, num, percent, table } from './format.js';

export interface SummaryInput {
  type: string | undefined;
  status: string;
  results: Record<string, unknown> | null | undefined;
  /** Rows in the dataset, when known. */
  rows?: number | undefined;
  /** The job's parameters, for the pass rule (pass labels, threshold). */
  parameters?: Record<string, unknown> | undefined;
  /** Where the result file was written, when it was. */
  resultFile?: string | undefined;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const numberOr = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `[37.6%, 96.4%]` from an interval in 0–100 (`scale` 1) or 0–1 (`scale` 100). */
function interval(v: unknown, scale: number): string {
  if (!isRec(v)) return '';
  const low = numberOr(v.low);
  const high = numberOr(v.high);
  if (low === null || high === null) return '';
  return `[${percent(low * scale)}, ${percent(high * scale)}]`;
}

function labelCounts(results: Rec): Record<string, number> {
  let raw = results.label_counts;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      return {};
    }
  }
  if (!isRec(raw)) return {};
  const out: Record<string, number> = {};
  for (const [label, n] of Object.entries(raw)) if (typeof n === 'number') out[label] = n;
  return out;
}

function classifyRows(results: Rec, parameters: Rec | undefined): string[][] {
  const counts = labelCounts(results);
  const valid = Object.values(counts).reduce((a, b) => a + b, 0);
  const rows: string[][] = [];
  const pass = numberOr(results.pass_percentage);
  if (pass !== null) {
    const passLabels = Array.isArray(parameters?.pass_labels) ? (parameters.pass_labels as unknown[]).map(String) : [];
    const passed = passLabels.reduce((sum, label) => sum + (counts[label] ?? 0), 0);
    const detail = valid === 0 ? 'no valid verdicts' : passLabels.length > 0 ? `${count(passed)} of ${count(valid)} valid verdicts ${passLabels.join(' or ')}` : `of ${count(valid)} valid verdicts`;
    rows.push(['pass rate', [percent(pass), interval(results.pass_percentage_ci, 1), detail].filter(Boolean).join('  ')]);
  }
  const shares = isRec(results.label_proportions) ? results.label_proportions : {};
  const width = Math.max(0, ...Object.values(counts).map((n) => count(n).length));
  for (const [label, n] of Object.entries(counts)) {
    const share = valid > 0 ? percent((100 * n) / valid).padStart(4) : '';
    rows.push([`  ${label}`, [count(n).padStart(width), share, interval(shares[label], 100)].filter(Boolean).join('  ')]);
  }
  return rows;
}

function scoreRows(results: Rec, parameters: Rec | undefined): string[][] {
  const agg = isRec(results.aggregated_scores) ? results.aggregated_scores : {};
  const rows: string[][] = [];
  const mean = numberOr(agg.mean_score);
  if (mean !== null) {
    const ci = isRec(agg.mean_score_ci) ? agg.mean_score_ci : null;
    const low = numberOr(ci?.low);
    const high = numberOr(ci?.high);
    const plusMinus = low !== null && high !== null ? ` ± ${num((high - low) / 2)}  [${num(low)}, ${num(high)}]` : '';
    const sd = numberOr(agg.std_score);
    rows.push(['mean score', `${num(mean)}${plusMinus}${sd !== null ? `  sd ${num(sd)}` : ''}`]);
  }
  const pass = numberOr(agg.pass_percentage);
  if (pass !== null) {
    const threshold = numberOr(parameters?.pass_threshold);
    rows.push(['pass rate', [percent(pass), interval(agg.pass_percentage_ci, 1), threshold !== null ? `score ≥ ${num(threshold)}` : ''].filter(Boolean).join('  ')]);
  }
  return rows;
}

function compareRows(results: Rec): string[][] {
  const a = numberOr(results.A_wins) ?? 0;
  const b = numberOr(results.B_wins) ?? 0;
  const ties = numberOr(results.Ties) ?? 0;
  const decided = a + b + ties;
  const share = (n: number) => (decided > 0 ? `  ${percent((100 * n) / decided)}` : '');
  const rows: string[][] = [
    ['A wins', `${count(a)}${share(a)}`],
    ['B wins', `${count(b)}${share(b)}`],
    ['ties', `${count(ties)}${share(ties)}`],
  ];
  const winRate = numberOr(results.win_rate_a);
  if (winRate !== null) {
    const p = numberOr(results.sign_test_p_value);
    rows.push(['win rate A', [percent(100 * winRate), interval(results.win_rate_a_ci, 100), p !== null ? `sign test p = ${num(p, 4)}` : ''].filter(Boolean).join('  ')]);
  }
  const flip = numberOr(results.flip_rate);
  if (flip !== null) rows.push(['flip rate', `${percent(100 * flip)}  passes that disagreed (position bias)`]);
  const first = numberOr(results.first_position_preference_rate);
  if (first !== null) rows.push(['first shown chosen', `${percent(100 * first)}  50% means no position preference`]);
  return rows;
}

function usageRows(results: Rec): string[][] {
  const usage = isRec(results.usage) ? results.usage : null;
  const rows: string[][] = [];
  if (usage) {
    const part = (v: unknown) => (isRec(v) ? (numberOr(v.prompt_tokens) ?? 0) + (numberOr(v.completion_tokens) ?? 0) : 0);
    const total = numberOr(usage.total_tokens) ?? part(usage.judge) + part(usage.generation);
    rows.push(['tokens', `${count(total)}  judge ${count(part(usage.judge))} · generation ${count(part(usage.generation))}`]);
  }
  const cost = isRec(results.cost) ? numberOr(results.cost.total) : null;
  if (cost !== null) rows.push(['cost', num(cost, 6)]);
  return rows;
}

/** The summary as text, ending without a newline. */
export function formatSummary(input: SummaryInput): string {
  const results = isRec(input.results) ? input.results : null;
  const head = [input.type, input.status, input.rows !== undefined ? `${count(input.rows)} rows` : ''].filter(Boolean).join(' · ');
  const lines = [head];
  if (!results) {
    lines.push('  no results yet');
    return lines.join('\n');
  }
  const rows: string[][] = [];
  if (typeof results.error === 'string') rows.push(['error', results.error]);
  if (input.type === 'classify') rows.push(...classifyRows(results, input.parameters));
  else if (input.type === 'score') rows.push(...scoreRows(results, input.parameters));
  else if (input.type === 'compare') rows.push(...compareRows(results));
  const invalid = numberOr(results.invalid_label_count) ?? numberOr(results.invalid_score_count) ?? numberOr(results.invalid_judge_count);
  if (invalid !== null) rows.push(['invalid verdicts', count(invalid)]);
  const genFails = numberOr(results.generation_fail_count);
  if (genFails !== null) rows.push(['generation failures', count(genFails)]);
  const judgeFails = numberOr(results.judge_fail_count);
  if (judgeFails !== null) rows.push(['judge failures', count(judgeFails)]);
  rows.push(...usageRows(results));
  if (input.resultFile) rows.push(['result file', input.resultFile]);
  else if (typeof results.result_file_id === 'string') rows.push(['result file', results.result_file_id]);
  lines.push(table(rows, { indent: '  ' }));
  if (rows.some((r) => /\[[^\]]*%?, [^\]]*\]/.test(r[1] ?? ''))) lines.push('  [low, high]: 95% confidence interval');
  return lines.join('\n');
}
