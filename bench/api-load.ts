/**
 * The benchmark's API client, in a process of its own as a real client would be: the benchmark's
 * own work (polling, bookkeeping) then cannot stall it and pass its pauses off as the server's.
 *
 * It first warms up: a second of requests at the same rate, before the job exists, so that its
 * connections are open and V8 has compiled its request path. A monitoring client has long been
 * running; a fresh process is not, and its first few dozen requests (connections still opening,
 * its own code cold) came back in 20–50 ms whatever the server did, enough to make the p99 of a
 * 4-second job on their own (docs/benchmarks.md, step 28). Then, told the job's id, it fires GETs
 * at a fixed rate, alternating the job's status and the job list, until the parent sends `stop`,
 * and sends back the latencies' p50 and p99 and the rate achieved. Requests go through undici's
 * pool rather than the global fetch, whose own CPU cost (close to a millisecond a request) would
 * load the shared cores and inflate the very latencies being measured.
 *
 * Protocol (as a child with IPC): the child sends `warm`; the parent sends `{ jobId }`, later
 * `stop`; the child answers with an `ApiLoadResult`.
 *
 * Usage: node api-load.js BASE_URL RPS
 */
import { once } from 'node:events';
import { Pool } from 'undici';

export interface ApiLoadResult {
  p50: number;
  p99: number;
  rps: number;
  /** Answers other than 200 (none expected). */
  failures: number;
}

/** The warm-up's length, at the measured rate. */
const WARM_UP_SECONDS = 1;

const [base, rpsArg] = process.argv.slice(2);
const rps = Number(rpsArg);
if (!base || !(rps > 0) || !process.send) throw new Error('usage: api-load.js BASE_URL RPS, as a child process with IPC');

const pool = new Pool(base, { connections: 16 });
let stop = false;
const started = new Promise<string>((resolve) => {
  process.on('message', (m: unknown) => {
    if (m === 'stop') stop = true;
    else if (typeof m === 'object' && m !== null && typeof (m as { jobId?: unknown }).jobId === 'string') resolve((m as { jobId: string }).jobId);
  });
});

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/**
 * Fires `count` GETs at the fixed rate (or until `stop`), each at its due time whether or not the
 * earlier ones have come back; resolves with every answered request's latency and how many failed.
 */
async function fire(count: number, pathOf: (i: number) => string, ok: (status: number) => boolean): Promise<{ latencies: number[]; failures: number; seconds: number }> {
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  let failures = 0;
  const t0 = performance.now();
  for (let i = 0; !stop && i < count; i++) {
    const wait = t0 + (i * 1000) / rps - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    const p = pool
      .request({ path: pathOf(i), method: 'GET' })
      .then(async (r) => {
        await r.body.arrayBuffer();
        if (!ok(r.statusCode)) failures++;
        latencies.push(performance.now() - sent);
      })
      .catch(() => void failures++);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.allSettled([...pending]);
  return { latencies, failures, seconds: (performance.now() - t0) / 1000 };
}

// Warm-up: the job list, and the status route for a job that does not exist yet (a 404).
await fire(WARM_UP_SECONDS * rps, (i) => (i % 2 === 0 ? '/v1/evaluation/eval-warm-up/status' : '/v1/evaluation?limit=10'), (s) => s === 200 || s === 404);
process.send('warm');
const jobId = await Promise.race([started, once(process, 'disconnect').then(() => null)]);
if (jobId === null) process.exit(0);

// Bounded: at most two minutes of requests, whatever the parent does.
const measured = await fire(rps * 120, (i) => (i % 2 === 0 ? `/v1/evaluation/${jobId}/status` : '/v1/evaluation?limit=10'), (s) => s === 200);
await pool.close();
measured.latencies.sort((a, b) => a - b);
const result: ApiLoadResult = {
  p50: percentile(measured.latencies, 0.5),
  p99: percentile(measured.latencies, 0.99),
  rps: measured.latencies.length / measured.seconds,
  failures: measured.failures,
};
process.send(result, () => process.exit(0));
