/**
 * Confidence intervals and tests for job summaries: a Wilson interval for pass rates and label
 * shares, a Student's t interval for the mean score, the compare win rate (ties count ½) with
 * its interval, and the exact sign test. docs/statistics.md writes out every formula and the
 * reasoning behind it.
 *
 * Every function returns plain finite numbers or null, never NaN or Infinity, so a summary can
 * go straight to JSON. Interval bounds and estimates are rounded to 6 decimals; p-values to 6
 * significant digits, so a very small one still reads as small rather than 0.
 */
import { logBinomialHalfLowerTail, normalQuantile, studentTQuantile } from './distributions.js';

export { normalQuantile, studentTQuantile } from './distributions.js';

export interface Interval {
  low: number;
  high: number;
}

/** What a one-pass (Welford) accumulator holds: count, mean, sum of squared deviations. */
export interface MeanStats {
  n: number;
  mean: number;
  m2: number;
}

/** stdError, low and high are null for a single value: one value has no spread to measure. */
export interface MeanInterval {
  mean: number;
  stdError: number | null;
  low: number | null;
  high: number | null;
}

export interface WinRateInterval {
  /** (A wins + ½ ties) / decided rows, 0..1. */
  winRate: number;
  low: number;
  high: number;
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));
const roundSignificant = (x: number, digits = 6): number => Number(x.toPrecision(digits));

