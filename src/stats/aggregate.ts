/**
 * Job summaries computed in one pass over row results, in constant memory. The figures follow
 * Together's result objects; assay adds intervals, position-bias measures and token usage beside
 * them. docs/results.md and docs/statistics.md say how each is defined.
 */
import type { JobSpec, RowResult, UsageRole } from '../domain/types.js';
import { meanInterval, signTest, wilsonInterval, wilsonPercentInterval, winRateInterval } from './intervals.js';
import { createUsageCounter, type PriceTable } from './usage.js';

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

export function createSummarizer(spec: JobSpec, opts: SummaryOptions) {
  const usage = createUsageCounter(modelsOf(spec), opts.prices ?? {});
  let total = 0;
  let failed = 0;
  let generationFails = 0;
  let judgeFails = 0;
  let invalid = 0;
  let valid = 0;
  let passes = 0;
  // classify
  const labelCounts = new Map<string, number>(spec.type === 'classify' ? spec.labels.map((l) => [l, 0]) : []);
  // score: Welford's running mean and sum of squared deviations, stable for long runs
  let mean = 0;
  let m2 = 0;
  // compare
  let aWins = 0;
  let bWins = 0;
  let ties = 0;
  let pairedRows = 0;
  let flips = 0;
  let validPasses = 0;
  let firstChosen = 0;

  function countPasses(fields: Record<string, unknown>): void {
    // The response shown first is model A's in the original pass and model B's in the flipped one.
    const original = fields.choice_original;
    const flipped = fields.choice_flipped;
    if (original === 'A' || original === 'B') {
      validPasses++;
      if (original === 'A') firstChosen++;
    }
    if (flipped === 'A' || flipped === 'B') {
      validPasses++;
      if (flipped === 'B') firstChosen++;
    }
    if (typeof fields.passes_agree === 'boolean') {
      pairedRows++;
      if (!fields.passes_agree) flips++;
    }
  }

  return {
    /** True when `add` needs each row's fields (a compare job's). */
    readsFields: spec.type === 'compare',
    add(row: SummarizedRow): void {
      total++;
      usage.add(row.usage);
      generationFails += row.generationFailures;
      judgeFails += row.judgeFailures;
      if (row.outcome === 'generation_failed' || row.outcome === 'judge_failed') failed++;
      if (row.outcome === 'invalid') invalid++;
      if (spec.type === 'compare') {
        if (!row.fields) throw new Error("a compare job's summary reads each row's fields; a row came without them");
        countPasses(row.fields);
      }
      if (row.outcome !== 'ok') return;
      valid++;
      if (spec.type === 'classify' && row.label !== null) {
        labelCounts.set(row.label, (labelCounts.get(row.label) ?? 0) + 1);
        if (spec.passLabels.includes(row.label)) passes++;
      } else if (spec.type === 'score' && row.score !== null) {
        const delta = row.score - mean;
        mean += delta / valid;
        m2 += delta * (row.score - mean);
        if (row.score >= spec.passThreshold) passes++;
      } else if (spec.type === 'compare') {
        if (row.choice === 'A') aWins++;
        else if (row.choice === 'B') bWins++;
        else ties++;
      }
    },

    finish(): Summary {
      const passPercentage = valid === 0 ? 0 : round((100 * passes) / valid);
      let results: Record<string, unknown>;
      if (spec.type === 'classify') {
        const counts = Object.fromEntries(labelCounts);
        results = {
          generation_fail_count: generationFails,
          judge_fail_count: judgeFails,
          invalid_label_count: invalid,
          pass_percentage: passPercentage,
          label_counts: opts.labelCountsAsString ? JSON.stringify(counts) : counts,
          pass_percentage_ci: wilsonPercentInterval(passes, valid),
          label_proportions: Object.fromEntries(
            [...labelCounts].map(([label, n]) => [label, valid === 0 ? null : { proportion: round(n / valid), ...wilsonInterval(n, valid)! }]),
          ),
        };
      } else if (spec.type === 'score') {
        const interval = meanInterval({ n: valid, mean, m2 }, 0.95, { min: spec.minScore, max: spec.maxScore });
        results = {
          aggregated_scores: {
            mean_score: valid === 0 ? 0 : round(mean),
            // Sample standard deviation (n - 1); a single score has no spread.
            std_score: valid > 1 ? round(Math.sqrt(m2 / (valid - 1))) : 0,
            pass_percentage: passPercentage,
            mean_score_stderr: interval?.stdError ?? null,
            mean_score_ci: interval && interval.low !== null && interval.high !== null ? { low: interval.low, high: interval.high } : null,
            pass_percentage_ci: wilsonPercentInterval(passes, valid),
          },
          generation_fail_count: generationFails,
          judge_fail_count: judgeFails,
          invalid_score_count: invalid,
          failed_samples: failed + invalid,
        };
      } else {
        const winRate = winRateInterval(aWins, bWins, ties);
        results = {
          A_wins: aWins,
          B_wins: bWins,
          Ties: ties,
          generation_fail_count: generationFails,
          judge_fail_count: judgeFails,
          invalid_judge_count: invalid,
          win_rate_a: winRate?.winRate ?? null,
          win_rate_a_ci: winRate ? { low: winRate.low, high: winRate.high } : null,
          sign_test_p_value: signTest(aWins, bWins).pValue,
          flip_rate: spec.positionBiasCorrection ? share(flips, pairedRows) : null,
          // With one pass, picking the first response is picking model A: a measure of the models, not the judge.
          first_position_preference_rate: spec.positionBiasCorrection ? share(firstChosen, validPasses) : null,
        };
      }
      return { failedRows: failed, totalRows: total, results: { ...results, ...usage.finish() } };
    },
  };
}
