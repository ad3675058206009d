/**
 * `npm run bench`: starts a fake judge and the assay server as separate processes on loopback,
 * runs each scenario as a user would (upload, create, poll to completion), and prints wall time
 * against the ideal ceil(N / C) × L, rows per second, the server's peak memory, and API latency
 * under load. Bounded: every scenario has a row count and a time limit.
 *
 * Usage: npm run bench [-- --only NAME] [-- --large N]
 */
import { createWriteStream, mkdtempSync, openAsBlob, rmSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { peakRssMb, startProcess, type Proc } from './processes.js';

interface Scenario {
  name: string;
  rows: number;
  latencyMs: number;
  concurrency: number;
  /** Measure API latency under load while the job runs. */
  apiLoad?: boolean;
  limitSeconds: number;
}

interface Outcome {
  scenario: Scenario;
  wallS: number;
  idealS: number | null;
  rowsPerS: number;
  peakMb: number;
  startupMs: number;
  wholeS: number;
  api: { p50: number; p99: number; rps: number } | null;
}

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const largeRows = args.includes('--large') ? Number(args[args.indexOf('--large') + 1]) : 1_000_000;

const SCENARIOS: Scenario[] = [
  { name: 'latency-200ms', rows: 1_000, latencyMs: 200, concurrency: 64, limitSeconds: 60 },
  { name: 'latency-50ms', rows: 10_000, latencyMs: 50, concurrency: 64, limitSeconds: 120 },
  { name: 'instant', rows: 10_000, latencyMs: 0, concurrency: 64, limitSeconds: 120 },
  { name: 'api-under-load', rows: 4_000, latencyMs: 50, concurrency: 64, apiLoad: true, limitSeconds: 120 },
  { name: 'large-memory', rows: largeRows, latencyMs: 0, concurrency: 64, limitSeconds: 1_800 },
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

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/**
 * Fires GETs at a fixed rate until `until` resolves, alternating status and list. The requests go
 * through undici's pool rather than the global fetch, whose own CPU cost (close to a millisecond a
 * request) would load the shared cores and inflate the very latencies being measured.
 */
async function apiLoad(base: string, jobId: string, rps: number, until: Promise<unknown>): Promise<Outcome['api']> {
  const pool = new Pool(base, { connections: 16 });
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  let stop = false;
  void until.then(() => (stop = true));
  const started = performance.now();
  const maxRequests = rps * 120;
  for (let i = 0; !stop && i < maxRequests; i++) {
    const due = started + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const path = i % 2 === 0 ? `/v1/evaluation/${jobId}/status` : `/v1/evaluation?limit=10`;
    const t0 = performance.now();
    const p = pool
      .request({ path, method: 'GET' })
      .then((r) => r.body.arrayBuffer())
      .then(() => void latencies.push(performance.now() - t0));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.allSettled([...pending]);
  await pool.close();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: latencies.length / seconds };
}

async function runScenario(s: Scenario): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `assay-bench-${s.name}-`));
  const whole = performance.now();
  let fake: Proc | undefined;
  let server: Proc | undefined;
  try {
    const dataset = path.join(dir, 'data.jsonl');
    await writeDataset(dataset, s.rows);
    fake = await startProcess('dist/testing/fake-provider.js', ['--port', '0', '--latency-ms', String(s.latencyMs), '--verdicts'], {}, /listening on (http:\/\/\S+\/v1)/);
    const wholeServer = performance.now();
    server = await startProcess(
      'dist/cli/main.js',
      ['serve'],
      { PORT: '0', HOST: '127.0.0.1', ASSAY_DATA_DIR: path.join(dir, 'data'), ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn' },
      /listening on (http:\/\/\S+?)[\s)]/,
    );
    const base = server.url;
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'data.jsonl');
    form.append('file', await openAsBlob(dataset), 'data.jsonl');
    const file = await json<{ id: string }>(await fetch(`${base}/v1/files/upload`, { method: 'POST', body: form }));
    const created = performance.now();
    const job = await json<{ workflow_id: string }>(
      await fetch(`${base}/v1/evaluation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'classify',
          parameters: {
            input_data_file_path: file.id,
            judge: { model: 'bench-judge', model_source: 'serverless', system_template: 'Is the answer to {{question}} correct?', num_workers: s.concurrency, max_tokens: 64 },
            model_to_evaluate: 'answer',
            labels: ['correct', 'incorrect'],
            pass_labels: ['correct'],
          },
        }),
      }),
    );
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const load = s.apiLoad ? apiLoad(base, job.workflow_id, 500, done) : Promise.resolve(null);
    const deadline = created + s.limitSeconds * 1000;
    let status = '';
    let job2: { status: string; created_at: string; updated_at: string; results?: Record<string, unknown> } | undefined;
    while (performance.now() < deadline) {
      job2 = await json(await fetch(`${base}/v1/evaluation/${job.workflow_id}`));
      status = job2!.status;
      if (['completed', 'error', 'user_error'].includes(status)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    finished();
    const api = await load;
    if (status !== 'completed') throw new Error(`${s.name}: job ended ${status || 'unfinished'} ${JSON.stringify(job2?.results ?? {})}`);
    // Creation to completion, by the server's own clock.
    const wallS = (Date.parse(job2!.updated_at) - Date.parse(job2!.created_at)) / 1000;
    const peakMb = peakRssMb(server.child.pid!);
    await server.stop();
    const wholeS = (performance.now() - wholeServer) / 1000;
    const idealS = s.latencyMs > 0 ? (Math.ceil(s.rows / s.concurrency) * s.latencyMs) / 1000 : null;
    return { scenario: s, wallS, idealS, rowsPerS: s.rows / wallS, peakMb, startupMs: server.startedMs, wholeS, api };
  } finally {
    await server?.stop();
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
    void whole;
  }
}

function table(outcomes: Outcome[]): string {
  const head = ['scenario', 'rows', 'L ms', 'C', 'wall s', 'ideal s', 'efficiency', 'rows/s', 'peak MB', 'startup ms', 'whole s', 'API p50 ms', 'API p99 ms'];
  const rows = outcomes.map((o) => [
    o.scenario.name,
    String(o.scenario.rows),
    String(o.scenario.latencyMs),
    String(o.scenario.concurrency),
    o.wallS.toFixed(2),
    o.idealS === null ? '-' : o.idealS.toFixed(2),
    o.idealS === null ? '-' : (o.idealS / o.wallS).toFixed(3),
    o.rowsPerS.toFixed(0),
    o.peakMb.toFixed(0),
    o.startupMs.toFixed(0),
    o.wholeS.toFixed(2),
    o.api ? o.api.p50.toFixed(1) : '-',
    o.api ? o.api.p99.toFixed(1) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const outcomes: Outcome[] = [];
for (const s of SCENARIOS) {
  if (only !== undefined && s.name !== only) continue;
  process.stderr.write(`running ${s.name} (${s.rows} rows)…\n`);
  outcomes.push(await runScenario(s));
}
console.log(`\nassay benchmark — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);
console.log(table(outcomes));
