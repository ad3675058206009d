/**
 * The real `assay serve` process: it survives hostile requests, stops promptly and cleanly on
 * SIGTERM, and a new process on the same data directory serves the same files and jobs, and
 * finishes jobs the previous one was stopped in the middle of. Needs `npm run build` first.
 */
import { request as httpRequest } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../src/testing/fake-provider.js';
import { startServer, waitFor, type ServerProcess } from '../support/server-process.js';
import { GOOD, jsonl, request, scriptedJudge, type ApiResponse, type Job } from './harness.js';

const ROWS = [
  { question: '2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens' },
];
const CONTENT = jsonl(ROWS);
/** Signed upload URLs stay valid across a restart only with a fixed key. */
const SIGNING_KEY = 'restart-test-signing-key';

let fake: FakeProvider;
let dataDir: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  fake = await startFakeProvider({ reply: scriptedJudge });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  fake.setReply(scriptedJudge);
  fake.reset();
  dataDir = await mkdtemp(join(tmpdir(), 'assay-restart-'));
  return async () => {
    await Promise.all(servers.splice(0).map((s) => s.cleanup()));
    await rm(dataDir, { recursive: true, force: true });
  };
});

async function serve(): Promise<ServerProcess> {
  const server = await startServer({
    dataDir,
    env: { ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn', ASSAY_UPLOAD_SIGNING_KEY: SIGNING_KEY },
  });
  servers.push(server);
  return server;
}

function api(server: ServerProcess) {
  return (method: string, path: string, opts?: Parameters<typeof request>[3]): Promise<ApiResponse> =>
    request(server.url, method, path, opts);
}

function classifyJob(fileId: string) {
  return {
    type: 'classify',
    parameters: {
      judge: { model: 'judge-model', model_source: 'serverless', system_template: 'Is the answer to {{question}} right?' },
      input_data_file_path: fileId,
      model_to_evaluate: 'answer',
      labels: ['right', 'wrong'],
      pass_labels: ['right'],
    },
  };
}

async function createJob(call: ReturnType<typeof api>, body: unknown): Promise<string> {
  const res = await call('POST', '/v1/evaluation', { json: body });
  expect(res.status, res.text).toBe(200);
  return (res.body as { workflow_id: string }).workflow_id;
}

async function finished(call: ReturnType<typeof api>, id: string): Promise<Job> {
  return waitFor(
    async () => {
      const job = (await call('GET', `/v1/evaluation/${id}`)).body as Job;
      return ['completed', 'error', 'user_error'].includes(job.status) && job;
    },
    { what: `job ${id} to finish`, timeoutMs: 15_000 },
  );
}

/** Stops with SIGTERM and checks the process exits 0 within a few seconds. */
async function stopCleanly(server: ServerProcess): Promise<void> {
  const started = Date.now();
  const code = await server.stop('SIGTERM');
  expect(code, server.stderr()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
}

/** Starts a PUT of `partial` to `location` and drops the connection before the body is complete. */
function abortedPut(location: string, partial: string): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(location, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(partial.length * 10) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(partial, () => req.destroy());
  });
}

