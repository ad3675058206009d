/**
 * Input limits over real HTTP, each a clear 4xx naming what is over: upload size (413), line
 * length, row count and JSON depth of a row (naming the line), request body size (413) and depth,
 * template size, number and length of labels. A rejected upload stores nothing. And the signed
 * upload URL is single use: a second PUT after success is a 409, while a PUT that failed (invalid
 * data, too large) may be retried with the same URL until it expires.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, FormData as UndiciFormData, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/config.js';
import { expectError, jsonl, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    config: {
      limits: {
        ...DEFAULT_LIMITS,
        maxBodyBytes: 4096,
        maxUploadBytes: 2000,
        maxLineBytes: 300,
        maxRows: 5,
        maxJsonDepth: 8,
        maxTemplateChars: 60,
        maxLabels: 3,
        maxLabelChars: 10,
      },
    },
  });
});
afterAll(async () => {
  await h?.close();
});

async function multipart(content: string | Uint8Array, filename = 'data.jsonl') {
  const form = new FormData();
  form.append('purpose', 'eval');
  form.append('file_name', filename);
  form.append('file', new Blob([content]), filename);
  return h.request('POST', '/v1/files/upload', { body: form });
}

async function storedIds(): Promise<string[]> {
  return ((await h.request('GET', '/v1/files')).body as { data: Array<{ id: string }> }).data.map((f) => f.id);
}

/** Nothing but committed files in the data directory: no temp file of a rejected upload stays. */
async function expectNoLeftovers(): Promise<void> {
  const names = await readdir(join(h.dataDir, 'files')).catch(() => [] as string[]);
  expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
  expect(names.sort()).toEqual((await storedIds()).sort());
}

const deepRow = (depth: number) => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

describe('uploads', () => {
  it('answers 413 for a file over the size limit, keeping nothing', async () => {
    const before = await storedIds();
    const big = jsonl(Array.from({ length: 5 }, (_, i) => ({ i, pad: 'x'.repeat(250) })));
    expect(Buffer.byteLength(big)).toBeGreaterThan(1000);
    const res = await multipart(big + big);
    expect(expectError(res, 413, /larger than 2000 bytes/)).toMatchObject({ param: 'file', code: 'file_too_large' });
    expect(await storedIds()).toEqual(before);
    await expectNoLeftovers();
  });

  it('answers 400 naming the line for too many rows, a long line, a deep row', async () => {
    const cases: Array<[string, RegExp, string]> = [
      [jsonl(Array.from({ length: 6 }, (_, i) => ({ i }))), /^line 6 brings the dataset to more than 5 rows/, 'too_many_rows'],
      [`{"a":1}\n{"a":"${'x'.repeat(400)}"}\n`, /^line 2 is longer than 300 bytes/, 'line_too_long'],
      [`{"a":1}\n${deepRow(8)}\n${deepRow(9)}\n`, /^line 3 nests deeper than 8 levels/, 'json_too_deep'],
      [`{"a":1}\n${deepRow(100)}\n`, /^line 2 nests deeper than 8 levels/, 'json_too_deep'],
      ['a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n', /^line 7 brings the dataset to more than 5 rows/, 'too_many_rows'],
    ];
    const before = await storedIds();
    for (const [content, message, code] of cases) {
      const res = await multipart(content, code === 'too_many_rows' && content.startsWith('a,b') ? 'data.csv' : 'data.jsonl');
      expect(expectError(res, 400, message)).toMatchObject({ param: 'file', code });
    }
    expect(await storedIds()).toEqual(before);
    await expectNoLeftovers();
    // At the limits, all is well.
    const ok = await multipart(`${jsonl(Array.from({ length: 4 }, (_, i) => ({ i })))}${deepRow(8)}\n`);
    expect(ok.status, ok.text).toBe(200);
  });

  it('lets a failed PUT be retried with the same URL, and refuses a second PUT after success', async () => {
    const announced = await h.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'retry.jsonl' }) });
    const id = announced.headers.get('x-together-file-id')!;
    const put = (body: string) => fetch(announced.headers.get('location')!, { method: 'PUT', body });
    const bad = await put('{"a":1}\nnot json\n');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^line 2 is not valid JSON/);
    const tooBig = await put('x'.repeat(3000));
    expect(tooBig.status).toBe(413);
    expect((await h.request('GET', `/v1/files/${id}`)).body).toMatchObject({ processing_status: 'PENDING' });
    await expectNoLeftovers();

    const good = await put('{"a":1}\n');
    expect(good.status).toBe(200);
    const again = await put('{"a":2}\n');
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('already_uploaded');
    expect((await h.request('GET', `/v1/files/${id}/content`)).text).toBe('{"a":1}\n');
  });
});

describe('file names', () => {
  it('are cut to 255 characters without splitting one, and half a surrogate pair becomes U+FFFD', async () => {
    const name = `${'😀'.repeat(300)}.jsonl`;
    const announced = await h.request('POST', '/v1/files', { body: JSON.stringify({ purpose: 'eval', file_name: `a\ud800b-${name}` }), headers: { 'content-type': 'application/json' } });
    expect(announced.status, announced.text).toBe(302);
    const id = announced.headers.get('x-together-file-id')!;
    expect((await fetch(announced.headers.get('location')!, { method: 'PUT', body: '{"a":1}\n' })).status).toBe(200);
    const file = (await h.request('GET', `/v1/files/${id}`)).body as { filename: string };
    expect(Array.from(file.filename)).toHaveLength(255);
    expect(file.filename.startsWith('a\ufffdb-😀😀')).toBe(true);
    const content = await h.request('GET', `/v1/files/${id}/content`);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-disposition')).toMatch(/^attachment; filename="a_b-_+"; filename\*=UTF-8''a%EF%BF%BDb-(%F0%9F%98%80)+$/);
  });
});

