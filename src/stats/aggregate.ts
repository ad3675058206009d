/**
 * Job summaries computed in one pass over row results, in constant memory. The figures follow
 * Together's result objects; assay adds intervals, position-bias measures and token usage beside
 * them. docs/results.md and docs/statistics.md say how each is defined.
 */
import type { JobSpec, RowResult, UsageRole } from '../domain/types.js';
import { meanInterval, signTest, wilsonInterval, wilsonPercentInterval, winRateInterval } from './intervals.js';
import { createUsageCounter, type PriceTable, type UsageState } from './usage.js';

export interface SummaryOptions {
  labelCountsAsString: boolean;
  prices?: PriceTable;
}

export interface Summary {
  /** Rows that failed generation or judging after retries; drives the job failure policy. */
  failedRows: number;
  totalRows: number;
  /** Together's result object for the job's type plus assay's additions (result_file_id added by the caller). */
  results: Record<string, unknown>;
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));
const share = (part: number, whole: number): number | null => (whole === 0 ? null : round(part / whole));

function modelsOf(spec: JobSpec): Partial<Record<UsageRole, string>> {
  const models: Partial<Record<UsageRole, string>> = { judge: spec.judge.model };
  if (spec.type === 'compare') {
    if (spec.a.kind === 'generate') models.a = spec.a.generator.model;
    if (spec.b.kind === 'generate') models.b = spec.b.generator.model;
  } else if (spec.target.kind === 'generate') models.target = spec.target.generator.model;
  return models;
}

/**
 * What a summary counts of a row: a RowResult will do. Its fields are needed only by a compare
 * job's summary (`readsFields`), so a pass over stored rows parses them for that alone.
 */
export type SummarizedRow = Pick<RowResult, 'outcome' | 'label' | 'score' | 'choice' | 'generationFailures' | 'judgeFailures' | 'usage'> & {
  fields?: RowResult['fields'];
};

/**
 * A summarizer's counts as plain data: what a result segment keeps of its rows (JSON), so that a
 * job's summary can be made from its segments' (`merge`) instead of from every row again.
 */
export interface SummaryState {
  total: number;
  failed: number;
  generationFails: number;
  judgeFails: number;
  invalid: number;
  valid: number;
  passes: number;
  /** classify: valid verdicts per label. */
  labelCounts: Record<string, number>;
  /** score: Welford's running mean and sum of squared deviations of the valid scores. */
  mean: number;
  m2: number;
  /** compare */
  aWins: number;
  bWins: number;
  ties: number;
  pairedRows: number;
  flips: number;
  validPasses: number;
  firstChosen: number;
  usage: UsageState;
}

/** The counts of a summary state that two states add up to (all but the mean and m2). */
const ADDED_COUNTS = [
  'total',
  'failed',
  'generationFails',
  'judgeFails',
  'invalid',
  'valid',
  'passes',
  'aWins',
  'bWins',
  'ties',
  'pairedRows',
  'flips',
  'validPasses',
  'firstChosen',
] as const satisfies ReadonlyArray<keyof SummaryState>;