describe('assay serve as a process', () => {
  it('survives hostile requests, stops on SIGTERM, and serves the same files and jobs after a restart', async () => {
    const first = await serve();
    const call1 = api(first);

    // Three-step upload, as the TypeScript SDK does it.
    const initiated = await call1('POST', '/v1/files?purpose=eval&file_name=dir/data.jsonl', {
      body: new URLSearchParams({ purpose: 'eval', file_name: 'dir/data.jsonl' }),
    });
    expect(initiated.status).toBe(302);
    const fileId = initiated.headers.get('x-together-file-id')!;
    const put = await fetch(initiated.headers.get('location')!, { method: 'PUT', body: CONTENT });
    expect(put.status).toBe(200);

    const jobId = await createJob(call1, classifyJob(fileId));
    const job = await finished(call1, jobId);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expect(job.results).toMatchObject({ label_counts: { right: 2, wrong: 1 } });

    // Hostile requests: broken bodies and an upload whose client vanishes mid-stream.
    const hostile: Array<[string, string, Parameters<typeof request>[3]]> = [
      ['POST', '/v1/evaluation', { body: '{', headers: { 'content-type': 'application/json' } }],
      ['POST', '/v1/evaluation', { json: [] }],
      ['POST', '/v1/files', { body: '--x\r\nbroken', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
      ['POST', '/v1/files/upload', { body: 'x', headers: { 'content-type': 'multipart/form-data' } }],
      ['GET', '/v1/files/..%2Fassay.db/content', {}],
      ['PUT', '/v1/uploads/file-x?expires=1&signature=x', { body: 'x' }],
    ];
    for (const [method, path, opts] of hostile) {
      const res = await call1(method, path, opts);
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
    }
    const open = await call1('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'cut.jsonl' }) });
    await abortedPut(open.headers.get('location')!, '{"question": "half a row');
    // The half-received bytes are discarded, not left in the files folder.
    await waitFor(async () => (await readdir(join(dataDir, 'files'))).every((name) => !name.endsWith('.tmp')), {
      what: 'the aborted upload to be cleaned up',
    });
    expect(first.proc.exitCode).toBeNull();
    expect((await call1('GET', '/healthz')).status).toBe(200);

    // Everything a client can read, before the restart.
    const resultFileId = String(job.results?.['result_file_id']);
    const snapshot = async (call: ReturnType<typeof api>) => ({
      file: (await call('GET', `/v1/files/${fileId}`)).body,
      content: (await call('GET', `/v1/files/${fileId}/content`)).text,
      files: (await call('GET', '/v1/files')).body,
      job: (await call('GET', `/v1/evaluation/${jobId}`)).body,
      status: (await call('GET', `/v1/evaluation/${jobId}/status`)).body,
      jobs: (await call('GET', '/v1/evaluation?limit=100')).body,
      results: (await call('GET', `/v1/files/${resultFileId}/content`)).text,
    });
    const before = await snapshot(call1);
    expect(before.content).toBe(CONTENT);
    expect(before.results.trimEnd().split('\n')).toHaveLength(ROWS.length);

    await stopCleanly(first);

    const second = await serve();
    const call2 = api(second);
    expect(second.url).not.toBe(first.url);
    expect(await snapshot(call2)).toEqual(before);

    // The announced-but-cut upload is still open for a complete PUT with its signed URL (the
    // port changed, as it would not behind a fixed ASSAY_PUBLIC_URL).
    const resumed = new URL(open.headers.get('location')!);
    resumed.host = new URL(second.url).host;
    const retried = await fetch(resumed, { method: 'PUT', body: CONTENT });
    expect(retried.status).toBe(200);

    // The restarted server runs new work on the old data; the same job again is answered by the
    // call cache the first server filled, without a provider call.
    fake.reset();
    const again = await finished(call2, await createJob(call2, classifyJob(fileId)));
    expect(again.status).toBe('completed');
    expect(again.results).toMatchObject({ label_counts: { right: 2, wrong: 1 }, cache: { hits: ROWS.length, misses: 0 } });
    expect(fake.calls).toHaveLength(0);

    await stopCleanly(second);
  });

  it('stops promptly in the middle of a job, and the next process finishes it', async () => {
    const first = await serve();
    const call1 = api(first);
    const upload = new FormData();
    upload.append('purpose', 'eval');
    upload.append('file_name', 'data.jsonl');
    upload.append('file', new Blob([CONTENT]), 'data.jsonl');
    const file = (await call1('POST', '/v1/files/upload', { body: upload })).body as { id: string };

    // The judge answers the first row and holds the others until the process is gone.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    fake.setReply(async (req) => {
      if (!req.userText.includes('4 [good]')) await held;
      return scriptedJudge(req);
    });
    const jobId = await createJob(call1, classifyJob(file.id));
    await waitFor(() => fake.calls.length === ROWS.length, { what: 'every row to reach the judge' });
    expect(((await call1('GET', `/v1/evaluation/${jobId}`)).body as Job).status).toBe('running');

    await stopCleanly(first);
    release();

    fake.reset();
    const second = await serve();
    const call2 = api(second);
    const job = await finished(call2, jobId);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expect(job.results).toMatchObject({ judge_fail_count: 0, generation_fail_count: 0, label_counts: { right: 2, wrong: 1 } });
    expect(job.status_updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', 'completed']);
    // The two held rows are judged again; the first only if its verdict had not been saved yet.
    expect(fake.calls.length).toBeGreaterThanOrEqual(ROWS.length - 1);
    expect(fake.calls.length).toBeLessThanOrEqual(ROWS.length);
    const results = (await call2('GET', `/v1/files/${String(job.results?.['result_file_id'])}/content`)).text;
    expect(results.trimEnd().split('\n').map((l) => (JSON.parse(l) as { label: string }).label)).toEqual(['right', 'right', 'wrong']);

    await stopCleanly(second);
  });
});
