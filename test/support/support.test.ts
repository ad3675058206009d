/**
 * Tests of the test harness itself: the upstream schema validator, the together-ai client
 * factory (against a small recording server standing in for assay), and the process helpers
 * (against a stand-in script, so they do not depend on the real server being built).
 */
import { once } from 'node:events';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, waitFor } from './server-process.js';
import {
  createTogetherClient,
  isGlobalFetchShimmed,
  loadTogetherSdk,
  withStreamDuplex,
} from './together-sdk.js';
import {
  UPSTREAM_SPEC_PATH,
  expectResponse,
  expectSchema,
  upstreamSchemaNames,
  validateAgainst,
  validateResponse,
} from './upstream-schemas.js';

// Bodies taken from the reference note's examples and observed live responses.
const fileResponse = {
  id: 'file-6f2a1c1e-8d44-4a4f-9a0b-3f1b2c3d4e5f',
  object: 'file',
  created_at: 1751287840,
  filename: 'data.jsonl',
  bytes: 1234,
  purpose: 'eval',
  Processed: true,
  FileType: 'jsonl',
  LineCount: 0,
  type: null,
};
const classifyResults = {
  generation_fail_count: 0,
  judge_fail_count: 0,
  invalid_label_count: null,
  pass_percentage: 86.5,
  label_counts: '{"Harmful": 27, "Not Harmful": 173}',
  result_file_id: 'file-0a1b2c3d-0000-4000-8000-000000000001',
};
const job = {
  workflow_id: 'eval-7df2-1751287840',
  type: 'classify',
  owner_id: 'user-1',
  status: 'completed',
  status_updates: [
    { status: 'pending', message: 'Job created and pending for processing', timestamp: '2025-06-30T12:50:40.723521Z' },
    { status: 'completed', message: 'Job status updated', timestamp: '2025-06-30T12:52:01.123456789Z' },
  ],
  parameters: { input_data_file_path: 'file-1', labels: ['Harmful', 'Not Harmful'], pass_labels: ['Not Harmful'] },
  created_at: '2025-06-30T12:50:40.723521Z',
  updated_at: '2025-06-30T12:52:01.723521Z',
  results: classifyResults,
};

