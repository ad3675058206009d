/**
 * assay's whole HTTP API as an OpenAPI 3.1 document: Together's Files and Evaluations routes,
 * assay's additions, the operational routes and the web UI. Served at `GET /v1/openapi.json`
 * and rendered readably at `GET /docs`.
 *
 * `registerOpenApi` also records every route the app registers after it (`app.servedRoutes()`),
 * so a test can hold the document and the server to each other.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { paths } from './openapi-paths.js';
import { schemas } from './openapi-schemas.js';
import type { OpenApiDocument, Response } from './openapi-types.js';

export type { OpenApiDocument } from './openapi-types.js';

export interface ServedRoute {
  method: string;
  /** As Fastify spells it: `/v1/files/:id`, `/ui/*`. */
  url: string;
  /** Marked as needing no API key (`config.public`). */
  public: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after `registerOpenApi`, HEAD routes included. */
    servedRoutes(): ServedRoute[];
  }
}

const DESCRIPTION = `A self-hostable LLM-as-a-judge evaluation service. It serves Together AI's Evaluations and Files API under \`/v1\`, so the Together SDKs and CLIs work against it unchanged, and adds routes of its own beside them (marked as assay additions).

Jobs are asynchronous: upload a JSONL or CSV dataset, create a job, poll its status, read the aggregated results, download the per-row result file.

Compatibility notes:
- Classify \`label_counts\` is an object by default, as the live API returns it; Together's schema says a JSON string, which the server emits with \`ASSAY_LABEL_COUNTS_AS_STRING=true\`.
- A cancelled job ends in \`user_error\` with \`results.cancelled: true\`: released SDKs validate the six statuses and would reject a new one.
- \`GET /v1/evaluation/{id}/status\` leaves \`results\` out until there are results; Together's schema does not allow null there.
- Files carry \`LineCount\` and \`processing_status\` beside Together's fields. Compare results add \`invalid_judge_count\`; every result adds confidence intervals, token \`usage\` and, with prices configured, \`cost\`.
- Request bodies may hold explicit nulls (taken as absent) and unknown fields (ignored), as released SDKs send them.

Errors: every error answer, whatever its status, is the \`ErrorData\` envelope \`{"error": {"message", "type", "param", "code"}}\`. An unexpected failure answers 500 with \`x-should-retry: false\`, so no SDK retries a create that may have been stored.`;

const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorData' } } };
const UNAUTHORIZED: Response = {
  description: 'The API key is missing, unknown or revoked (`invalid_api_key`), on a server that has keys or requires them.',
  headers: { 'WWW-Authenticate': { schema: { const: 'Bearer' } } },
  content: ERROR_CONTENT,
};
const RATE_LIMITED: Response = {
  description: 'Too many requests for this API key (`rate_limited`), when the server limits them.',
  headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
  content: ERROR_CONTENT,
};

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The document. Operations that need an API key also list the 401 and 429 they can answer. */
export function openApiDocument(version = packageVersion()): OpenApiDocument {
  const documentPaths = structuredClone(paths);
  for (const item of Object.values(documentPaths)) {
    for (const operation of [item.get, item.put, item.post, item.delete, item.patch]) {
      if (operation && operation.security === undefined) {
        operation.responses['401'] ??= UNAUTHORIZED;
        operation.responses['429'] ??= RATE_LIMITED;
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'assay',
      version,
      summary: "LLM-as-a-judge evaluations, speaking Together AI's Evaluations and Files API.",
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'Files', description: 'Datasets and result files: the three-step upload the SDKs use, the direct upload, listing, download and deletion.' },
      { name: 'Evaluations', description: 'Creating evaluation jobs and following them to their results; cancel, retry and the row browser are assay additions.' },
      { name: 'Templates', description: 'Jinja2 templates as jobs render them.' },
      { name: 'Operations', description: 'Liveness, readiness and metrics, on API nodes and workers alike.' },
      { name: 'Web UI', description: 'The browser UI, its assets, and this reference.' },
    ],
    paths: documentPaths,
    components: {
      schemas: structuredClone(schemas),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            '`Authorization: Bearer <API key>` on every `/v1` route but the signed upload target and this document; routes outside `/v1` (health, metrics, the web UI) need none. ' +
            'Each key acts for its owner, who sees only their own files and jobs. A server without keys is a local single-user service and accepts any token or none, unless it listens beyond loopback, where it wants a key (`assay keys create`).',
        },
      },
    },
  };
}

/**
 * Serves the document at `GET /v1/openapi.json` (no key needed) and starts recording the
 * routes registered after this call. Register it before the other routes.
 */
export function registerOpenApi(app: FastifyInstance): void {
  const served: ServedRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      served.push({ method, url: route.url, public: (route.config as { public?: boolean } | undefined)?.public === true });
    }
  });
  app.decorate('servedRoutes', () => [...served]);

  const body = JSON.stringify(openApiDocument());
  app.get('/v1/openapi.json', { config: { public: true } }, (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(body),
  );
}
