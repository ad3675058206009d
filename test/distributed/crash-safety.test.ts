/**
 * Never lose a row: kill -9 a process mid-job and the job still completes with every row exactly
 * once, re-judging only what the killed process had in flight. And across processes, the shared
 * call cache: a rerun on other workers makes no call. Real processes on loopback, a real
 * PostgreSQL for the distributed shape, the fake provider as the only stand-in.
 */
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagedRows } from '../../src/engine/engine.js';
import { startFakeProvider, validVerdictReply, type FakeChatRequest, type FakeProvider } from '../../src/testing/fake-provider.js';
import { getTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startServer, waitFor, type ServerProcess } from '../support/server-process.js';

const ROWS = 2000;
const WORKERS_PER_JOB = 8;

interface Status {
  status: string;
  progress?: { rows_done: number };
  results?: Record<string, unknown>;
}

async function api<T>(base: string, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function uploadAndCreate(base: string, dir: string, rows = ROWS, workers = WORKERS_PER_JOB): Promise<string> {
  const file = join(dir, 'data.jsonl');
  await writeFile(file, Array.from({ length: rows }, (_, i) => JSON.stringify({ q: `question ${i}`, a: `answer ${i}` })).join('\n') + '\n');
  const form = new FormData();
  form.append('purpose', 'eval');
  form.append('file_name', 'data.jsonl');
  form.append('file', new Blob([await readFile(file)]), 'data.jsonl');
  const uploaded = await api<{ id: string }>(base, '/v1/files/upload', { method: 'POST', body: form });
  const job = await api<{ workflow_id: string }>(base, '/v1/evaluation', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'classify',
      parameters: {
        input_data_file_path: uploaded.id,
        judge: { model: 'judge', model_source: 'serverless', system_template: 'Grade {{q}}', num_workers: workers },
        model_to_evaluate: 'a',
        labels: ['good', 'bad'],
        pass_labels: ['good'],
      },
    }),
  });
  return job.workflow_id;
}

const status = (base: string, id: string) => api<Status>(base, `/v1/evaluation/${id}/status`);

async function untilDone(base: string, id: string, atLeast: number): Promise<void> {
  await waitFor(async () => ((await status(base, id)).progress?.rows_done ?? 0) >= atLeast, { what: `${atLeast} rows done`, timeoutMs: 60_000, intervalMs: 20 });
}

async function finished(base: string, id: string): Promise<Status> {
  return waitFor(async () => {
    const s = await status(base, id);
    return ['completed', 'error', 'user_error'].includes(s.status) && s;
  }, { what: `job ${id} to finish`, timeoutMs: 120_000, intervalMs: 100 });
}

/** Checks the result file: every dataset row exactly once, in order. */
async function expectEveryRowOnce(base: string, s: Status, rows = ROWS): Promise<void> {
  expect(s.status).toBe('completed');
  expect(s.results).toMatchObject({ label_counts: { good: rows, bad: 0 }, judge_fail_count: 0 });
  const res = await fetch(`${base}/v1/files/${String(s.results?.result_file_id)}/content`);
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { q: string; label: string });
  expect(lines).toHaveLength(rows);
  expect(new Set(lines.map((l) => l.q)).size).toBe(rows);
  expect(lines.every((l, i) => l.q === `question ${i}` && l.label === 'good')).toBe(true);
}

/** A judge with some latency that tells, by API key, which process each call came from. */
async function fakeJudge(): Promise<{ fake: FakeProvider; callsBy: Map<string, number>; inFlightBy: Map<string, number> }> {
  const callsBy = new Map<string, number>();
  const inFlightBy = new Map<string, number>();
  const keyOf = (req: FakeChatRequest) => req.headers['authorization'] ?? 'none';
  const bump = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by);
  const fake = await startFakeProvider({
    recordCalls: false,
    latencyMs: 15,
    reply: (req) => {
      bump(callsBy, keyOf(req), 1);
      return validVerdictReply(req);
    },
  });
  return { fake, callsBy, inFlightBy };
}

describe('embedded: kill -9 the server mid-job, restart on the same data directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-crash-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('completes with every row exactly once and re-judges at most what was in flight', async () => {
    const { fake } = await fakeJudge();
    const env = { ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn' };
    const dataDir = join(dir, 'data');
    let server: ServerProcess = await startServer({ dataDir, env });
    try {
      const id = await uploadAndCreate(server.url, dir);
      await untilDone(server.url, id, 600);
      await server.stop('SIGKILL');
      const before = fake.stats().ok;
      server = await startServer({ dataDir, env });
      const done = await finished(server.url, id);
      await expectEveryRowOnce(server.url, done);
      const extra = fake.stats().ok - ROWS;
      expect(before).toBeGreaterThanOrEqual(600);
      // Only rows in flight (sent, or judged but not yet written) when the process died run twice;
      // SQLite answers cache lookups in-process, so no rows are staged ahead of their calls.
      expect(stagedRows(WORKERS_PER_JOB, false)).toBe(0);
      expect(extra).toBeLessThanOrEqual(WORKERS_PER_JOB);
    } finally {
      await server.stop();
      await fake.close();
    }
  });
});

