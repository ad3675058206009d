/**
 * The OpenAPI document at `GET /v1/openapi.json` against the server that serves it: it is a
 * well-formed OpenAPI 3.1 document whose schemas are valid JSON Schema 2020-12 and whose `$ref`s
 * resolve; it documents exactly the routes the app registers, and exactly which need no API key;
 * real answers of every kind match the schemas it gives for them (with undocumented fields
 * counted as errors); its request examples are accepted. And `/docs` is a page that renders it.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenApiDocument } from '../../src/api/openapi.js';
import type { Operation, Response, Schema } from '../../src/api/openapi-types.js';
import { parseJobRequest } from '../../src/domain/job-request.js';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { GOOD, scriptedJudge, startHarness, waitFor, type ApiResponse, type Harness, type Job } from './harness.js';

const addFormats = addFormatsModule.default;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const DOC_ID = 'https://assay.invalid/openapi.json';
const COMPONENT_REF = '#/components/schemas/';

let h: Harness;
let doc: OpenApiDocument;

/** Rows marked [hang] never get an answer, so their job stays running until cancelled. */
function judge(req: FakeChatRequest): FakeReply {
  return req.text.includes('[hang]') ? { hang: true } : scriptedJudge(req);
}

beforeAll(async () => {
  h = await startHarness({ fake: { reply: judge } });
  const res = await h.request('GET', '/v1/openapi.json');
  expect(res.status, res.text).toBe(200);
  doc = res.body as OpenApiDocument;
});
afterAll(async () => {
  await h?.close();
});

function operations(): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ method, path, op: item[method]! }] : [])),
  );
}

/** Every value of `key` anywhere in the document, with its JSON pointer. */
function collect(node: unknown, key: string, at = '#', out: Array<{ at: string; value: unknown }> = []) {
  if (Array.isArray(node)) node.forEach((item, i) => collect(item, key, `${at}/${i}`, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push({ at, value: v });
      collect(v, key, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    }
  }
  return out;
}

function resolvePointer(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.replace(/^#\/?/, '').split('/').filter((s) => s !== '')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The OpenAPI 3.1 structure this document uses, checked strictly (no unknown keys but `x-*`):
 * enough to catch a misplaced or misspelt field, not the whole specification.
 */
const STRUCTURE = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' },
    info: {
      type: 'object',
      required: ['title', 'version'],
      properties: {
        title: { type: 'string', minLength: 1 },
        version: { type: 'string', minLength: 1 },
        summary: { type: 'string' },
        description: { type: 'string' },
        license: { type: 'object', required: ['name'] },
      },
      additionalProperties: false,
    },
    jsonSchemaDialect: { type: 'string', format: 'uri' },
    servers: { type: 'array', items: { type: 'object', required: ['url'] } },
    security: { $ref: '#/$defs/security' },
    tags: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, description: { type: 'string' } }, additionalProperties: false } },
    paths: { type: 'object', propertyNames: { pattern: '^/' }, additionalProperties: { $ref: '#/$defs/pathItem' } },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', additionalProperties: { type: ['object', 'boolean'] } },
        securitySchemes: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['type'],
            properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] } },
            if: { properties: { type: { const: 'http' } } },
            then: { required: ['scheme'] },
          },
        },
      },
      additionalProperties: false,
    },
  },
  patternProperties: { '^x-': true },
  additionalProperties: false,
  $defs: {
    security: { type: 'array', items: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } } },
    pathItem: {
      type: 'object',
      properties: {
        summary: { type: 'string' },
        description: { type: 'string' },
        parameters: { type: 'array', items: { $ref: '#/$defs/parameter' } },
        ...Object.fromEntries(METHODS.map((m) => [m, { $ref: '#/$defs/operation' }])),
      },
      patternProperties: { '^x-': true },
      additionalProperties: false,
    },
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        operationId: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        deprecated: { type: 'boolean' },
        parameters: { type: 'array', items: { $ref: '#/$defs/parameter' } },
        requestBody: {
          type: 'object',
          required: ['content'],
          properties: { description: { type: 'string' }, required: { type: 'boolean' }, content: { $ref: '#/$defs/content' } },
          additionalProperties: false,
        },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default)$' },
          additionalProperties: {
            type: 'object',
            required: ['description'],
            properties: {
              description: { type: 'string' },
              headers: { type: 'object', additionalProperties: { $ref: '#/$defs/header' } },
              content: { $ref: '#/$defs/content' },
            },
            additionalProperties: false,
          },
        },
        security: { $ref: '#/$defs/security' },
      },
      patternProperties: { '^x-': true },
      additionalProperties: false,
    },
    parameter: {
      type: 'object',
      required: ['name', 'in', 'schema'],
      properties: {
        name: { type: 'string' },
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        description: { type: 'string' },
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        schema: { type: 'object' },
      },
      if: { properties: { in: { const: 'path' } } },
      then: { required: ['required'], properties: { required: { const: true } } },
      additionalProperties: false,
    },
    header: {
      type: 'object',
      required: ['schema'],
      properties: { description: { type: 'string' }, required: { type: 'boolean' }, schema: { type: 'object' } },
      additionalProperties: false,
    },
    content: {
      type: 'object',
      propertyNames: { pattern: '^[a-z*]+/[a-z0-9.+*-]+$' },
      additionalProperties: {
        type: 'object',
        properties: {
          schema: { type: 'object' },
          example: true,
          examples: { type: 'object', additionalProperties: { type: 'object', required: ['value'], properties: { summary: { type: 'string' }, value: true }, additionalProperties: false } },
        },
        additionalProperties: false,
      },
    },
  },
};

