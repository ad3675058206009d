/**
 * `assay keys create|list|revoke`: API keys, managed on the storage the server uses (its data
 * directory or its PostgreSQL database), so no server needs to run and no key is needed to make
 * the first one. A new key is printed once; only its hash is stored.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import type { ApiKeyRecord } from '../../domain/types.js';
import type { Store } from '../../engine/contracts.js';
import { checkOwnerName, issueApiKey } from '../../security/api-keys.js';
import { action, type CliIO, type CommandContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { table, when } from '../format.js';

interface StorageOptions {
  dataDir?: string;
  database?: string;
}

/** The server's store, opened directly: PostgreSQL with --database, else the SQLite file in the data directory. */
async function openStore(ctx: CommandContext, create: boolean): Promise<{ store: Store; where: string }> {
  const opts = ctx.opts as StorageOptions;
  const config = loadConfig({
    ...ctx.io.env,
    ...(opts.dataDir ? { ASSAY_DATA_DIR: opts.dataDir } : {}),
    ...(opts.database ? { ASSAY_DATABASE_URL: opts.database } : {}),
  });
  if (config.databaseUrl !== null) {
    const { openPostgresStore } = await import('../../backends/postgres/pg-store.js');
    return { store: await openPostgresStore(config.databaseUrl, { connectTimeoutMs: config.databaseConnectTimeoutMs }), where: 'the database' };
  }
  const file = path.join(config.dataDir, 'assay.db');
  if (!create && !fs.existsSync(file)) {
    throw new CliError(`no assay data in ${config.dataDir}`, { hint: 'pass the --data-dir (or --database) the server uses' });
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const { openSqliteStore } = await import('../../backends/embedded/sqlite-store.js');
  return { store: openSqliteStore(file), where: config.dataDir };
}

async function withStore<T>(ctx: CommandContext, create: boolean, fn: (store: Store, where: string) => Promise<T>): Promise<T> {
  const { store, where } = await openStore(ctx, create);
  try {
    return await fn(store, where);
  } finally {
    await store.close();
  }
}

/** A key as listed: never its hash, which is all the store has besides the prefix. */
function keyJson(key: ApiKeyRecord) {
  return { id: key.id, owner: key.ownerId, prefix: key.prefix, created_at: key.createdAt, revoked_at: key.revokedAt };
}

function storageOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'the data directory of an embedded server (env ASSAY_DATA_DIR, default ./.assay)')
    .option('--database <url>', 'the PostgreSQL database of a distributed deployment (env ASSAY_DATABASE_URL)');
}

export function registerKeysCommands(program: Command, io: CliIO): void {
  const keys = program
    .command('keys')
    .description("manage API keys on the server's storage (its data directory or database)")
    .addHelpText(
      'after',
      `
Once a key exists, every API call needs one (Authorization: Bearer <key>), and each owner sees
only its own files and jobs. Run these where the server's storage is reachable; no server needed.

Examples:
  $ assay keys create --owner alice
  $ assay keys list --database postgres://assay@db/assay
  $ assay keys revoke key_1a2b3c4d5e6f7a8b`,
    );

  storageOptions(keys.command('create'))
    .description('make a key for an owner and print it (once: only its hash is stored)')
    .requiredOption('--owner <name>', 'who the key acts for; owners see only their own files and jobs')
    .addHelpText(
      'after',
      `
Files and jobs made before any key existed belong to the owner "local": make a key with
--owner local to keep them.

Examples:
  $ assay keys create --owner alice
  $ assay keys create --owner ci --json | jq -r .key`,
    )
    .action(
      action(io, async (ctx) => {
        const owner = String((ctx.opts as { owner?: unknown }).owner ?? '');
        try {
          checkOwnerName(owner);
        } catch (err) {
          throw new UsageError((err as Error).message.replace(/^owner/, '--owner'));
        }
        const { key, record } = await withStore(ctx, true, (store) => issueApiKey(store, owner));
        ctx.result({ ...keyJson(record), key }, () => key);
        ctx.note(`key ${record.id} for ${record.ownerId}: store it now, it cannot be shown again`);
      }),
    );

  storageOptions(keys.command('list'))
    .alias('ls')
    .description('list keys: id, owner, prefix, when made and revoked (never the keys)')
    .action(
      action(io, async (ctx) => {
        const list = await withStore(ctx, false, (store) => store.listApiKeys());
        ctx.result({ object: 'list', data: list.map(keyJson) }, () => {
          if (list.length === 0) return 'no keys: the server is open to anyone who can reach it (loopback only by default)';
          return table(
            list.map((k) => [k.id, k.ownerId, `${k.prefix}…`, when(k.createdAt), k.revokedAt === null ? '' : when(k.revokedAt)]),
            { header: ['ID', 'OWNER', 'PREFIX', 'CREATED (UTC)', 'REVOKED (UTC)'] },
          );
        });
      }),
    );

  storageOptions(keys.command('revoke'))
    .description('revoke a key; servers stop accepting it within ASSAY_API_KEY_CACHE_SECONDS (10 s)')
    .argument('<id>', 'key id, from `assay keys list`')
    .action(
      action(io, async (ctx, id: string) => {
        const revoked = await withStore(ctx, false, async (store) => {
          if (!(await store.revokeApiKey(id, Math.floor(Date.now() / 1000)))) return null;
          return (await store.listApiKeys()).find((k) => k.id === id) ?? null;
        });
        if (revoked === null) throw new CliError(`no unrevoked key with id "${id}"`, { hint: 'see `assay keys list`' });
        ctx.result(keyJson(revoked), () => `revoked ${revoked.id} (${revoked.ownerId})`);
      }),
    );
}
