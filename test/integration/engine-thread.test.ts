/**
 * The embedded server's engine thread, as the default `assay serve` runs it: jobs run on their
 * own thread while the API answers from the main one. The API must not be able to tell the
 * difference: the same results, progress while a job runs, a prompt cancel, the same 400s, and
 * the thread's metrics on /metrics. A thread that keeps dying is reported, not hidden.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { lockDataFolder } from '../../src/backends/embedded/folder-lock.js';
import { startEngineThread } from '../../src/runtime/engine-thread.js';
import { startServer } from '../../src/server.js';
import { getTestDatabase } from '../support/postgres.js';
import { GOOD, holdAfter, startHarness, waitFor, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const judge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade the answer to {{q}}.' };
const classifyJob = (fileId: string, template = judge.system_template) => ({
  type: 'classify',
  parameters: { judge: { ...judge, system_template: template }, input_data_file_path: fileId, model_to_evaluate: 'a', labels: ['good', 'bad'], pass_labels: ['good'] },
});

describe('jobs on the engine thread', () => {
  it('give the same results, with progress while running and the thread\'s metrics on /metrics', async () => {
    // Half the rows are answered at once; the rest wait until progress has been seen.
    const { reply, release } = holdAfter(30);
    h = await startHarness({ config: { engineThread: true }, fake: { reply } });
    const rows = Array.from({ length: 60 }, (_, i) => ({ q: `q${i}`, a: i % 4 === 0 ? `answer ${GOOD}` : `answer ${i}` }));
    const file = await h.uploadJsonl(rows);
    const id = await h.createJob(classifyJob(file.id));
    const running = await waitFor(
      async () => {
        const body = (await h!.request('GET', `/v1/evaluation/${id}/status`)).body as { status: string; progress?: { rows_done: number } };
        return body.progress !== undefined && body.progress.rows_done >= 30 && body;
      },
      { what: '30 rows done, seen from the main thread' },
    );
    expect(running).toMatchObject({ status: 'running', progress: { rows_total: 60, rows_done: 30, rows_failed: 0 } });
    release();
    const job = await h.waitForJob(id);
    expect(job.status).toBe('completed');
    expect(job.results).toMatchObject({ label_counts: { good: 15, bad: 45 }, pass_percentage: 25 });
    const lines = (await h.request('GET', `/v1/files/${String(job.results!.result_file_id)}/content`)).text.trim().split('\n');
    expect(lines).toHaveLength(60);

    const metrics = (await h.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/assay_rows_total\{outcome="ok"\} 60/);
    expect(metrics).toMatch(/assay_provider_call_seconds_count\{endpoint="judge-model at [^"]+",result="ok"\} 60/);
    expect(metrics).toMatch(/assay_jobs\{status="completed"\} 1/);
    expect(metrics).toMatch(/assay_provider_concurrency_limit\{endpoint="judge-model at [^"]+"\} [1-9]\d*/);
    expect(metrics).toMatch(/assay_provider_rate_limited_total\{endpoint="judge-model at [^"]+"\} 0/);
    // The engine thread watches its own event loop for blocks; none in this job.
    expect(metrics).toMatch(/^assay_engine_loop_stalls_total 0$/m);
    // The process's own metrics come once, from the main thread.
    expect(metrics.match(/^process_cpu_seconds_total /gm)).toHaveLength(1);
  });

  it('cancels promptly, keeping the finished rows', async () => {
    const { reply, release } = holdAfter(10);
    h = await startHarness({ config: { engineThread: true }, fake: { reply } });
    const file = await h.uploadJsonl(Array.from({ length: 200 }, (_, i) => ({ q: `q${i}`, a: `a${i}` })));
    const id = await h.createJob(classifyJob(file.id));
    await waitFor(
      async () => {
        const body = (await h!.request('GET', `/v1/evaluation/${id}/status`)).body as { progress?: { rows_done: number } };
        return (body.progress?.rows_done ?? 0) >= 10;
      },
      { what: '10 rows done' },
    );
    const res = await h.request('POST', `/v1/evaluation/${id}/cancel`);
    release();
    expect(res.status, res.text).toBe(200);
    const job = res.body as { status: string; results: Record<string, unknown> };
    expect(job.status).toBe('user_error');
    expect(job.results).toMatchObject({ cancelled: true, error: expect.stringMatching(/cancelled by the user after 10 of 200 rows/) });
  });

  it('refuses a bad job with the same 400 as in-process: message, field and code', async () => {
    h = await startHarness({ config: { engineThread: true } });
    const file = await h.uploadJsonl([{ q: 'q0', a: 'a0' }]);
    const res = await h.request('POST', '/v1/evaluation', { json: classifyJob(file.id, 'Grade {{ nowhere }}.') });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/nowhere/) } });
    const missing = await h.request('POST', '/v1/evaluation/eval-nope/cancel');
    expect(missing.status).toBe(404);
  });
});

