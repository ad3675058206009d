/**
 * The SSRF guard as the server uses it: a check of every user-supplied `external_base_url` when a
 * job is created (a 400 naming the field and the reason), and connections that are checked
 * again when made to such endpoints while the job runs. Both are on only while `active()` says
 * so: assay turns them on while API keys exist, and a single-user server reaches loopback model
 * servers (Ollama, vLLM) as before. The configured provider (`ASSAY_PROVIDER_BASE_URL`) is
 * trusted and never passes through here.
 */
import { lookup } from 'node:dns/promises';
import { ValidationError } from '../domain/errors.js';
import type { Dispatcher } from 'undici';
import { createGuardedDispatcher } from './guarded-dispatcher.js';
import { checkBaseUrl, SsrfError, type Resolver, type SsrfPolicy } from './ssrf.js';

export interface EndpointGuard {
  /** Throws a ValidationError naming `param` when the guard is active and `baseUrl` may not be reached. */
  check(baseUrl: string, param: string): Promise<void>;
  /**
   * Connections for user-named endpoints: the same rules again at connection time, redirects
   * included. Made on first use, so a node that makes no model calls never loads the HTTP client.
   */
  dispatcher(): Dispatcher;
}

export interface EndpointGuardOptions {
  /** Host names, addresses and CIDR networks reachable anyway (ASSAY_ALLOWED_HOSTS). */
  allow: readonly string[];
  /** Whether the guard applies now. */
  active: () => Promise<boolean>;
  /** Name resolution for the creation-time check (tests inject one). */
  resolve?: Resolver;
  /** A name that does not resolve within this long counts as not resolving. Default 5 s. */
  resolveTimeoutMs?: number;
}

function boundedResolver(timeoutMs: number): Resolver {
  return (host) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`resolving ${host} took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([lookup(host, { all: true, verbatim: true }), timeout]).finally(() => clearTimeout(timer));
  };
}

export function createEndpointGuard(opts: EndpointGuardOptions): EndpointGuard {
  const policy: SsrfPolicy = { allow: opts.allow.map((entry) => entry.toLowerCase()) };
  const resolve = opts.resolve ?? boundedResolver(opts.resolveTimeoutMs ?? 5000);
  let dispatcher: Dispatcher | undefined;
  return {
    async check(baseUrl, param) {
      if (!(await opts.active())) return;
      try {
        await checkBaseUrl(baseUrl, policy, resolve);
      } catch (err) {
        if (!(err instanceof SsrfError)) throw err;
        throw new ValidationError(`${param}: ${err.message}`, param, 'forbidden_address');
      }
    },
    dispatcher: () => (dispatcher ??= createGuardedDispatcher(policy, opts.active)),
  };
}
