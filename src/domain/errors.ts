/**
 * The one error taxonomy of assay. Every failure that can reach a user carries a stable `code`,
 * says whether retrying may help, and which HTTP status it maps to; the API turns these into
 * Together's `{"error": {message, type, param, code}}` envelope in one place.
 */
export class AssayError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  /** The request field or dataset column at fault, when there is one. */
  readonly param: string | null;

  constructor(
    message: string,
    opts: { code: string; httpStatus?: number; retryable?: boolean; param?: string | null; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.httpStatus = opts.httpStatus ?? 500;
    this.retryable = opts.retryable ?? false;
    this.param = opts.param ?? null;
  }
}

/** Bad input from the caller: a request field, an uploaded file, a template. */
export class ValidationError extends AssayError {
  constructor(message: string, param: string | null = null, code = 'invalid_request') {
    super(message, { code, httpStatus: 400, param });
  }
}

export class NotFoundError extends AssayError {
  constructor(message: string, param: string | null = null) {
    super(message, { code: 'not_found', httpStatus: 404, param });
  }
}

export class AuthError extends AssayError {
  constructor(message: string) {
    super(message, { code: 'invalid_api_key', httpStatus: 401 });
  }
}

/** Why a provider call failed, which decides whether it is worth retrying. */
export type ProviderErrorKind =
  | 'rate_limit'
  | 'transient'
  | 'timeout'
  | 'auth'
  | 'bad_request'
  | 'context_length'
  | 'not_found'
  | 'malformed'
  /** The SSRF guard refused to connect (the endpoint is on a private, loopback or link-local address). */
  | 'forbidden_address';

const RETRYABLE_KINDS: ReadonlySet<ProviderErrorKind> = new Set(['rate_limit', 'transient', 'timeout', 'malformed']);

/** A failed call to a model server (judge or model under test). */
export class ProviderError extends AssayError {
  readonly kind: ProviderErrorKind;
  readonly status: number | null;
  /** Milliseconds the provider asked us to wait (from retry-after / retry-after-ms), if any. */
  readonly retryAfterMs: number | null;

  constructor(
    message: string,
    opts: { kind: ProviderErrorKind; status?: number | null; retryAfterMs?: number | null; cause?: unknown },
  ) {
    super(message, {
      code: `provider_${opts.kind}`,
      httpStatus: 502,
      retryable: RETRYABLE_KINDS.has(opts.kind),
      cause: opts.cause,
    });
    this.kind = opts.kind;
    this.status = opts.status ?? null;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}
