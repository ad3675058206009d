/**
 * Files API under /v1: the SDKs' three-step upload (`POST /files` → 302 to a signed PUT target →
 * `POST /files/{id}/preprocess` or `GET /files/{id}`), the direct multipart `POST /files/upload`,
 * and list / retrieve / content / delete.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { FileAnnouncement, FileService } from '../../engine/file-service.js';
import { AssayError, ValidationError } from '../../domain/errors.js';
import { fileJson } from '../serialize.js';
import { sendError } from '../errors.js';
import type { UploadSigner } from '../upload-url.js';

interface Deps {
  files: FileService;
  signer: UploadSigner;
  publicUrl: string | null;
}

type Fields = Record<string, string | undefined>;

function pickFields(...sources: unknown[]): Fields {
  const out: Fields = {};
  for (const source of sources) {
    if (!source || typeof source !== 'object') continue;
    for (const key of ['purpose', 'file_name', 'file_type', 'filename']) {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'string' && out[key] === undefined) out[key] = value;
    }
  }
  return out;
}

function announcement(ownerId: string, fields: Fields): FileAnnouncement {
  return { ownerId, purpose: fields.purpose, filename: fields.file_name ?? fields.filename, fileType: fields.file_type };
}

/** Multipart fields, plus the first file part (consumed by `onFile` before the remaining parts are read). */
async function readMultipart(request: FastifyRequest, onFile: (fields: Fields, file: Readable, filename: string) => Promise<unknown>) {
  const fields: Fields = {};
  let result: unknown;
  let sawFile = false;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (typeof part.value === 'string') fields[part.fieldname] = part.value;
      } else if (!sawFile) {
        sawFile = true;
        result = await onFile({ ...fields }, part.file, part.filename);
      } else {
        part.file.resume();
      }
    }
  } catch (err) {
    if (err instanceof AssayError || (err as { statusCode?: number }).statusCode !== undefined) throw err;
    // The multipart parser's own complaints (truncated body, no boundary) are the client's fault.
    throw new ValidationError(`the multipart body is malformed: ${(err as Error).message}`, null, 'invalid_multipart');
  }
  return { fields, sawFile, result };
}

/** An ASCII fallback name plus the exact name in RFC 5987 form, so any filename is a valid header. */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function registerFileRoutes(app: FastifyInstance, deps: Deps): void {
  const { files, signer } = deps;

  app.post('/v1/files', async (request, reply) => {
    let fields = pickFields(request.query, request.body);
    if (request.isMultipart()) {
      // Python SDK v2 sends the fields as multipart without a file part; with one, it is a direct upload.
      const parsed = await readMultipart(request, (f, stream, name) =>
        files.upload(announcement(request.ownerId, { ...pickFields(request.query), ...f, file_name: f.file_name ?? name }), stream),
      );
      if (parsed.sawFile) return reply.send(fileJson(parsed.result as Awaited<ReturnType<FileService['upload']>>));
      fields = { ...fields, ...pickFields(parsed.fields) };
    }
    const file = await files.announce(announcement(request.ownerId, fields));
    const { expires, signature } = signer.sign(file.id);
    const origin = deps.publicUrl ?? `${request.protocol}://${request.host}`;
    return reply
      .code(302)
      .header('location', `${origin}/v1/uploads/${file.id}?expires=${expires}&signature=${signature}`)
      .header('x-together-file-id', file.id)
      .send();
  });

  // The signed upload target: no bearer token (the SDKs send none), any content type, streamed.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.put<{ Params: { id: string }; Querystring: { expires?: string; signature?: string } }>(
      '/v1/uploads/:id',
      { config: { public: true } },
      async (request, reply) => {
        const { id } = request.params;
        if (!signer.verify(id, request.query.expires, request.query.signature)) {
          request.raw.resume();
          return sendError(reply, 403, 'the upload URL is invalid or has expired; start the upload again', null, 'invalid_signature');
        }
        const body = (request.body as Readable | undefined) ?? request.raw;
        try {
          // Not destroyed when ingest stops early, so the rest can still be read and discarded.
          await files.receive(id, { [Symbol.asyncIterator]: () => body.iterator({ destroyOnReturn: false }) });
        } catch (err) {
          // Read and discard the rest so the client sees the answer rather than a reset connection.
          body.resume();
          throw err;
        }
        return reply.send({ id, object: 'file', status: 'uploaded' });
      },
    );
  });

  app.post<{ Params: { id: string } }>('/v1/files/:id/preprocess', async (request) => {
    const file = await files.get(request.params.id, request.ownerId);
    if (file.state !== 'ready') {
      throw new ValidationError(`file ${file.id} has not been uploaded yet: PUT its bytes to the upload URL first`, 'id', 'not_uploaded');
    }
    return fileJson(file);
  });

  app.post('/v1/files/upload', async (request, reply) => {
    if (!request.isMultipart()) {
      throw new ValidationError('POST /v1/files/upload takes multipart/form-data with purpose, file_name and file', null);
    }
    const parsed = await readMultipart(request, (fields, stream, name) =>
      files.upload(announcement(request.ownerId, { ...fields, file_name: fields.file_name ?? name }), stream),
    );
    if (!parsed.sawFile) throw new ValidationError('the multipart body has no "file" part', 'file');
    return reply.send(fileJson(parsed.result as Awaited<ReturnType<FileService['upload']>>));
  });

  app.get('/v1/files', async (request) => ({
    object: 'list',
    data: (await files.list(request.ownerId)).map(fileJson),
  }));

  app.get<{ Params: { id: string } }>('/v1/files/:id', async (request) => fileJson(await files.get(request.params.id, request.ownerId)));

  app.get<{ Params: { id: string } }>('/v1/files/:id/content', async (request, reply) => {
    const { file, bytes, stream } = await files.open(request.params.id, request.ownerId);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', bytes)
      .header('content-disposition', contentDisposition(file.filename))
      .send(stream);
  });

  app.delete<{ Params: { id: string } }>('/v1/files/:id', async (request) => {
    await files.delete(request.params.id, request.ownerId);
    return { id: request.params.id, object: 'file', deleted: true };
  });
}
