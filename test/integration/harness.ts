/**
 * In-process harness for the integration tests: the real assay server (SQLite store, engine,
 * Fastify app) on a real loopback port with a fresh data directory, a fake OpenAI-compatible
 * provider as its judge and model server, and small `fetch` helpers. No SDK, no mocks.
 *
 * @example
 * ```ts
 * const h = await startHarness();
 * try {
 *   const file = await h.uploadJsonl([{ q: '2+2?', a: '4' }]);
 *   const res = await h.request('GET', `/v1/files/${file.id}`);
 * } finally {
 *   await h.close();
 * }
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startEngineThread, type ThreadedEngine } from '../../src/runtime/engine-thread.js';
import { issueApiKey } from '../../src/security/api-keys.js';
import { startServer, type RunningServer } from '../../src/server.js';
import {
  jsonReply,
  startFakeProvider,
  type FakeChatRequest,
  type FakeProvider,
  type FakeProviderOptions,
  type FakeReply,
} from '../../src/testing/fake-provider.js';
import { waitFor } from '../support/server-process.js';

export { waitFor };

/** Marks a response the scripted judge treats as good (first label, top score, the winner). */
export const GOOD = '[good]';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or `undefined` when the body is not JSON. */
  body: unknown;
}

export interface RequestOptions {
  /** Serialised as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Sent as is. */
  body?: string | Uint8Array | FormData | URLSearchParams;
  headers?: Record<string, string>;
}

export interface UploadedFile {
  id: string;
  [key: string]: unknown;
}

