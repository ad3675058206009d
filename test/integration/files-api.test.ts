/**
 * The Files API over real HTTP: the three-step upload in the shape each SDK sends it, the direct
 * multipart upload, list / retrieve / content / delete, rejected uploads, and the signed PUT
 * target.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUploadSigner } from '../../src/api/upload-url.js';
import { expectResponse, expectSchema } from '../support/upstream-schemas.js';
import { expectError, jsonl, startHarness, type Harness } from './harness.js';

const SIGNING_KEY = 'integration-test-signing-key';
const TTL_SECONDS = 3600;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: { uploadSigningKey: SIGNING_KEY, uploadUrlTtlSeconds: TTL_SECONDS } });
});
afterAll(async () => {
  await h?.close();
});

// Non-ASCII text makes byte counts differ from character counts.
const ROWS = [
  { question: '2+2?', answer: '4' },
  { question: 'Capital of France?', answer: 'Paris' },
  { question: 'Straße auf Deutsch?', answer: 'street — ok ✓' },
];
const CONTENT = jsonl(ROWS);
const CONTENT_BYTES = Buffer.byteLength(CONTENT);
const CSV = 'question,answer\n"2+2?",4\n"Capital, of France?",Paris\n';

interface Initiated {
  id: string;
  location: string;
}

/** Checks the 302 answer of `POST /v1/files` and returns the file id and upload URL. */
function expectRedirect(res: Awaited<ReturnType<Harness['request']>>): Initiated {
  expect(res.status, res.text).toBe(302);
  const location = res.headers.get('location');
  const id = res.headers.get('x-together-file-id');
  expect(id).toMatch(/^file-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(location).not.toBeNull();
  // Absolute: the SDKs PUT to it as given, with no base URL to resolve it against.
  const url = new URL(location!);
  expect(url.origin).toBe(h.url);
  expect(url.pathname).toContain(id!);
  return { id: id!, location: location! };
}

/** The PUT of step two, as the SDKs send it: raw bytes, no Authorization header. */
async function put(location: string, bytes: string | Uint8Array) {
  const res = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as unknown) : undefined };
}

function expectReadyFile(body: unknown, filename: string, lineCount: number, bytes: number, fileType = 'jsonl'): void {
  expectSchema('FileResponse', body);
  expect(body).toMatchObject({
    object: 'file',
    filename,
    bytes,
    purpose: 'eval',
    FileType: fileType,
    LineCount: lineCount,
    Processed: true,
  });
  expect(Number.isInteger((body as { created_at: unknown }).created_at)).toBe(true);
}

async function listedIds(): Promise<string[]> {
  const res = await h.request('GET', '/v1/files');
  expect(res.status).toBe(200);
  return (res.body as { data: Array<{ id: string }> }).data.map((f) => f.id);
}