describe('upstream schemas', () => {
  it('has the schemas the tests rely on', () => {
    expect(upstreamSchemaNames()).toEqual(
      expect.arrayContaining([
        'ErrorData',
        'EvaluationClassifyResults',
        'EvaluationCompareResults',
        'EvaluationJob',
        'EvaluationResponse',
        'EvaluationScoreResults',
        'FileDeleteResponse',
        'FileList',
        'FileResponse',
      ]),
    );
  });

  const shared = fileURLToPath(new URL('../../../shared/reference/together-openapi-evals-files.yaml', import.meta.url));
  it.skipIf(!existsSync(shared))('fixture is an unedited copy of the shared reference (skipped when ../shared is absent)', () => {
    expect(readFileSync(UPSTREAM_SPEC_PATH, 'utf8')).toBe(readFileSync(shared, 'utf8'));
  });

  it('accepts the reference bodies', () => {
    expectSchema('FileResponse', fileResponse);
    expectSchema('FileList', { data: [fileResponse], object: 'list' });
    expectSchema('FileDeleteResponse', { id: fileResponse.id, deleted: true, object: 'file' });
    expectSchema('EvaluationResponse', { workflow_id: 'eval-7df2-1751287840', status: 'pending' });
    expectSchema('EvaluationJob', job);
    expectSchema('EvaluationJob', { ...job, status: 'user_error', results: { error: 'Unsupported dataset column(s)' } });
    expectSchema('EvaluationJob', { ...job, status: 'pending', results: null });
    expectSchema('EvaluationScoreResults', {
      aggregated_scores: { mean_score: 7.25, std_score: 1.5, pass_percentage: 62.5 },
      generation_fail_count: null,
      judge_fail_count: 0,
      invalid_score_count: 0,
      failed_samples: 0,
      result_file_id: 'file-2',
    });
    expectSchema('EvaluationCompareResults', {
      A_wins: 3,
      B_wins: 5,
      Ties: 2,
      generation_fail_count: 0,
      judge_fail_count: null,
      result_file_id: 'file-3',
    });
    expectSchema('ErrorData', { error: { message: 'not found', type: 'not_found_error', param: null, code: null } });
  });

  it('rejects wrong bodies with readable errors', () => {
    const missing = validateAgainst('FileResponse', { ...fileResponse, Processed: undefined, object: 'files' });
    expect(missing.valid).toBe(false);
    expect(missing.errors).toContain("must have required property 'Processed'");
    expect(missing.errors).toContain('/object: must be equal to constant');

    expect(validateAgainst('EvaluationJob', { ...job, status: 'done' }).errors).toContain('/status: must be equal to one of the allowed values');
    expect(validateAgainst('EvaluationJob', { ...job, created_at: 'yesterday' }).errors).toContain('/created_at: must match format "date-time"');
    expect(validateAgainst('ErrorData', { error: 'not found' }).valid).toBe(false);
    expect(() => expectSchema('EvaluationCompareResults', { A_wins: '3' })).toThrow(/EvaluationCompareResults:\n\/A_wins: must be integer/);
    expect(() => validateAgainst('NoSuchSchema', {})).toThrow(/Unknown upstream schema "NoSuchSchema". Known: ErrorData/);
  });

  it('label_counts as an object is a named deviation', () => {
    const objectCounts = { ...classifyResults, label_counts: { Harmful: 27, 'Not Harmful': 173 } };
    expect(validateAgainst('EvaluationClassifyResults', objectCounts).valid).toBe(false);
    expect(validateAgainst('EvaluationClassifyResults', objectCounts, { deviations: ['label_counts_object'] })).toEqual({ valid: true, errors: '' });
    expect(validateAgainst('EvaluationClassifyResults', classifyResults, { deviations: ['label_counts_object'] }).valid).toBe(true);
  });

  it('validates responses by method, path and status, including inline schemas', () => {
    const status = { status: 'completed', results: classifyResults };
    expectResponse('GET', '/v1/evaluation/eval-7df2-1751287840/status', 200, status, { resultsType: 'classify' });
    expectResponse('GET', 'http://127.0.0.1:1234/v1/evaluation/eval-1/status?x=1', 200, { status: 'running' });
    expect(validateResponse('GET', '/evaluation/eval-1/status', 200, { status: 'finished' }).valid).toBe(false);
    // The spec's status response has no `nullable` on results: omit it instead of sending null.
    expect(validateResponse('GET', '/evaluation/eval-1/status', 200, { status: 'running', results: null }).valid).toBe(false);

    const wrongType = validateResponse('GET', '/evaluation/eval-1/status', 200, status, { resultsType: 'compare' });
    expect(wrongType.valid).toBe(true); // the three result schemas have no required fields
    const badCompare = validateResponse('GET', '/evaluation/eval-1', 200, { ...job, results: { A_wins: 1.5 } }, { resultsType: 'compare' });
    expect(badCompare.errors).toContain('/results/A_wins: must be integer');

    expectResponse('GET', '/v1/evaluation', 200, [job, { ...job, results: null }], { resultsType: 'classify' });
    expectResponse('GET', '/v1/evaluation/model-list', 200, { model_list: ['judge-model'] });
    expectResponse('POST', '/v1/evaluation', 200, { workflow_id: 'eval-1', status: 'pending' });
    expectResponse('GET', '/v1/files', 200, { data: [fileResponse] });
    expectResponse('DELETE', `/v1/files/${fileResponse.id}`, 200, { id: fileResponse.id, deleted: true, object: 'file' });
    // Documented and undocumented error statuses both use the ErrorData envelope.
    expectResponse('GET', '/v1/evaluation/eval-404', 404, { error: { message: 'no such job', type: 'not_found_error' } });
    expect(validateResponse('GET', '/v1/evaluation/eval-1', 401, { message: 'unauthorized' }).valid).toBe(false);

    expect(() => validateResponse('GET', '/v1/files/file-1/content', 200, 'x')).toThrow(/not JSON/);
    expect(() => validateResponse('GET', '/v1/nowhere', 200, {})).toThrow(/no path matching \/nowhere/);
    expect(() => validateResponse('PUT', '/v1/evaluation', 200, {})).toThrow(/no PUT \/evaluation/);
    expect(() => validateResponse('GET', '/v1/evaluation', 201, [])).toThrow(/documents no 201/);
  });
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A recording stand-in for the assay API, answering the SDK's requests plausibly. */
async function startRecordingApi(): Promise<{ baseUrl: string; requests: Recorded[]; server: Server }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      const { port } = server.address() as AddressInfo;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const json = (status: number, body: unknown): void => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method === 'POST' && path === '/v1/files') {
        if (new URL(req.url ?? '/', 'http://x').searchParams.get('file_name')?.endsWith('refused.jsonl')) {
          return json(400, { error: { message: 'no', type: 'invalid_request_error' } });
        }
        res.writeHead(302, { location: `http://127.0.0.1:${port}/v1/files/${fileResponse.id}/bytes?sig=abc`, 'x-together-file-id': fileResponse.id });
        return res.end();
      }
      if (req.method === 'PUT') {
        res.writeHead(200);
        return res.end();
      }
      if (path === `/v1/files/${fileResponse.id}/content`) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 3 });
        return res.end('abc');
      }
      if (path === `/v1/files/${fileResponse.id}`) return json(200, fileResponse);
      if (req.method === 'POST' && path === '/v1/evaluation') return json(200, { workflow_id: job.workflow_id, status: 'pending' });
      if (path === '/v1/evaluation') return json(200, [job]);
      if (path.endsWith('/status')) return json(200, { status: job.status, results: job.results });
      if (path.startsWith('/v1/evaluation/')) return json(200, job);
      return json(404, { error: { message: `no route ${req.method} ${path}`, type: 'not_found_error' } });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, server };
}

