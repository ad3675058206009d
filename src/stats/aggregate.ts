/**
 * Job summaries computed in one pass over row results, in constant memory. The figures follow
 * Together's result objects; docs/results.md says how each is defined.
 */
import type { JobSpec, RowResult } from '../domain/types.js';

export interface SummaryOptions {
  labelCountsAsString: boolean;
}

export interface Summary {
  /** Rows that failed generation or judging after retries; drives the job failure policy. */
  failedRows: number;
  totalRows: number;
  /** Together's result object for the job's type (result_file_id added by the caller). */
  results: Record<string, unknown>;
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));

export function createSummarizer(spec: JobSpec, opts: SummaryOptions) {
  let total = 0;
  let failed = 0;
  let generationFails = 0;
  let judgeFails = 0;
  let invalid = 0;
  // classify
  const labelCounts = new Map<string, number>(spec.type === 'classify' ? spec.labels.map((l) => [l, 0]) : []);
  let passes = 0;
  let valid = 0;
  // score: Welford's running mean and variance, stable for long runs
  let mean = 0;
  let m2 = 0;
  // compare
  let aWins = 0;
  let bWins = 0;
  let ties = 0;

  return {
    add(row: RowResult): void {
      total++;
      generationFails += row.generationFailures;
      judgeFails += row.judgeFailures;
      if (row.outcome === 'generation_failed' || row.outcome === 'judge_failed') failed++;
      if (row.outcome === 'invalid') invalid++;
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
        };
      } else if (spec.type === 'score') {
        // Sample standard deviation (n - 1); a single score has no spread.
        const std = valid > 1 ? Math.sqrt(m2 / (valid - 1)) : 0;
        results = {
          aggregated_scores: {
            mean_score: valid === 0 ? 0 : round(mean),
            std_score: round(std),
            pass_percentage: passPercentage,
          },
          generation_fail_count: generationFails,
          judge_fail_count: judgeFails,
          invalid_score_count: invalid,
          failed_samples: failed + invalid,
        };
      } else {
        results = {
          A_wins: aWins,
          B_wins: bWins,
          Ties: ties,
          generation_fail_count: generationFails,
          judge_fail_count: judgeFails,
          invalid_judge_count: invalid,
        };
      }
      return { failedRows: failed, totalRows: total, results };
    },
  };
}
