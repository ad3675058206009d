/**
 * The SSRF guard at connection time: a dispatcher for user-supplied model endpoints whose every
 * connection (the first one and any a redirect leads to) is checked against the guard's policy.
 * Names are checked on the addresses they resolve to when the connection is made, so a name that
 * resolved to a public address when the job was created and to a private one now is refused; IP
 * literals, which need no lookup, are checked as they are.
 *
 * The guard is on only while `active()` says so (assay turns it on while API keys exist); a
 * single-user server reaches loopback model servers as before.
 */
import { isIP } from 'node:net';
import type { buildConnector, Dispatcher } from 'undici';
import { AGENT_OPTIONS, withRedirects } from '../providers/http-dispatch.js';
import { undici } from '../providers/undici-module.js';
import { forbiddenReason, guardedLookup, SSRF_ERROR_CODE, type SsrfPolicy } from './ssrf.js';

function refused(host: string, why: string): NodeJS.ErrnoException {
  const error = new Error(`connection to ${host} refused: ${why} address`) as NodeJS.ErrnoException;
  error.code = SSRF_ERROR_CODE;
  return error;
}

/** A connector that refuses forbidden addresses while the guard is active. */
export function guardedConnector(policy: SsrfPolicy, active: () => Promise<boolean>): buildConnector.connector {
  const { buildConnector } = undici();
  const plain = buildConnector({});
  const guarded = buildConnector({ lookup: guardedLookup(policy) });
  return (options, callback) => {
    active().then(
      (on) => {
        if (!on) return plain(options, callback);
        const host = options.hostname.replace(/^\[|\]$/g, '').toLowerCase();
        if (isIP(host) !== 0 && !policy.allow.includes(host)) {
          const why = forbiddenReason(host, policy);
          if (why !== null) return callback(refused(host, why), null);
        }
        guarded(options, callback);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
}

/**
 * Connections that pass the guard, redirects followed (and each checked). Give it to the model
 * client for endpoints a user named; the server's own configured provider does not need it.
 */
export function createGuardedDispatcher(policy: SsrfPolicy, active: () => Promise<boolean>): Dispatcher {
  return withRedirects(new (undici().Agent)({ ...AGENT_OPTIONS, connect: guardedConnector(policy, active) }));
}
