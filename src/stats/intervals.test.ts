import { describe, expect, it } from 'vitest';
import {
  meanInterval,
  normalQuantile,
  signTest,
  studentTQuantile,
  wilsonInterval,
  wilsonPercentInterval,
  winRateInterval,
} from './intervals.js';

// Reference values from SciPy (scipy.stats.norm.ppf, t.ppf, binomtest).
const relativeError = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

describe('normalQuantile', () => {
  it('matches reference values to machine precision', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 14);
    expect(normalQuantile(0.995)).toBeCloseTo(2.5758293035489004, 14);
    expect(relativeError(normalQuantile(1e-10), -6.361340902404056)).toBeLessThan(1e-14);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.2)).toBeCloseTo(-normalQuantile(0.8), 15);
  });

  it('rejects probabilities outside (0, 1) instead of returning Infinity', () => {
    for (const p of [0, 1, -0.1, 1.5, Number.NaN]) expect(() => normalQuantile(p)).toThrow(RangeError);
  });
});

describe('studentTQuantile', () => {
  it.each([
    [0.975, 1, 12.706204736174694],
    [0.975, 2, 4.302652729749462],
    [0.975, 3, 3.1824463052837078],
    [0.975, 10, 2.228138851986274],
    [0.975, 30, 2.0422724563012378],
    [0.975, 100, 1.9839715185235518],
    [0.975, 7.3, 2.345066736547703],
    [0.9, 4, 1.533206274058944],
    [0.995, 1000, 2.580754698065951],
    [0.975, 2e6, 1.9599651706763748],
    [1e-8, 3, -479.5250695797382],
  ])('p=%f df=%f', (p, df, expected) => {
    expect(relativeError(studentTQuantile(p, df), expected)).toBeLessThan(1e-9);
  });

  it('is symmetric, 0 at the median, and approaches the normal quantile', () => {
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-studentTQuantile(0.975, 10), 12);
    expect(studentTQuantile(0.5, 5)).toBe(0);
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(normalQuantile(0.975), 6);
  });

  it('rejects bad arguments', () => {
    expect(() => studentTQuantile(0.975, 0)).toThrow(RangeError);
    expect(() => studentTQuantile(1, 10)).toThrow(RangeError);
  });
});