function checkCount(x: number, name: string): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name} must be a non-negative integer, got ${x}`);
}

/** The two-sided normal critical value: 1.959963984540054 for 0.95. */
function criticalZ(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  return normalQuantile((1 + confidence) / 2);
}

/** Wilson's score interval: the p that solve n (p̂ - p)² = z² p (1 - p). Never leaves [0, 1]. */
function scoreInterval(pHat: number, n: number, z: number): Interval {
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (pHat + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((pHat * (1 - pHat)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

function wilson(successes: number, n: number, confidence: number): Interval | null {
  checkCount(successes, 'successes');
  checkCount(n, 'n');
  if (successes > n) throw new RangeError(`successes (${successes}) exceed n (${n})`);
  const z = criticalZ(confidence);
  if (n === 0) return null;
  return scoreInterval(successes / n, n, z);
}

/**
 * Wilson score interval for a proportion, on the 0..1 scale; null when n = 0.
 *
 * @example wilsonInterval(8, 10) // { low: 0.490162, high: 0.943318 }
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): Interval | null {
  const interval = wilson(successes, n, confidence);
  return interval && { low: round(interval.low), high: round(interval.high) };
}

/** The same interval in percent (0..100), rounded after scaling like `pass_percentage`. */
export function wilsonPercentInterval(successes: number, n: number, confidence = 0.95): Interval | null {
  const interval = wilson(successes, n, confidence);
  return interval && { low: round(100 * interval.low), high: round(100 * interval.high) };
}

/**
 * Student's t interval for a mean from Welford statistics: mean ± t(n-1) · s / √n, with s the
 * sample standard deviation (divisor n - 1). null for n = 0; for n = 1 only the mean, with
 * stdError, low and high null. `range`, when given (a score scale), clamps the bounds to it:
 * the true mean can never lie outside the scale, so clamping costs no coverage.
 *
 * @example meanInterval({ n: 4, mean: 5, m2: 20 }) // { mean: 5, stdError: 1.290994, low: 0.891479, high: 9.108521 }
 */
export function meanInterval(
  stats: MeanStats,
  confidence = 0.95,
  range?: { min: number; max: number },
): MeanInterval | null {
  const { n, mean, m2 } = stats;
  checkCount(n, 'n');
  if (!Number.isFinite(mean) || !Number.isFinite(m2)) throw new RangeError('mean and m2 must be finite');
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  if (n === 0) return null;
  if (n === 1) return { mean: round(mean), stdError: null, low: null, high: null };
  // Rounding can leave Welford's m2 a hair below zero when all values are equal.
  const stdError = Math.sqrt(Math.max(0, m2) / (n - 1) / n);
  const half = studentTQuantile((1 + confidence) / 2, n - 1) * stdError;
  let low = mean - half;
  let high = mean + half;
  if (range) {
    low = Math.min(Math.max(low, range.min), range.max);
    high = Math.min(Math.max(high, range.min), range.max);
  }
  return { mean: round(mean), stdError: round(stdError), low: round(low), high: round(high) };
}

/**
 * Exact two-sided sign test of "A and B are equally likely to win", ties left out:
 * p = min(1, 2 · P(X <= min(a, b))) with X ~ Binomial(a + b, ½). 1 when nothing was decided.
 * Exact for any count (computed in log space; see logBinomialHalfLowerTail).
 *
 * @example signTest(8, 2) // { pValue: 0.109375 }
 */
export function signTest(aWins: number, bWins: number): { pValue: number } {
  checkCount(aWins, 'aWins');
  checkCount(bWins, 'bWins');
  const n = aWins + bWins;
  const k = Math.min(aWins, bWins);
  if (2 * k === n) return { pValue: 1 };
  const pValue = Math.min(1, 2 * Math.exp(logBinomialHalfLowerTail(k, n)));
  return { pValue: roundSignificant(pValue) };
}

/**
 * Tango's score interval for d = P(A) - P(B) from (A, B, tie) counts: the d with |Z(d)| <= z,
 * Z(d) = (a - b - n d) / sqrt(n V(d)), V(d) = P(A) + P(B) - d² at the multinomial maximum
 * likelihood under the constraint P(A) - P(B) = d. Without ties it is Wilson's interval.
 */
function differenceInterval(a: number, b: number, n: number, z: number): Interval {
  const score = (d: number): { lead: number; spread: number } => {
    // Constrained MLE of P(B): the non-negative root of 2n q² + B q + C = 0.
    const B = (2 * n - a + b) * d - (a + b);
    const C = -b * d * (1 - d);
    const root = Math.sqrt(Math.max(0, B * B - 8 * n * C));
    const q = B > 0 ? (-2 * C) / (B + root) : (root - B) / (4 * n);
    return { lead: a - b - n * d, spread: z * Math.sqrt(n * Math.max(0, 2 * q + d - d * d)) };
  };
  // Bisect each side between the estimate and the edge of [-1, 1].
  const solve = (from: number, to: number, outside: (d: number) => boolean): number => {
    if (!outside(to)) return to;
    let inner = from;
    let outer = to;
    for (let i = 0; i < 100 && Math.abs(outer - inner) > 1e-15; i++) {
      const mid = (inner + outer) / 2;
      if (outside(mid)) outer = mid;
      else inner = mid;
    }
    return (inner + outer) / 2;
  };
  const estimate = (a - b) / n;
  const low = solve(estimate, -1, (d) => {
    const s = score(d);
    return s.lead > s.spread;
  });
  const high = solve(estimate, 1, (d) => {
    const s = score(d);
    return -s.lead > s.spread;
  });
  return { low, high };
}

/**
 * Model A's win rate over rows with a final decision, a tie counting ½ to each side:
 * w = (aWins + ties / 2) / (aWins + bWins + ties) = (1 + d) / 2 with d = P(A) - P(B), and the
 * interval from Tango's score interval for d. null when no row was decided.
 *
 * @example winRateInterval(6, 2, 2) // { winRate: 0.7, low: 0.423543, high: 0.876308 }
 */
export function winRateInterval(
  aWins: number,
  bWins: number,
  ties: number,
  confidence = 0.95,
): WinRateInterval | null {
  checkCount(aWins, 'aWins');
  checkCount(bWins, 'bWins');
  checkCount(ties, 'ties');
  const z = criticalZ(confidence);
  const n = aWins + bWins + ties;
  if (n === 0) return null;
  const { low, high } = differenceInterval(aWins, bWins, n, z);
  const toRate = (d: number) => Math.min(1, Math.max(0, (1 + d) / 2));
  return { winRate: round((aWins + ties / 2) / n), low: round(toRate(low)), high: round(toRate(high)) };
}
