/**
 * The official, unmodified `together-ai` TypeScript client pointed at an assay server.
 *
 * Two upstream problems stop `client.files.upload()` from working on Node out of the box; this
 * module works around both without changing anything the SDK sends:
 *
 * 1. The package's ESM build (`index.mjs`) loads its Node-only helpers (`fs.stat`,
 *    `fs.createReadStream`, `path.extname`, …) with a bare `require()` inside `try {} catch {}`
 *    (`lib/node-unsafe-imports.mjs`). `require` does not exist in an ES module, so every helper is
 *    left `undefined` and `files.upload` fails ("File does not exists", then an uncaught
 *    "extname is not a function"). The CommonJS build (`index.js`) works, so we load that one
 *    through `createRequire`.
 *
 * 2. The upload helper (`lib/upload.js`) does not go through the client's request machinery: it
 *    calls the *global* `fetch` for `POST /files` and for the `PUT` of the file bytes, and it sends
 *    the PUT body as an `fs.ReadStream` without `duplex: 'half'`. Node's fetch rejects that
 *    ("RequestInit: duplex option is required when sending a body"). The shim wraps
 *    `globalThis.fetch` so that it adds `duplex: 'half'` when, and only when, the body is a stream
 *    and no `duplex` was given. Everything else (URL, method, headers, body) is passed through
 *    untouched. The client also gets the same wrapper as its `fetch` option (its own requests
 *    already set `duplex` for web streams, so this changes nothing there today).
 *
 * And one configuration trap: the upload helper ignores the client's `baseURL` for `POST /files`.
 * It reads env `TOGETHER_API_BASE_URL` once, when `lib/upload.js` is first loaded (default
 * `https://api.together.xyz/v1`). We therefore load a separate copy of the package per upload base
 * URL, with that variable set only while the copy loads, so several servers can be used in one
 * test process. The final `GET /files/{id}` of an upload does use the client's `baseURL`.
 *
 * Users hit the same problems; the README shows them the same two-line shim.
 */
import { createRequire } from 'node:module';
import { dirname, extname, sep } from 'node:path';
import type { Together } from 'together-ai';

export type TogetherModule = typeof import('together-ai');
export type TogetherClientType = Together;
export type FileResponseLike = Awaited<ReturnType<Together['files']['retrieve']>>;
export type UploadPurpose = Parameters<Together['files']['upload']>[1];

type FetchFn = typeof globalThis.fetch;
type FetchInit = NonNullable<Parameters<FetchFn>[1]>;

const require = createRequire(import.meta.url);
const PACKAGE_DIR = dirname(require.resolve('together-ai'));

/** True for bodies Node's fetch will only send with `duplex: 'half'`. */
export function isStreamBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true;
  return typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/** Wraps a fetch so stream bodies get `duplex: 'half'`; nothing else about the request changes. */
export function withStreamDuplex(inner: FetchFn): FetchFn {
  const wrapped = (input: Parameters<FetchFn>[0], init?: FetchInit): Promise<Response> => {
    if (init !== undefined && init.duplex === undefined && isStreamBody(init.body)) {
      return inner(input, { ...init, duplex: 'half' });
    }
    return inner(input, init);
  };
  return wrapped as FetchFn;
}

/** Reference-counted replacement of `globalThis.fetch`, shared by every client in the process. */
let globalShim: { original: FetchFn; holders: number } | undefined;

function acquireGlobalFetchShim(): () => void {
  if (globalShim === undefined) {
    const original = globalThis.fetch;
    globalShim = { original, holders: 0 };
    globalThis.fetch = withStreamDuplex(original);
  }
  globalShim.holders += 1;
  let released = false;
  return () => {
    if (released || globalShim === undefined) return;
    released = true;
    globalShim.holders -= 1;
    if (globalShim.holders === 0) {
      globalThis.fetch = globalShim.original;
      globalShim = undefined;
    }
  };
}

/** True while at least one client created here has not been restored. */
export function isGlobalFetchShimmed(): boolean {
  return globalShim !== undefined;
}

