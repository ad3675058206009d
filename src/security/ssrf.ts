/**
 * The SSRF guard: in a shared deployment, a job's `external_base_url` must not turn assay into a
 * way into the network it runs in. Addresses on loopback, link-local (cloud metadata included),
 * private, shared, multicast and reserved ranges are refused unless allowlisted. The check runs
 * on the URL when a job is created and again on every connection (so a name that changes what it
 * resolves to, or a redirect, cannot get around it).
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promisify } from 'node:util';

const lookupAll = promisify(dnsLookup);

/** Ranges no user-supplied endpoint may reach, with why. */
const FORBIDDEN: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'this-network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'protocol assignments'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'unique local (private)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64 (maps IPv4)'],
  ['2002::', 16, 'ipv6', '6to4 (maps IPv4)'],
];

export interface SsrfPolicy {
  /** Hosts (exact names) and networks (CIDR, e.g. `10.1.2.0/24`) that are allowed anyway. */
  allow: readonly string[];
}

/** IPv4 written inside IPv6 (`::ffff:127.0.0.1`, `::127.0.0.1`) is judged as the IPv4 it is. */
function unwrapIpv4(ip: string): string {
  const lower = ip.toLowerCase();
  const dotted = /^::(?:ffff:(?:0:)?)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^::(?:ffff:(?:0:)?)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return ip;
}

function buildList(entries: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList();
  for (const [net, prefix, type] of entries) list.addSubnet(net, prefix, type);
  return list;
}

const forbiddenLists = FORBIDDEN.map(([net, prefix, type, why]) => ({ list: buildList([[net, prefix, type]]), why }));

/** Why an IP address is off limits, or null when it may be reached. */
export function forbiddenReason(ip: string, policy: SsrfPolicy = { allow: [] }): string | null {
  const address = unwrapIpv4(ip.replace(/^\[|\]$/g, ''));
  const type = isIP(address) === 4 ? 'ipv4' : isIP(address) === 6 ? 'ipv6' : null;
  if (type === null) return 'not an IP address';
  if (allowedNetwork(address, type, policy)) return null;
  for (const { list, why } of forbiddenLists) if (list.check(address, type)) return why;
  return null;
}

function allowedNetwork(address: string, type: 'ipv4' | 'ipv6', policy: SsrfPolicy): boolean {
  for (const entry of policy.allow) {
    const [net, prefix] = entry.split('/');
    if (net === undefined || isIP(net) === 0) continue;
    const netType = isIP(net) === 4 ? 'ipv4' : 'ipv6';
    if (netType !== type) continue;
    const list = new BlockList();
    list.addSubnet(net, prefix === undefined ? (type === 'ipv4' ? 32 : 128) : Number(prefix), type);
    if (list.check(address, type)) return true;
  }
  return false;
}

export class SsrfError extends Error {}

/**
 * Checks a base URL: scheme, then the host (IP literals in every spelling are normalised by the
 * URL parser: `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` all mean 127.0.0.1), then
 * every address the name resolves to.
 */
export type Resolver = (host: string) => Promise<LookupAddress[]>;
const resolveAll: Resolver = (host) => lookupAll(host, { all: true, verbatim: true });

export async function checkBaseUrl(raw: string, policy: SsrfPolicy, resolve: Resolver = resolveAll): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SsrfError(`"${raw}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SsrfError(`only http and https base URLs are allowed, not ${url.protocol}`);
  if (url.username || url.password) throw new SsrfError('base URLs must not carry credentials; use external_api_token');
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (policy.allow.includes(host)) return;
  const addresses: string[] = isIP(host) ? [host] : (await resolve(host).catch(() => [] as LookupAddress[])).map((a) => a.address);
  if (addresses.length === 0) throw new SsrfError(`the host "${host}" does not resolve`);
  for (const address of addresses) {
    const why = forbiddenReason(address, policy);
    if (why !== null) {
      throw new SsrfError(
        `external_base_url ${url.origin} points at ${address}, a ${why} address, which this server does not allow ` +
          `(an administrator can allow it with ASSAY_ALLOWED_HOSTS)`,
      );
    }
  }
}

/** The `code` of the error a refused connection fails with. */
export const SSRF_ERROR_CODE = 'EASSAYSSRF';

/** The guard's refusal when `err` is one or was caused by one (fetch wraps it twice), else null. */
export function ssrfRefusal(err: unknown): Error | null {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === SSRF_ERROR_CODE && e instanceof Error) return e;
  }
  return null;
}

/**
 * A `dns.lookup`-compatible function that refuses forbidden addresses, for the connections
 * themselves: what a name resolves to when assay connects is what counts.
 */
export function guardedLookup(policy: SsrfPolicy) {
  return (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const allowedHost = policy.allow.includes(hostname.toLowerCase());
      for (const a of list) {
        const why = allowedHost ? null : forbiddenReason(a.address, policy);
        if (why !== null) {
          const error = new Error(`connection to ${hostname} (${a.address}) refused: ${why} address`) as NodeJS.ErrnoException;
          error.code = SSRF_ERROR_CODE;
          return callback(error, []);
        }
      }
      const all = (options as { all?: boolean }).all === true;
      if (all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