/** Component refs rewritten to point into one registered schema document. */
function rewriteRefs(node: unknown, close: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, close));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) out[key] = `${DOC_ID}#/$defs/${value.slice(COMPONENT_REF.length)}`;
    else if (key === 'properties' && value !== null && typeof value === 'object') {
      // Property names are not schemas: keep them as they are, rewrite their schemas.
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, rewriteRefs(sub, close)]));
    } else out[key] = rewriteRefs(value, close);
  }
  // A closed schema: an object with listed properties has no others unless it says so.
  if (close && 'properties' in out && !('additionalProperties' in out)) out['additionalProperties'] = false;
  return out;
}

/**
 * Validators over the document's schemas. `closed` treats every object schema with listed
 * properties as allowing no others, so an answer field the document does not mention fails.
 */
function validators(close: boolean) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'discriminator', schemaType: 'object' });
  ajv.addSchema({ $id: DOC_ID, $defs: rewriteRefs(doc.components.schemas, close) as Record<string, unknown> });
  const cache = new Map<string, ValidateFunction>();
  return {
    ajv,
    compile(schema: Schema): ValidateFunction {
      const key = JSON.stringify(schema);
      let validate = cache.get(key);
      if (!validate) {
        validate = ajv.compile(rewriteRefs(schema, close) as object);
        cache.set(key, validate);
      }
      return validate;
    },
  };
}

function problems(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join('\n');
}

let closed: ReturnType<typeof validators>;
const documentedAnswers = new Set<string>();

/**
 * Checks an answer against the document: its status is documented for the operation, its
 * required headers are there, and a JSON body matches the response schema (closed).
 */
