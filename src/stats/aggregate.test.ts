import { describe, expect, it } from 'vitest';
import type { JobSpec, RowResult } from '../domain/types.js';
import { createSummarizer } from './aggregate.js';

const judge = { model: 'j', source: 'serverless', baseUrl: null, secretRef: null, maxTokens: 1, temperature: 0, numWorkers: null, systemTemplate: '' } as const;
const target = { kind: 'column', column: 'r' } as const;

function row(i: number, patch: Partial<RowResult>): RowResult {
  return { rowIndex: i, outcome: 'ok', label: null, score: null, choice: null, generationFailures: 0, judgeFailures: 0, fields: {}, ...patch };
}

function summarize(spec: JobSpec, rows: RowResult[], labelCountsAsString = false) {
  const s = createSummarizer(spec, { labelCountsAsString });
  rows.forEach((r) => s.add(r));
  return s.finish();
}

describe('classify summary', () => {
  const spec: JobSpec = { type: 'classify', fileId: 'f', judge, target, labels: ['good', 'bad', 'meh'], passLabels: ['good'] };

  it('counts labels, passes over valid verdicts, and keeps invalid and failed rows apart', () => {
    const rows = [
      row(0, { label: 'good' }),
      row(1, { label: 'good' }),
      row(2, { label: 'bad' }),
      row(3, { outcome: 'invalid' }),
      row(4, { outcome: 'judge_failed', judgeFailures: 1 }),
      row(5, { outcome: 'generation_failed', generationFailures: 1 }),
    ];
    const { results, failedRows, totalRows } = summarize(spec, rows);
    expect(results).toEqual({
      generation_fail_count: 1,
      judge_fail_count: 1,
      invalid_label_count: 1,
      pass_percentage: 66.666667,
      label_counts: { good: 2, bad: 1, meh: 0 },
    });
    expect([failedRows, totalRows]).toEqual([2, 6]);
  });

  it('can emit label_counts as the JSON string of the upstream schema', () => {
    expect(summarize(spec, [row(0, { label: 'bad' })], true).results.label_counts).toBe('{"good":0,"bad":1,"meh":0}');
  });
});

describe('score summary', () => {
  const spec: JobSpec = { type: 'score', fileId: 'f', judge, target, minScore: 1, maxScore: 10, passThreshold: 7 };

  it('computes mean, sample standard deviation and pass percentage over valid scores', () => {
    const scores = [2, 4, 4, 4, 5, 5, 7, 9];
    const rows = [...scores.map((score, i) => row(i, { score })), row(8, { outcome: 'invalid' }), row(9, { outcome: 'judge_failed', judgeFailures: 1 })];
    const { results } = summarize(spec, rows);
    // mean 5, sum of squared deviations 32, sample variance 32/7
    expect(results).toEqual({
      aggregated_scores: { mean_score: 5, std_score: Number(Math.sqrt(32 / 7).toFixed(6)), pass_percentage: 25 },
      generation_fail_count: 0,
      judge_fail_count: 1,
      invalid_score_count: 1,
      failed_samples: 2,
    });
  });

  it('has no spread for a single score and zeros for none', () => {
    expect(summarize(spec, [row(0, { score: 8 })]).results.aggregated_scores).toEqual({ mean_score: 8, std_score: 0, pass_percentage: 100 });
    expect(summarize(spec, []).results.aggregated_scores).toEqual({ mean_score: 0, std_score: 0, pass_percentage: 0 });
  });
});

describe('compare summary', () => {
  it('counts decisions and failures', () => {
    const spec: JobSpec = { type: 'compare', fileId: 'f', judge, a: target, b: target, positionBiasCorrection: true };
    const rows = [
      row(0, { choice: 'A' }),
      row(1, { choice: 'A', judgeFailures: 1 }),
      row(2, { choice: 'B' }),
      row(3, { choice: 'Tie' }),
      row(4, { outcome: 'generation_failed', generationFailures: 2 }),
      row(5, { outcome: 'invalid' }),
    ];
    expect(summarize(spec, rows).results).toEqual({
      A_wins: 2,
      B_wins: 1,
      Ties: 1,
      generation_fail_count: 2,
      judge_fail_count: 1,
      invalid_judge_count: 1,
    });
  });
});