/** The calls a test makes as one caller (with one API key, or none). */
export interface HarnessClient {
  request(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse>;
  /** Direct multipart `POST /v1/files/upload`; fails the test unless it answers 200. */
  upload(content: string, filename?: string): Promise<UploadedFile>;
  uploadJsonl(rows: readonly Record<string, unknown>[], filename?: string): Promise<UploadedFile>;
  /** `POST /v1/evaluation`; fails the test unless it answers 200, and returns the job id. */
  createJob(body: unknown): Promise<string>;
  /** Polls `GET /v1/evaluation/{id}` until the job is in a terminal status, and returns it. */
  waitForJob(id: string, timeoutMs?: number): Promise<Job>;
}

export interface Harness extends HarnessClient {
  /** Origin of the server, e.g. `http://127.0.0.1:41234`. */
  url: string;
  dataDir: string;
  fake: FakeProvider;
  server: RunningServer;
  config: Config;
  /** Makes an API key for `owner` in the server's store (as `assay keys create` does). */
  createKey(owner: string): Promise<{ id: string; key: string }>;
  /** The same calls, sent with `Authorization: Bearer <key>`. */
  as(key: string): HarnessClient;
  close(): Promise<void>;
}

export interface Job {
  workflow_id: string;
  status: string;
  status_updates: Array<{ status: string; message: string; timestamp: string }>;
  parameters: Record<string, unknown>;
  results: Record<string, unknown> | null;
  [key: string]: unknown;
}

const TERMINAL = new Set(['completed', 'error', 'user_error']);

export async function request(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: RequestInit['body'];
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    body = opts.body;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** A JSONL document of `rows`, one object a line, with a trailing newline. */
export function jsonl(rows: readonly unknown[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

/**
 * What a sensible judge would answer, decided by the request alone: the verdict key is read from
 * the structured-output schema (or the format instruction), and a response containing `GOOD` gets
 * the first label, the top score, or the win.
 */
export function scriptedJudge(req: FakeChatRequest): FakeReply {
  const format = req.body['response_format'] as { json_schema?: { schema?: { properties?: Record<string, { enum?: string[]; maximum?: number; minimum?: number }> } } } | undefined;
  const props = format?.json_schema?.schema?.properties;
  if (props?.['label']?.enum) {
    const labels = props['label'].enum;
    const good = req.userText.includes(GOOD);
    return jsonReply({ feedback: good ? 'looks right' : 'looks wrong', label: good ? labels[0] : labels[labels.length - 1] });
  }
  if (props?.['score']) {
    const good = req.userText.includes(GOOD);
    return jsonReply({ feedback: 'scored', score: good ? props['score'].maximum : props['score'].minimum });
  }
  if (props?.['choice']) {
    const a = /<response_a>([\s\S]*?)<\/response_a>/.exec(req.userText)?.[1] ?? '';
    return jsonReply({ feedback: 'compared', choice: a.includes(GOOD) ? 'A' : 'B' });
  }
  // Not a judge call: the model under test.
  return { content: `${GOOD} generated answer to: ${req.userText}` };
}

/**
 * The scripted judge for the first `n` calls; every later call waits until `release()` (then is
 * answered too). For jobs caught mid-run: progress, cancel.
 */
export function holdAfter(n: number): { reply: (req: FakeChatRequest) => Promise<FakeReply>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let answered = 0;
  return {
    async reply(req) {
      if (answered >= n) await held;
      answered++;
      return scriptedJudge(req);
    },
    release,
  };
}

export interface HarnessOptions {
  fake?: FakeProviderOptions;
  config?: Partial<Config>;
  /** Where the server's log lines go (default: stdout, at `warn` unless config.logLevel says otherwise). */
  logStream?: { write(line: string): void };
  /** With `config.engineThread`: the thread's script (default: the compiled one in dist/). */
  engineThreadEntry?: URL;
  /**
   * With `config.engineThread`: start the thread before the server and hand it over, as `assay
   * serve` does; `whileAlone` runs between the two.
   */
  startThreadFirst?: { whileAlone?: (thread: ThreadedEngine) => Promise<void> };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await startFakeProvider({ reply: scriptedJudge, ...opts.fake });
  const dataDir = await mkdtemp(join(tmpdir(), 'assay-it-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      providerBaseUrl: fake.url,
      logLevel: 'warn',
      // Tests here count provider calls and reuse prompts across jobs; call-cache.test.ts turns it on.
      cacheEnabled: false,
      // Jobs run on the API's loop here (this module runs from source, the thread from dist/);
      // engine-thread.test.ts runs them on the engine thread.
      engineThread: false,
      ...opts.config,
    },
  );
  let server: RunningServer;
  // The compiled thread (npm test builds first): the source cannot run in a worker thread.
  const entry = opts.engineThreadEntry ?? new URL('../../dist/runtime/engine-thread-main.js', import.meta.url);
  let engineThread: ThreadedEngine | undefined;
  try {
    if (config.engineThread && opts.startThreadFirst) {
      engineThread = startEngineThread(config, { entry });
      await opts.startThreadFirst.whileAlone?.(engineThread);
    }
    server = await startServer(config, {
      ...(opts.logStream ? { logStream: opts.logStream } : {}),
      ...(config.engineThread ? (engineThread ? { engineThread } : { engineThreadEntry: entry }) : {}),
    });
  } catch (err) {
    // A thread the server never got; closing one it got (and closed) again does nothing.
    await engineThread?.close();
    await fake.close();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = server.url;

  const clientFor = (headers: Record<string, string>): HarnessClient => {
    const call = (method: string, path: string, o: RequestOptions = {}) => request(url, method, path, { ...o, headers: { ...headers, ...o.headers } });

    const upload = async (content: string, filename = 'data.jsonl'): Promise<UploadedFile> => {
      const form = new FormData();
      form.append('purpose', 'eval');
      form.append('file_name', filename);
      form.append('file', new Blob([content]), filename);
      const res = await call('POST', '/v1/files/upload', { body: form });
      expect(res.status, res.text).toBe(200);
      return res.body as UploadedFile;
    };

    const getJob = async (id: string): Promise<Job> => {
      const res = await call('GET', `/v1/evaluation/${id}`);
      expect(res.status, res.text).toBe(200);
      return res.body as Job;
    };

    return {
      request: call,
      upload,
      uploadJsonl: (rows, filename) => upload(jsonl(rows), filename),
      async createJob(body) {
        const res = await call('POST', '/v1/evaluation', { json: body });
        expect(res.status, res.text).toBe(200);
        const created = res.body as { workflow_id: string; status: string };
        expect(created.status).toBe('pending');
        return created.workflow_id;
      },
      waitForJob: (id, timeoutMs = 15_000) =>
        waitFor(
          async () => {
            const job = await getJob(id);
            return TERMINAL.has(job.status) && job;
          },
          { what: `job ${id} to finish`, timeoutMs, intervalMs: 20 },
        ),
    };
  };

  let closed = false;
  return {
    url,
    dataDir,
    fake,
    server,
    config,
    ...clientFor({}),
    as: (key) => clientFor({ authorization: `Bearer ${key}` }),
    async createKey(owner) {
      const { key, record } = await issueApiKey(server.backend.store, owner);
      return { id: record.id, key };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await server.close();
      } finally {
        await fake.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Asserts Together's error envelope, the status, and that the message matches every pattern. */
export function expectError(res: ApiResponse, status: number, ...patterns: RegExp[]): { message: string; type: string; param: string | null; code: string | null } {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/application\/json/);
  const body = res.body as { error?: Record<string, unknown> };
  const error = body?.error as { message: string; type: string; param: string | null; code: string | null };
  expect(error, res.text).toBeTypeOf('object');
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(error.message).toBeTypeOf('string');
  expect(error.type).toBeTypeOf('string');
  expect(error.param === null || typeof error.param === 'string', res.text).toBe(true);
  expect(error.code === null || typeof error.code === 'string', res.text).toBe(true);
  for (const pattern of patterns) expect(error.message).toMatch(pattern);
  return error;
}
