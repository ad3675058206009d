/**
 * `npm run bench`: starts a fake judge and the assay server as separate processes on loopback,
 * runs each scenario as a user would (upload, create, poll to completion), and prints wall time
 * against the ideal ceil(N / C) × L, rows per second, the server's peak memory, the fake judge's
 * view of a cycle (src/testing/call-timing.ts), and API latency under load. Bounded: every
 * scenario has a row count and a time limit.
 *
 * Each server runs the scenario's job twice: the first job after the server starts (it also pays
 * for V8 compiling assay's code) and the same job again on the now warm server, the state of a
 * service that has been up for a while. The fake judge is warmed up before either, as a real
 * model server would be. A shared 2-core machine is noisy, so each scenario runs `--runs` times
 * (default 3) with fresh processes, and the table shows the median run with the range.
 *
 * Usage: npm run bench [-- --only NAME] [-- --large N] [-- --runs N]
 */
import { execFile, fork } from 'node:child_process';
import { createWriteStream, mkdtempSync, openAsBlob, readdirSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { promisify } from 'node:util';
import type { ApiLoadResult } from './api-load.js';
import { bareLoop, judgeCallBody, type BareLoopOptions, type BareLoopResult } from './bare-loop.js';
import { OTHER_CPU_WARNING_SHARE, cpuShares, readCpu } from './other-cpu.js';
import { peakRssMb, startProcess, type Proc } from './processes.js';
import { checkTargets, formatChecks, type JobFigures } from './targets.js';
import type { CallTimingSummary } from '../src/testing/call-timing.js';
import { getTestDatabase, type TestDatabase } from '../test/support/postgres.js';

interface Scenario {
  name: string;
  rows: number;
  latencyMs: number;
  concurrency: number;
  /** Measure API latency under load while the job runs. */
  apiLoad?: boolean;
  /** Run the job a second time on the warm server (not for the large run, which is about memory). */
  again: boolean;
  /**
   * No assay at all: the same calls straight from this process over undici, C at a time, to show
   * what the machine and the fake judge allow.
   */
  bare?: boolean;
  /**
   * For the bare loop: CPU spent on each reply before the next call (busy, on the loop's thread),
   * as an orchestrator's own per-row work would be. Shows how much per-row CPU a latency target
   * leaves on this machine.
   */
  cpuPerCallUs?: number;
  /**
   * For the bare loop: handle at most one reply per turn of the event loop. undici writes a call on
   * a reused keep-alive connection only in the loop's check phase, so the replies handled back to
   * back in one I/O phase send their next calls together at its end, and calls sent together come
   * back together. Against the same loop without it, this shows what that costs.
   */
  onePerTurn?: boolean;
  /**
   * For the bare loop: run it in a Node process started for it, not in this long-running one, so
   * that it pays, as assay's first job after a start does, for V8 compiling and optimizing its
   * code (and undici's) while it runs: the baseline for a first job, where the in-process loop is
   * the baseline for a warm one.
   */
  freshProcess?: boolean;
  /**
   * The distributed shape: an API node (no workers) and one worker node on PostgreSQL (the test
   * server from test/support, or TEST_DATABASE_URL). Jobs go to the API node; the CPU and peak
   * memory columns are the worker's, the process that runs the rows (PostgreSQL's own CPU is not
   * in them).
   */
  distributed?: boolean;
  limitSeconds: number;
}

interface JobOutcome {
  wallS: number;
  api: ApiLoadResult | null;
  /** CPU the server spent on the job, per row (all its threads, and its busiest thread); null where not measured. */
  cpu: { serverUs: number; busiestThreadUs: number } | null;
  /** The job's calls as the fake judge saw them: held by the judge, and the client's turnaround. */
  timing: CallTimingSummary | null;
  /** The shares of the cores other processes and steal took during the job (other-cpu.ts); null without /proc. */
  cpuTaken: ReturnType<typeof cpuShares> | null;
}

interface RunOutcome {
  first: JobOutcome;
  warm: JobOutcome | null;
  peakMb: number;
  startupMs: number;
  /** Server start to the first job's end, plus shutdown: upload and polling included. */
  wholeS: number;
}

const args = process.argv.slice(2);
/** The `assay` command as users run it: the bundle `npm run build` makes (scripts/bundle.mjs). */
const ASSAY_COMMAND = 'dist/bundle/main.js';
// Node options for the assay server only, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
// for a CPU profile of each of its threads (NODE_OPTIONS does not allow --cpu-prof).
const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const only = option('--only');
const largeRows = Number(option('--large') ?? 1_000_000);
const runs = Math.max(1, Number(option('--runs') ?? 3));
const HERE = path.dirname(fileURLToPath(import.meta.url));
const execFileAsync = promisify(execFile);

const SCENARIOS: Scenario[] = [
  { name: 'latency-200ms', rows: 1_000, latencyMs: 200, concurrency: 64, again: true, limitSeconds: 60 },
  { name: 'latency-50ms', rows: 10_000, latencyMs: 50, concurrency: 64, again: true, limitSeconds: 120 },
  { name: 'instant', rows: 10_000, latencyMs: 0, concurrency: 64, again: true, limitSeconds: 120 },
  { name: 'api-under-load', rows: 4_000, latencyMs: 50, concurrency: 64, apiLoad: true, again: true, limitSeconds: 120 },
  { name: 'distributed-50ms', rows: 10_000, latencyMs: 50, concurrency: 64, again: true, distributed: true, limitSeconds: 120 },
  { name: 'bare-loop-200ms', rows: 1_000, latencyMs: 200, concurrency: 64, again: false, bare: true, limitSeconds: 60 },
  { name: 'bare-loop-50ms', rows: 10_000, latencyMs: 50, concurrency: 64, again: false, bare: true, limitSeconds: 120 },
  { name: 'bare-loop-200ms-fresh-process', rows: 1_000, latencyMs: 200, concurrency: 64, again: false, bare: true, freshProcess: true, limitSeconds: 60 },
  { name: 'bare-loop-50ms-fresh-process', rows: 10_000, latencyMs: 50, concurrency: 64, again: false, bare: true, freshProcess: true, limitSeconds: 120 },
  { name: 'bare-loop-instant', rows: 10_000, latencyMs: 0, concurrency: 64, again: false, bare: true, limitSeconds: 120 },
  ...[100, 200, 300].map((us) => ({ name: `bare-loop-50ms-cpu-${us}us`, rows: 10_000, latencyMs: 50, concurrency: 64, again: false, bare: true, cpuPerCallUs: us, limitSeconds: 120 })),
  { name: 'bare-loop-50ms-cpu-300us-one-per-turn', rows: 10_000, latencyMs: 50, concurrency: 64, again: false, bare: true, cpuPerCallUs: 300, onePerTurn: true, limitSeconds: 120 },
  { name: 'large-memory', rows: largeRows, latencyMs: 0, concurrency: 64, again: false, limitSeconds: 1_800 },
];

async function writeDataset(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < rows; i++) {
    const line = `{"question":"What is ${i} + ${i}? Explain briefly.","answer":"It is ${2 * i}, because adding ${i} twice gives ${2 * i}.","id":${i}}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/**
 * A fresh fake judge is cold: V8 has not compiled its request path yet, and its first replies come
 * late. A real model server has long been running, so the fake answers this many calls before the
 * benchmark starts, each after 1 ms: with no latency at all, the fake's timer path (the one every
 * benchmark call takes) stayed cold, and the first job after the server's start paid for compiling
 * it (two interleaved sets of three runs: the first job at L = 50 ms gained 0.012 and 0.000).
 */
async function warmUpFake(url: string): Promise<void> {
  const pool = new Pool(new URL(url).origin, { connections: 64 });
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent++ < 2_000) {
      const body = judgeCallBody(sent, 'warm-up');
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', 'x-fake-latency-ms': '1' }, body });
      await res.body.text();
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  await pool.close();
}

/**
 * CPU time each thread of a process has run, in ns, by thread id (Linux's per-thread schedstat);
 * empty elsewhere. Per row, it is a steadier measure of assay's own cost than the wall time, which
 * moves with whatever else the two cores are doing.
 */
function threadCpuNs(pid: number): Map<string, number> {
  const byThread = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ran = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (Number.isFinite(ran)) byThread.set(tid, ran);
    }
  } catch {
    // Not Linux, or the process is gone: not measured.
  }
  return byThread;
}

function cpuPerRow(before: Map<string, number>, after: Map<string, number>, rows: number): JobOutcome['cpu'] {
  if (after.size === 0) return null;
  const spent = [...after].map(([tid, ns]) => ns - (before.get(tid) ?? 0));
  const us = (ns: number) => ns / 1000 / rows;
  return { serverUs: us(spent.reduce((a, b) => a + b, 0)), busiestThreadUs: us(Math.max(...spent)) };
}

/** Starts the fake judge's measurement of the calls to come (src/testing/call-timing.ts). */
async function startTiming(fakeUrl: string): Promise<void> {
  await json(await fetch(`${new URL(fakeUrl).origin}/_timing`, { method: 'DELETE' }));
}

/** The calls since `startTiming`, for a client that kept `concurrency` calls in flight. */
async function readTiming(fakeUrl: string, concurrency: number): Promise<CallTimingSummary | null> {
  return (await json<{ timing: CallTimingSummary | null }>(await fetch(`${new URL(fakeUrl).origin}/_timing?concurrency=${concurrency}`))).timing;
}

/** Creates the benchmark's classify job over the uploaded file. */
async function createJob(s: Scenario, base: string, fileId: string, judgeModel: string): Promise<{ workflow_id: string }> {
  return json<{ workflow_id: string }>(
    await fetch(`${base}/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'classify',
        parameters: {
          input_data_file_path: fileId,
          judge: { model: judgeModel, model_source: 'serverless', system_template: 'Is the answer to {{question}} correct?', num_workers: s.concurrency, max_tokens: 64 },
          model_to_evaluate: 'answer',
          labels: ['correct', 'incorrect'],
          pass_labels: ['correct'],
        },
      }),
    }),
  );
}