describe('three-step upload', () => {
  it('TypeScript SDK shape: fields in the query and an urlencoded body, file_name with directories', async () => {
    const fields = new URLSearchParams({ purpose: 'eval', file_name: 'some/nested/dir/data.jsonl', file_type: 'jsonl' });
    const res = await h.request('POST', `/v1/files?${fields.toString()}`, {
      body: fields,
      headers: { authorization: 'Bearer anything' },
    });
    const { id, location } = expectRedirect(res);

    const uploaded = await put(location, CONTENT);
    expect(uploaded.status, uploaded.text).toBe(200);

    const got = await h.request('GET', `/v1/files/${id}`);
    expect(got.status).toBe(200);
    expectResponse('GET', `/v1/files/${id}`, 200, got.body);
    expectReadyFile(got.body, 'data.jsonl', 3, CONTENT_BYTES);
    expect((got.body as { id: string }).id).toBe(id);
  });

  it('Python v1 shape: urlencoded body only, then POST preprocess with an empty JSON body', async () => {
    const res = await h.request('POST', '/v1/files', {
      body: new URLSearchParams({ purpose: 'eval', file_name: 'v1.jsonl', file_type: 'jsonl' }),
    });
    const { id, location } = expectRedirect(res);

    // Finalising before the bytes arrived is a clear 400, not a half-made file.
    const early = await h.request('POST', `/v1/files/${id}/preprocess`, { body: '', headers: { 'content-type': 'application/json' } });
    expectError(early, 400, /not been uploaded/);

    expect((await put(location, CONTENT)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      // Idempotent: a retried finalise answers the same.
      const pre = await h.request('POST', `/v1/files/${id}/preprocess`, { body: '', headers: { 'content-type': 'application/json' } });
      expect(pre.status, pre.text).toBe(200);
      expectReadyFile(pre.body, 'v1.jsonl', 3, CONTENT_BYTES);
      expect((pre.body as { id: string }).id).toBe(id);
    }
  });

  it('Python v2 shape: multipart/form-data without a file part', async () => {
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'v2.csv');
    form.append('file_type', 'csv');
    const { id, location } = expectRedirect(await h.request('POST', '/v1/files', { body: form }));

    expect((await put(location, CSV)).status).toBe(200);
    const pre = await h.request('POST', `/v1/files/${id}/preprocess`, { body: '', headers: { 'content-type': 'application/json' } });
    expect(pre.status, pre.text).toBe(200);
    expectReadyFile(pre.body, 'v2.csv', 2, Buffer.byteLength(CSV), 'csv');
  });

  it('answers the initiation with 400 when purpose is missing or unknown', async () => {
    expectError(await h.request('POST', '/v1/files', { body: new URLSearchParams({ file_name: 'x.jsonl' }) }), 400, /purpose/);
    expectError(
      await h.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'training', file_name: 'x.jsonl' }) }),
      400,
      /purpose/,
      /training/,
    );
  });
});

describe('signed upload URL', () => {
  async function initiate(name = 'signed.jsonl'): Promise<Initiated> {
    return expectRedirect(
      await h.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: name }) }),
    );
  }

  it('refuses a wrong signature with 403 and keeps the upload open', async () => {
    const { id, location } = await initiate();
    const url = new URL(location);
    url.searchParams.set('signature', 'A'.repeat(url.searchParams.get('signature')!.length));
    expectError(await put(url.href, CONTENT), 403, /upload URL/);

    // Moving the expiry later invalidates the signature too.
    const later = new URL(location);
    later.searchParams.set('expires', String(Number(later.searchParams.get('expires')) + 3600));
    expectError(await put(later.href, CONTENT), 403);

    // A signature for another file does not open this one.
    const other = await initiate('other.jsonl');
    const swapped = new URL(location);
    swapped.searchParams.set('signature', new URL(other.location).searchParams.get('signature')!);
    swapped.searchParams.set('expires', new URL(other.location).searchParams.get('expires')!);
    expectError(await put(swapped.href, CONTENT), 403);

    expect(await listedIds()).not.toContain(id);
    expect((await put(location, CONTENT)).status).toBe(200);
    expect(await listedIds()).toContain(id);
  });

  it('refuses an expired URL with 403', async () => {
    const { id, location } = await initiate();
    // Sign the same file as the server would have two hours ago: a genuine but expired URL.
    const signer = createUploadSigner(SIGNING_KEY, TTL_SECONDS);
    const { expires, signature } = signer.sign(id, Date.now() - 2 * 3600 * 1000);
    const expired = new URL(location);
    expired.searchParams.set('expires', String(expires));
    expired.searchParams.set('signature', signature);
    expectError(await put(expired.href, CONTENT), 403, /expired/);
    expect(await listedIds()).not.toContain(id);
  });

  it('answers a second PUT to the same file with 409 and keeps the first bytes', async () => {
    const { id, location } = await initiate();
    expect((await put(location, CONTENT)).status).toBe(200);
    expectError(await put(location, jsonl([{ other: 'bytes' }])), 409, /already been uploaded/);

    const content = await fetch(`${h.url}/v1/files/${id}/content`);
    expect(Buffer.from(await content.arrayBuffer()).toString('utf8')).toBe(CONTENT);
  });
});

