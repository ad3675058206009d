/**
 * Property-based fuzzing of the whole HTTP API with fast-check, as one tenant (alice) against the
 * real server in-process on a loopback port, with API keys on and a fake model provider.
 *
 * Malformed bodies, headers, query strings and uploads (random JSON, random bytes, wrong content
 * types, huge, negative and non-numbers, unicode, deep nesting, path traversal ids, other
 * tenants' ids) go to every route. The properties: never a 5xx and never a dropped connection;
 * the server keeps answering /healthz; no answer carries another tenant's (bob's) data, ids or
 * key unless the request itself contained them; and bob's file, job and result file are
 * byte-identical afterwards. Seeded and bounded, so a run is repeatable and takes seconds.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD, jsonl, startHarness, type Harness, type HarnessClient } from '../integration/harness.js';

/** Fixed, so a run is repeatable; FUZZ_SEED explores other runs. */
const SEED = Number(process.env.FUZZ_SEED ?? 20_251_126);
/** Runs per property; the whole file stays well under a minute. */
const RUNS = { requests: 600, jobs: 400, uploads: 300 };

const BOB_MARKER = 'BOB-CONFIDENTIAL-7f3a9c';
/** An answer slower than this is a hang, and a failure. */
const ANSWER_MS = 10_000;

let h: Harness;
let alice: HarnessClient;
let aliceKey = '';
const aliceIds: string[] = [];
/** Alice's dataset for the job property, kept out of `ids()` so the request fuzzer cannot delete it. */
let jobFile = '';
const bob = { key: '', keyId: '', file: '', job: '', resultFile: '', pending: '', location: '' };
/** Bob's state before fuzzing, compared byte for byte afterwards. */
const before = new Map<string, string>();
const logLines: string[] = [];

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | FormData | URLSearchParams;
  /** Everything the request says, as text: what an answer may echo back. */
  text: string;
}

/** What must never reach alice unless she sent it herself. */
const bobSecrets = () => [BOB_MARKER, bob.key, bob.keyId, bob.file, bob.job, bob.resultFile, bob.pending];

/** Bob's view of his own data: what must not change. */
async function bobState(): Promise<Map<string, string>> {
  const as = h.as(bob.key);
  const state = new Map<string, string>();
  for (const path of [
    '/v1/files',
    `/v1/files/${bob.file}`,
    `/v1/files/${bob.file}/content`,
    `/v1/files/${bob.resultFile}/content`,
    `/v1/files/${bob.pending}`,
    `/v1/evaluation/${bob.job}`,
    `/v1/evaluation/${bob.job}/rows?limit=500`,
    '/v1/evaluation',
  ]) {
    const res = await as.request('GET', path);
    state.set(path, `${res.status} ${res.text}`);
  }
  return state;
}

beforeAll(async () => {
  h = await startHarness({
    config: { apiKeyCacheMs: 0, rateLimitRpm: 0, requestLog: 'off', logLevel: 'warn' },
    logStream: { write: (line) => void logLines.push(line) },
  });
  const a = await h.createKey('alice');
  aliceKey = a.key;
  alice = h.as(a.key);
  const b = await h.createKey('bob');
  Object.assign(bob, { key: b.key, keyId: b.id });
  const bobClient = h.as(b.key);

  const bobFile = await bobClient.uploadJsonl([
    { q: `${BOB_MARKER} question`, a: `${BOB_MARKER} answer ${GOOD}` },
    { q: `${BOB_MARKER} second`, a: 'plain' },
  ]);
  bob.file = bobFile.id;
  bob.job = await bobClient.createJob({
    type: 'classify',
    parameters: {
      judge: { model: 'judge-model', system_template: 'Grade {{q}}.' },
      input_data_file_path: bob.file,
      model_to_evaluate: 'a',
      labels: ['good', 'bad'],
      pass_labels: ['good'],
    },
  });
  bob.resultFile = String((await bobClient.waitForJob(bob.job)).results?.result_file_id);
  const announced = await bobClient.request('POST', '/v1/files', { body: new URLSearchParams({ purpose: 'eval', file_name: 'bob-later.jsonl' }) });
  bob.pending = announced.headers.get('x-together-file-id')!;
  bob.location = announced.headers.get('location')!;

  const aliceFile = await alice.uploadJsonl([
    { q: 'alice question', a: `alice answer ${GOOD}` },
    { q: 'alice second', a: 'alice plain' },
  ]);
  const aliceJob = await alice.createJob({
    type: 'score',
    parameters: {
      judge: { model: 'judge-model', system_template: 'Grade {{q}}.' },
      input_data_file_path: aliceFile.id,
      model_to_evaluate: 'a',
      min_score: 1,
      max_score: 10,
      pass_threshold: 5,
    },
  });
  const aliceResult = String((await alice.waitForJob(aliceJob)).results?.result_file_id);
  aliceIds.push(aliceFile.id, aliceJob, aliceResult);
  jobFile = (await alice.uploadJsonl([{ q: 'alice job question', a: `alice job answer ${GOOD}` }])).id;
  for (const [k, v] of await bobState()) before.set(k, v);
});