describe('wilsonInterval', () => {
  it('matches the textbook interval for 8 of 10', () => {
    expect(wilsonInterval(8, 10)).toEqual({ low: 0.490162, high: 0.943318 });
    expect(wilsonPercentInterval(8, 10)).toEqual({ low: 49.016247, high: 94.331785 });
  });

  it('stays within [0, 1] for all successes or all failures', () => {
    expect(wilsonInterval(0, 10)).toEqual({ low: 0, high: 0.277533 });
    expect(wilsonInterval(10, 10)).toEqual({ low: 0.722467, high: 1 });
    expect(wilsonInterval(1, 1)).toEqual({ low: 0.206549, high: 1 });
    expect(wilsonPercentInterval(0, 1)).toEqual({ low: 0, high: 79.345069 });
  });

  it('widens with the confidence level', () => {
    const i95 = wilsonInterval(30, 100);
    const i99 = wilsonInterval(30, 100, 0.99);
    expect(i99!.low).toBeLessThan(i95!.low);
    expect(i99!.high).toBeGreaterThan(i95!.high);
  });

  it('is null with no rows and rejects impossible counts', () => {
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(wilsonPercentInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
    expect(() => wilsonInterval(-1, 2)).toThrow(RangeError);
    expect(() => wilsonInterval(1, 2, 1)).toThrow(RangeError);
  });
});

describe('meanInterval', () => {
  it('uses the t quantile with n - 1 degrees of freedom', () => {
    // Scores 2, 4, 6, 8: mean 5, squared deviations 9 + 1 + 1 + 9 = 20.
    expect(meanInterval({ n: 4, mean: 5, m2: 20 })).toEqual({ mean: 5, stdError: 1.290994, low: 0.891479, high: 9.108521 });
  });

  it('is null for no values and gives only the mean for one', () => {
    expect(meanInterval({ n: 0, mean: 0, m2: 0 })).toBeNull();
    const one = meanInterval({ n: 1, mean: 7, m2: 0 });
    expect(one).toEqual({ mean: 7, stdError: null, low: null, high: null });
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
  });

  it('gives a zero-width interval for identical values, even with m2 rounded below 0', () => {
    expect(meanInterval({ n: 5, mean: 3, m2: 0 })).toEqual({ mean: 3, stdError: 0, low: 3, high: 3 });
    expect(meanInterval({ n: 5, mean: 3, m2: -1e-15 })).toEqual({ mean: 3, stdError: 0, low: 3, high: 3 });
  });

  it('clamps to the score scale when given one', () => {
    const open = meanInterval({ n: 3, mean: 9.5, m2: 0.5 });
    expect(open!.high).toBeGreaterThan(10);
    const clamped = meanInterval({ n: 3, mean: 9.5, m2: 0.5 }, 0.95, { min: 1, max: 10 });
    expect(clamped).toMatchObject({ low: open!.low, high: 10 });
  });
});

describe('signTest', () => {
  it('matches the exact binomial test', () => {
    expect(signTest(8, 2)).toEqual({ pValue: 0.109375 });
    expect(signTest(2, 8)).toEqual({ pValue: 0.109375 });
    expect(signTest(1, 9)).toEqual({ pValue: 0.0214844 });
    expect(signTest(45, 55).pValue).toBeCloseTo(0.368202, 6);
  });

  it('is 1 with nothing decided or an even split', () => {
    expect(signTest(0, 0)).toEqual({ pValue: 1 });
    expect(signTest(0, 1)).toEqual({ pValue: 1 });
    expect(signTest(5, 5)).toEqual({ pValue: 1 });
  });

  it('stays exact and finite for large counts', () => {
    expect(relativeError(signTest(4_990_000, 5_010_000).pValue, 2.5448004911550766e-10)).toBeLessThan(1e-5);
    expect(relativeError(signTest(200, 800).pValue, 1.6449987355774717e-85)).toBeLessThan(1e-5);
    expect(signTest(4_999_000, 5_001_000).pValue).toBeCloseTo(0.527296, 6);
    expect(signTest(49_990, 50_010).pValue).toBeCloseTo(0.952089, 6);
    expect(signTest(0, 10_000_000).pValue).toBe(0);
  });
});

describe('winRateInterval', () => {
  it('counts a tie as half a win', () => {
    expect(winRateInterval(6, 2, 2)).toEqual({ winRate: 0.7, low: 0.423543, high: 0.876308 });
  });

  it('is Wilson’s interval when there are no ties', () => {
    expect(winRateInterval(7, 3, 0)).toEqual({ winRate: 0.7, ...wilsonInterval(7, 10) });
    expect(winRateInterval(10, 0, 0)).toEqual({ winRate: 1, ...wilsonInterval(10, 10) });
  });

  it('mirrors when A and B swap', () => {
    const ab = winRateInterval(30, 12, 9)!;
    const ba = winRateInterval(12, 30, 9)!;
    expect(ab.low).toBeCloseTo(1 - ba.high, 6);
    expect(ab.high).toBeCloseTo(1 - ba.low, 6);
  });

  it('keeps a real width when every row is a tie', () => {
    expect(winRateInterval(0, 0, 10)).toEqual({ winRate: 0.5, low: 0.361234, high: 0.638766 });
  });

  it('is null with no decided rows', () => {
    expect(winRateInterval(0, 0, 0)).toBeNull();
  });
});

describe('every result is JSON-safe', () => {
  // JSON.stringify turns NaN and Infinity into null, so look at the numbers themselves.
  const numbersIn = (value: unknown): number[] =>
    typeof value === 'number' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(numbersIn) : [];

  it('never yields NaN or Infinity for small counts', () => {
    const results: unknown[] = [];
    for (let a = 0; a <= 6; a++) {
      for (let b = 0; b <= 6; b++) {
        for (let t = 0; t <= 6; t++) {
          results.push(winRateInterval(a, b, t), signTest(a, b), wilsonInterval(a, a + b + t));
          results.push(meanInterval({ n: a, mean: b, m2: t }));
        }
      }
    }
    const numbers = numbersIn(results);
    expect(numbers.length).toBeGreaterThan(1000);
    expect(numbers.every(Number.isFinite)).toBe(true);
  });
});
