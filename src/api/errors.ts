/** The one mapping from errors to Together's envelope `{"error": {message, type, param, code}}`. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AssayError } from '../domain/errors.js';

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function errorBody(status: number, message: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type: TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), param, code } };
}

export function sendError(reply: FastifyReply, status: number, message: string, param: string | null = null, code: string | null = null) {
  return reply.status(status).send(errorBody(status, message, param, code));
}

/** Fastify's own request errors (bad JSON, body too large) keep their 4xx status with a plain message. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'the request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the request body is empty; send a JSON object',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported Content-Type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is too large',
};

export function handleError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  // A request refused before its body was read (an upload stopped at a bad line or at the size
  // limit) leaves bytes on the connection that the next request would be parsed after: close it.
  if (!request.raw.complete) reply.header('connection', 'close');
  if (err instanceof AssayError) {
    if (err.httpStatus >= 500) request.log.error({ err }, 'request failed');
    return sendError(reply, err.httpStatus, err.message, err.param, err.code);
  }
  const status = (err as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = (err as FastifyError).code ?? null;
    const message = (code && FASTIFY_MESSAGES[code]) ?? err.message;
    return sendError(reply, status, message, null, code ? code.toLowerCase() : null);
  }
  request.log.error({ err }, 'request failed');
  // Never invite a client retry after an unexpected failure: a retried create could duplicate a job.
  reply.header('x-should-retry', 'false');
  return sendError(reply, 500, 'internal server error', null, 'internal_error');
}
