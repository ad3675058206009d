import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStoreContract, jobRecord } from '../../../test/contract/store-contract.js';
import Database from 'better-sqlite3';
import { MIGRATIONS, openSqliteStore } from './sqlite-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-sqlite-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreContract('sqlite', async () => openSqliteStore(path.join(dir, `store-${n++}.db`)));

describe('sqlite store on disk', () => {
  it('keeps everything across a reopen of the same file', async () => {
    const file = path.join(dir, 'reopen.db');
    const first = openSqliteStore(file);
    await first.insertJob(jobRecord('eval-1'), { judge: 'k' });
    await first.close();
    const second = openSqliteStore(file);
    expect((await second.getJob('eval-1'))?.id).toBe('eval-1');
    expect(await second.getJobSecrets('eval-1')).toEqual({ judge: 'k' });
    await second.close();
  });

  it('keeps the call cache, and its recency, when it moves to the table in insertion order', async () => {
    const file = path.join(dir, 'cache-migration.db');
    // A database as the release before the move left it, with three cached calls.
    const old = new Database(file);
    const before = MIGRATIONS.length - 1;
    for (let v = 0; v < before; v++) old.exec(MIGRATIONS[v]!);
    old.pragma(`user_version = ${before}`);
    const put = old.prepare(`INSERT INTO call_cache (key, content, usage, last_used) VALUES (?, ?, ?, ?)`);
    put.run('newest', 'c', '{"promptTokens":1,"completionTokens":2}', 30);
    put.run('oldest', 'a', null, 10);
    put.run('middle', 'b', null, 20);
    old.close();

    const store = openSqliteStore(file);
    // A fourth entry over a bound of 3 evicts down to 90% of it: the two least recently used go.
    await store.putCachedCall('fresh', { content: 'd', usage: null }, 3);
    await store.close();
    const reopened = openSqliteStore(file);
    expect(await reopened.getCachedCall('oldest')).toBeUndefined();
    expect(await reopened.getCachedCall('middle')).toBeUndefined();
    expect(await reopened.getCachedCall('newest')).toEqual({ content: 'c', usage: { promptTokens: 1, completionTokens: 2 } });
    expect(await reopened.getCachedCall('fresh')).toEqual({ content: 'd', usage: null });
    await reopened.close();
  });
});