describe('direct multipart upload, list, content, delete', () => {
  it('uploads JSONL and CSV through POST /v1/files/upload', async () => {
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'direct.jsonl');
    form.append('file', new Blob([CONTENT]), 'direct.jsonl');
    const res = await h.request('POST', '/v1/files/upload', { body: form });
    expect(res.status, res.text).toBe(200);
    expectResponse('POST', '/v1/files/upload', 200, res.body);
    expectReadyFile(res.body, 'direct.jsonl', 3, CONTENT_BYTES);

    const csv = new FormData();
    csv.append('purpose', 'eval');
    csv.append('file_name', 'direct.csv');
    csv.append('file', new Blob([CSV]), 'direct.csv');
    const csvRes = await h.request('POST', '/v1/files/upload', { body: csv });
    expect(csvRes.status, csvRes.text).toBe(200);
    expectResponse('POST', '/v1/files/upload', 200, csvRes.body);
    expectReadyFile(csvRes.body, 'direct.csv', 2, Buffer.byteLength(CSV), 'csv');
  });

  it('lists files as {object: "list", data}', async () => {
    const file = await h.upload(CONTENT, 'listed.jsonl');
    const res = await h.request('GET', '/v1/files');
    expect(res.status).toBe(200);
    expectResponse('GET', '/v1/files', 200, res.body);
    const body = res.body as { object: string; data: Array<{ id: string }> };
    expect(body.object).toBe('list');
    expect(body.data.find((f) => f.id === file.id)).toMatchObject({ filename: 'listed.jsonl', LineCount: 3, Processed: true });
  });

  it('serves the exact bytes with Content-Length, also to Accept: application/binary', async () => {
    const file = await h.upload(CONTENT, 'content.jsonl');
    for (const accept of [undefined, 'application/binary']) {
      const res = await fetch(`${h.url}/v1/files/${file.id}/content`, { headers: accept ? { accept } : {} });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(CONTENT_BYTES));
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(CONTENT))).toBe(true);
    }
  });

  it('deletes a file, after which every route answers 404 with the error envelope', async () => {
    const file = await h.upload(CONTENT, 'doomed.jsonl');
    const res = await h.request('DELETE', `/v1/files/${file.id}`);
    expect(res.status).toBe(200);
    expectResponse('DELETE', `/v1/files/${file.id}`, 200, res.body);
    expect(res.body).toEqual({ id: file.id, object: 'file', deleted: true });

    expectError(await h.request('GET', `/v1/files/${file.id}`), 404, new RegExp(file.id));
    expectError(await h.request('GET', `/v1/files/${file.id}/content`), 404);
    expectError(await h.request('DELETE', `/v1/files/${file.id}`), 404);
    expect(await listedIds()).not.toContain(file.id);
    expect(await readdir(join(h.dataDir, 'files'))).not.toContain(file.id);
  });

  it('serves a file whose name is not Latin-1', async () => {
    const name = 'données ✓ 評価.jsonl';
    const file = await h.upload(CONTENT, name);
    expect(file['filename']).toBe(name);
    const res = await h.request('GET', `/v1/files/${file.id}/content`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe(CONTENT);
  });

  it('answers 404 for an unknown file id', async () => {
    const id = 'file-00000000-0000-4000-8000-000000000000';
    expectError(await h.request('GET', `/v1/files/${id}`), 404, /no file/);
    expectError(await h.request('POST', `/v1/files/${id}/preprocess`, { body: '', headers: { 'content-type': 'application/json' } }), 404);
  });
});

