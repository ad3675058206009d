/**
 * Messages between the embedded server's main thread (HTTP API) and its engine thread (jobs).
 * Calls carry an id and get exactly one reply; events flow from the engine thread unasked.
 * Errors cross as plain fields and are rebuilt as the same kind of AssayError, so the API answers
 * a job refused in the engine thread exactly as it would have in-process.
 */
import { AssayError, NotFoundError, ValidationError } from '../domain/errors.js';
import type { JobProgress } from '../engine/progress.js';

/** What the main thread may ask of the engine thread. */
export type EngineMethod = 'createJob' | 'cancelJob' | 'retryFailed' | 'start' | 'close' | 'metrics';

export interface CallMessage {
  kind: 'call';
  id: number;
  method: EngineMethod;
  args: unknown[];
}

/**
 * The first message a thread gets before any call: the server has opened its own store (so it
 * holds the data folder, and the file is migrated) and the thread may open its own.
 */
export interface OpenMessage {
  kind: 'open';
}

export type MainMessage = OpenMessage | CallMessage;

export interface WireError {
  name: string;
  message: string;
  code: string | null;
  httpStatus: number | null;
  param: string | null;
  retryable: boolean;
}

export type ThreadMessage =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: WireError }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; msg: string; extra: Record<string, unknown> | null }
  /** The thread's OS id (null where there is none), sent first, before the engine's modules load. */
  | { kind: 'thread'; osThreadId: number | null }
  /** Progress of the jobs running in the engine thread, sent a few times a second while any runs. */
  | { kind: 'progress'; jobs: Array<[string, JobProgress]> };

export function toWire(err: unknown): WireError {
  if (err instanceof AssayError) {
    return { name: err.name, message: err.message, code: err.code, httpStatus: err.httpStatus, param: err.param, retryable: err.retryable };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { name: err instanceof Error ? err.name : 'Error', message, code: null, httpStatus: null, param: null, retryable: false };
}

export function fromWire(wire: WireError): Error {
  if (wire.code === null || wire.httpStatus === null) {
    const err = new Error(wire.message);
    err.name = wire.name;
    return err;
  }
  if (wire.name === 'ValidationError') return new ValidationError(wire.message, wire.param, wire.code);
  if (wire.name === 'NotFoundError') return new NotFoundError(wire.message, wire.param);
  return new AssayError(wire.message, { code: wire.code, httpStatus: wire.httpStatus, param: wire.param, retryable: wire.retryable });
}
