import { describe, expect, it } from 'vitest';
import type { JobSpec, RowResult } from '../domain/types.js';
import { createSummarizer } from './aggregate.js';

const judge = { model: 'j', source: 'serverless', baseUrl: null, secretRef: null, maxTokens: 1, temperature: 0, numWorkers: null, systemTemplate: '' } as const;
const target = { kind: 'column', column: 'r' } as const;

function row(i: number, patch: Partial<RowResult>): RowResult {
  return { rowIndex: i, outcome: 'ok', label: null, score: null, choice: null, generationFailures: 0, judgeFailures: 0, usage: {}, fields: {}, ...patch };
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
    expect(results).toMatchObject({
      generation_fail_count: 1,
      judge_fail_count: 1,
      invalid_label_count: 1,
      pass_percentage: 66.666667,
      label_counts: { good: 2, bad: 1, meh: 0 },
    });
    expect([failedRows, totalRows]).toEqual([2, 6]);
    // Wilson 95% for 2 of 3, in percent; proportions per label on the 0–1 scale.
    expect(results.pass_percentage_ci).toEqual({ low: 20.76596, high: 93.850806 });
    expect(results.label_proportions).toMatchObject({ good: { proportion: 0.666667 }, meh: { proportion: 0, low: 0 } });
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
    expect(results).toMatchObject({
      aggregated_scores: { mean_score: 5, std_score: Number(Math.sqrt(32 / 7).toFixed(6)), pass_percentage: 25 },
      generation_fail_count: 0,
      judge_fail_count: 1,
      invalid_score_count: 1,
      failed_samples: 2,
    });
  });

  it('has no spread for a single score and zeros for none', () => {
    expect(summarize(spec, [row(0, { score: 8 })]).results.aggregated_scores).toMatchObject({
      mean_score: 8,
      std_score: 0,
      pass_percentage: 100,
      mean_score_stderr: null,
      mean_score_ci: null,
    });
    expect(summarize(spec, []).results.aggregated_scores).toMatchObject({ mean_score: 0, std_score: 0, pass_percentage: 0, pass_percentage_ci: null });
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
    expect(summarize(spec, rows).results).toMatchObject({
      A_wins: 2,
      B_wins: 1,
      Ties: 1,
      generation_fail_count: 2,
      judge_fail_count: 1,
      invalid_judge_count: 1,
    });
  });
});

describe('position bias and usage', () => {
  const spec: JobSpec = { type: 'compare', fileId: 'f', judge, a: target, b: target, positionBiasCorrection: true };

  it('reports a judge that always picks the first response: every row a tie, flip rate and first-position rate 1', () => {
    const rows = [0, 1, 2, 3].map((i) => row(i, { choice: 'Tie', fields: { choice_original: 'A', choice_flipped: 'B', passes_agree: false } }));
    expect(summarize(spec, rows).results).toMatchObject({ A_wins: 0, B_wins: 0, Ties: 4, flip_rate: 1, first_position_preference_rate: 1, win_rate_a: 0.5 });
  });

  it('reports an unbiased judge preferring A: flip rate 0, first position half the time', () => {
    const rows = [0, 1, 2].map((i) => row(i, { choice: 'A', fields: { choice_original: 'A', choice_flipped: 'A', passes_agree: true } }));
    const results = summarize(spec, rows).results;
    expect(results).toMatchObject({ A_wins: 3, flip_rate: 0, first_position_preference_rate: 0.5, win_rate_a: 1, sign_test_p_value: 0.25 });
  });

  it('adds up tokens by role and prices them when every model has a price', () => {
    const gen: JobSpec = {
      type: 'score',
      fileId: 'f',
      judge,
      target: { kind: 'generate', generator: { ...judge, model: 'g', inputTemplate: '' } },
      minScore: 0,
      maxScore: 1,
      passThreshold: 1,
    };
    const rows = [
      row(0, { score: 1, usage: { judge: { prompt: 1000, completion: 10 }, target: { prompt: 100, completion: 500 } } }),
      row(1, { outcome: 'judge_failed', usage: { target: { prompt: 100, completion: 500 } } }),
    ];
    const s = createSummarizer(gen, { labelCountsAsString: false, prices: { j: { input: 1, output: 2 }, g: { input: 3, output: 4 } } });
    rows.forEach((r) => s.add(r));
    expect(s.finish().results).toMatchObject({
      usage: { generation: { prompt_tokens: 200, completion_tokens: 1000 }, judge: { prompt_tokens: 1000, completion_tokens: 10 }, total_tokens: 2210 },
      cost: { generation: 0.0046, judge: 0.00102, total: 0.00562 },
    });
    const unpriced = createSummarizer(gen, { labelCountsAsString: false, prices: { j: { input: 1, output: 2 } } });
    rows.forEach((r) => unpriced.add(r));
    expect(unpriced.finish().results.cost).toBeUndefined();
  });
});

