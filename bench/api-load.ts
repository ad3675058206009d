/**
 * The benchmark's API client, in a process of its own as a real client would be: the benchmark's
 * own work (polling, bookkeeping) then cannot stall it and pass its pauses off as the server's.
 *
 * Fires GETs at a fixed rate, alternating a job's status and the job list, until the parent sends
 * `stop` over IPC; then sends back the latencies' p50 and p99 and the rate achieved. Requests go
 * through undici's pool rather than the global fetch, whose own CPU cost (close to a millisecond a
 * request) would load the shared cores and inflate the very latencies being measured.
 *
 * Usage (as a child with IPC): node api-load.js BASE_URL JOB_ID RPS
 */
import { Pool } from 'undici';

export interface ApiLoadResult {
  p50: number;
  p99: number;
  rps: number;
  /** Answers other than 200 (none expected). */
  failures: number;
}

const [base, jobId, rpsArg] = process.argv.slice(2);
const rps = Number(rpsArg);
if (!base || !jobId || !(rps > 0) || !process.send) throw new Error('usage: api-load.js BASE_URL JOB_ID RPS, as a child process with IPC');

const pool = new Pool(base, { connections: 16 });
const latencies: number[] = [];
const pending = new Set<Promise<void>>();
let failures = 0;
let stop = false;
process.on('message', (m) => {
  if (m === 'stop') stop = true;
});

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
// Bounded: at most two minutes of requests, whatever the parent does.
const maxRequests = rps * 120;
const started = performance.now();
for (let i = 0; !stop && i < maxRequests; i++) {
  const due = started + (i * 1000) / rps;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const path = i % 2 === 0 ? `/v1/evaluation/${jobId}/status` : `/v1/evaluation?limit=10`;
  const t0 = performance.now();
  const p = pool
    .request({ path, method: 'GET' })
    .then(async (r) => {
      await r.body.arrayBuffer();
      if (r.statusCode !== 200) failures++;
      latencies.push(performance.now() - t0);
    })
    .catch(() => void failures++);
  pending.add(p);
  void p.finally(() => pending.delete(p));
}
await Promise.allSettled([...pending]);
await pool.close();
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const result: ApiLoadResult = { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: latencies.length / seconds, failures };
process.send(result, () => process.exit(0));