afterAll(async () => {
  if (process.env.FUZZ_STATS) console.log([...seen].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v}\t${k}`).join('\n'));
  await h?.close();
});

// ---------------------------------------------------------------------------------------------
// Arbitraries

const nasty = fc.constantFrom(
  '',
  ' ',
  '..',
  '../..',
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f',
  '%00',
  '\u0000',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\u202e',
  '😀',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  '-1',
  '0',
  '-0',
  '1e309',
  '9007199254740993',
  '0x10',
  '1.5',
  ' 1',
  '[]',
  '{}',
  'true',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '%',
  '_',
  '\\',
  '/',
  '?',
  '#',
  'a'.repeat(3000),
  'file-',
  'eval-',
  'file-00000000-0000-4000-8000-000000000000',
  'eval-0000-0000000000',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 20 }), nasty);
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e309', '-1', '0', '-0', '1e21', '00', '+1', ' 5', '5 ', '0x1f', '1_000', '1.0', '2.5'),
);
const jsonNumber = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e308, -1e308, -1, 0, 2 ** 53 + 1, 0.5, 1, 5, 10, 100));

function ids() {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...aliceIds) },
    { weight: 3, arbitrary: fc.constantFrom(bob.file, bob.job, bob.resultFile, bob.pending) },
    { weight: 3, arbitrary: text },
    { weight: 1, arbitrary: fc.uuid().map((u) => `file-${u}`) },
  );
}

/** A path segment: encoded as a client should, or raw (slashes, dots and all). */
const segment = (id: fc.Arbitrary<string>) => fc.tuple(id, fc.boolean()).map(([value, raw]) => (raw ? value : encodeURIComponent(safe(value))));

/** encodeURIComponent refuses lone surrogates; a client cannot send them anyway. */
function safe(value: string): string {
  return value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const ROUTES: Array<[string, string]> = [
  ['GET', '/v1/files'],
  ['POST', '/v1/files'],
  ['PUT', '/v1/uploads/{id}'],
  ['POST', '/v1/files/{id}/preprocess'],
  ['POST', '/v1/files/upload'],
  ['GET', '/v1/files/{id}'],
  ['GET', '/v1/files/{id}/content'],
  ['GET', '/v1/files/{id}/preview'],
  ['DELETE', '/v1/files/{id}'],
  ['POST', '/v1/evaluation'],
  ['GET', '/v1/evaluation'],
  ['GET', '/v1/evaluations'],
  ['GET', '/v1/evaluation/{id}'],
  ['GET', '/v1/evaluation/{id}/status'],
  ['GET', '/v1/evaluation/{id}/rows'],
  ['POST', '/v1/evaluation/{id}/cancel'],
  ['POST', '/v1/evaluation/{id}/retry-failed'],
  ['GET', '/v1/evaluation/model-list'],
  ['GET', '/v1/evaluations/model-list'],
  ['POST', '/v1/templates/render'],
  ['GET', '/v1/openapi.json'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/'],
  ['GET', '/docs'],
  ['GET', '/ui/{id}'],
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
const QUERY_KEYS = ['status', 'limit', 'offset', 'outcome', 'pass', 'label', 'winner', 'q', 'model_source', 'expires', 'signature', 'purpose', 'file_name', 'file_type', 'filename'];

const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 5,
    arbitrary: fc
      .dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 8 })), fc.oneof(numberText, text, fc.array(numberText, { minLength: 2, maxLength: 3 })), {
        maxKeys: 4,
      })
      .map((params) => {
        const search = new URLSearchParams();
        for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) search.append(safe(key), safe(v));
        const s = search.toString();
        return s ? `?${s}` : '';
      }),
  },
  { weight: 1, arbitrary: fc.constantFrom('?%', '?%%%', '?a=%zz', '?=&=&', '?limit=1&limit=2', '?q=%00', '?offset=99999999999999999999', '?limit=-5', '?__proto__=1', '?constructor[prototype]=1') },
);

const authorization = () =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${aliceKey}`) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic YWxpY2U6cHc=', `Bearer ${bob.key.slice(0, 11)}`, `Bearer ${aliceKey}x`, `Bearer ${'k'.repeat(10_000)}`, `bearer  ${aliceKey}  `) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`) },
  );

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'multipart/form-data; boundary=xyz',
      'multipart/form-data; boundary=',
      'application/octet-stream',
      'application/jsonl',
      'text/csv',
      '*/*',
      ';;;',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

