/**
 * Do the 95% intervals contain the truth 95% of the time? Each case draws 2,000 datasets of
 * 30..300 rows from a distribution whose true value is known, and counts how often the interval
 * holds it. Seeded, so the figures are fixed (noted beside each case); the 93-97% window is about
 * ±4 standard errors of a 2,000-run estimate, so a correct interval passes by a wide margin and
 * a miscalibrated one (a normal instead of t quantile at small n, a rate interval that ignores
 * ties) fails.
 */
import { describe, expect, it } from 'vitest';
import { meanInterval, wilsonInterval, winRateInterval } from './intervals.js';

const RUNS = 2000;

/** mulberry32: a small, fast, seedable PRNG with uniform output in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Share of runs in which `covers` holds, each run on a dataset of 30..300 rows. */
function coverage(seed: number, covers: (random: () => number, rows: number) => boolean): number {
  const random = mulberry32(seed);
  let hits = 0;
  for (let run = 0; run < RUNS; run++) {
    const rows = 30 + Math.floor(random() * 271);
    if (covers(random, rows)) hits++;
  }
  return hits / RUNS;
}

const within = (low: number | null | undefined, value: number, high: number | null | undefined) =>
  low != null && high != null && low <= value && value <= high;

/** Draws an index from a discrete distribution given by its probabilities. */
function draw(random: () => number, probabilities: readonly number[]): number {
  let u = random();
  for (let i = 0; i < probabilities.length - 1; i++) {
    u -= probabilities[i] ?? 0;
    if (u < 0) return i;
  }
  return probabilities.length - 1;
}

describe('95% interval coverage (2,000 seeded datasets of 30..300 rows)', () => {
  it('Wilson interval for a pass rate of 0.7', () => {
    // Seed 1: 95.30%. Over seeds 1-60: 93.95-96.30%, mean 95.06%.
    const truth = 0.7;
    const rate = coverage(1, (random, rows) => {
      let passes = 0;
      for (let i = 0; i < rows; i++) if (random() < truth) passes++;
      const ci = wilsonInterval(passes, rows);
      return within(ci?.low, truth, ci?.high);
    });
    expect(rate).toBeGreaterThanOrEqual(0.93);
    expect(rate).toBeLessThanOrEqual(0.97);
  });

  it('t interval for the mean of a skewed 1-10 score distribution', () => {
    // Seed 2: 94.80%. Over seeds 1-60: 93.80-95.95%, mean 94.96%.
    // Scores 1..10, most mass on 6-8 with a long low tail, like a judge's grades.
    const probabilities = [0.06, 0.04, 0.05, 0.07, 0.1, 0.16, 0.22, 0.17, 0.09, 0.04];
    const truth = probabilities.reduce((sum, p, i) => sum + p * (i + 1), 0);
    const rate = coverage(2, (random, rows) => {
      // Welford's one-pass statistics, as the summarizer keeps them.
      let mean = 0;
      let m2 = 0;
      for (let i = 1; i <= rows; i++) {
        const score = draw(random, probabilities) + 1;
        const delta = score - mean;
        mean += delta / i;
        m2 += delta * (score - mean);
      }
      const ci = meanInterval({ n: rows, mean, m2 }, 0.95, { min: 1, max: 10 });
      return within(ci?.low, truth, ci?.high);
    });
    expect(rate).toBeGreaterThanOrEqual(0.93);
    expect(rate).toBeLessThanOrEqual(0.97);
  });

  it.each([
    // [P(A), P(B), P(tie), seed]; measured with that seed, and the range over seeds 1-60
    [0.45, 0.3, 0.25, 3], // 95.00%; 93.65-96.05%, mean 95.09%
    [0.3, 0.2, 0.5, 4], // 95.30%; 94.10-96.30%, mean 95.13%
    [0.8, 0.05, 0.15, 5], // 95.05%; 94.10-96.35%, mean 95.14%
  ])('win rate interval for A %f / B %f / tie %f (seed %i)', (pA, pB, pTie, seed) => {
    const truth = pA + pTie / 2;
    const rate = coverage(seed, (random, rows) => {
      const counts = [0, 0, 0];
      for (let i = 0; i < rows; i++) {
        const outcome = draw(random, [pA, pB, pTie]);
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
      const [a = 0, b = 0, ties = 0] = counts;
      const ci = winRateInterval(a, b, ties);
      return within(ci?.low, truth, ci?.high);
    });
    expect(rate).toBeGreaterThanOrEqual(0.93);
    expect(rate).toBeLessThanOrEqual(0.97);
  });
});
