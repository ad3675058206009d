/**
 * What the command line says when something goes wrong, and with which exit code: 2 for a command
 * used wrongly (bad or conflicting flags), 1 for everything else (the server refused, the job
 * failed, no server answered). Every message says what to do next where there is something to do.
 */
import { AssayError, ValidationError } from '../domain/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** What shells report for a process stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export class CliError extends Error {
  readonly exitCode: number;
  /** A second line saying what to do about it. */
  readonly hint: string | null;

  constructor(message: string, opts: { exitCode?: number; hint?: string | null; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? EXIT_FAILURE;
    this.hint = opts.hint ?? null;
  }
}

/** The command was used wrongly: flags missing, conflicting or out of range. Exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, hint: string | null = null) {
    super(message, { exitCode: EXIT_USAGE, hint });
  }
}

/** A server answered with an error status; `message` is the server's own when it sent one. */
export class ApiError extends CliError {
  readonly status: number;
  readonly type: string | null;
  readonly code: string | null;
  readonly param: string | null;

  constructor(
    message: string,
    opts: { status: number; type?: string | null; code?: string | null; param?: string | null; hint?: string | null },
  ) {
    super(message, { hint: opts.hint ?? null });
    this.status = opts.status;
    this.type = opts.type ?? null;
    this.code = opts.code ?? null;
    this.param = opts.param ?? null;
  }
}

/** No answer at all: nothing listens, the name does not resolve, the connection dropped. */
export class ConnectionError extends CliError {}

/** Turns a failed `fetch` into a message naming the URL and what to try. */
export function connectionError(err: unknown, url: string, isApi: boolean): ConnectionError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : null;
  const detail = typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err);
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new ConnectionError(`${url} did not answer in time`, { cause: err, hint: 'check that the server is up and reachable' });
  }
  if (code === 'ECONNREFUSED' && isApi) {
    return new ConnectionError(`no assay server at ${url}; start one with \`npx assay serve\` or pass --base-url`, { cause: err });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    const host = safeHost(url);
    return new ConnectionError(`cannot resolve the host ${host}`, { cause: err, hint: isApi ? 'check --base-url (or ASSAY_BASE_URL)' : null });
  }
  return new ConnectionError(`cannot reach ${url}: ${code ?? detail}`, {
    cause: err,
    hint: isApi ? 'check --base-url (or ASSAY_BASE_URL) and that the server is running' : null,
  });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The message, hint and exit code for any error that reaches the top of a command. */
export function describeError(err: unknown): { message: string; hint: string | null; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, hint: err.hint, exitCode: err.exitCode };
  // The embedded engine (`assay run`) refuses a job the same way the server answers 400.
  if (err instanceof ValidationError) return { message: err.message, hint: null, exitCode: EXIT_USAGE };
  if (err instanceof AssayError) return { message: err.message, hint: null, exitCode: EXIT_FAILURE };
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    return { message: (err as Error).message, hint: null, exitCode: EXIT_FAILURE };
  }
  return { message: err instanceof Error ? err.message : String(err), hint: null, exitCode: EXIT_FAILURE };
}