const deepJson = fc
  .tuple(fc.integer({ min: 30, max: 50_000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => (open === '[' ? '['.repeat(n) + ']'.repeat(n) : open.repeat(n) + '1' + '}'.repeat(n)));

const template = fc.oneof(
  fc.constantFrom(
    'Grade {{q}}.',
    '{{ q }} and {{ a }}',
    '{% for i in range(100000) %}{{ q }}{% endfor %}',
    '{% for i in range(1000000000) %}x{% endfor %}',
    '{{ q.__proto__ }}{{ q.constructor }}',
    '{{',
    '{% if %}',
    '{{ "x" * 100000000 }}',
    '{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}',
    '{{ missing.attr.deeper }}',
    '{{ q | upper }}{{ a | length }}',
    'x'.repeat(100_001),
  ),
  text,
);

function model() {
  return fc.record(
    {
      model: fc.oneof(fc.constant('judge-model'), text),
      model_name: text,
      model_source: fc.oneof(fc.constantFrom('serverless', 'dedicated', 'external'), text),
      external_base_url: fc.oneof(
        fc.constant(h.fake.url),
        fc.constantFrom('http://127.0.0.1:1/v1', 'http://169.254.169.254/latest', 'file:///etc/passwd', 'http://[::1]/v1', 'ftp://x/', 'http://user:pw@127.0.0.1/', 'http://0x7f000001/', 'openai/gpt'),
        text,
      ),
      external_api_token: text,
      max_tokens: jsonNumber,
      temperature: jsonNumber,
      num_workers: jsonNumber,
      system_template: template,
      input_template: template,
    },
    { requiredKeys: [] },
  );
}

/** Valid jobs on alice's dataset (columns q and a), one per type, for mutation. */
function validJobs(): Array<Record<string, unknown>> {
  const judge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade the answer to {{q}}.' };
  const generator = { model: 'gen-model', model_source: 'serverless', input_template: '{{q}}', system_template: 'Answer.', max_tokens: 64 };
  return [
    { type: 'classify', parameters: { judge, input_data_file_path: jobFile, model_to_evaluate: 'a', labels: ['good', 'bad'], pass_labels: ['good'] } },
    { type: 'score', parameters: { judge, input_data_file_path: jobFile, model_to_evaluate: generator, min_score: 1, max_score: 10, pass_threshold: 5 } },
    { type: 'compare', parameters: { judge, input_data_file_path: jobFile, model_a: 'a', model_b: generator } },
  ];
}

const MUTABLE: string[][] = [
  ['type'],
  ['parameters'],
  ['parameters', 'judge'],
  ['parameters', 'judge', 'model'],
  ['parameters', 'judge', 'model_source'],
  ['parameters', 'judge', 'system_template'],
  ['parameters', 'judge', 'external_base_url'],
  ['parameters', 'judge', 'external_api_token'],
  ['parameters', 'judge', 'max_tokens'],
  ['parameters', 'judge', 'temperature'],
  ['parameters', 'judge', 'num_workers'],
  ['parameters', 'input_data_file_path'],
  ['parameters', 'model_to_evaluate'],
  ['parameters', 'model_to_evaluate', 'input_template'],
  ['parameters', 'model_to_evaluate', 'model_source'],
  ['parameters', 'model_to_evaluate', 'external_base_url'],
  ['parameters', 'model_b', 'input_template'],
  ['parameters', 'model_b', 'max_tokens'],
  ['parameters', 'model_a'],
  ['parameters', 'labels'],
  ['parameters', 'pass_labels'],
  ['parameters', 'min_score'],
  ['parameters', 'max_score'],
  ['parameters', 'pass_threshold'],
  ['parameters', 'disable_position_bias_correction'],
  ['parameters', 'use_cache'],
];

/** A valid job with a few fields changed (or none: about a third of these jobs are created and run). */
function mutatedJob() {
  const value = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    text,
    jsonNumber,
    template,
    ids(),
    fc.jsonValue({ maxDepth: 3 }),
    fc.constant(['good', 'bad', 'good']),
    fc.constant(Array.from({ length: 2000 }, (_, i) => `l${i}`)),
  );
  return fc
    .tuple(fc.nat({ max: 2 }), fc.array(fc.tuple(fc.constantFrom(...MUTABLE), value), { maxLength: 2 }))
    .map(([which, mutations]) => {
      const job = structuredClone(validJobs()[which]!) as Record<string, unknown>;
      for (const [path, v] of mutations) {
        let node: Record<string, unknown> = job;
        for (const key of path.slice(0, -1)) {
          const next = node[key];
          if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
          node = node[key] as Record<string, unknown>;
        }
        const last = path[path.length - 1]!;
        if (v === undefined) delete node[last];
        else node[last] = v;
      }
      return job;
    });
}

function jobBody() {
  return fc.oneof({ weight: 1, arbitrary: randomJob() }, { weight: 2, arbitrary: mutatedJob() });
}

function randomJob() {
  const labels = fc.oneof(fc.constant(['good', 'bad']), fc.array(fc.oneof(text, fc.constantFrom('good', 'bad')), { maxLength: 6 }), fc.constant(Array.from({ length: 2000 }, (_, i) => `l${i}`)));
  return fc.record(
    {
      type: fc.oneof(fc.constantFrom('classify', 'score', 'compare'), text),
      parameters: fc.oneof(
        { weight: 1, arbitrary: fc.jsonValue() },
        {
          weight: 6,
          arbitrary: fc.record(
            {
              judge: fc.oneof(model(), fc.jsonValue()),
              input_data_file_path: ids(),
              model_to_evaluate: fc.oneof(fc.constant('a'), text, model()),
              model_a: fc.oneof(fc.constant('a'), text, model()),
              model_b: fc.oneof(fc.constant('q'), text, model()),
              labels,
              pass_labels: labels,
              min_score: jsonNumber,
              max_score: jsonNumber,
              pass_threshold: jsonNumber,
              disable_position_bias_correction: fc.oneof(fc.boolean(), fc.jsonValue()),
              use_cache: fc.oneof(fc.boolean(), fc.jsonValue()),
            },
            { requiredKeys: [] },
          ),
        },
      ),
    },
    { requiredKeys: [] },
  );
}

/** A body and, when it is multipart, the text of every part (for the echo check). */
function body(): fc.Arbitrary<{ body?: FuzzRequest['body']; text: string }> {
  const fields = fc.dictionary(fc.oneof(fc.constantFrom('purpose', 'file_name', 'file_type', 'filename', 'file'), fc.string({ maxLength: 8 })), fc.oneof(text, fc.constantFrom('eval', 'jsonl', 'csv', 'parquet')), {
    maxKeys: 5,
  });
  const fileContent = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc.array(fc.jsonValue(), { maxLength: 5 }).map((rows) => jsonl(rows)),
    fc.array(fc.dictionary(fc.string({ maxLength: 5 }), text, { maxKeys: 4 }), { minLength: 1, maxLength: 5 }).map((rows) => jsonl(rows)),
    fc.string({ unit: 'grapheme', maxLength: 500 }),
    deepJson,
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({ text: '' }) },
    { weight: 2, arbitrary: fc.json().map((t) => ({ body: t, text: t })) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)).map((t) => ({ body: t, text: t })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => ({ body: b, text: Buffer.from(b).toString('latin1') })) },
    { weight: 1, arbitrary: text.map((t) => ({ body: t, text: t })) },
    { weight: 1, arbitrary: deepJson.map((t) => ({ body: t, text: t })) },
    { weight: 4, arbitrary: jobBody().map((v) => JSON.stringify(v)).map((t) => ({ body: t, text: t })) },
    {
      weight: 1,
      arbitrary: fc.record({ template, row: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue())) }, { requiredKeys: [] }).map((v) => {
        const t = JSON.stringify(v);
        return { body: t, text: t };
      }),
    },
    {
      weight: 2,
      arbitrary: fields.map((f) => {
        const form = new URLSearchParams();
        for (const [k, v] of Object.entries(f)) form.append(safe(k), safe(v));
        return { body: form, text: JSON.stringify(f) };
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fields, fc.option(fc.tuple(fileContent, text), { nil: undefined })).map(([f, file]) => {
        const form = new FormData();
        for (const [k, v] of Object.entries(f)) form.append(safe(k), safe(v));
        let t = JSON.stringify(f);
        if (file) {
          const [content, name] = file;
          form.append('file', new Blob([content]), safe(name) || 'x');
          t += typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
          t += name;
        }
        return { body: form, text: t };
      }),
    },
  );
}