export function createSummarizer(spec: JobSpec, opts: SummaryOptions) {
  const usage = createUsageCounter(modelsOf(spec), opts.prices ?? {});
  const c = {
    total: 0,
    failed: 0,
    generationFails: 0,
    judgeFails: 0,
    invalid: 0,
    valid: 0,
    passes: 0,
    mean: 0,
    m2: 0,
    aWins: 0,
    bWins: 0,
    ties: 0,
    pairedRows: 0,
    flips: 0,
    validPasses: 0,
    firstChosen: 0,
  };
  // classify: every allowed label, in the spec's order, even when no row chose it
  const labelCounts = new Map<string, number>(spec.type === 'classify' ? spec.labels.map((l) => [l, 0]) : []);

  function countPasses(fields: Record<string, unknown>): void {
    // The response shown first is model A's in the original pass and model B's in the flipped one.
    const original = fields.choice_original;
    const flipped = fields.choice_flipped;
    if (original === 'A' || original === 'B') {
      c.validPasses++;
      if (original === 'A') c.firstChosen++;
    }
    if (flipped === 'A' || flipped === 'B') {
      c.validPasses++;
      if (flipped === 'B') c.firstChosen++;
    }
    if (typeof fields.passes_agree === 'boolean') {
      c.pairedRows++;
      if (!fields.passes_agree) c.flips++;
    }
  }

  return {
    /** True when `add` needs each row's fields (a compare job's). */
    readsFields: spec.type === 'compare',
    add(row: SummarizedRow): void {
      c.total++;
      usage.add(row.usage);
      c.generationFails += row.generationFailures;
      c.judgeFails += row.judgeFailures;
      if (row.outcome === 'generation_failed' || row.outcome === 'judge_failed') c.failed++;
      if (row.outcome === 'invalid') c.invalid++;
      if (spec.type === 'compare') {
        if (!row.fields) throw new Error("a compare job's summary reads each row's fields; a row came without them");
        countPasses(row.fields);
      }
      if (row.outcome !== 'ok') return;
      c.valid++;
      if (spec.type === 'classify' && row.label !== null) {
        labelCounts.set(row.label, (labelCounts.get(row.label) ?? 0) + 1);
        if (spec.passLabels.includes(row.label)) c.passes++;
      } else if (spec.type === 'score' && row.score !== null) {
        const delta = row.score - c.mean;
        c.mean += delta / c.valid;
        c.m2 += delta * (row.score - c.mean);
        if (row.score >= spec.passThreshold) c.passes++;
      } else if (spec.type === 'compare') {
        if (row.choice === 'A') c.aWins++;
        else if (row.choice === 'B') c.bWins++;
        else c.ties++;
      }
    },

    /** The counts so far, as plain data. */
    state(): SummaryState {
      return { ...c, labelCounts: Object.fromEntries(labelCounts), usage: usage.state() };
    },

    /**
     * Adds the counts of rows another summarizer of the same job took (`state`), as if they had
     * been added here: counts add up, and the scores' mean and squared deviations combine by the
     * parallel form of Welford's update (Chan, Golub and LeVeque).
     */
    merge(other: SummaryState): void {
      const n = c.valid + other.valid;
      if (n > 0) {
        const delta = other.mean - c.mean;
        c.m2 += other.m2 + (delta * delta * c.valid * other.valid) / n;
        c.mean += (delta * other.valid) / n;
      }
      for (const key of ADDED_COUNTS) c[key] += other[key];
      for (const [label, count] of Object.entries(other.labelCounts)) labelCounts.set(label, (labelCounts.get(label) ?? 0) + count);
      usage.merge(other.usage);
    },

    finish(): Summary {
      const passPercentage = c.valid === 0 ? 0 : round((100 * c.passes) / c.valid);
      let results: Record<string, unknown>;
      if (spec.type === 'classify') {
        const counts = Object.fromEntries(labelCounts);
        results = {
          generation_fail_count: c.generationFails,
          judge_fail_count: c.judgeFails,
          invalid_label_count: c.invalid,
          pass_percentage: passPercentage,
          label_counts: opts.labelCountsAsString ? JSON.stringify(counts) : counts,
          pass_percentage_ci: wilsonPercentInterval(c.passes, c.valid),
          label_proportions: Object.fromEntries(
            [...labelCounts].map(([label, n]) => [label, c.valid === 0 ? null : { proportion: round(n / c.valid), ...wilsonInterval(n, c.valid)! }]),
          ),
        };
      } else if (spec.type === 'score') {
        const interval = meanInterval({ n: c.valid, mean: c.mean, m2: c.m2 }, 0.95, { min: spec.minScore, max: spec.maxScore });
        results = {
          aggregated_scores: {
            mean_score: c.valid === 0 ? 0 : round(c.mean),
            // Sample standard deviation (n - 1); a single score has no spread.
            std_score: c.valid > 1 ? round(Math.sqrt(c.m2 / (c.valid - 1))) : 0,
            pass_percentage: passPercentage,
            mean_score_stderr: interval?.stdError ?? null,
            mean_score_ci: interval && interval.low !== null && interval.high !== null ? { low: interval.low, high: interval.high } : null,
            pass_percentage_ci: wilsonPercentInterval(c.passes, c.valid),
          },
          generation_fail_count: c.generationFails,
          judge_fail_count: c.judgeFails,
          invalid_score_count: c.invalid,
          failed_samples: c.failed + c.invalid,
        };
      } else {
        const winRate = winRateInterval(c.aWins, c.bWins, c.ties);
        results = {
          A_wins: c.aWins,
          B_wins: c.bWins,
          Ties: c.ties,
          generation_fail_count: c.generationFails,
          judge_fail_count: c.judgeFails,
          invalid_judge_count: c.invalid,
          win_rate_a: winRate?.winRate ?? null,
          win_rate_a_ci: winRate ? { low: winRate.low, high: winRate.high } : null,
          sign_test_p_value: signTest(c.aWins, c.bWins).pValue,
          flip_rate: spec.positionBiasCorrection ? share(c.flips, c.pairedRows) : null,
          // With one pass, picking the first response is picking model A: a measure of the models, not the judge.
          first_position_preference_rate: spec.positionBiasCorrection ? share(c.firstChosen, c.validPasses) : null,
        };
      }
      return { failedRows: c.failed, totalRows: c.total, results: { ...results, ...usage.finish() } };
    },
  };
}
