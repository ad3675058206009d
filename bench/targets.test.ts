import { describe, expect, it } from 'vitest';
import { checkTargets, formatChecks, type JobFigures } from './targets.js';

const job = (scenario: string, which: 'first' | 'warm', over: Partial<JobFigures> = {}): JobFigures => ({
  scenario,
  job: which,
  rows: 10_000,
  efficiency: null,
  rowsPerSecond: 1_000,
  apiP99Ms: null,
  peakMb: 200,
  startupMs: which === 'first' ? 600 : null,
  ...over,
});

/** A whole run's figures, every target met. */
const holding = (): JobFigures[] => [
  job('latency-200ms', 'first', { rows: 1_000, efficiency: 0.94 }),
  job('latency-200ms', 'warm', { rows: 1_000, efficiency: 0.956 }),
  job('latency-50ms', 'first', { efficiency: 0.931 }),
  job('latency-50ms', 'warm', { efficiency: 0.942 }),
  job('instant', 'first', { rowsPerSecond: 3_682 }),
  job('instant', 'warm', { rowsPerSecond: 4_973 }),
  job('api-under-load', 'first', { rows: 4_000, efficiency: 0.8, apiP99Ms: 7.9 }),
  job('api-under-load', 'warm', { rows: 4_000, efficiency: 0.9, apiP99Ms: 5.5 }),
  job('distributed-50ms', 'first', { efficiency: 0.73, startupMs: 790 }),
  job('large-memory', 'first', { rows: 1_000_000, peakMb: 274, startupMs: 594 }),
];

describe('the benchmark targets', () => {
  it('holds every target when every figure meets it, in the issue order with startup last', () => {
    const checks = checkTargets(holding());
    expect(checks.map((c) => c.holds)).toEqual([true, true, true, true, true, true]);
    expect(formatChecks(checks).split('\n')).toEqual([
      '✓ L = 200 ms, 1,000 rows: efficiency ≥ 0.93: first 0.940 ✓, warm 0.956 ✓',
      '✓ L = 50 ms, 10,000 rows: efficiency ≥ 0.93: first 0.931 ✓, warm 0.942 ✓',
      '✓ instant judge, 10,000 rows: ≥ 1,500 rows/s: first 3682 rows/s ✓, warm 4973 rows/s ✓',
      '✓ API p99 at 500 requests/s during a job: < 20 ms: first 7.9 ms ✓, warm 5.5 ms ✓',
      '✓ 1,000,000 rows: peak memory < 300 MB: first 274 MB ✓',
      // The distributed API node's start is the slowest and still counts.
      '✓ server ready to answer: < 1 s: slowest 790 ms (distributed-50ms) ✓',
    ]);
  });

  it('fails a target when one job misses it, and says which', () => {
    const figures = holding().map((f) => (f.scenario === 'latency-50ms' && f.job === 'first' ? { ...f, efficiency: 0.869 } : f));
    const [, fifty] = checkTargets(figures);
    expect(fifty).toEqual({ target: 'L = 50 ms, 10,000 rows: efficiency ≥ 0.93', figures: ['first 0.869 ✗', 'warm 0.942 ✓'], holds: false });
    expect(formatChecks([fifty!])).toBe('✗ L = 50 ms, 10,000 rows: efficiency ≥ 0.93: first 0.869 ✗, warm 0.942 ✓');
  });

  it('judges the thresholds at their edges as the issue states them', () => {
    const edge = checkTargets([
      job('latency-200ms', 'first', { efficiency: 0.93 }),
      job('instant', 'first', { rowsPerSecond: 1_500 }),
      job('api-under-load', 'first', { apiP99Ms: 20 }),
      job('large-memory', 'first', { rows: 1_000_000, peakMb: 300, startupMs: 1_000 }),
    ]);
    expect(edge.map((c) => c.holds)).toEqual([true, null, true, false, false, false]);
  });

  it('leaves out what a run did not measure, and does not check memory on a smaller large run', () => {
    const checks = checkTargets([job('large-memory', 'first', { rows: 20_000, peakMb: 150 }), job('latency-200ms', 'first', { efficiency: 0.95 })]);
    expect(checks.map((c) => c.holds)).toEqual([true, null, null, null, null, true]);
    expect(formatChecks(checks).split('\n').slice(1, 5)).toEqual([
      '- L = 50 ms, 10,000 rows: efficiency ≥ 0.93: not measured in this run',
      '- instant judge, 10,000 rows: ≥ 1,500 rows/s: not measured in this run',
      '- API p99 at 500 requests/s during a job: < 20 ms: not measured in this run',
      '- 1,000,000 rows: peak memory < 300 MB: first not checked: 20000 rows (--large)',
    ]);
  });
});