const modules = new Map<string, TogetherModule>();

/**
 * The CommonJS build of `together-ai`, loaded so that its upload helper sends `POST /files` to
 * `uploadBaseUrl`. One copy per distinct URL, cached.
 */
export function loadTogetherSdk(uploadBaseUrl: string): TogetherModule {
  const cached = modules.get(uploadBaseUrl);
  if (cached !== undefined) return cached;

  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(PACKAGE_DIR + sep)) delete require.cache[key];
  }
  const previous = process.env['TOGETHER_API_BASE_URL'];
  process.env['TOGETHER_API_BASE_URL'] = uploadBaseUrl;
  try {
    const sdk = require('together-ai') as TogetherModule;
    modules.set(uploadBaseUrl, sdk);
    return sdk;
  } finally {
    if (previous === undefined) delete process.env['TOGETHER_API_BASE_URL'];
    else process.env['TOGETHER_API_BASE_URL'] = previous;
  }
}

export interface TogetherHarness {
  /** The unmodified SDK client, `baseURL` = the given base URL. */
  client: TogetherClientType;
  /** The SDK module the client came from (for `APIError` and friends in `instanceof` checks). */
  sdk: TogetherModule;
  /**
   * `client.files.upload(path, purpose)` with the SDK's default local check. Rejects at once on
   * an extension other than .jsonl/.csv/.parquet, where the SDK's promise would never settle,
   * and turns the helper's non-Error rejections (`{message}` objects, strings) into Errors.
   */
  uploadFile(path: string, purpose?: 'eval'): Promise<FileResponseLike>;
  /** Puts `globalThis.fetch` back once every harness has been restored. Idempotent. */
  restore(): void;
}

export interface TogetherHarnessOptions {
  /** Passed to the client; the SDK default (2) when absent. */
  maxRetries?: number;
  /** Passed to the client, in ms; the SDK default (60 s) when absent. */
  timeout?: number;
}

/**
 * Creates an official Together client for an assay server.
 *
 * @param baseUrl the server's API base, ending in `/v1` (e.g. `ServerProcess.baseUrl`)
 * @param apiKey sent as `Authorization: Bearer …`; `assay-test-key` when absent
 *
 * @example
 * ```ts
 * const together = createTogetherClient(server.baseUrl);
 * try {
 *   const file = await together.uploadFile('test/fixtures/data.jsonl');
 *   const job = await together.client.evals.create({ type: 'classify', parameters: { … } });
 * } finally {
 *   together.restore();
 * }
 * ```
 */
export function createTogetherClient(
  baseUrl: string,
  apiKey = 'assay-test-key',
  options: TogetherHarnessOptions = {},
): TogetherHarness {
  const sdk = loadTogetherSdk(baseUrl);
  const release = acquireGlobalFetchShim();
  const client = new sdk.Together({
    apiKey,
    baseURL: baseUrl,
    fetch: withStreamDuplex((input, init) => globalThis.fetch(input, init)),
    ...(options.maxRetries !== undefined && { maxRetries: options.maxRetries }),
    ...(options.timeout !== undefined && { timeout: options.timeout }),
  });

  return {
    client,
    sdk,
    async uploadFile(path, purpose = 'eval') {
      const type = extname(path).slice(1);
      if (type !== 'jsonl' && type !== 'csv' && type !== 'parquet') {
        throw new Error(`together-ai cannot upload ${path}: the extension must be .jsonl, .csv or .parquet`);
      }
      // Hold the shim for the duration even if restore() is called meanwhile.
      const releaseForUpload = acquireGlobalFetchShim();
      try {
        return await client.files.upload(path, purpose);
      } catch (error) {
        // The helper rejects with plain objects ({message}) or strings, not Errors.
        if (error instanceof Error) throw error;
        throw new Error(`together-ai files.upload(${path}) failed: ${JSON.stringify(error)}`, { cause: error });
      } finally {
        releaseForUpload();
      }
    },
    restore: release,
  };
}