describe('together-ai client factory', () => {
  let api: Awaited<ReturnType<typeof startRecordingApi>>;
  let dir: string;
  beforeAll(async () => {
    api = await startRecordingApi();
    dir = await mkdtemp(join(tmpdir(), 'assay-sdk-test-'));
  });
  afterAll(async () => {
    api.server.closeAllConnections();
    api.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('constructs a client without a server and restores global fetch', () => {
    const original = globalThis.fetch;
    const a = createTogetherClient('http://127.0.0.1:9/v1', 'key-a');
    const b = createTogetherClient('http://127.0.0.1:9/v1');
    expect(a.client.baseURL).toBe('http://127.0.0.1:9/v1');
    expect(a.client.apiKey).toBe('key-a');
    expect(typeof a.client.evals.create).toBe('function');
    expect(globalThis.fetch).not.toBe(original);
    a.restore();
    a.restore();
    expect(isGlobalFetchShimmed()).toBe(true);
    b.restore();
    expect(globalThis.fetch).toBe(original);
  });

  it('loads one SDK copy per upload base URL and leaves the environment as it was', () => {
    const before = process.env['TOGETHER_API_BASE_URL'];
    const one = loadTogetherSdk('http://127.0.0.1:1/v1');
    expect(loadTogetherSdk('http://127.0.0.1:1/v1')).toBe(one);
    expect(loadTogetherSdk('http://127.0.0.1:2/v1')).not.toBe(one);
    expect(process.env['TOGETHER_API_BASE_URL']).toBe(before);
  });

  it('adds duplex only to stream bodies', async () => {
    const seen: Array<RequestInit | undefined> = [];
    const inner = (async (_input: unknown, init?: RequestInit) => {
      seen.push(init);
      return new Response(null);
    }) as typeof fetch;
    const shimmed = withStreamDuplex(inner);
    const plain = { method: 'POST', body: 'a=1' };
    await shimmed('http://x', plain);
    await shimmed('http://x');
    await shimmed('http://x', { method: 'PUT', body: createReadStream(UPSTREAM_SPEC_PATH) });
    await shimmed('http://x', { method: 'PUT', body: new ReadableStream() });
    expect(seen[0]).toBe(plain);
    expect(seen[1]).toBeUndefined();
    expect(seen[2]?.duplex).toBe('half');
    expect(seen[3]?.duplex).toBe('half');
    (seen[2]?.body as NodeJS.ReadableStream & { destroy(): void }).destroy();
  });

  it('drives the upload flow and the eval endpoints as the SDK really does', async () => {
    const data = join(dir, 'data.jsonl');
    const bytes = '{"prompt":"hi","response":"hello"}\n{"prompt":"2+2","response":"4"}\n';
    await writeFile(data, bytes);
    const together = createTogetherClient(api.baseUrl, 'secret');
    try {
      api.requests.length = 0;
      await expect(together.uploadFile(data)).resolves.toEqual(fileResponse);
      const [initiate, put, retrieve, ...rest] = api.requests;
      expect(rest).toEqual([]);
      const query = new URLSearchParams({ file_name: data, file_type: 'jsonl', purpose: 'eval' }).toString();
      expect(initiate).toMatchObject({ method: 'POST', url: `/v1/files?${query}`, body: query });
      expect(initiate?.headers).toMatchObject({ authorization: 'Bearer secret', 'content-type': 'application/x-www-form-urlencoded' });
      expect(put).toMatchObject({ method: 'PUT', url: `/v1/files/${fileResponse.id}/bytes?sig=abc`, body: bytes });
      expect(put?.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(bytes)) });
      expect(put?.headers.authorization).toBeUndefined();
      expect(retrieve).toMatchObject({ method: 'GET', url: `/v1/files/${fileResponse.id}` });
      expect(retrieve?.headers.authorization).toBe('Bearer secret');

      api.requests.length = 0;
      const created = await together.client.evals.create({
        type: 'classify',
        parameters: {
          input_data_file_path: fileResponse.id,
          judge: { model: 'judge', model_source: 'serverless', system_template: 'Judge {{prompt}}' },
          labels: ['good', 'bad'],
          pass_labels: ['good'],
          model_to_evaluate: 'response',
        },
      });
      expect(created).toEqual({ workflow_id: job.workflow_id, status: 'pending' });
      await together.client.evals.list({ status: 'completed', limit: 5 });
      await together.client.evals.retrieve(job.workflow_id);
      await together.client.evals.status(job.workflow_id);
      const content = await together.client.files.content(fileResponse.id);
      expect(content).toBeInstanceOf(Response);
      expect(await content.text()).toBe('abc');
      expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
        'POST /v1/evaluation',
        'GET /v1/evaluation?status=completed&limit=5',
        `GET /v1/evaluation/${job.workflow_id}`,
        `GET /v1/evaluation/${job.workflow_id}/status`,
        `GET /v1/files/${fileResponse.id}/content`,
      ]);
      expect(api.requests[0]?.headers['content-type']).toBe('application/json');
      expect(JSON.parse(api.requests[0]?.body ?? '')).toMatchObject({ type: 'classify', parameters: { labels: ['good', 'bad'] } });
      expect(api.requests[4]?.headers.accept).toBe('application/binary');
    } finally {
      together.restore();
    }
  });

  it('turns the upload helper’s failures into Errors instead of hanging', async () => {
    const together = createTogetherClient(api.baseUrl);
    try {
      await expect(together.uploadFile(join(dir, 'data.txt'))).rejects.toThrow(/extension must be/);
      const data = join(dir, 'refused.jsonl');
      await writeFile(data, '{"a":"b"}\n');
      // Any answer but 302 fails the upload with a fixed message; the error body is discarded.
      await expect(together.uploadFile(data)).rejects.toThrow(/failed to upload file/);
    } finally {
      together.restore();
    }
  });
});