function request(): fc.Arbitrary<FuzzRequest> {
  const route = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ROUTES) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...METHODS), fc.constantFrom(...ROUTES.map((r) => r[1]))) },
  );
  return fc
    .record({
      route,
      id: segment(ids()),
      query,
      auth: authorization(),
      contentType,
      accept: fc.option(fc.constantFrom('application/json', 'text/html', '*/*', 'application/x-ndjson'), { nil: undefined }),
      body: body(),
    })
    .map(({ route: [method, template], id, query: q, auth, contentType: ct, accept, body: b }) => {
      const headers: Record<string, string> = {};
      if (auth) headers.authorization = auth;
      if (ct !== undefined) headers['content-type'] = ct;
      if (accept !== undefined) headers.accept = accept;
      const path = template.replace('{id}', id) + q;
      // GET and HEAD carry no body in fetch.
      const sendsBody = method !== 'GET' && method !== 'HEAD' && b.body !== undefined;
      return {
        method,
        path,
        headers,
        ...(sendsBody ? { body: b.body } : {}),
        text: `${method} ${path} ${decodeSafely(path)} ${JSON.stringify(headers)} ${sendsBody ? b.text : ''}`,
      };
    });
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

/** Answers by route and status, to check the fuzzer reached past the front door. */
const seen = new Map<string, number>();
function tally(req: Pick<FuzzRequest, 'method' | 'path'>, status: number): void {
  const route = req.path.split('?')[0]!.replace(/(file|eval)-[^/]*/g, '$1-ID');
  const key = `${req.method} ${route.length > 40 ? route.slice(0, 40) + '…' : route} ${status}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}
const count = (pattern: RegExp) => [...seen].filter(([k]) => pattern.test(k)).reduce((n, [, v]) => n + v, 0);

interface Sent {
  status: number;
  text: string;
}

/** Sends a request; null when the client itself refuses it (an invalid URL or header). */
async function send(req: FuzzRequest): Promise<Sent | null> {
  let res: Response;
  try {
    res = await fetch(`${h.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body ?? null, redirect: 'manual', signal: AbortSignal.timeout(ANSWER_MS) });
  } catch (err) {
    // The client's own refusals (what no real client could send) are not the server's doing.
    if (err instanceof TypeError && !/fetch failed/.test(err.message)) return null;
    throw new Error(`the connection failed for ${req.method} ${req.path.slice(0, 200)}: ${String((err as Error).cause ?? err)}`);
  }
  const body = Buffer.from(await res.arrayBuffer());
  tally(req, res.status);
  return { status: res.status, text: `${[...res.headers].join('\n')}\n${body.toString('utf8')}\n${body.toString('latin1')}` };
}