describe('summaries merged from parts', () => {
  /** A deterministic stream of numbers in [0, 1) (a linear congruential generator). */
  function numbers(seed: number): () => number {
    let x = seed;
    return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  }

  /** The summary of all rows at once, and of the rows cut into parts whose states are merged into an empty summarizer. */
  function wholeAndMerged(spec: JobSpec, rows: RowResult[], cuts: number[]) {
    const options = { labelCountsAsString: false, prices: { j: { input: 1, output: 2 } } };
    const merged = createSummarizer(spec, options);
    let from = 0;
    for (const cut of [...cuts, rows.length]) {
      const part = createSummarizer(spec, options);
      rows.slice(from, cut).forEach((r) => part.add(r));
      // As a result segment keeps it: JSON text.
      merged.merge(JSON.parse(JSON.stringify(part.state())));
      from = cut;
    }
    const whole = createSummarizer(spec, options);
    rows.forEach((r) => whole.add(r));
    return { whole: whole.finish(), merged: merged.finish() };
  }

  const outcomes = ['ok', 'ok', 'ok', 'ok', 'invalid', 'judge_failed', 'generation_failed'] as const;

  it('gives a score job the same summary, mean and spread included, as one pass over its rows', () => {
    const spec: JobSpec = { type: 'score', fileId: 'f', judge, target, minScore: 1, maxScore: 10, passThreshold: 7 };
    const next = numbers(7);
    const rows = Array.from({ length: 500 }, (_, i) => {
      const outcome = outcomes[Math.floor(next() * outcomes.length)]!;
      const usage = { judge: { prompt: 100 + i, completion: 7 }, cacheHits: i % 3 === 0 ? 1 : 0, cacheMisses: i % 3 === 0 ? 0 : 1 };
      return row(i, { outcome, score: outcome === 'ok' ? 1 + Math.round(next() * 90) / 10 : null, judgeFailures: outcome === 'judge_failed' ? 1 : 0, usage });
    });
    const { whole, merged } = wholeAndMerged(spec, rows, [0, 1, 64, 65, 200, 499]);
    expect(merged).toEqual(whole);
    expect((whole.results.aggregated_scores as { mean_score: number }).mean_score).toBeGreaterThan(1);
  });

  it('gives classify and compare jobs the same summary as one pass over their rows', () => {
    const classify: JobSpec = { type: 'classify', fileId: 'f', judge, target, labels: ['good', 'bad', 'meh'], passLabels: ['good'] };
    const compare: JobSpec = { type: 'compare', fileId: 'f', judge, a: target, b: target, positionBiasCorrection: true };
    const next = numbers(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const labelled = Array.from({ length: 300 }, (_, i) => {
      const outcome = pick(outcomes);
      return row(i, { outcome, label: outcome === 'ok' ? pick(['good', 'bad', 'meh']) : null, usage: { judge: { prompt: 10, completion: 1 } } });
    });
    const chosen = Array.from({ length: 300 }, (_, i) => {
      const outcome = pick(outcomes);
      const [original, flipped] = [pick(['A', 'B', null]), pick(['A', 'B', null])];
      const fields = { choice_original: original, choice_flipped: flipped, ...(original && flipped ? { passes_agree: original === flipped } : {}) };
      return row(i, { outcome, choice: outcome === 'ok' ? pick(['A', 'B', 'Tie'] as const) : null, fields });
    });
    for (const [spec, rows] of [
      [classify, labelled],
      [compare, chosen],
    ] as const) {
      const { whole, merged } = wholeAndMerged(spec, rows, [64, 128, 250]);
      expect(merged).toEqual(whole);
    }
  });
});
