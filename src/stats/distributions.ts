/**
 * Quantiles and tail probabilities behind assay's confidence intervals and tests: the normal
 * quantile, Student's t quantile and the lower tail of Binomial(n, 1/2). Pure functions, no
 * dependencies; docs/statistics.md says where each is used.
 */

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function checkProbability(p: number, name: string): void {
  if (!(p > 0 && p < 1)) throw new RangeError(`${name} must be strictly between 0 and 1, got ${p}`);
}

const horner = (coefficients: readonly number[], x: number): number =>
  coefficients.reduceRight((acc, c) => acc * x + c, 0);

// Wichura, Algorithm AS 241 (PPND16), Applied Statistics 37 (1988) 477-484. Lowest order first.
const A = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
  45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
];
const B = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867,
  39307.89580009271061, 28729.085735721942674, 5226.495278852854561,
];
const C = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
  1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
];
const D = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
  0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9,
];
const E = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
  0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
];
const F = [
  1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
  7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15,
];

/**
 * The standard normal quantile: z with P(Z <= z) = p. Wichura's AS 241, relative error about
 * 1e-16 over (0, 1).
 *
 * @example normalQuantile(0.975) // 1.959963984540054
 */
export function normalQuantile(p: number): number {
  checkProbability(p, 'p');
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * horner(A, r)) / horner(B, r);
  }
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const z = r <= 5 ? horner(C, r - 1.6) / horner(D, r - 1.6) : horner(E, r - 5) / horner(F, r - 5);
  return q < 0 ? -z : z;
}

// Lanczos approximation (g = 7, 9 terms), relative error about 1e-15 for x >= 0.5.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let sum = LANCZOS[0] ?? 1;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] ?? 0) / (y + i);
  const t = y + 7.5;
  return LN_SQRT_2PI + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction for the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const clamp = (v: number) => (Math.abs(v) < tiny ? tiny : v);
  let c = 1;
  let d = 1 / clamp(1 - ((a + b) * x) / (a + 1));
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 / clamp(1 + aa * d);
    c = clamp(1 + aa / c);
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 / clamp(1 + aa * d);
    c = clamp(1 + aa / c);
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta I_x(a, b), with y = 1 - x passed in to keep its precision. */
function regularizedBeta(a: number, b: number, x: number, y: number): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(y),
  );
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, y)) / b;
}

/** P(T > t) for t >= 0, T ~ Student's t with df degrees of freedom. */
function studentTUpperTail(t: number, df: number): number {
  const t2 = t * t;
  return 0.5 * regularizedBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

function studentTDensity(t: number, df: number): number {
  const logNorm = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(logNorm - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * Student's t quantile: t with P(T <= t) = p for df degrees of freedom (df > 0, need not be an
 * integer). Closed forms for df = 1 and 2; otherwise a Cornish-Fisher start refined by Newton
 * steps on the exact tail (incomplete beta), kept inside a bisection bracket: relative error
 * below 1e-9. Above 1e6 degrees of freedom the expansion alone is used (error below 1e-15).
 *
 * @example studentTQuantile(0.975, 10) // 2.228138851986274
 */
export function studentTQuantile(p: number, df: number): number {
  checkProbability(p, 'p');
  if (!(df > 0) || !Number.isFinite(df)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (p === 0.5) return 0;
  const sign = p < 0.5 ? -1 : 1;
  const tail = Math.min(p, 1 - p);
  if (df === 1) return sign / Math.tan(Math.PI * tail);
  if (df === 2) return (sign * (1 - 2 * tail)) / Math.sqrt(2 * tail * (1 - tail));

  // Cornish-Fisher expansion about the normal quantile: exact to O(df^-4).
  const z = -normalQuantile(tail);
  const z2 = z * z;
  let t =
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * ((5 * z2 + 16) * z2 + 3)) / (96 * df ** 2) +
    (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / (384 * df ** 3);
  if (df > 1e6) return sign * t;
  if (!(t > 0)) t = z;
  // Bracket [lo, hi] with upperTail(lo) >= tail >= upperTail(hi).
  let lo = 0;
  let hi = t;
  while (studentTUpperTail(hi, df) > tail) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 200; i++) {
    const f = studentTUpperTail(t, df) - tail;
    if (f === 0) return sign * t;
    if (f > 0) lo = t;
    else hi = t;
    let next = t + f / studentTDensity(t, df);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) <= 1e-14 * next) return sign * next;
    t = next;
  }
  return sign * t;
}

// Loader's saddle-point binomial density, as used by R's dbinom: accurate for any n.
const STIRLING = [1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188];

/** stirlerr(n) = log(n!) - log(sqrt(2πn) (n/e)^n). */
function stirlingError(n: number): number {
  if (n === 0) return 0;
  if (n <= 15) return logGamma(n + 1) - (n + 0.5) * Math.log(n) + n - LN_SQRT_2PI;
  const nn = n * n;
  const [s0, s1, s2, s3, s4] = STIRLING as [number, number, number, number, number];
  return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

/** bd0(x, m) = x log(x / m) + m - x, without cancellation when x is close to m. */
function deviance(x: number, m: number): number {
  if (Math.abs(x - m) >= 0.1 * (x + m)) return x * Math.log(x / m) + m - x;
  let v = (x - m) / (x + m);
  let s = (x - m) * v;
  let ej = 2 * x * v;
  v *= v;
  for (let j = 1; j < 1000; j++) {
    ej *= v;
    const next = s + ej / (2 * j + 1);
    if (next === s) return next;
    s = next;
  }
  return s;
}

/** log P(X = k) for X ~ Binomial(n, 1/2). */
function logBinomialHalf(k: number, n: number): number {
  if (k === 0 || k === n) return -n * Math.LN2;
  const lc =
    stirlingError(n) - stirlingError(k) - stirlingError(n - k) - deviance(k, n / 2) - deviance(n - k, n / 2);
  return lc - 0.5 * (Math.log(2 * Math.PI) + Math.log(k) + Math.log1p(-k / n));
}

/**
 * log P(X <= k) for X ~ Binomial(n, 1/2) and 0 <= k <= n / 2: the largest term from Loader's
 * formula, then the smaller ones by their ratio until they no longer change the sum (about
 * 5·sqrt(n) terms at most). Exact to near machine precision for any n; never overflows.
 */
export function logBinomialHalfLowerTail(k: number, n: number): number {
  if (!Number.isSafeInteger(k) || !Number.isSafeInteger(n) || k < 0 || 2 * k > n) {
    throw new RangeError(`need integers 0 <= k <= n / 2, got k=${k}, n=${n}`);
  }
  let ratio = 1;
  let sum = 1;
  for (let i = k; i > 0; i--) {
    ratio *= i / (n - i + 1);
    sum += ratio;
    if (ratio < sum * 1e-17) break;
  }
  return logBinomialHalf(k, n) + Math.log(sum);
}