describe('a distributed node that also runs workers', () => {
  it('runs its jobs on the engine thread, on PostgreSQL and pg-boss, and cancels them there', async () => {
    const db = await getTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    try {
      // The thread's script, with a mark that it ran: jobs on the API's own loop would leave none.
      const marker = join(dir, 'thread-started');
      const entry = join(dir, 'marked-engine.mjs');
      const real = new URL('../../dist/runtime/engine-thread-main.js', import.meta.url).href;
      await writeFile(entry, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'yes');\nawait import(${JSON.stringify(real)});\n`);
      const { reply, release } = holdAfter(20);
      h = await startHarness({ config: { engineThread: true, databaseUrl: await db.createDatabase() }, fake: { reply }, engineThreadEntry: pathToFileURL(entry) });
      const rows = Array.from({ length: 40 }, (_, i) => ({ q: `q${i}`, a: i % 2 === 0 ? `answer ${GOOD}` : `answer ${i}` }));
      const file = await h.uploadJsonl(rows);
      const held = await h.createJob(classifyJob(file.id));
      await waitFor(
        async () => {
          const body = (await h!.request('GET', `/v1/evaluation/${held}/status`)).body as { progress?: { rows_done: number } };
          return (body.progress?.rows_done ?? 0) >= 20;
        },
        { what: '20 rows done, reported by the engine thread' },
      );
      const cancelled = await h.request('POST', `/v1/evaluation/${held}/cancel`);
      expect((cancelled.body as { status: string }).status).toBe('user_error');
      release();
      const id = await h.createJob(classifyJob(file.id, 'Grade this answer to {{q}}.'));
      const job = await h.waitForJob(id);
      expect(job.status).toBe('completed');
      expect(job.results).toMatchObject({ label_counts: { good: 20, bad: 20 }, pass_percentage: 50 });
      const lines = (await h.request('GET', `/v1/files/${String(job.results!.result_file_id)}/content`)).text.trim().split('\n');
      expect(lines).toHaveLength(40);
      expect((await h.request('GET', '/metrics')).text).toMatch(/assay_rows_total\{outcome="ok"\} \d+/);
      expect(existsSync(marker)).toBe(true);
    } finally {
      await h?.close();
      h = undefined;
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an engine thread that dies', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const realEntry = new URL('../../dist/runtime/engine-thread-main.js', import.meta.url).href;

  it('that cannot start is tried again, then reported by /readyz with the reason, while the API still answers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    const broken = join(dir, 'broken-engine.mjs');
    await writeFile(broken, "throw new Error('this engine thread cannot start');\n");
    h = await startHarness({ config: { engineThread: true }, engineThreadEntry: pathToFileURL(broken) });
    const ready = await waitFor(
      async () => {
        const res = await h!.request('GET', '/readyz');
        return res.status === 503 && (res.body as { reason: string });
      },
      { what: 'readiness to fail' },
    );
    expect(ready.reason).toMatch(/engine thread stopped 3 times right after starting; the last time: this engine thread cannot start/);
    expect((await h.request('GET', '/v1/files')).status).toBe(200);
  });

  it('is replaced by a new one; one that keeps dying is given up, and readiness and job requests say so', async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    // The real engine thread, except that asking it to create a job kills it.
    const fragile = join(dir, 'fragile-engine.mjs');
    await writeFile(
      fragile,
      `import { parentPort } from 'node:worker_threads';\n` +
        `await import(${JSON.stringify(realEntry)});\n` +
        `parentPort.on('message', (m) => { if (m.method === 'createJob') process.exit(7); });\n`,
    );
    h = await startHarness({ config: { engineThread: true }, engineThreadEntry: pathToFileURL(fragile) });
    const file = await h.uploadJsonl([{ q: 'q0', a: 'a0' }]);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await h.request('POST', '/v1/evaluation', { json: classifyJob(file.id) });
      expect(res.status, res.text).toBe(503);
      expect(res.text).toMatch(/the engine thread stopped while handling this request \(exit code 7\); try again/);
      if (attempt < 3) expect((await h.request('GET', '/readyz')).status).toBe(200);
    }
    const ready = await h.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect((ready.body as { reason: string }).reason).toMatch(/engine thread stopped 3 times right after starting; the last time \(exit code 7\)/);
    const res = await h.request('POST', '/v1/evaluation', { json: classifyJob(file.id) });
    expect(res.status).toBe(503);
    expect(res.text).toMatch(/engine thread stopped 3 times/);
  });
});

describe('an engine thread started before its server', () => {
  // `assay serve` starts the thread first, so that it loads while the API does. What the server
  // gives it later (its store, its log) it gets through attach(). That a server which then fails
  // to start closes the thread is seen by the CLI tests: `serve` on a taken port, on a data folder
  // in use, or on 0.0.0.0 without keys exits instead of hanging on the thread.
  it('keeps the lines it logs before the server attaches, and hands them over then, in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    const thread = startEngineThread(loadConfig({}, { dataDir: join(dir, 'data'), logLevel: 'warn' }), {
      entry: pathToFileURL(await writeEarlyLogger(dir)),
    });
    try {
      thread.open();
      // A call's answer comes after the lines the thread sent before it, so they have arrived.
      await expect(thread.createJob({ type: 'classify' }, 'owner')).rejects.toThrow(/parameters/);
      const lines: string[] = [];
      thread.attach({ store: { rowCounts: async () => ({ done: 0, failed: 0 }) }, log: (level, msg) => lines.push(`${level} ${msg}`) });
      expect(lines).toEqual(['warn first line before the server', 'info second line before the server']);
    } finally {
      await thread.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an engine thread not yet told to open its store', () => {
  it('leaves the data folder untouched, and closes at once when asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    const dataDir = join(dir, 'data');
    try {
      // Started as `assay serve` starts it, before the server holds the folder (another server
      // may still run there, on a file this one must not migrate).
      const thread = startEngineThread(loadConfig({}, { dataDir, logLevel: 'warn' }), { entry: new URL('../../dist/runtime/engine-thread-entry.js', import.meta.url) });
      await thread.close();
      expect(existsSync(join(dataDir, 'assay.db'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a server handed an engine thread started before it', () => {
  it('runs its jobs there, and its log gets the lines the thread sent before the server had one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    const lines: string[] = [];
    try {
      h = await startHarness({
        config: { engineThread: true },
        startThreadFirst: {
          // A call's answer comes after the lines the thread sent before it: they are in before the
          // server starts. (Opened here by the test; the folder is nobody else's.)
          whileAlone: async (thread) => {
            thread.open();
            await expect(thread.createJob({ type: 'classify' }, 'owner')).rejects.toThrow(/parameters/);
          },
        },
        engineThreadEntry: pathToFileURL(await writeEarlyLogger(dir)),
        logStream: { write: (line) => lines.push(line) },
      });
      const file = await h.uploadJsonl(Array.from({ length: 20 }, (_, i) => ({ q: `q${i}`, a: i < 5 ? `answer ${GOOD}` : `answer ${i}` })));
      const job = await h.waitForJob(await h.createJob(classifyJob(file.id)));
      expect(job.results).toMatchObject({ label_counts: { good: 5, bad: 15 } });
      // At `warn`, only the first is written.
      const logged = lines.map((line) => JSON.parse(line) as { msg: string });
      expect(logged.filter((l) => /before the server/.test(l.msg)).map((l) => l.msg)).toEqual(['first line before the server']);
    } finally {
      await h?.close();
      h = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The real engine thread, after two log lines sent as it starts. */
async function writeEarlyLogger(dir: string): Promise<string> {
  const entry = join(dir, 'early-logger.mjs');
  const real = new URL('../../dist/runtime/engine-thread-entry.js', import.meta.url).href;
  await writeFile(
    entry,
    `import { parentPort } from 'node:worker_threads';\n` +
      `parentPort.postMessage({ kind: 'log', level: 'warn', msg: 'first line before the server', extra: null });\n` +
      `parentPort.postMessage({ kind: 'log', level: 'info', msg: 'second line before the server', extra: null });\n` +
      `await import(${JSON.stringify(real)});\n`,
  );
  return entry;
}

describe('a server that fails to start', () => {
  it('closes its engine thread and store, so its data folder is free at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-thread-'));
    const dataDir = join(dir, 'data');
    try {
      // A log level the logger refuses (the configuration refuses it too, so it is set past it):
      // the app fails after the backend and the engine thread are open.
      const config = { ...loadConfig({}, { dataDir, host: '127.0.0.1', port: 0 }), logLevel: 'loud' };
      await expect(startServer(config, { engineThreadEntry: new URL('../../dist/runtime/engine-thread-main.js', import.meta.url) })).rejects.toThrow(/loud/);
      // The folder's lock went with the backend: a new holder gets it.
      lockDataFolder(dataDir).release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
