/**
 * API keys and tenants over real HTTP: once a key exists every /v1 route wants one, each owner
 * sees only its own files and jobs (another owner's id is a 404, never a 403), public routes stay
 * open, a revoked key stops working within the cache bound, keys are rate limited one by one, and
 * request log lines name the key id but never the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, GOOD, startHarness, waitFor, type Harness, type HarnessClient } from './harness.js';

const judge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade the answer to {{q}}.' };
const classifyJob = (fileId: string) => ({
  type: 'classify',
  parameters: { judge, input_data_file_path: fileId, model_to_evaluate: 'a', labels: ['good', 'bad'], pass_labels: ['good'] },
});
const ROWS = [
  { q: 'bob question one', a: `bob answer ${GOOD}` },
  { q: 'bob question two', a: 'bob answer two' },
];

describe('two tenants', () => {
  let h: Harness;
  let alice: HarnessClient;
  let bob: HarnessClient;
  let aliceKey: { id: string; key: string };
  const bobIds = { file: '', job: '', resultFile: '', pending: '' };

  beforeAll(async () => {
    h = await startHarness({ config: { apiKeyCacheMs: 0, rateLimitRpm: 0 } });
    aliceKey = await h.createKey('alice');
    alice = h.as(aliceKey.key);
    bob = h.as((await h.createKey('bob')).key);
    const file = await bob.uploadJsonl(ROWS);
    bobIds.file = file.id;
    bobIds.job = await bob.createJob(classifyJob(file.id));
    const job = await bob.waitForJob(bobIds.job);
    expect(job.status).toBe('completed');
    bobIds.resultFile = String(job.results?.result_file_id);
    const announced = await bob.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'later.jsonl' }) });
    expect(announced.status).toBe(302);
    bobIds.pending = announced.headers.get('x-together-file-id')!;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists only the caller’s own files and jobs', async () => {
    const mine = await alice.uploadJsonl([{ q: 'alice question', a: 'alice answer' }]);
    const files = await alice.request('GET', '/v1/files');
    expect(files.status).toBe(200);
    expect((files.body as { data: Array<{ id: string }> }).data.map((f) => f.id)).toEqual([mine.id]);
    for (const path of ['/v1/evaluation', '/v1/evaluations', '/v1/evaluation?limit=100']) {
      const jobs = await alice.request('GET', path);
      expect(jobs.status).toBe(200);
      expect(jobs.body).toEqual([]);
    }
    const bobFiles = (await bob.request('GET', '/v1/files')).body as { data: Array<{ id: string }> };
    // A file announced but not uploaded yet is not listed; it is still bob's alone (see below).
    expect(bobFiles.data.map((f) => f.id).sort()).toEqual([bobIds.file, bobIds.resultFile].sort());
    expect(((await bob.request('GET', '/v1/evaluation')).body as Array<{ workflow_id: string }>).map((j) => j.workflow_id)).toEqual([bobIds.job]);
  });

  it('answers 404 for another owner’s file on every file route, and changes nothing', async () => {
    for (const id of [bobIds.file, bobIds.resultFile, bobIds.pending]) {
      expectError(await alice.request('GET', `/v1/files/${id}`), 404);
      expectError(await alice.request('GET', `/v1/files/${id}/content`), 404);
      expectError(await alice.request('GET', `/v1/files/${id}/preview`), 404);
      expectError(await alice.request('POST', `/v1/files/${id}/preprocess`), 404);
      expectError(await alice.request('DELETE', `/v1/files/${id}`), 404);
    }
    const content = await bob.request('GET', `/v1/files/${bobIds.file}/content`);
    expect(content.status).toBe(200);
    expect(content.text).toBe(ROWS.map((r) => `${JSON.stringify(r)}\n`).join(''));
    expect((await bob.request('GET', `/v1/files/${bobIds.resultFile}/content`)).status).toBe(200);
  });

  it('answers another owner’s file id in a new job as it answers an unknown one', async () => {
    const theirs = expectError(await alice.request('POST', '/v1/evaluation', { json: classifyJob(bobIds.file) }), 400);
    const unknown = expectError(await alice.request('POST', '/v1/evaluation', { json: classifyJob('file-00000000-0000-4000-8000-000000000000') }), 400);
    expect(theirs.code).toBe(unknown.code);
    expect(theirs.param).toBe('parameters.input_data_file_path');
    expect(theirs.message.replace(bobIds.file, 'ID')).toBe(unknown.message.replace('file-00000000-0000-4000-8000-000000000000', 'ID'));
    expectError(await alice.request('POST', '/v1/evaluation', { json: classifyJob(bobIds.resultFile) }), 400);
  });

  it('answers 404 for another owner’s job on every job route, and changes nothing', async () => {
    const id = bobIds.job;
    expectError(await alice.request('GET', `/v1/evaluation/${id}`), 404);
    expectError(await alice.request('GET', `/v1/evaluation/${id}/status`), 404);
    expectError(await alice.request('GET', `/v1/evaluation/${id}/rows`), 404);
    expectError(await alice.request('GET', `/v1/evaluation/${id}/rows?outcome=ok&q=bob`), 404);
    expectError(await alice.request('POST', `/v1/evaluation/${id}/cancel`), 404);
    expectError(await alice.request('POST', `/v1/evaluation/${id}/retry-failed`, { json: {} }), 404);
    const job = await bob.request('GET', `/v1/evaluation/${id}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ status: 'completed', owner_id: 'bob' });
    expect((await bob.request('GET', `/v1/evaluation/${id}/rows`)).body).toMatchObject({ total: 2 });
  });

  it('wants a valid bearer key on every /v1 route, with a 401 envelope', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/v1/files'],
      ['POST', '/v1/files'],
      ['POST', '/v1/files/upload'],
      ['GET', `/v1/files/${bobIds.file}`],
      ['GET', `/v1/files/${bobIds.file}/content`],
      ['DELETE', `/v1/files/${bobIds.file}`],
      ['POST', '/v1/evaluation'],
      ['GET', '/v1/evaluation'],
      ['GET', `/v1/evaluation/${bobIds.job}`],
      ['GET', '/v1/evaluation/model-list'],
      ['POST', '/v1/templates/render'],
      ['GET', '/v1/no-such-route'],
    ];
    for (const [method, path] of routes) {
      const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer ak_wrongwrongwrongwrongwrongwrongwr' }, { authorization: `Basic ${aliceKey.key}` }, { authorization: 'Bearer' }];
      for (const headers of variants) {
        const res = await h.request(method, path, { headers });
        const error = expectError(res, 401);
        expect(error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    // Another spelling of a route path does not slip past the check.
    for (const path of ['/v1//files', '/%76%31/files', '/v1/files/', '/V1/files', '/v1/./files']) {
      expect((await h.request('GET', path)).status, path).not.toBe(200);
    }
    // The scheme is case-insensitive, as HTTP says.
    expect((await h.request('GET', '/v1/files', { headers: { authorization: `bearer ${aliceKey.key}` } })).status).toBe(200);
  });

  it('keeps health, metrics, the web UI, the API reference and the signed upload open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/', '/ui/styles.css', '/v1/openapi.json']) {
      expect((await h.request('GET', path)).status, path).toBe(200);
    }
    const announced = await alice.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'signed.jsonl' }) });
    const location = announced.headers.get('location')!;
    const put = await fetch(location, { method: 'PUT', body: '{"q":"x","a":"y"}\n' });
    expect(put.status).toBe(200);
    expect((await alice.request('GET', `/v1/files/${announced.headers.get('x-together-file-id')}`)).status).toBe(200);
  });

  it('shows counts, not other owners’ models, on /metrics', async () => {
    const metrics = await h.request('GET', '/metrics');
    expect(metrics.text).toMatch(/assay_jobs\{status="completed"\} 1/);
    expect(metrics.text).not.toContain('judge-model');
    expect(metrics.text).toMatch(/endpoint="provider"/);
  });
});

describe('key lifecycle', () => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  it('accepts anything while no key exists, then wants keys once one does, and stops a revoked key within the cache bound', async () => {
    h = await startHarness({ config: { apiKeyCacheMs: 200, rateLimitRpm: 0 } });
    // Single-user mode: any bearer or none, owner "local".
    const local = await h.uploadJsonl([{ q: 'x', a: 'y' }]);
    expect((await h.request('GET', `/v1/files/${local.id}`, { headers: { authorization: 'Bearer anything' } })).status).toBe(200);

    const { id, key } = await h.createKey('local');
    const other = await h.createKey('alice');
    await waitFor(async () => (await h!.request('GET', '/v1/files')).status === 401, { what: 'keys to be required', timeoutMs: 5000 });
    // The key for "local" keeps the files made before keys existed; other owners do not see them.
    expect((await h.as(key).request('GET', `/v1/files/${local.id}`)).status).toBe(200);
    expect((await h.as(other.key).request('GET', `/v1/files/${local.id}`)).status).toBe(404);

    await h.server.backend.store.revokeApiKey(id, Math.floor(Date.now() / 1000));
    const revokedAt = Date.now();
    await waitFor(async () => (await h!.as(key).request('GET', '/v1/files')).status === 401, { what: 'the revoke to take effect', timeoutMs: 5000 });
    expect(Date.now() - revokedAt).toBeLessThan(2000);
    expect((await h.as(other.key).request('GET', '/v1/files')).status).toBe(200);
    // With every key revoked, a loopback server is single-user again.
    await h.server.backend.store.revokeApiKey(other.id, Math.floor(Date.now() / 1000));
    await waitFor(async () => (await h!.request('GET', '/v1/files')).status === 200, { what: 'single-user mode', timeoutMs: 5000 });
  });
});

describe('rate limits', () => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  it('answers 429 with retry-after once a key spends its burst, one bucket per key', async () => {
    h = await startHarness({ config: { apiKeyCacheMs: 0, rateLimitRpm: 6, rateLimitBurst: 3 } });
    const a = h.as((await h.createKey('alice')).key);
    const b = h.as((await h.createKey('bob')).key);
    const announced = await a.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'x.jsonl' }) });
    expect(announced.status).toBe(302);
    expect((await a.request('GET', '/v1/files')).status).toBe(200);
    expect((await a.request('GET', '/v1/files')).status).toBe(200);
    const limited = await a.request('GET', '/v1/files');
    expect(expectError(limited, 429, /too many requests/)).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    // 6 a minute: one more request every 10 s.
    expect(retryAfter).toBeGreaterThanOrEqual(9);
    expect(retryAfter).toBeLessThanOrEqual(10);
    // Another key has its own budget; public routes and the signed upload have none.
    expect((await b.request('GET', '/v1/files')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await h.request('GET', '/healthz')).status).toBe(200);
    const put = await fetch(announced.headers.get('location')!, { method: 'PUT', body: '{"q":"x"}\n' });
    expect(put.status).toBe(200);
    // Unauthenticated calls are refused before they could spend anyone's budget.
    expect((await h.request('GET', '/v1/files')).status).toBe(401);
  });
});

describe('request log', () => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  async function withLog(mode: 'errors' | 'all') {
    const lines: string[] = [];
    await h?.close();
    h = await startHarness({ config: { apiKeyCacheMs: 0, rateLimitRpm: 0, requestLog: mode, logLevel: 'info' }, logStream: { write: (l) => void lines.push(l) } });
    return lines;
  }
  const requestLines = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');

  it('logs only answers of 400 and above by default: method, route, status, ms, key id, never the key', async () => {
    const lines = await withLog('errors');
    const { id, key } = await h!.createKey('alice');
    expect((await h!.as(key).request('GET', '/v1/files')).status).toBe(200);
    expect((await h!.as(key).request('GET', '/v1/files/file-nope')).status).toBe(404);
    expect((await h!.request('GET', '/v1/files')).status).toBe(401);
    const logged = requestLines(lines);
    expect(logged.map((l) => [l.method, l.route, l.status, l.key])).toEqual([
      ['GET', '/v1/files/:id', 404, id],
      ['GET', '/v1/files', 401, null],
    ]);
    expect(typeof logged[0]!.ms).toBe('number');
    expect(lines.join('')).not.toContain(key);
  });

  it('logs every request with ASSAY_REQUEST_LOG=all, and the upload signature never', async () => {
    const lines = await withLog('all');
    const announced = await h!.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'x.jsonl' }) });
    const location = new URL(announced.headers.get('location')!);
    expect((await fetch(location, { method: 'PUT', body: '{"q":"x"}\n' })).status).toBe(200);
    const logged = requestLines(lines);
    expect(logged.map((l) => [l.method, l.route, l.status])).toEqual([
      ['POST', '/v1/files', 302],
      ['PUT', '/v1/uploads/:id', 200],
    ]);
    expect(lines.join('')).not.toContain(location.searchParams.get('signature')!);
  });
});