describe('rejected uploads', () => {
  const BAD: Array<{ what: string; name: string; content: string; message: RegExp[] }> = [
    { what: 'malformed JSONL', name: 'bad.jsonl', content: '{"a": 1}\n{"a": 2\n{"a": 3}\n', message: [/line 2/, /not valid JSON/] },
    { what: 'an empty file', name: 'empty.jsonl', content: '', message: [/empty/] },
    { what: 'a JSONL line that is an array', name: 'array.jsonl', content: '{"a": 1}\n[1, 2]\n', message: [/line 2/, /array/] },
    { what: 'a JSONL line that is a string', name: 'string.jsonl', content: '"just text"\n', message: [/line 1/, /not an object/] },
    { what: 'a CSV row with too few fields', name: 'ragged.csv', content: 'a,b\n1,2\n3\n4,5\n', message: [/line 3/, /1 field/, /header has 2/] },
    { what: 'a CSV row with too many fields', name: 'wide.csv', content: 'a,b\n1,2,3\n', message: [/line 2/, /3 fields/] },
  ];

  async function filesOnDisk(): Promise<string[]> {
    return readdir(join(h.dataDir, 'files'));
  }

  /** Every stored blob belongs to a listed (or result) file; no temporary files linger. */
  async function expectNothingLeftBehind(before: { listed: string[]; disk: string[] }): Promise<void> {
    expect((await listedIds()).sort()).toEqual(before.listed.sort());
    expect((await filesOnDisk()).sort()).toEqual(before.disk.sort());
  }

  for (const bad of BAD) {
    it(`direct upload of ${bad.what} is a 400 naming the cause, leaving nothing behind`, async () => {
      const before = { listed: await listedIds(), disk: await filesOnDisk() };
      const form = new FormData();
      form.append('purpose', 'eval');
      form.append('file_name', bad.name);
      form.append('file', new Blob([bad.content]), bad.name);
      const res = await h.request('POST', '/v1/files/upload', { body: form });
      const error = expectError(res, 400, ...bad.message);
      expectResponse('POST', '/v1/files/upload', 400, res.body);
      expect(error.type).toBe('invalid_request_error');
      await expectNothingLeftBehind(before);
    });

    it(`signed PUT of ${bad.what} is a 400 naming the cause, leaving nothing behind`, async () => {
      const before = { listed: await listedIds(), disk: await filesOnDisk() };
      const { id, location } = expectRedirect(
        await h.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: bad.name }) }),
      );
      expectError(await put(location, bad.content), 400, ...bad.message);
      await expectNothingLeftBehind(before);
      // The file never became usable.
      expectError(
        await h.request('POST', `/v1/files/${id}/preprocess`, { body: '', headers: { 'content-type': 'application/json' } }),
        400,
        /not been uploaded/,
      );
    });
  }

  const TRUNCATED: Array<{ what: string; path: string; body: string; contentType: string }> = [
    { what: 'a truncated multipart initiation', path: '/v1/files', body: '--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\neval', contentType: 'multipart/form-data; boundary=x' },
    {
      what: 'a multipart upload cut off inside the file part',
      path: '/v1/files/upload',
      body: '--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\neval\r\n--x\r\nContent-Disposition: form-data; name="file"; filename="cut.jsonl"\r\n\r\n{"a": 1}\n{"a": 2}\n',
      contentType: 'multipart/form-data; boundary=x',
    },
    { what: 'a multipart body without a boundary', path: '/v1/files/upload', body: 'whatever', contentType: 'multipart/form-data' },
  ];
  for (const bad of TRUNCATED) {
    it(`${bad.what} is a 400, leaving nothing behind`, async () => {
      const before = { listed: await listedIds(), disk: await filesOnDisk() };
      const res = await h.request('POST', bad.path, { body: bad.body, headers: { 'content-type': bad.contentType } });
      expectError(res, 400, /multipart/i);
      await expectNothingLeftBehind(before);
    });
  }

  it('multipart upload without a file part is a 400', async () => {
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'nofile.jsonl');
    expectError(await h.request('POST', '/v1/files/upload', { body: form }), 400, /file/);
  });

  it('a parquet upload is a 400 naming the format', async () => {
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', 'data.parquet');
    form.append('file', new Blob(['PAR1']), 'data.parquet');
    expectError(await h.request('POST', '/v1/files/upload', { body: form }), 400, /parquet/);
  });
});
