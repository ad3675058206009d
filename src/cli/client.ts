/**
 * A small fetch-based client for any server that speaks Together's Evaluations and Files API:
 * assay, or Together itself. Errors come back as `ApiError` (the server's own message from its
 * `{"error": {...}}` envelope) or `ConnectionError` (no answer), both saying what to try.
 *
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:8080/v1', apiKey: null });
 * const file = await client.files.upload('data.jsonl', { purpose: 'eval' });
 * const { workflow_id } = await client.evals.create({ type: 'score', parameters: { ... } });
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiError, connectionError, UsageError } from './errors.js';

export interface FileObject {
  id: string;
  object?: string;
  created_at?: number;
  filename?: string;
  bytes?: number;
  purpose?: string;
  FileType?: string;
  LineCount?: number;
  Processed?: boolean;
  processing_status?: string;
  [key: string]: unknown;
}

/** Progress of an unfinished job, as assay reports it (Together sends none). */
export interface JobProgress {
  rows_total: number;
  rows_done: number;
  rows_failed: number;
  rows_per_second: number | null;
  eta_seconds: number | null;
  waiting_on_rate_limit?: boolean;
}

export interface EvaluationJob {
  workflow_id: string;
  type?: string;
  status: string;
  status_updates?: Array<{ status: string; message?: string; timestamp?: string }>;
  parameters?: Record<string, unknown>;
  created_at?: string;
  updated_at?: string;
  results?: Record<string, unknown> | null;
  progress?: JobProgress;
  [key: string]: unknown;
}

export interface EvaluationStatus {
  status: string;
  results?: Record<string, unknown> | null;
  progress?: JobProgress;
}

export interface CreateResponse {
  workflow_id: string;
  status: string;
}

export interface UploadOptions {
  purpose: string;
  /** The name the server records; the file's own name by default. */
  fileName?: string;
  /** `POST /files/upload` (multipart, assay and curl) instead of the SDKs' three-step upload. */
  direct?: boolean;
}

export interface Client {
  baseUrl: string;
  files: {
    upload(filePath: string, opts: UploadOptions): Promise<FileObject>;
    list(): Promise<{ data: FileObject[]; [key: string]: unknown }>;
    get(id: string): Promise<FileObject>;
    /** Streams the file's bytes to `dest` (written to a temporary file, then renamed) or to a stream. */
    download(id: string, dest: string | NodeJS.WritableStream): Promise<number>;
    delete(id: string): Promise<{ id: string; deleted: boolean; [key: string]: unknown }>;
  };
  evals: {
    create(body: unknown): Promise<CreateResponse>;
    list(query?: { status?: string; limit?: number }): Promise<EvaluationJob[]>;
    get(id: string): Promise<EvaluationJob>;
    status(id: string): Promise<EvaluationStatus>;
  };
}

export interface ClientOptions {
  baseUrl: string;
  apiKey: string | null;
  /** Timeout of one API call (not of uploads and downloads), in ms; 60 s by default. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface RequestOptions {
  json?: unknown;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  redirect?: 'follow' | 'manual' | 'error';
  /** No timeout: the body is streamed. */
  streaming?: boolean;
}

/** `file_type` from the extension, as the SDKs send it. */
export function fileTypeOf(filePath: string): string {
  const ext = path.extname(filePath).slice(1).toLowerCase();
  if (ext === 'csv') return 'csv';
  if (ext === 'parquet') return 'parquet';
  return 'jsonl';
}

async function parseJson(res: Response, url: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, {
      status: res.status,
      hint: 'is --base-url pointing at a Together-compatible API (ending in /v1)?',
    });
  }
}

