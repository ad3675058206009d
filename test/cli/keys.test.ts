/**
 * `assay keys` and the bind rule, as users run them: the real binary on a data directory (and on
 * PostgreSQL), a server on 0.0.0.0 that refuses to start without keys, and one that starts with
 * keys, wants them, and stays closed when the last one is revoked.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startServer, waitFor } from '../support/server-process.js';
import { json, runCli } from './cli.js';

interface KeyJson {
  id: string;
  owner: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  key?: string;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('assay keys on a data directory', () => {
  let dataDir: string;
  const made: KeyJson[] = [];
  beforeAll(() => {
    dataDir = join(dir, 'data');
  });

  it('says where it looked when there is no data yet', async () => {
    const res = await runCli(['keys', 'list', '--data-dir', dataDir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no assay data in .*data/);
  });

  it('creates keys, printing each once; --json gives the record and the key', async () => {
    const created = await runCli(['keys', 'create', '--owner', 'alice', '--data-dir', dataDir, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const alice = json<KeyJson>(created);
    expect(alice).toMatchObject({ owner: 'alice', revoked_at: null });
    expect(alice.key).toMatch(/^ak_[A-Za-z0-9]{32}$/);
    expect(alice.prefix).toBe(alice.key!.slice(0, 11));
    expect(alice.id).toMatch(/^key_[0-9a-f]{16}$/);
    made.push(alice);

    const plain = await runCli(['keys', 'create', '--owner', 'bob', '--data-dir', dataDir]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^ak_[A-Za-z0-9]{32}\n$/);
    expect(plain.stderr).toMatch(/for bob: store it now, it cannot be shown again/);
    made.push({ ...(json<{ data: KeyJson[] }>(await runCli(['keys', 'list', '--data-dir', dataDir, '--json'])).data[1]!), key: plain.stdout.trim() });
  });

  it('stores no key, only hashes and prefixes', async () => {
    const bytes = Buffer.concat(await Promise.all((await readdir(dataDir)).filter((f) => f.startsWith('assay.db')).map((f) => readFile(join(dataDir, f)))));
    for (const key of made) {
      expect(bytes.includes(Buffer.from(key.key!))).toBe(false);
      expect(bytes.includes(Buffer.from(key.prefix))).toBe(true);
    }
  });

  it('lists keys without the keys', async () => {
    const listed = await runCli(['keys', 'list', '--data-dir', dataDir, '--json']);
    const data = json<{ data: KeyJson[] }>(listed).data;
    expect(data.map((k) => [k.owner, k.prefix, k.revoked_at])).toEqual(made.map((k) => [k.owner, k.prefix, null]));
    for (const key of made) expect(listed.stdout).not.toContain(key.key);
    expect(data[0]).not.toHaveProperty('key');
    expect(data[0]).not.toHaveProperty('hash');
    const human = await runCli(['keys', 'ls', '--data-dir', dataDir]);
    expect(human.stdout).toMatch(/ID\s+OWNER\s+PREFIX\s+CREATED \(UTC\)\s+REVOKED \(UTC\)/);
    expect(human.stdout).toContain(`${made[0]!.prefix}…`);
  });

  it('refuses a bad owner name as a usage error', async () => {
    const res = await runCli(['keys', 'create', '--owner', 'not a name', '--data-dir', dataDir]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--owner must be/);
  });

  describe('a server on 0.0.0.0', () => {
    it('refuses to start without keys, saying what to do', async () => {
      const res = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', join(dir, 'empty')], { timeoutMs: 20_000 });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without API keys/);
      expect(res.stderr).toMatch(/assay keys create --owner NAME/);
      expect(res.stderr).toMatch(/--insecure-no-auth/);
      expect(res.stdout).not.toMatch(/listening/);
    });

    it('starts with --insecure-no-auth (or ASSAY_INSECURE_NO_AUTH) and is single-user', async () => {
      for (const opts of [{ args: ['--host', '0.0.0.0', '--insecure-no-auth'] }, { args: ['--host', '0.0.0.0'], env: { ASSAY_INSECURE_NO_AUTH: 'true' } }]) {
        const server = await startServer({ ...opts, dataDir: join(dir, 'open') });
        try {
          expect((await fetch(`${server.baseUrl}/files`)).status).toBe(200);
        } finally {
          await server.stop();
        }
      }
    });

    it('starts with keys, wants one, and stays closed when the last is revoked', async () => {
      const server = await startServer({ args: ['--host', '0.0.0.0'], dataDir, env: { ASSAY_API_KEY_CACHE_SECONDS: '0' } });
      try {
        const get = (key?: string) => fetch(`${server.baseUrl}/files`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
        expect((await get()).status).toBe(401);
        expect((await get(made[0]!.key)).status).toBe(200);
        for (const key of made) {
          const revoked = await runCli(['keys', 'revoke', key.id, '--data-dir', dataDir, '--json']);
          expect(revoked.code, revoked.stderr).toBe(0);
          expect(json<KeyJson>(revoked)).toMatchObject({ id: key.id, owner: key.owner, revoked_at: expect.any(Number) });
        }
        const closed = await waitFor(async () => {
          const res = await get(made[0]!.key);
          return res.status === 401 && ((await res.json()) as { error: { message: string } });
        }, { what: 'the revoked keys to be refused' });
        expect(closed.error.message).toMatch(/none has been made yet/);
        expect((await get()).status).toBe(401);
      } finally {
        await server.stop();
      }
      const again = await runCli(['keys', 'revoke', made[0]!.id, '--data-dir', dataDir]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/no unrevoked key with id/);
    });
  });
});

describe('assay keys on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await getTestDatabase();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('creates, lists and revokes keys in the database a distributed deployment shares', async () => {
    const url = await db.createDatabase();
    const created = json<KeyJson>(await runCli(['keys', 'create', '--owner', 'team-a', '--database', url, '--json']));
    expect(created.key).toMatch(/^ak_/);
    const listed = json<{ data: KeyJson[] }>(await runCli(['keys', 'list', '--database', url, '--json']));
    expect(listed.data.map((k) => [k.id, k.owner])).toEqual([[created.id, 'team-a']]);
    const revoked = await runCli(['keys', 'revoke', created.id, '--database', url, '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(json<{ data: KeyJson[] }>(await runCli(['keys', 'list', '--database', url, '--json'])).data[0]!.revoked_at).not.toBeNull();
  });
});
