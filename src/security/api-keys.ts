/**
 * API keys: how they look, how they are kept, and the server's short-lived memory of them.
 *
 * A key is `ak_` and 32 random base62 characters (about 190 bits). It is shown once, when it is
 * made; the store keeps only its SHA-256 hash and its first characters (to recognise it in a
 * listing). Each key belongs to one owner, and every file and job belongs to the owner whose key
 * made it.
 *
 * @example
 * const { key, record } = await issueApiKey(store, 'alice');
 * const keyring = createKeyring(store, { ttlMs: 10_000 });
 * (await keyring.authenticate(key))?.ownerId; // 'alice'
 */
import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from '../domain/errors.js';
import type { ApiKeyRecord } from '../domain/types.js';
import type { Store } from '../engine/contracts.js';

export const API_KEY_PREFIX = 'ak_';
const KEY_CHARS = 32;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Characters of a key kept for listings: `ak_` and 8 more (47 of its 190 bits). */
const SHOWN_CHARS = API_KEY_PREFIX.length + 8;

/** A new key: `ak_` + 32 base62 characters, each drawn without modulo bias. */
export function generateApiKey(): string {
  let out = API_KEY_PREFIX;
  while (out.length < API_KEY_PREFIX.length + KEY_CHARS) {
    for (const byte of randomBytes(48)) {
      // 248 = 4 × 62: bytes at or above it would favour the first characters.
      if (byte < 248 && out.length < API_KEY_PREFIX.length + KEY_CHARS) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function apiKeyPrefix(key: string): string {
  return key.slice(0, SHOWN_CHARS);
}

const OWNER = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** An owner name: letters, digits and `._@+-`, starting with a letter or digit, at most 128 characters. */
export function checkOwnerName(name: string): string {
  if (!OWNER.test(name)) {
    throw new ValidationError(`owner must be 1 to 128 letters, digits or ._@+- starting with a letter or digit; got "${name}"`, 'owner');
  }
  return name;
}

/** Makes a key for `ownerId` and stores its hash; the key itself is returned once and kept nowhere. */
export async function issueApiKey(store: Pick<Store, 'insertApiKey'>, ownerId: string, now = Date.now()): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey();
  const record: ApiKeyRecord = {
    id: `key_${randomBytes(8).toString('hex')}`,
    ownerId: checkOwnerName(ownerId),
    hash: hashApiKey(key),
    prefix: apiKeyPrefix(key),
    createdAt: Math.floor(now / 1000),
    revokedAt: null,
  };
  await store.insertApiKey(record);
  return { key, record };
}

/** The server's view of the keys, so that authenticating a request is not a query each time. */
export interface Keyring {
  /** Whether at least one unrevoked key exists (the server then wants a key on every API call). */
  keysExist(): Promise<boolean>;
  /** The last answer of `keysExist` without waiting; true before the first one, to fail closed. */
  keysExistNow(): boolean;
  /** The unrevoked key a bearer token is, or null. */
  authenticate(token: string): Promise<ApiKeyRecord | null>;
}

export interface KeyringOptions {
  /** How long an answer from the store is trusted; a revoke takes effect within it. */
  ttlMs: number;
  /** Most remembered tokens (unknown ones included); the memory is emptied when it is full. */
  maxEntries?: number;
  now?: () => number;
}

interface Cached<T> {
  value: Promise<T>;
  at: number;
}

export function createKeyring(store: Pick<Store, 'findApiKey' | 'hasApiKeys'>, opts: KeyringOptions): Keyring {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 10_000;
  const tokens = new Map<string, Cached<ApiKeyRecord | null>>();
  let exists: Cached<boolean> | undefined;
  let lastExists = true;

  const fresh = <T>(entry: Cached<T> | undefined): entry is Cached<T> => entry !== undefined && now() - entry.at < opts.ttlMs;

  return {
    keysExist() {
      if (!fresh(exists)) {
        const value = store.hasApiKeys().then((v) => (lastExists = v));
        // A failed query is not remembered: the next request asks again.
        value.catch(() => (exists = undefined));
        exists = { value, at: now() };
      }
      return exists.value;
    },
    keysExistNow: () => lastExists,
    authenticate(token) {
      const hash = hashApiKey(token);
      let entry = tokens.get(hash);
      if (!fresh(entry)) {
        if (tokens.size >= maxEntries) tokens.clear();
        const value = store.findApiKey(hash).then((record) => record ?? null);
        value.catch(() => tokens.delete(hash));
        entry = { value, at: now() };
        tokens.set(hash, entry);
      }
      return entry.value;
    },
  };
}