describe('distributed: one API process, three workers, one killed with SIGKILL mid-job', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await getTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'assay-dist-'));
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes with 2,000 distinct rows; calls exceed 2,000 by no more than the killed worker had in flight', async () => {
    const url = await db.createDatabase();
    const { fake, callsBy } = await fakeJudge();
    const common = {
      ASSAY_DATABASE_URL: url,
      ASSAY_PROVIDER_BASE_URL: fake.url,
      ASSAY_LOG_LEVEL: 'warn',
      // A dead worker's chunks come back within seconds rather than the production 15 minutes.
      ASSAY_CHUNK_LEASE_SECONDS: '8',
      ASSAY_QUEUE_MAINTENANCE_SECONDS: '1',
    };
    const procs: ServerProcess[] = [];
    try {
      const apiNode = await startServer({ env: { ...common, ASSAY_PROVIDER_API_KEY: 'api-node' }, args: ['--no-workers'] });
      procs.push(apiNode);
      for (let w = 1; w <= 3; w++) {
        procs.push(await startServer({ command: 'worker', env: { ...common, ASSAY_PROVIDER_API_KEY: `worker-${w}` } }));
      }
      const id = await uploadAndCreate(apiNode.url, dir);
      await untilDone(apiNode.url, id, 600);
      // Kill the busiest worker, so the kill lands on work in progress.
      const busiest = [1, 2, 3].sort((x, y) => (callsBy.get(`Bearer worker-${y}`) ?? 0) - (callsBy.get(`Bearer worker-${x}`) ?? 0))[0]!;
      await procs[busiest]!.stop('SIGKILL');
      const done = await finished(apiNode.url, id);
      await expectEveryRowOnce(apiNode.url, done);

      const total = [...callsBy.values()].reduce((a, b) => a + b, 0);
      expect(callsBy.get('Bearer api-node')).toBeUndefined();
      const survivors = [1, 2, 3].filter((w) => w !== busiest);
      expect(survivors.reduce((n, w) => n + (callsBy.get(`Bearer worker-${w}`) ?? 0), 0)).toBeGreaterThan(0);
      // A worker holds at most WORKERS_PER_JOB rows of the job between sending a call and writing
      // its result, and a few staged ahead of their calls (its cache lookups are round trips):
      // only those can be judged twice.
      expect(total - ROWS).toBeLessThanOrEqual(WORKERS_PER_JOB + stagedRows(WORKERS_PER_JOB, true));
      // Metrics and health on the API node.
      expect((await fetch(`${apiNode.url}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${apiNode.url}/metrics`)).text();
      expect(metrics).toMatch(/assay_jobs\{status="completed"\} 1/);
      const workerMetrics = await (await fetch(`${procs[survivors[0]!]!.url}/metrics`)).text();
      expect(workerMetrics).toMatch(/assay_rows_total\{outcome="ok"\} \d+/);
    } finally {
      await Promise.all(procs.map((p) => p.cleanup()));
      await fake.close();
    }
  });
});

describe('distributed: the shared call cache, across workers', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await getTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'assay-dist-cache-'));
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an identical rerun without a call, whichever workers ran the first job', async () => {
    const url = await db.createDatabase();
    const { fake, callsBy } = await fakeJudge();
    // One key for all: workers with different keys would not share entries, by design.
    const common = { ASSAY_DATABASE_URL: url, ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_PROVIDER_API_KEY: 'shared', ASSAY_LOG_LEVEL: 'warn', ASSAY_CACHE: 'true' };
    const procs: ServerProcess[] = [];
    try {
      const apiNode = await startServer({ env: common, args: ['--no-workers'] });
      procs.push(apiNode);
      for (let w = 1; w <= 2; w++) procs.push(await startServer({ command: 'worker', env: common }));
      const rows = 400;
      const first = await finished(apiNode.url, await uploadAndCreate(apiNode.url, dir, rows));
      expect(first.status).toBe('completed');
      expect(first.results).toMatchObject({ cache: { hits: 0, misses: rows } });
      expect(callsBy.get('Bearer shared')).toBe(rows);
      const rerun = await finished(apiNode.url, await uploadAndCreate(apiNode.url, dir, rows));
      expect(rerun.results).toMatchObject({ label_counts: { good: rows, bad: 0 }, cache: { hits: rows, misses: 0 } });
      expect(callsBy.get('Bearer shared')).toBe(rows);
    } finally {
      await Promise.all(procs.map((p) => p.cleanup()));
      await fake.close();
    }
  });
});

describe('distributed: a chunk whose lease ends while its worker runs it', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await getTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'assay-dist-lease-'));
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops the run that lost it, and the job completes with every row once', async () => {
    const url = await db.createDatabase();
    const { fake } = await fakeJudge();
    // Leases renewed every third of a second, and chunks that take longer than that: with two
    // calls at a time, a 64-row chunk runs about half a second, and four wait their turn.
    const common = { ASSAY_DATABASE_URL: url, ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn', ASSAY_CHUNK_LEASE_SECONDS: '1' };
    const procs: ServerProcess[] = [];
    const admin = new pg.Client({ connectionString: url });
    try {
      const apiNode = await startServer({ env: common, args: ['--no-workers'] });
      procs.push(apiNode);
      const worker = await startServer({ command: 'worker', env: common });
      procs.push(worker);
      const rows = 400;
      const id = await uploadAndCreate(apiNode.url, dir, rows, 2);
      await untilDone(apiNode.url, id, 100);
      // What pg-boss's maintenance does to chunks whose lease ended (a worker paused past it): back
      // to the queue. The worker takes them again as new deliveries; the runs it had learn at
      // their next renewal that they lost their chunks.
      await admin.connect();
      const { rowCount } = await admin.query(`UPDATE pgboss.job SET state = 'retry' WHERE name = 'assay-chunks' AND state = 'active'`);
      expect(rowCount).toBeGreaterThan(0);
      const done = await finished(apiNode.url, id);
      await expectEveryRowOnce(apiNode.url, done, rows);
      expect(worker.stdout() + worker.stderr()).toContain('went to another worker while it ran here');
    } finally {
      await admin.end().catch(() => {});
      await Promise.all(procs.map((p) => p.cleanup()));
      await fake.close();
    }
  });
});
