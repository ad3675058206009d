import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../domain/types.js';
import { apiKeyPrefix, checkOwnerName, createKeyring, generateApiKey, hashApiKey, issueApiKey } from './api-keys.js';

/** A store of keys in memory, counting its queries. */
function fakeStore() {
  const keys: ApiKeyRecord[] = [];
  const calls = { find: 0, has: 0 };
  return {
    keys,
    calls,
    fail: false,
    async insertApiKey(key: ApiKeyRecord) {
      keys.push({ ...key });
    },
    async findApiKey(hash: string) {
      calls.find++;
      if (this.fail) throw new Error('database down');
      return keys.find((k) => k.hash === hash && k.revokedAt === null);
    },
    async hasApiKeys() {
      calls.has++;
      if (this.fail) throw new Error('database down');
      return keys.some((k) => k.revokedAt === null);
    },
  };
}

describe('API keys', () => {
  it('are ak_ and 32 base62 characters, each one new', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(key).toMatch(/^ak_[A-Za-z0-9]{32}$/);
    expect(apiKeyPrefix('ak_abcdefghXYZ')).toBe('ak_abcdefgh');
  });

  it('are stored as a hash and a prefix, never as themselves', async () => {
    const store = fakeStore();
    const { key, record } = await issueApiKey(store, 'alice', 1_700_000_000_000);
    expect(record).toMatchObject({ ownerId: 'alice', hash: hashApiKey(key), prefix: key.slice(0, 11), createdAt: 1_700_000_000, revokedAt: null });
    expect(record.id).toMatch(/^key_[0-9a-f]{16}$/);
    expect(JSON.stringify(store.keys)).not.toContain(key);
  });

  it('belong to owners with plain names', () => {
    for (const ok of ['alice', 'local', 'team-a.ci', 'bob@example.com', 'A1']) expect(checkOwnerName(ok)).toBe(ok);
    for (const bad of ['', ' alice', 'a b', '-x', 'x'.repeat(129), 'ä', 'a/b']) expect(() => checkOwnerName(bad)).toThrow(/owner must be/);
  });
});

describe('createKeyring', () => {
  it('asks the store once per token and per ttl, and sees a revoke after the ttl', async () => {
    const store = fakeStore();
    let t = 0;
    const keyring = createKeyring(store, { ttlMs: 1000, now: () => t });
    const { key, record } = await issueApiKey(store, 'alice');
    const [a, b] = await Promise.all([keyring.authenticate(key), keyring.authenticate(key)]);
    expect(a?.ownerId).toBe('alice');
    expect(b?.id).toBe(record.id);
    expect(store.calls.find).toBe(1);
    expect(await keyring.authenticate('ak_unknown')).toBeNull();
    expect(await keyring.authenticate('ak_unknown')).toBeNull();
    expect(store.calls.find).toBe(2);

    store.keys[0]!.revokedAt = 1;
    t = 999;
    expect(await keyring.authenticate(key)).not.toBeNull();
    t = 1000;
    expect(await keyring.authenticate(key)).toBeNull();
  });

  it('remembers whether keys exist for the ttl, and assumes they do before it knows', async () => {
    const store = fakeStore();
    let t = 0;
    const keyring = createKeyring(store, { ttlMs: 1000, now: () => t });
    expect(keyring.keysExistNow()).toBe(true);
    expect(await keyring.keysExist()).toBe(false);
    expect(keyring.keysExistNow()).toBe(false);
    await issueApiKey(store, 'alice');
    expect(await keyring.keysExist()).toBe(false);
    t = 1000;
    expect(await keyring.keysExist()).toBe(true);
    expect(store.calls.has).toBe(2);
  });

  it('does not remember a failed lookup, and bounds what it remembers', async () => {
    const store = fakeStore();
    const keyring = createKeyring(store, { ttlMs: 60_000, maxEntries: 3 });
    store.fail = true;
    await expect(keyring.keysExist()).rejects.toThrow('database down');
    await expect(keyring.authenticate('ak_x')).rejects.toThrow('database down');
    store.fail = false;
    expect(await keyring.keysExist()).toBe(false);
    expect(await keyring.authenticate('ak_x')).toBeNull();
    for (const token of ['a', 'b', 'c', 'd', 'e']) await keyring.authenticate(token);
    const before = store.calls.find;
    await keyring.authenticate('e');
    expect(store.calls.find).toBe(before);
  });
});
