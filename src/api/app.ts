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
import { handleError, sendError } from './errors.js';
import { registerBrowseRoutes } from './routes/browse.js';
import { registerEvaluationRoutes } from './routes/evaluations.js';
import { registerFileRoutes } from './routes/files.js';
import type { UploadSigner } from './upload-url.js';
import { registerWebRoutes } from '../web/serve.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts for; every file and job belongs to one owner. */
    ownerId: string;
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
}

/** With no API keys configured, assay is a local single-user service: every caller is this owner. */
export const LOCAL_OWNER = 'local';

export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.logLevel ?? 'info' },
    // No per-request log lines on the hot path; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    bodyLimit: 16 * 1024 * 1024,
  });
  app.decorateRequest('ownerId', '');

  // SDKs send POST /files/{id}/preprocess with an empty body; an empty JSON body means "no body".
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const error = new Error(`the request body is not valid JSON: ${(err as Error).message}`) as Error & { statusCode: number };
      error.statusCode = 400;
      done(error, undefined);
    }
  });
  await app.register(formbody);
  await app.register(multipart, { limits: { fileSize: Number.MAX_SAFE_INTEGER, fields: 100, parts: 110 } });

  app.addHook('onRequest', async (request) => {
    request.ownerId = LOCAL_OWNER;
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `no route for ${request.method} ${request.url.split('?')[0]}`, null, 'route_not_found'),
  );

  deps.registerExtra?.(app);
  registerFileRoutes(app, { files: deps.files, signer: deps.signer, publicUrl: deps.publicUrl });
  registerEvaluationRoutes(app, { engine: deps.engine, store: deps.store, models: deps.models });
  registerBrowseRoutes(app, { store: deps.store, files: deps.files });
  registerWebRoutes(app);
  return app;
}
