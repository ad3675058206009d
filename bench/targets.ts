/**
 * The performance targets `npm run bench` checks (issue 5), read off the table's figures, so that
 * a run says which hold without anyone comparing numbers by hand. A job after a server start
 * (`first`) and one on a server that has run a job (`warm`) are checked alike.
 */

/** What the table shows for one job of one scenario (medians over the runs). */
export interface JobFigures {
  scenario: string;
  job: 'first' | 'warm';
  rows: number;
  /** Null where there is no ideal (an instant judge). */
  efficiency: number | null;
  rowsPerSecond: number;
  /** Null without API load. */
  apiP99Ms: number | null;
  peakMb: number;
  /** The server's startup, for a first job; null for the warm one. */
  startupMs: number | null;
}

export interface TargetCheck {
  target: string;
  /** One figure per job measured, e.g. `first 0.924 ✗`. */
  figures: string[];
  /** True when every figure meets the target; null when nothing was measured for it. */
  holds: boolean | null;
}

const LARGE_ROWS = 1_000_000;

interface Target {
  name: string;
  scenario: string;
  figure: (f: JobFigures) => number | null;
  meets: (x: number) => boolean;
  format: (x: number) => string;
  /** Why a measured scenario does not count (too few rows), if it does not. */
  skip?: (f: JobFigures) => string | null;
}

const TARGETS: Target[] = [
  { name: 'L = 200 ms, 1,000 rows: efficiency ≥ 0.93', scenario: 'latency-200ms', figure: (f) => f.efficiency, meets: (x) => x >= 0.93, format: (x) => x.toFixed(3) },
  { name: 'L = 50 ms, 10,000 rows: efficiency ≥ 0.93', scenario: 'latency-50ms', figure: (f) => f.efficiency, meets: (x) => x >= 0.93, format: (x) => x.toFixed(3) },
  { name: 'instant judge, 10,000 rows: ≥ 1,500 rows/s', scenario: 'instant', figure: (f) => f.rowsPerSecond, meets: (x) => x >= 1_500, format: (x) => `${x.toFixed(0)} rows/s` },
  { name: 'API p99 at 500 requests/s during a job: < 20 ms', scenario: 'api-under-load', figure: (f) => f.apiP99Ms, meets: (x) => x < 20, format: (x) => `${x.toFixed(1)} ms` },
  {
    name: '1,000,000 rows: peak memory < 300 MB',
    scenario: 'large-memory',
    figure: (f) => f.peakMb,
    meets: (x) => x < 300,
    format: (x) => `${x.toFixed(0)} MB`,
    skip: (f) => (f.rows < LARGE_ROWS ? `not checked: ${f.rows} rows (--large)` : null),
  },
];

function mark(ok: boolean): string {
  return ok ? '✓' : '✗';
}

/** Every target with the figures measured for it, in the issue's order; startup last. */
export function checkTargets(figures: readonly JobFigures[]): TargetCheck[] {
  const checks: TargetCheck[] = TARGETS.map((t) => {
    const shown: string[] = [];
    let holds: boolean | null = null;
    for (const f of figures.filter((x) => x.scenario === t.scenario)) {
      const skipped = t.skip?.(f) ?? null;
      const x = t.figure(f);
      if (skipped !== null || x === null) {
        if (skipped !== null) shown.push(`${f.job} ${skipped}`);
        continue;
      }
      const ok = t.meets(x);
      shown.push(`${f.job} ${t.format(x)} ${mark(ok)}`);
      holds = (holds ?? true) && ok;
    }
    return { target: t.name, figures: shown, holds };
  });
  // Every server start of the run counts (embedded, and a distributed API node).
  const starts = figures.flatMap((f) => (f.startupMs === null ? [] : [{ scenario: f.scenario, ms: f.startupMs }]));
  const slowest = starts.reduce<{ scenario: string; ms: number } | null>((a, b) => (a === null || b.ms > a.ms ? b : a), null);
  checks.push({
    target: 'server ready to answer: < 1 s',
    figures: slowest === null ? [] : [`slowest ${slowest.ms.toFixed(0)} ms (${slowest.scenario}) ${mark(slowest.ms < 1_000)}`],
    holds: slowest === null ? null : slowest.ms < 1_000,
  });
  return checks;
}

/** The checks as lines under the table. */
export function formatChecks(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => `${c.holds === null ? '-' : mark(c.holds)} ${c.target}${c.figures.length > 0 ? `: ${c.figures.join(', ')}` : ': not measured in this run'}`)
    .join('\n');
}