export function createClient(opts: ClientOptions): Client {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const auth: Record<string, string> = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};

  /** Builds an ApiError from a non-2xx answer, using the error envelope when there is one. */
  async function failure(res: Response, url: string): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    let error: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } | undefined;
    try {
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (body && typeof body.error === 'object' && body.error !== null) error = body.error as typeof error;
      else if (body && typeof body.error === 'string') error = { message: body.error };
      else if (body && typeof body.message === 'string') error = { message: body.message };
    } catch {
      // Not JSON: a proxy's page, an object store's XML. The status line says enough.
    }
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    const message = str(error?.message) ?? `${res.status} ${res.statusText || 'error'}${text ? `: ${text.slice(0, 200)}` : ''}`;
    let hint: string | null = null;
    if (res.status === 401 || res.status === 403) {
      hint = opts.apiKey
        ? 'the server refused the API key; check --api-key (or ASSAY_API_KEY / TOGETHER_API_KEY)'
        : 'the server wants an API key: pass --api-key or set ASSAY_API_KEY';
    } else if (res.status === 404 && str(error?.code) === 'route_not_found' && !/\/v\d+$/.test(new URL(baseUrl).pathname)) {
      hint = `the base URL usually ends in /v1: try --base-url ${baseUrl}/v1`;
    } else if (res.status === 404 && error === undefined) {
      hint = `${url} is not a Together-compatible route; is --base-url right (it ends in /v1)?`;
    }
    return new ApiError(message, { status: res.status, type: str(error?.type), code: str(error?.code), param: str(error?.param), hint });
  }

  async function send(method: string, url: string, o: RequestOptions = {}, isApi = true): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'assay-cli', ...(isApi ? auth : {}), ...o.headers };
    let body = o.body;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers,
      redirect: o.redirect ?? 'follow',
      ...(body !== undefined ? { body } : {}),
      ...(o.streaming ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
    };
    // Node's fetch needs this to send a stream body.
    if (body instanceof ReadableStream) init.duplex = 'half';
    try {
      return await doFetch(url, init);
    } catch (err) {
      throw connectionError(err, isApi ? baseUrl : url, isApi);
    }
  }

  async function call<T>(method: string, route: string, o: RequestOptions = {}): Promise<T> {
    const url = `${baseUrl}${route}`;
    const res = await send(method, url, o);
    if (!res.ok) throw await failure(res, url);
    return (await parseJson(res, url)) as T;
  }

  const enc = encodeURIComponent;

  async function statFile(filePath: string): Promise<fs.Stats> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(filePath);
    } catch {
      throw new UsageError(`cannot read ${filePath}: no such file`);
    }
    if (!stat.isFile()) throw new UsageError(`${filePath} is not a file`);
    return stat;
  }

  /** The SDKs' flow: announce (`POST /files` → 302), PUT the bytes to the signed URL, finalize. */
  async function uploadThreeStep(filePath: string, o: UploadOptions, size: number): Promise<FileObject> {
    const fileName = o.fileName ?? path.basename(filePath);
    const form = new URLSearchParams({ purpose: o.purpose, file_name: fileName, file_type: fileTypeOf(fileName) });
    const announceUrl = `${baseUrl}/files`;
    const announced = await send('POST', announceUrl, { body: form, redirect: 'manual' });
    if (announced.status !== 302 && announced.status !== 303 && announced.status !== 307) {
      if (!announced.ok) throw await failure(announced, announceUrl);
      throw new ApiError(`POST ${announceUrl} answered ${announced.status} instead of a redirect to an upload URL`, {
        status: announced.status,
        hint: 'this server may not support the three-step upload; try `assay files upload --direct`',
      });
    }
    const location = announced.headers.get('location');
    const id = announced.headers.get('x-together-file-id');
    await announced.body?.cancel();
    if (!location || !id) {
      throw new ApiError(`POST ${announceUrl} answered ${announced.status} without a Location and X-Together-File-Id`, { status: announced.status });
    }
    const target = new URL(location, announceUrl).toString();
    const bytes = Readable.toWeb(fs.createReadStream(filePath)) as unknown as ReadableStream<Uint8Array>;
    // The signed URL is the credential: no Authorization header goes to it.
    const put = await send(
      'PUT',
      target,
      { body: bytes, streaming: true, headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } },
      false,
    );
    if (!put.ok) throw await failure(put, target.split('?')[0] ?? target);
    await put.body?.cancel();
    return call<FileObject>('POST', `/files/${enc(id)}/preprocess`);
  }

  async function uploadDirect(filePath: string, o: UploadOptions): Promise<FileObject> {
    const fileName = o.fileName ?? path.basename(filePath);
    const form = new FormData();
    form.append('purpose', o.purpose);
    form.append('file_name', fileName);
    form.append('file_type', fileTypeOf(fileName));
    form.append('file', await fs.openAsBlob(filePath), fileName);
    return call<FileObject>('POST', '/files/upload', { body: form, streaming: true });
  }

  return {
    baseUrl,
    files: {
      async upload(filePath, o) {
        const stat = await statFile(filePath);
        return o.direct ? uploadDirect(filePath, o) : uploadThreeStep(filePath, o, stat.size);
      },
      list: () => call('GET', '/files'),
      get: (id) => call('GET', `/files/${enc(id)}`),
      async download(id, dest) {
        const url = `${baseUrl}/files/${enc(id)}/content`;
        const res = await send('GET', url, { streaming: true, headers: { accept: 'application/binary' } });
        if (!res.ok) throw await failure(res, url);
        let bytes = 0;
        const source = res.body ? Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>) : Readable.from([]);
        source.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        if (typeof dest !== 'string') {
          await pipeline(source, dest, { end: false });
          return bytes;
        }
        const tmp = `${dest}.part-${process.pid}`;
        try {
          await pipeline(source, fs.createWriteStream(tmp));
          await fs.promises.rename(tmp, dest);
        } catch (err) {
          await fs.promises.rm(tmp, { force: true });
          throw err;
        }
        return bytes;
      },
      delete: (id) => call('DELETE', `/files/${enc(id)}`),
    },
    evals: {
      create: (body) => call('POST', '/evaluation', { json: body }),
      list(query = {}) {
        const params = new URLSearchParams();
        if (query.status) params.set('status', query.status);
        if (query.limit !== undefined) params.set('limit', String(query.limit));
        const qs = params.toString();
        return call('GET', `/evaluation${qs ? `?${qs}` : ''}`);
      },
      get: (id) => call('GET', `/evaluation/${enc(id)}`),
      status: (id) => call('GET', `/evaluation/${enc(id)}/status`),
    },
  };
}