describe('connections after a rejected upload', () => {
  // Found by the fuzzer: an upload refused before its body was read (a bad first line of a big
  // file) left its keep-alive connection unusable, so the client's next request on it hung.
  it('answer the next request on the same connection', async () => {
    const agent = new Agent({ connections: 1 });
    const call = (url: string, init: Parameters<typeof undiciFetch>[1] = {}) =>
      undiciFetch(url, { ...init, dispatcher: agent, signal: AbortSignal.timeout(5000) }).then(async (res) => ({ status: res.status, text: await res.text() }));
    try {
      for (const fileType of ['csv', 'jsonl']) {
        const announced = await h.request('POST', `/v1/files?purpose=eval&file_type=${fileType}`);
        const id = announced.headers.get('x-together-file-id')!;
        // Refused at line 1, with most of the body not yet read; 1,900 bytes stay under the size limit.
        const body = `"not valid\n${'x'.repeat(1900)}\n`;
        expect((await call(announced.headers.get('location')!, { method: 'PUT', body })).status).toBe(400);
        expect((await call(`${h.url}/healthz`)).status).toBe(200);
        expect((await call(`${h.url}/v1/files/${id}`)).status).toBe(200);
        // Over the size limit: refused while the bytes are still coming.
        expect((await call(announced.headers.get('location')!, { method: 'PUT', body: Buffer.alloc(500_000, 0x7b) })).status).toBe(413);
        expect((await call(`${h.url}/v1/files/${id}`)).status).toBe(200);
        const form = new UndiciFormData();
        form.append('purpose', 'eval');
        form.append('file', new Blob([Buffer.alloc(500_000, 0x7b)]), `x.${fileType}`);
        expect((await call(`${h.url}/v1/files/upload`, { method: 'POST', body: form })).status).toBe(413);
        expect((await call(`${h.url}/v1/files/${id}`)).status).toBe(200);
      }
    } finally {
      await agent.close();
    }
  });
});

describe('request bodies', () => {
  it('answers 413 for a body over the limit and 400 for JSON nested too deep', async () => {
    const res = await h.request('POST', '/v1/evaluation', { body: JSON.stringify({ type: 'x', pad: 'y'.repeat(5000) }), headers: { 'content-type': 'application/json' } });
    expect(expectError(res, 413, /too large/)).toMatchObject({ type: 'invalid_request_error' });
    const deep = `{"type":"classify","parameters":${'['.repeat(20)}${']'.repeat(20)}}`;
    expect(expectError(await h.request('POST', '/v1/evaluation', { body: deep, headers: { 'content-type': 'application/json' } }), 400, /nests deeper than 8 levels/).code).toBe(
      'json_too_deep',
    );
    // Far deeper is refused the same way, not with a crash.
    const deeper = `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`;
    expectError(await h.request('POST', '/v1/templates/render', { body: deeper, headers: { 'content-type': 'application/json' } }), 400, /nests deeper/);
    expect((await h.request('GET', '/healthz')).status).toBe(200);
  });
});

describe('job parameters', () => {
  let fileId = '';
  beforeAll(async () => {
    fileId = (await h.uploadJsonl([{ q: 'q', a: 'a' }])).id;
  });
  const judge = (template: string) => ({ model: 'judge', system_template: template });
  const classify = (over: Record<string, unknown>) => ({
    type: 'classify',
    parameters: { judge: judge('Grade {{q}}.'), input_data_file_path: fileId, model_to_evaluate: 'a', labels: ['good', 'bad'], pass_labels: ['good'], ...over },
  });

  it('refuses templates, label lists and labels past the limits, naming the field', async () => {
    const long = `Grade {{q}}. ${'x'.repeat(60)}`;
    expect(expectError(await h.request('POST', '/v1/evaluation', { json: classify({ judge: judge(long) }) }), 400, /at most 60 are allowed/)).toMatchObject({
      param: 'parameters.judge.system_template',
      code: 'template_too_large',
    });
    const generator = { model: 'm', model_source: 'external', external_base_url: h.fake.url, input_template: long };
    expect(expectError(await h.request('POST', '/v1/evaluation', { json: classify({ model_to_evaluate: generator }) }), 400).param).toBe(
      'parameters.model_to_evaluate.input_template',
    );
    expect(expectError(await h.request('POST', '/v1/evaluation', { json: classify({ labels: ['a', 'b', 'c', 'd'], pass_labels: ['a'] }) }), 400, /4 labels; at most 3/)).toMatchObject({
      param: 'parameters.labels',
      code: 'too_many_labels',
    });
    expect(expectError(await h.request('POST', '/v1/evaluation', { json: classify({ labels: ['good', 'x'.repeat(11)] }) }), 400, /at most 10 characters/)).toMatchObject({
      param: 'parameters.labels',
      code: 'label_too_long',
    });
    expect(expectError(await h.request('POST', '/v1/templates/render', { json: { template: long, row: {} } }), 400, /at most 60 characters/).param).toBe('template');
    const ok = await h.request('POST', '/v1/evaluation', { json: classify({ labels: ['good', 'bad', 'x'.repeat(10)] }) });
    expect(ok.status, ok.text).toBe(200);
  });
});
