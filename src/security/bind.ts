/**
 * Whether a listen address is reachable from this machine only. A server on any other address,
 * with no API key made, refuses to start unless told it is fine (`--insecure-no-auth`).
 */
import { isIP } from 'node:net';
import { forbiddenReason } from './ssrf.js';

/** True for `localhost` and loopback addresses (`127.0.0.0/8`, `::1`, in any spelling). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  return isIP(bare) !== 0 && forbiddenReason(bare) === 'loopback';
}

export class InsecureBindError extends Error {}

/** Throws when the server would serve everyone's data to anyone on the network. */
export function checkBind(opts: { host: string; keysExist: boolean; insecureNoAuth: boolean }): void {
  if (opts.keysExist || opts.insecureNoAuth || isLoopbackHost(opts.host)) return;
  throw new InsecureBindError(
    `refusing to listen on ${opts.host} without API keys: anyone who can reach it could read every file and job. ` +
      'Create a key first (`assay keys create --owner NAME`, with the same --data-dir or --database), ' +
      'listen on 127.0.0.1, or pass --insecure-no-auth (ASSAY_INSECURE_NO_AUTH=true) when something in front of assay authenticates callers',
  );
}