function checkAnswer(req: FuzzRequest, res: Sent): void {
  expect(res.status, `${req.method} ${req.path.slice(0, 300)}\n${res.text.slice(0, 500)}`).toBeLessThan(500);
  for (const secret of bobSecrets()) {
    if (res.text.includes(secret) && !req.text.includes(secret)) {
      throw new Error(`${req.method} ${req.path.slice(0, 300)} answered with bob's "${secret}":\n${res.text.slice(0, 1000)}`);
    }
  }
}

async function fuzz(req: FuzzRequest): Promise<void> {
  const res = await send(req);
  if (res !== null) checkAnswer(req, res);
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing the API as one tenant', () => {
  it('answers every request to every route below 500, never with another tenant’s data', async () => {
    await fc.assert(fc.asyncProperty(request(), fuzz), { numRuns: RUNS.requests, seed: SEED });
  });

  it('answers random job bodies below 500, running the jobs it accepts', async () => {
    const job = fc.tuple(jobBody(), fc.constantFrom('/v1/evaluation', `/v1/evaluation/${aliceIds[1]}/retry-failed`, `/v1/evaluation/${bob.job}/retry-failed`)).map(([v, path]): FuzzRequest => {
      const t = JSON.stringify(v);
      const headers = { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' };
      return { method: 'POST', path, headers, body: t, text: `${path} ${t}` };
    });
    const followUp = fc.record({ rowsQuery: query, cancel: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(job, followUp, async (req, next) => {
        const res = await send(req);
        if (res === null) return;
        checkAnswer(req, res);
        const created = /"workflow_id":"(eval-[^"]+)"/.exec(res.text)?.[1];
        if (res.status !== 200 || created === undefined || req.path !== '/v1/evaluation') return;
        // A job it accepted is read back in every way, and sometimes cancelled while it runs.
        const auth = { authorization: `Bearer ${aliceKey}` };
        const reads = [`/v1/evaluation/${created}`, `/v1/evaluation/${created}/status`, `/v1/evaluation/${created}/rows${next.rowsQuery}`];
        for (const path of reads) await fuzz({ method: 'GET', path, headers: auth, text: `${path} ${req.text}` });
        if (next.cancel) await fuzz({ method: 'POST', path: `/v1/evaluation/${created}/cancel`, headers: auth, text: req.text });
      }),
      { numRuns: RUNS.jobs, seed: SEED + 1 },
    );
  });

  it('survives random uploads end to end: announce, PUT, read back, preview, delete', async () => {
    const upload = fc.record({
      how: fc.constantFrom('query', 'form', 'json', 'multipart'),
      fields: fc.record(
        {
          purpose: fc.oneof({ weight: 5, arbitrary: fc.constant('eval') }, { weight: 1, arbitrary: text }),
          file_name: fc.oneof(text, fc.constantFrom('data.jsonl', 'data.csv', 'a/b/../../c.jsonl', '\ud800.jsonl', 'x\u0000y.csv', 'C:\\x\\y.jsonl')),
          file_type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('jsonl', 'csv', 'json', 'parquet', '') }, { weight: 1, arbitrary: text }),
        },
        { requiredKeys: ['purpose'] },
      ),
      content: fc.oneof(
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 3000 }) },
        {
          weight: 4,
          arbitrary: fc
            .array(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue(), { minKeys: 1, maxKeys: 4 }), { minLength: 1, maxLength: 6 })
            .map((rows) => Buffer.from(jsonl(rows))),
        },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 400 }).map((s) => Buffer.from(`q,a\n${s}\n`)) },
        { weight: 1, arbitrary: deepJson.map((s) => Buffer.from(`{"a":1}\n{"x":${s}}\n`)) },
      ),
      contentType: contentType,
      previewLimit: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 150 }).map(String) }, { weight: 1, arbitrary: numberText }, { weight: 1, arbitrary: text }),
      remove: fc.boolean(),
    });
    type Upload = typeof upload extends fc.Arbitrary<infer U> ? U : never;
    async function uploadRun(u: Upload): Promise<void> {
      const auth = { authorization: `Bearer ${aliceKey}` };
      const fields = Object.fromEntries(Object.entries(u.fields).map(([k, v]) => [k, safe(v)]));
      let announce: FuzzRequest;
      const t = JSON.stringify(u.fields);
      if (u.how === 'query') announce = { method: 'POST', path: `/v1/files?${new URLSearchParams(fields).toString()}`, headers: auth, text: t };
      else if (u.how === 'form') announce = { method: 'POST', path: '/v1/files', headers: auth, body: new URLSearchParams(fields), text: t };
      else if (u.how === 'json') {
        // JSON carries what the other encodings cannot: lone surrogates, control characters.
        announce = { method: 'POST', path: '/v1/files', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(u.fields), text: t };
      } else {
        const form = new FormData();
        for (const [k, v] of Object.entries(fields)) form.append(k, v);
        announce = { method: 'POST', path: '/v1/files', headers: auth, body: form, text: t };
      }
      const res = await fetch(`${h.url}${announce.path}`, {
        method: 'POST',
        headers: announce.headers,
        body: announce.body ?? null,
        redirect: 'manual',
        signal: AbortSignal.timeout(ANSWER_MS),
      });
      tally({ method: 'POST', path: `/v1/files (${u.how})` }, res.status);
      const answer = { status: res.status, text: await res.text() };
      checkAnswer(announce, answer);
      if (res.status !== 302) return;
      const id = res.headers.get('x-together-file-id')!;
      const put = await fetch(res.headers.get('location')!, {
        method: 'PUT',
        headers: u.contentType ? { 'content-type': u.contentType } : {},
        body: u.content,
        signal: AbortSignal.timeout(ANSWER_MS),
      }).catch((err: unknown) => {
        throw new Error(`PUT of ${u.content.length} bytes as ${String(u.contentType)} to a ${u.fields.file_type ?? 'jsonl'} file failed: ${String(err)}`);
      });
      tally({ method: 'PUT', path: '/v1/uploads/ID' }, put.status);
      checkAnswer({ ...announce, text: `${t} ${id}` }, { status: put.status, text: await put.text() });
      const reads: Array<[string, string]> = [
        ['GET', `/v1/files/${id}`],
        ['GET', `/v1/files/${id}/content`],
        ['GET', `/v1/files/${id}/preview?limit=${encodeURIComponent(safe(u.previewLimit))}`],
        ['POST', `/v1/files/${id}/preprocess`],
        ['GET', '/v1/files'],
      ];
      for (const [method, path] of reads) {
        const read = await send({ method, path, headers: auth, text: `${path} ${t}` });
        if (read !== null) checkAnswer({ method, path, headers: auth, text: `${path} ${t}` }, read);
      }
      if (put.status === 200) {
        const content = await fetch(`${h.url}/v1/files/${id}/content`, { headers: auth });
        expect(content.status).toBe(200);
        expect(Buffer.from(await content.arrayBuffer()).equals(Buffer.from(u.content))).toBe(true);
      }
      if (u.remove) await fuzz({ method: 'DELETE', path: `/v1/files/${id}`, headers: auth, text: id });
    }
    await fc.assert(fc.asyncProperty(upload, uploadRun), { numRuns: RUNS.uploads, seed: SEED + 2 });
  });

  it('refuses every forged or replayed upload URL for another tenant’s file', async () => {
    const forged = fc.record({ expires: numberText, signature: fc.oneof(text, fc.base64String({ maxLength: 64 })), body: fc.uint8Array({ maxLength: 200 }) }).map(
      ({ expires, signature, body: b }): FuzzRequest => {
        const path = `/v1/uploads/${bob.pending}?expires=${encodeURIComponent(safe(expires))}&signature=${encodeURIComponent(safe(signature))}`;
        return { method: 'PUT', path, headers: {}, body: b, text: path };
      },
    );
    await fc.assert(
      fc.asyncProperty(forged, async (req) => {
        const res = await send(req);
        expect(res?.status).toBe(403);
      }),
      { numRuns: 100, seed: SEED + 3 },
    );
  });

  it('reached past the front door: files stored and read, jobs created and run', () => {
    expect(count(/^GET \/v1\/files(\/file-ID)? 200$/)).toBeGreaterThan(50);
    expect(count(/^POST \/v1\/evaluation 200$/)).toBeGreaterThan(30);
    expect(count(/^PUT \/v1\/uploads\/ID 200$/)).toBeGreaterThan(30);
    expect(count(/^GET \/v1\/files\/file-ID\/content 200$/)).toBeGreaterThan(30);
    expect(count(/^GET \/v1\/files\/file-ID\/preview 200$/)).toBeGreaterThan(20);
    expect(count(/ 401$/)).toBeGreaterThan(10);
  });

  it('is still up, logged no failure, and left the other tenant’s data byte-identical', async () => {
    expect((await h.request('GET', '/healthz')).status).toBe(200);
    expect((await h.request('GET', '/readyz')).status).toBe(200);
    expect(await bobState()).toEqual(before);
    const failures = logLines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
    expect(failures).toEqual([]);
    // Bob's signed URL still works for bob: fuzzing did not spend it.
    expect((await fetch(bob.location, { method: 'PUT', body: '{"q":"late"}\n' })).status).toBe(200);
  });
});