/** Runs one job to its end: creation to completion by the server's own clock, API load alongside if asked. */
async function runJob(s: Scenario, base: string, fileId: string, judgeModel: string, serverPid: number, fakeUrl: string): Promise<JobOutcome> {
  // The API client warms up before the job exists (see api-load.ts).
  const load = s.apiLoad ? fork(path.join(HERE, 'api-load.js'), [base, '500'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) : null;
  if (load) {
    const exited = once(load, 'exit').then(([code]) => {
      throw new Error(`${s.name}: the API load client exited (${String(code)}) during its warm-up`);
    });
    await Promise.race([once(load, 'message'), exited]);
    exited.catch(() => {});
  }
  const loadResult = load ? (once(load, 'message') as Promise<[ApiLoadResult]>) : null;
  await startTiming(fakeUrl);
  const cpuBefore = threadCpuNs(serverPid);
  const machineBefore = readCpu();
  const jobStarted = performance.now();
  const job = await createJob(s, base, fileId, judgeModel).catch((err: unknown) => {
    load?.kill();
    throw err;
  });
  load?.send({ jobId: job.workflow_id });
  const deadline = performance.now() + s.limitSeconds * 1000;
  let state: { status: string; created_at: string; updated_at: string; results?: Record<string, unknown> } | undefined;
  const poll = new Pool(base, { connections: 1 });
  try {
    while (performance.now() < deadline) {
      const res = await poll.request({ path: `/v1/evaluation/${job.workflow_id}`, method: 'GET' });
      state = JSON.parse(await res.body.text()) as typeof state;
      if (['completed', 'error', 'user_error'].includes(state!.status)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await poll.close();
    load?.send('stop');
  }
  const api = loadResult ? (await loadResult)[0] : null;
  if (state?.status !== 'completed') throw new Error(`${s.name}: job ended ${state?.status ?? 'unfinished'} ${JSON.stringify(state?.results ?? {})}`);
  if (api && api.failures > 0) throw new Error(`${s.name}: ${api.failures} API requests failed under load`);
  const cpu = cpuPerRow(cpuBefore, threadCpuNs(serverPid), s.rows);
  const machineAfter = readCpu();
  const cpuTaken = machineBefore && machineAfter ? cpuShares(machineBefore, machineAfter, (performance.now() - jobStarted) / 1000) : null;
  return { wallS: (Date.parse(state.updated_at) - Date.parse(state.created_at)) / 1000, api, cpu, timing: await readTiming(fakeUrl, s.concurrency), cpuTaken };
}

/**
 * The bare loop (bare-loop.ts): N calls, C at a time, timed from the first request to the last
 * reply, in this process or, for `freshProcess`, in a Node process started for it, whose "whole"
 * is its start to its exit.
 */
async function runBare(s: Scenario): Promise<RunOutcome> {
  const fake = await startProcess('dist/testing/fake-provider.js', ['--port', '0', '--latency-ms', String(s.latencyMs), '--verdicts'], {}, /listening on (http:\/\/\S+\/v1)/);
  try {
    await warmUpFake(fake.url);
    const options: BareLoopOptions = {
      url: fake.url,
      calls: s.rows,
      concurrency: s.concurrency,
      limitSeconds: s.limitSeconds,
      ...(s.cpuPerCallUs ? { cpuPerCallUs: s.cpuPerCallUs } : {}),
      ...(s.onePerTurn ? { onePerTurn: true } : {}),
    };
    await startTiming(fake.url);
    const machineBefore = readCpu();
    const spawned = performance.now();
    const result = s.freshProcess ? await bareLoopInFreshProcess(options) : await bareLoop(options);
    const wholeS = s.freshProcess ? (performance.now() - spawned) / 1000 : Number.NaN;
    if (result.calls < s.rows) throw new Error(`${s.name}: did not finish in ${s.limitSeconds} s`);
    const machineAfter = readCpu();
    const cpuTaken = machineBefore && machineAfter ? cpuShares(machineBefore, machineAfter, result.wallS) : null;
    const timing = await readTiming(fake.url, s.concurrency);
    return { first: { wallS: result.wallS, api: null, cpu: null, timing, cpuTaken }, warm: null, peakMb: Number.NaN, startupMs: Number.NaN, wholeS };
  } finally {
    await fake.stop();
  }
}

/** Runs the bare loop as a script in a new Node process, which exits when it is done. */
async function bareLoopInFreshProcess(options: BareLoopOptions): Promise<BareLoopResult> {
  const { stdout } = await execFileAsync(process.execPath, [path.join(HERE, 'bare-loop.js'), JSON.stringify(options)], { timeout: (options.limitSeconds + 30) * 1000 });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as BareLoopResult;
}

async function runScenario(s: Scenario): Promise<RunOutcome> {
  if (s.bare) return runBare(s);
  const dir = mkdtempSync(path.join(os.tmpdir(), `assay-bench-${s.name}-`));
  let fake: Proc | undefined;
  let server: Proc | undefined;
  let worker: Proc | undefined;
  let db: TestDatabase | undefined;
  try {
    const dataset = path.join(dir, 'data.jsonl');
    await writeDataset(dataset, s.rows);
    fake = await startProcess('dist/testing/fake-provider.js', ['--port', '0', '--latency-ms', String(s.latencyMs), '--verdicts'], {}, /listening on (http:\/\/\S+\/v1)/);
    await warmUpFake(fake.url);
    const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', ASSAY_DATA_DIR: path.join(dir, 'data'), ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn' };
    if (s.distributed) {
      db = await getTestDatabase();
      env['ASSAY_DATABASE_URL'] = await db.createDatabase();
    }
    const spawned = performance.now();
    server = await startProcess(ASSAY_COMMAND, s.distributed ? ['serve', '--no-workers'] : ['serve'], env, /listening on (http:\/\/\S+?)[\s)]/, {
      nodeArgs: serverNodeArgs,
    });
    if (s.distributed) {
      // At info level, for the worker's line on each job's result file (it answers no API request to log).
      worker = await startProcess(ASSAY_COMMAND, ['worker'], { ...env, ASSAY_DATA_DIR: path.join(dir, 'worker'), ASSAY_LOG_LEVEL: 'info' }, /worker listening on (http:\/\/\S+?)[\s)]/, {
        nodeArgs: serverNodeArgs,
      });
    }
    // The process that runs the rows: its CPU and memory are the ones the table shows.
    const rowsPid = (worker ?? server).child.pid!;
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'data.jsonl');
    form.append('file', await openAsBlob(dataset), 'data.jsonl');
    const file = await json<{ id: string }>(await fetch(`${server.url}/v1/files/upload`, { method: 'POST', body: form }));
    const first = await runJob(s, server.url, file.id, 'bench-judge', rowsPid, fake.url);
    const firstDone = performance.now();
    // Another judge model, so the second job makes every call again instead of reading the cache.
    const warm = s.again ? await runJob(s, server.url, file.id, 'bench-judge-2', rowsPid, fake.url) : null;
    const peakMb = peakRssMb(rowsPid);
    const stopping = performance.now();
    await Promise.all([server.stop(), worker?.stop()]);
    // A warning (a loop stall, a failed cache write, a retried chunk) explains a run unlike the others.
    for (const line of [...server.warnings(), ...(worker?.warnings() ?? [])]) process.stderr.write(`  ${s.name}: ${line}\n`);
    // How a distributed job's result file was made, and its cost after the last row (engine.ts).
    for (const entry of worker?.logged('result file written') ?? []) {
      process.stderr.write(`  ${s.name}: result file of ${String(entry['rows'])} rows from ${String(entry['from'])} in ${String(entry['ms'])} ms\n`);
    }
    const wholeS = (firstDone - spawned + (performance.now() - stopping)) / 1000;
    return { first, warm, peakMb, startupMs: server.startedMs, wholeS };
  } finally {
    await Promise.all([server?.stop(), worker?.stop()]);
    await fake?.stop();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  scenario: Scenario;
  job: 'first' | 'warm';
  /** The median run by wall time, and every run's wall time. */
  median: RunOutcome;
  outcome: JobOutcome;
  walls: number[];
  /** Every run's API p99, in order (empty without API load). */
  p99s: number[];
  /** This job of every run. */
  jobs: JobOutcome[];
  /** Every run's server startup and peak memory. */
  startups: number[];
  peaks: number[];
}

