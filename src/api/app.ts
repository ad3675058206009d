/**
 * The HTTP app factory. Takes its dependencies, so tests can run it without a port
 * (`app.inject`) and the server can run it as a real process.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { Store } from '../engine/contracts.js';
import type { Engine } from '../engine/engine.js';
import type { FileService } from '../engine/file-service.js';
import { DEFAULT_LIMITS, type Limits, type RequestLogMode } from '../config/config.js';
import { nestsDeeperThan } from '../domain/json-depth.js';
import { LOCAL_OWNER, registerAuth, type AuthOptions } from './auth.js';
import { handleError, sendError } from './errors.js';
import { registerRequestLog } from './request-log.js';
import { registerOpenApi } from './openapi.js';
import { registerBrowseRoutes } from './routes/browse.js';
import { registerEvaluationRoutes } from './routes/evaluations.js';
import { registerFileRoutes } from './routes/files.js';
import type { UploadSigner } from './upload-url.js';
import { registerWebRoutes } from '../web/serve.js';
import { NO_SCHEMA_COMPILERS } from './no-schema-compilers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts for; every file and job belongs to one owner. */
    ownerId: string;
    /** The id of the API key the request came with (null without keys); logged, never the key. */
    keyId: string | null;
  }
  interface FastifyContextConfig {
    /** Routes that need no bearer token (the signed upload target). */
    public?: boolean;
  }
}

export interface AppDeps {
  store: Store;
  engine: Engine;
  files: FileService;
  signer: UploadSigner;
  models: string[];
  publicUrl: string | null;
  logLevel?: string;
  /** Routes outside the API proper (health, readiness, metrics), added by the process that serves. */
  registerExtra?: (app: FastifyInstance) => void;
  /** API keys and per-key rate limits; without them every caller is the local owner. */
  auth?: AuthOptions | null;
  /** What one request may bring (default DEFAULT_LIMITS). */
  limits?: Limits;
  /** Which requests get a log line (default `errors`). */
  requestLog?: RequestLogMode;
  /** Where log lines go (default stdout); tests capture them. */
  logStream?: { write(line: string): void };
}

export { LOCAL_OWNER };

export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const app = Fastify({
    logger: deps.logStream ? { level: deps.logLevel ?? 'info', stream: deps.logStream } : { level: deps.logLevel ?? 'info' },
    // Fastify's own request lines are off; request-log.ts writes one line per request as configured.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    bodyLimit: limits.maxBodyBytes,
    schemaController: NO_SCHEMA_COMPILERS,
  });
  app.decorateRequest('ownerId', '');
  app.decorateRequest('keyId', null);

  // SDKs send POST /files/{id}/preprocess with an empty body; an empty JSON body means "no body".
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const error = new Error(`the request body is not valid JSON: ${(err as Error).message}`) as Error & { statusCode: number };
      error.statusCode = 400;
      return done(error, undefined);
    }
    if (nestsDeeperThan(value, limits.maxJsonDepth)) {
      const error = new Error(`the request body nests deeper than ${limits.maxJsonDepth} levels`) as Error & { statusCode: number; code: string };
      error.statusCode = 400;
      error.code = 'JSON_TOO_DEEP';
      return done(error, undefined);
    }
    done(null, value);
  });
  await app.register(formbody);
  await app.register(multipart, { limits: { fileSize: Number.MAX_SAFE_INTEGER, fields: 100, parts: 110 } });

  registerAuth(app, deps.auth ?? null);
  registerRequestLog(app, deps.requestLog ?? 'errors');

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `no route for ${request.method} ${request.url.split('?')[0]}`, null, 'route_not_found'),
  );

  registerOpenApi(app);
  deps.registerExtra?.(app);
  registerFileRoutes(app, { files: deps.files, signer: deps.signer, publicUrl: deps.publicUrl });
  registerEvaluationRoutes(app, { engine: deps.engine, store: deps.store, models: deps.models });
  registerBrowseRoutes(app, { store: deps.store, files: deps.files, limits });
  registerWebRoutes(app);
  return app;
}