const STAND_IN = `
const http = require('node:http');
const mode = process.env.STAND_IN_MODE;
if (mode === 'crash') { console.error('boom: bad config'); process.exit(3); }
if (mode === 'silent') { setInterval(() => {}, 1000); return; }
const server = http.createServer((req, res) => res.end(JSON.stringify({ dataDir: process.env.ASSAY_DATA_DIR, argv: process.argv.slice(2) })));
server.listen(Number(process.env.PORT), process.env.HOST, () => {
  console.log('starting');
  console.log('assay listening on http://' + process.env.HOST + ':' + server.address().port);
});
process.on('SIGTERM', () => { if (mode !== 'stubborn') server.close(() => process.exit(0)); });
`;

describe('server process helpers', () => {
  let dir: string;
  let entry: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'assay-proc-test-'));
    entry = join(dir, 'stand-in.cjs');
    await writeFile(entry, STAND_IN);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts on an ephemeral port with a fresh data dir and stops cleanly', async () => {
    const server = await startServer({ entry, args: ['--flag'] });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.baseUrl).toBe(`${server.url}/v1`);
      expect(server.stdout()).toContain('listening on');
      expect(await (await fetch(server.url)).json()).toEqual({ dataDir: server.dataDir, argv: ['serve', '--flag'] });
      expect(existsSync(server.dataDir)).toBe(true);
    } finally {
      await server.cleanup();
    }
    expect(await server.stop()).toBe(0);
    expect(existsSync(server.dataDir)).toBe(false);
  });

  it('reports the output of a server that exits before it is ready', async () => {
    await expect(startServer({ entry, env: { STAND_IN_MODE: 'crash' } })).rejects.toThrow(/exited before it was ready \(code 3[\s\S]*boom: bad config/);
  });

  it('gives up on a server that never gets ready', async () => {
    await expect(startServer({ entry, env: { STAND_IN_MODE: 'silent' }, readyTimeoutMs: 300 })).rejects.toThrow(/no "listening on http:\/\/HOST:PORT" line within 300 ms/);
  });

  it('escalates to SIGKILL and keeps a given data dir', async () => {
    const server = await startServer({ entry, env: { STAND_IN_MODE: 'stubborn' }, dataDir: dir, stopTimeoutMs: 200 });
    expect(await server.stop()).toBeNull();
    expect(server.proc.signalCode).toBe('SIGKILL');
    await server.cleanup();
    expect(existsSync(dir)).toBe(true);
  });

  it('waitFor polls until a value appears and names what timed out', async () => {
    let calls = 0;
    await expect(waitFor(() => (++calls >= 3 ? 0 : undefined), { what: 'three calls', intervalMs: 1 })).resolves.toBe(0);
    await expect(waitFor(async () => false, { what: 'job eval-1 to complete', timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      /Timed out after \d+ ms \(\d+ attempts\) waiting for job eval-1 to complete/,
    );
    await expect(waitFor(() => { throw new Error('boom'); }, { what: 'x' })).rejects.toThrow('boom');
  });
});