/** ceil(N / C) × L in seconds, or null for an instant judge (no ideal to compare with). */
function idealS(s: Scenario): number | null {
  return s.latencyMs > 0 ? (Math.ceil(s.rows / s.concurrency) * s.latencyMs) / 1000 : null;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** One table row per job kind: the run with the median wall time, and the spread of all runs. */
function rowsOf(s: Scenario, results: RunOutcome[]): Row[] {
  const rows: Row[] = [];
  for (const job of ['first', 'warm'] as const) {
    const ranked = results.filter((r) => r[job] !== null).sort((a, b) => a[job]!.wallS - b[job]!.wallS);
    const mid = ranked[Math.floor((ranked.length - 1) / 2)];
    if (!mid) continue;
    const p99s = ranked.flatMap((r) => (r[job]!.api ? [r[job]!.api!.p99] : [])).sort((a, b) => a - b);
    rows.push({
      scenario: s,
      job,
      median: mid,
      outcome: mid[job]!,
      walls: ranked.map((r) => r[job]!.wallS),
      p99s,
      jobs: ranked.map((r) => r[job]!),
      startups: ranked.map((r) => r.startupMs),
      peaks: ranked.map((r) => r.peakMb),
    });
  }
  return rows;
}

function table(rows: Row[]): string {
  const head = ['scenario', 'job', 'rows', 'L ms', 'C', 'wall s', 'ideal s', 'efficiency (range)', 'rows/s', 'CPU µs/row', 'busiest thread µs/row', 'judge held / turnaround ms', 'peak MB', 'startup ms', 'whole s', 'API p50 ms', 'API p99 ms (range)'];
  const body = rows.map(({ scenario: s, job, median: medianRun, outcome, walls, p99s, jobs }) => {
    const ideal = idealS(s);
    const range = (xs: number[], f: (x: number) => string) => (xs.length > 1 ? ` (${f(Math.min(...xs))}–${f(Math.max(...xs))})` : '');
    // The medians over all runs, like the p99s.
    const cpus = jobs.flatMap((j) => (j.cpu ? [j.cpu] : []));
    const timings = jobs.flatMap((j) => (j.timing ? [j.timing] : []));
    const efficiency = ideal === null ? '-' : `${(ideal / outcome.wallS).toFixed(3)}${range(walls.map((w) => ideal / w), (x) => x.toFixed(3))}`;
    return [
      s.name,
      s.bare ? 'no assay' : job,
      String(s.rows),
      String(s.latencyMs),
      String(s.concurrency),
      outcome.wallS.toFixed(2),
      ideal === null ? '-' : ideal.toFixed(2),
      efficiency,
      (s.rows / outcome.wallS).toFixed(0),
      cpus.length > 0 ? median(cpus.map((c) => c.serverUs)).toFixed(0) : '-',
      cpus.length > 0 ? median(cpus.map((c) => c.busiestThreadUs)).toFixed(0) : '-',
      timings.length > 0 ? `${median(timings.map((t) => t.heldMs)).toFixed(1)} / ${median(timings.map((t) => t.turnaroundMs)).toFixed(2)}` : '-',
      s.bare ? '-' : medianRun.peakMb.toFixed(0),
      job === 'first' && !s.bare ? medianRun.startupMs.toFixed(0) : '',
      job === 'first' && Number.isFinite(medianRun.wholeS) ? medianRun.wholeS.toFixed(2) : '',
      outcome.api ? outcome.api.p50.toFixed(1) : '-',
      // The median of the runs' p99s (not the p99 of the median-wall run), with their range.
      p99s.length > 0 ? `${median(p99s).toFixed(1)}${range(p99s, (x) => x.toFixed(1))}` : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * What other processes and the host (steal) took of the cores during the jobs: the largest shares,
 * and every job that left either OTHER_CPU_WARNING_SHARE or more, whose figures are then not this
 * machine's alone.
 */
function otherCpuReport(rows: Row[]): string {
  const measured = rows.flatMap((r) => r.jobs.flatMap((j) => (j.cpuTaken === null ? [] : [{ r, j, shares: j.cpuTaken }])));
  if (measured.length === 0) return 'Other processes\' CPU during the jobs: not measured (no /proc).';
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const largest = (key: 'other' | 'steal'): number => Math.max(...measured.map(({ shares }) => shares[key]));
  const lines = [
    `Other processes' CPU during the jobs: at most ${pct(largest('other'))} of the cores; steal (the host running other guests on these vCPUs): at most ${pct(largest('steal'))}.`,
  ];
  for (const { r, j, shares } of measured) {
    const takers = [
      shares.other >= OTHER_CPU_WARNING_SHARE ? `other processes used ${pct(shares.other)} of the cores${takersText(shares, pct)}` : null,
      shares.steal >= OTHER_CPU_WARNING_SHARE ? `the host stole ${pct(shares.steal)}` : null,
    ].filter((x) => x !== null);
    if (takers.length > 0) lines.push(`⚠ ${r.scenario.name}, the ${r.job} job of ${j.wallS.toFixed(2)} s: ${takers.join(', ')}; its figures are not this machine's alone.`);
  }
  return lines.join('\n');
}

/** Who took the others' share: the largest takers by name, and what no process was charged with. */
function takersText(shares: NonNullable<JobOutcome['cpuTaken']>, pct: (x: number) => string): string {
  const named = shares.takers.filter((t) => t.share >= 0.001);
  const rest = shares.other - named.reduce((sum, t) => sum + t.share, 0);
  const parts = named.map((t) => `${t.name} ${pct(t.share)}`);
  if (rest >= 0.001) parts.push(`no process (interrupts, the kernel) ${pct(rest)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const rows: Row[] = [];
for (const s of SCENARIOS) {
  if (only !== undefined && s.name !== only) continue;
  const n = s.again || s.bare ? runs : 1;
  const results: RunOutcome[] = [];
  for (let i = 0; i < n; i++) {
    process.stderr.write(`running ${s.name} (${s.rows} rows), run ${i + 1} of ${n}…\n`);
    results.push(await runScenario(s));
  }
  rows.push(...rowsOf(s, results));
}
console.log(`\nassay benchmark — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, median of ${runs} runs\n`);
console.log(table(rows));
console.log(`\n${otherCpuReport(rows)}`);
// The targets, checked against every run: the slowest startup and the highest peak, the median
// efficiency, throughput and p99 as the table shows them.
const figures: JobFigures[] = rows
  .filter((r) => !r.scenario.bare)
  .map(({ scenario: s, job, outcome, p99s, startups, peaks }) => {
    const ideal = idealS(s);
    return {
      scenario: s.name,
      job,
      rows: s.rows,
      efficiency: ideal === null ? null : ideal / outcome.wallS,
      rowsPerSecond: s.rows / outcome.wallS,
      apiP99Ms: p99s.length > 0 ? median(p99s) : null,
      peakMb: Math.max(...peaks),
      startupMs: job === 'first' ? Math.max(...startups) : null,
    };
  });
console.log(`\nTargets (issue 5):\n${formatChecks(checkTargets(figures))}`);