function expectDocumented(res: ApiResponse, method: string, path: string): void {
  const op = doc.paths[path]?.[method as (typeof METHODS)[number]];
  expect(op, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  const response: Response | undefined = op!.responses[String(res.status)];
  expect(response, `${method.toUpperCase()} ${path} documents status ${res.status}: ${res.text}`).toBeDefined();
  for (const [name, header] of Object.entries(response!.headers ?? {})) {
    if (header.required) expect(res.headers.get(name), `${method.toUpperCase()} ${path} header ${name}`).not.toBeNull();
  }
  const schema = response!.content?.['application/json']?.schema;
  if (schema) {
    expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    closed ??= validators(true);
    const validate = closed.compile(schema);
    if (!validate(res.body)) {
      throw new Error(`${method.toUpperCase()} ${path} → ${res.status} does not match the document:\n${problems(validate)}\n${JSON.stringify(res.body, null, 2).slice(0, 3000)}`);
    }
  }
  documentedAnswers.add(`${method} ${path}`);
}

describe('the OpenAPI document', () => {
  it('is served as JSON without an API key', async () => {
    const res = await h.request('GET', '/v1/openapi.json');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe('assay');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('has the structure of an OpenAPI 3.1 document', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(STRUCTURE);
    expect(validate(doc), problems(validate)).toBe(true);
  });

  it('has schemas that are valid JSON Schema 2020-12, with no OpenAPI 3.0 leftovers', () => {
    expect(collect(doc, 'nullable')).toEqual([]);
    const open = validators(false);
    for (const name of Object.keys(doc.components.schemas)) {
      expect(() => open.ajv.getSchema(`${DOC_ID}#/$defs/${name}`), name).not.toThrow();
    }
    const inline = [
      ...collect(doc.paths, 'schema').map((s) => s.value as Schema),
      ...Object.values(doc.components.schemas),
    ];
    for (const schema of inline) expect(() => open.compile(schema), JSON.stringify(schema)).not.toThrow();
  });

  it('has every $ref resolve, every tag declared, unique operation ids and declared path parameters', () => {
    for (const { at, value } of collect(doc, '$ref')) {
      expect(typeof value === 'string' && value.startsWith('#/'), `${at}: ${String(value)}`).toBe(true);
      expect(resolvePointer(doc, value as string), `${at}: ${String(value)} resolves`).toBeDefined();
    }
    const tags = new Set(doc.tags.map((t) => t.name));
    const ids = new Set<string>();
    for (const { method, path, op } of operations()) {
      for (const tag of op.tags) expect(tags.has(tag), `${method} ${path} tag ${tag}`).toBe(true);
      expect(ids.has(op.operationId), `operationId ${op.operationId} is unique`).toBe(false);
      ids.add(op.operationId);
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
      expect(declared, `${method} ${path} path parameters`).toEqual(inPath);
    }
    for (const name of Object.keys(doc.components.securitySchemes)) expect(name).toBe('bearerAuth');
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it('has create examples that match the schema and that the server accepts', async () => {
    const file = await h.uploadJsonl([{ question: '2+2?', answer: `4 ${GOOD}`, prompt: 'p', answer_a: 'a', answer_b: 'b' }]);
    const media = doc.paths['/v1/evaluation']?.post?.requestBody?.content['application/json'];
    const examples = Object.entries(media?.examples ?? {});
    expect(examples.map(([name]) => name).sort()).toEqual(['classify', 'compare', 'score']);
    const validate = validators(false).compile(media!.schema!);
    for (const [name, { value }] of examples) {
      expect(validate(value), `${name}: ${problems(validate)}`).toBe(true);
      expect(() => parseJobRequest(value, h.config), name).not.toThrow();
    }
    // The examples' dataset, model and endpoint are illustrations; with real ones the server takes them.
    const classify = structuredClone(examples.find(([name]) => name === 'classify')![1].value) as { parameters: Record<string, unknown> };
    classify.parameters['input_data_file_path'] = file.id;
    const res = await h.request('POST', '/v1/evaluation', { json: classify });
    expectDocumented(res, 'post', '/v1/evaluation');
  });
});

describe('the routes', () => {
  /** Fastify's route syntax in OpenAPI's: `:id` → `{id}`, a trailing `*` → `{path}`. */
  const template = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
  const served = () =>
    h.server.app
      .servedRoutes()
      .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .map((r) => ({ key: `${r.method.toLowerCase()} ${template(r.url)}`, url: r.url, public: r.public }));

  it('documents every route the server serves, and nothing else', () => {
    const routes = served();
    expect(routes.length).toBeGreaterThan(20);
    const documented = operations().map(({ method, path }) => `${method} ${path}`);
    expect([...new Set(routes.map((r) => r.key))].sort()).toEqual([...documented].sort());
  });

  it('says which routes need no API key exactly as the server decides it', () => {
    for (const route of served()) {
      // As src/api/auth.ts decides: marked public, or outside /v1.
      const isPublic = route.public || !route.url.startsWith('/v1/');
      const [method, path] = route.key.split(' ') as [(typeof METHODS)[number], string];
      const op = doc.paths[path]?.[method];
      expect(op, `${route.key} is documented`).toBeDefined();
      const documentedPublic = Array.isArray(op?.security) && op.security.length === 0;
      expect(documentedPublic, `${route.key} needs ${isPublic ? 'no key' : 'a key'}`).toBe(isPublic);
      if (!isPublic) expect(Object.keys(op!.responses)).toContain('401');
    }
  });
});

describe('answers match the document', () => {
  const QA = [
    { question: '2+2?', answer: `4 ${GOOD}`, answer_a: `4 ${GOOD}`, answer_b: '5' },
    { question: 'Capital of France?', answer: 'Lyon', answer_a: 'Lyon', answer_b: `Paris ${GOOD}` },
    { question: 'Largest planet?', answer: `Jupiter ${GOOD}`, answer_a: `Jupiter ${GOOD}`, answer_b: 'Mars' },
  ];
  const judgeConfig = { model: 'judge-model', model_source: 'serverless', system_template: 'Judge the answer to "{{question}}".' };

  it('for the files routes', async () => {
    const started = await h.request('POST', '/v1/files?purpose=eval&file_name=qa.jsonl');
    expectDocumented(started, 'post', '/v1/files');
    const id = started.headers.get('x-together-file-id')!;
    const target = new URL(started.headers.get('location')!);
    const early = await h.request('POST', `/v1/files/${id}/preprocess`);
    expectDocumented(early, 'post', '/v1/files/{id}/preprocess');
    const put = await h.request('PUT', `${target.pathname}${target.search}`, { body: QA.map((r) => JSON.stringify(r)).join('\n') });
    expectDocumented(put, 'put', '/v1/uploads/{id}');
    expectDocumented(await h.request('PUT', `${target.pathname}${target.search}`, { body: '{}' }), 'put', '/v1/uploads/{id}');
    expectDocumented(await h.request('PUT', `/v1/uploads/${id}?expires=1&signature=x`, { body: '{}' }), 'put', '/v1/uploads/{id}');
    expectDocumented(await h.request('POST', `/v1/files/${id}/preprocess`), 'post', '/v1/files/{id}/preprocess');
    expectDocumented(await h.request('GET', '/v1/files'), 'get', '/v1/files');
    expectDocumented(await h.request('GET', `/v1/files/${id}`), 'get', '/v1/files/{id}');
    expectDocumented(await h.request('GET', '/v1/files/file-missing'), 'get', '/v1/files/{id}');
    expectDocumented(await h.request('GET', `/v1/files/${id}/content`), 'get', '/v1/files/{id}/content');
    expectDocumented(await h.request('GET', `/v1/files/${id}/preview?limit=2`), 'get', '/v1/files/{id}/preview');
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file', new Blob(['{"q": 1}\n']), 'one.jsonl');
    const direct = await h.request('POST', '/v1/files/upload', { body: form });
    expectDocumented(direct, 'post', '/v1/files/upload');
    expectDocumented(await h.request('POST', '/v1/files/upload', { body: new URLSearchParams({ purpose: 'eval' }) }), 'post', '/v1/files/upload');
    expectDocumented(await h.request('DELETE', `/v1/files/${(direct.body as { id: string }).id}`), 'delete', '/v1/files/{id}');
  });

  it('for the evaluation routes, with classify, score and compare results', async () => {
    const file = await h.uploadJsonl(QA);
    const bodies = [
      { type: 'classify', parameters: { judge: judgeConfig, input_data_file_path: file.id, model_to_evaluate: 'answer', labels: ['good', 'bad'], pass_labels: ['good'] } },
      { type: 'score', parameters: { judge: judgeConfig, input_data_file_path: file.id, model_to_evaluate: { model: 'm', input_template: '{{question}}' }, min_score: 1, max_score: 10, pass_threshold: 7 } },
      { type: 'compare', parameters: { judge: judgeConfig, input_data_file_path: file.id, model_a: 'answer_a', model_b: 'answer_b' } },
    ];
    for (const body of bodies) {
      const created = await h.request('POST', '/v1/evaluation', { json: body });
      expectDocumented(created, 'post', '/v1/evaluation');
      const id = (created.body as { workflow_id: string }).workflow_id;
      const job = await h.waitForJob(id);
      expect(job.status).toBe('completed');
      expectDocumented(await h.request('GET', `/v1/evaluation/${id}`), 'get', '/v1/evaluation/{id}');
      expectDocumented(await h.request('GET', `/v1/evaluation/${id}/status`), 'get', '/v1/evaluation/{id}/status');
      expectDocumented(await h.request('GET', `/v1/evaluation/${id}/rows?limit=2`), 'get', '/v1/evaluation/{id}/rows');
      expectDocumented(await h.request('POST', `/v1/evaluation/${id}/retry-failed`), 'post', '/v1/evaluation/{id}/retry-failed');
      expectDocumented(await h.request('POST', `/v1/evaluation/${id}/cancel`), 'post', '/v1/evaluation/{id}/cancel');
    }
    expectDocumented(await h.request('POST', '/v1/evaluation', { json: { type: 'classify', parameters: {} } }), 'post', '/v1/evaluation');
    const huge = await h.request('POST', '/v1/evaluation', { json: { type: 'classify', parameters: { padding: 'x'.repeat(1_100_000) } } });
    expect(huge.status).toBe(413);
    expectDocumented(huge, 'post', '/v1/evaluation');
    expectDocumented(await h.request('GET', '/v1/evaluation?limit=5'), 'get', '/v1/evaluation');
    expectDocumented(await h.request('GET', '/v1/evaluations?status=completed'), 'get', '/v1/evaluations');
    expectDocumented(await h.request('GET', '/v1/evaluation?status=nope'), 'get', '/v1/evaluation');
    expectDocumented(await h.request('GET', '/v1/evaluation/model-list'), 'get', '/v1/evaluation/model-list');
    expectDocumented(await h.request('GET', '/v1/evaluations/model-list?model_source=external'), 'get', '/v1/evaluations/model-list');
    expectDocumented(await h.request('GET', '/v1/evaluation/eval-missing'), 'get', '/v1/evaluation/{id}');
    expectDocumented(await h.request('GET', '/v1/evaluation/eval-missing/rows?pass=maybe'), 'get', '/v1/evaluation/{id}/rows');
  });

  it('for a running job, with its progress, and a cancelled one', async () => {
    const file = await h.uploadJsonl([{ question: 'q0', answer: `a ${GOOD}` }, { question: 'q1', answer: 'b [hang]' }]);
    const id = await h.createJob({ type: 'classify', parameters: { judge: judgeConfig, input_data_file_path: file.id, model_to_evaluate: 'answer', labels: ['good', 'bad'], pass_labels: ['good'] } });
    await waitFor(
      async () => {
        const res = await h.request('GET', `/v1/evaluation/${id}`);
        return (res.body as Job).status === 'running' && res;
      },
      { what: 'the job to run' },
    );
    const running = await h.request('GET', `/v1/evaluation/${id}`);
    expect(running.body).toHaveProperty('progress');
    expectDocumented(running, 'get', '/v1/evaluation/{id}');
    expectDocumented(await h.request('GET', `/v1/evaluation/${id}/status`), 'get', '/v1/evaluation/{id}/status');
    expectDocumented(await h.request('POST', `/v1/evaluation/${id}/retry-failed`), 'post', '/v1/evaluation/{id}/retry-failed');
    const cancelled = await h.request('POST', `/v1/evaluation/${id}/cancel`);
    expectDocumented(cancelled, 'post', '/v1/evaluation/{id}/cancel');
    const job = cancelled.body as Job;
    expect(job.status).toBe('user_error');
    expect(job.results?.['cancelled']).toBe(true);
  });

  it('for templates, operations and the web UI', async () => {
    expectDocumented(await h.request('POST', '/v1/templates/render', { json: { template: 'Q: {{question}}', row: { question: '2+2?' } } }), 'post', '/v1/templates/render');
    expectDocumented(await h.request('POST', '/v1/templates/render', { json: { template: '{% if %}' } }), 'post', '/v1/templates/render');
    expectDocumented(await h.request('GET', '/healthz'), 'get', '/healthz');
    expectDocumented(await h.request('GET', '/readyz'), 'get', '/readyz');
    expectDocumented(await h.request('GET', '/metrics'), 'get', '/metrics');
    expectDocumented(await h.request('GET', '/ui'), 'get', '/ui');
    expectDocumented(await h.request('GET', '/ui/docs.css'), 'get', '/ui/{path}');
    expectDocumented(await h.request('GET', '/ui/missing.css'), 'get', '/ui/{path}');
    expectDocumented(await h.request('GET', '/docs'), 'get', '/docs');
    expectDocumented(await h.request('GET', '/v1/openapi.json'), 'get', '/v1/openapi.json');
    const page = await h.request('GET', '/');
    expect([200, 503]).toContain(page.status);
    expectDocumented(page, 'get', '/');
  });

  it('has exercised every documented operation', () => {
    expect([...documentedAnswers].sort()).toEqual(operations().map(({ method, path }) => `${method} ${path}`).sort());
  });
});

describe('the reference page', () => {
  it('is an HTML page, under the UI\'s content security policy, that renders /v1/openapi.json', async () => {
    const res = await h.request('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.text).toContain('href="/v1/openapi.json"');
    expect(res.text).toContain('src="/ui/client/docs.js"');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/\bstyle=/);
    for (const asset of ['/ui/docs.css', '/ui/styles.css']) expect((await h.request('GET', asset)).status, asset).toBe(200);
  });
});
