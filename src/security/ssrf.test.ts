import { describe, expect, it } from 'vitest';
import { checkBaseUrl, forbiddenReason, guardedLookup, SsrfError } from './ssrf.js';

const none = { allow: [] as string[] };
const resolver = (map: Record<string, string[]>) => async (host: string) =>
  (map[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('forbiddenReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'this-network'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'unique local (private)'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata)'],
    ['::127.0.0.1', 'loopback'],
    ['[::1]', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 (maps IPv4)'],
    ['224.0.0.251', 'multicast'],
  ])('refuses %s (%s)', (ip, why) => {
    expect(forbiddenReason(ip)).toBe(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (ip) => {
    expect(forbiddenReason(ip)).toBeNull();
  });

  it('allows allowlisted networks', () => {
    expect(forbiddenReason('10.1.2.3', { allow: ['10.1.2.0/24'] })).toBeNull();
    expect(forbiddenReason('10.1.3.3', { allow: ['10.1.2.0/24'] })).toBe('private');
    expect(forbiddenReason('127.0.0.1', { allow: ['127.0.0.1'] })).toBeNull();
  });
});

describe('checkBaseUrl', () => {
  it.each([
    'http://2130706433/v1',
    'http://0x7f000001/v1',
    'http://0177.0.0.1/v1',
    'http://127.1/v1',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[::1]:8000/v1',
    'http://169.254.169.254/latest/meta-data',
    'http://[fd00:ec2::254]/',
    'http://0/',
  ])('refuses the address literal %s', async (url) => {
    await expect(checkBaseUrl(url, none, resolver({}))).rejects.toThrow(SsrfError);
  });

  it('refuses names that resolve to forbidden addresses, any of them', async () => {
    const dns = resolver({ 'evil.example': ['93.184.216.34', '10.0.0.5'], 'meta.example': ['169.254.169.254'], 'ok.example': ['93.184.216.34'] });
    await expect(checkBaseUrl('https://evil.example/v1', none, dns)).rejects.toThrow(/10\.0\.0\.5, a private address/);
    await expect(checkBaseUrl('https://meta.example/v1', none, dns)).rejects.toThrow(/link-local/);
    await expect(checkBaseUrl('https://ok.example/v1', none, dns)).resolves.toBeUndefined();
    await expect(checkBaseUrl('https://nowhere.example/v1', none, dns)).rejects.toThrow(/does not resolve/);
  });

  it('refuses other schemes and embedded credentials; honours the allowlist', async () => {
    await expect(checkBaseUrl('file:///etc/passwd', none)).rejects.toThrow(/only http and https/);
    await expect(checkBaseUrl('gopher://x/', none)).rejects.toThrow(/only http and https/);
    await expect(checkBaseUrl('http://user:pw@8.8.8.8/', none)).rejects.toThrow(/credentials/);
    await expect(checkBaseUrl('http://vllm.internal:8000/v1', { allow: ['vllm.internal'] }, resolver({}))).resolves.toBeUndefined();
    await expect(checkBaseUrl('http://127.0.0.1:8000/v1', { allow: ['127.0.0.0/8'] })).resolves.toBeUndefined();
  });
});

describe('guardedLookup', () => {
  it('refuses a connection to localhost and allows an allowlisted name', async () => {
    const lookup = (policy: { allow: string[] }) =>
      new Promise<unknown>((resolve, reject) => guardedLookup(policy)('localhost', {}, (err, address) => (err ? reject(err) : resolve(address))));
    await expect(lookup({ allow: [] })).rejects.toMatchObject({ code: 'EASSAYSSRF' });
    await expect(lookup({ allow: ['localhost'] })).resolves.toMatch(/127\.0\.0\.1|::1/);
  });
});
