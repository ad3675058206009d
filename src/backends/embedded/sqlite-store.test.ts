import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStoreContract, jobRecord } from '../../../test/contract/store-contract.js';
import Database from 'better-sqlite3';
import type { RowResult, StoredRowResult } from '../../domain/types.js';
import { MIGRATIONS, cacheKeyNumber, openSqliteStore } from './sqlite-store.js';

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
    const before = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE call_cache_entries'));
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

describe('row results in a table with rowids', () => {
  /** A row as a judge leaves it: its prompt makes it larger than an index page keeps in place. */
  const judged = (rowIndex: number, outcome: RowResult['outcome'] = 'ok'): RowResult => ({
    rowIndex,
    outcome,
    label: outcome === 'ok' ? 'correct' : null,
    score: null,
    choice: null,
    generationFailures: 0,
    judgeFailures: outcome === 'judge_failed' ? 1 : 0,
    usage: { judge: { prompt: 250, completion: 10 }, cacheMisses: 1 },
    input: { question: `What is ${rowIndex} + ${rowIndex}?`, id: rowIndex },
    fields: { label: 'correct', feedback: 'ok', judge_prompt: [{ role: 'system', content: 'Reply with one JSON object. '.repeat(40) }] },
  });
  const overflowPages = (file: string): number => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(`SELECT COUNT(*) FROM dbstat WHERE name = 'rows' AND pagetype = 'overflow'`).pluck().get() as number;
    } finally {
      db.close();
    }
  };

  it('moves the rows of an older database, with their counters, and keeps every row on its page', async () => {
    const file = path.join(dir, 'rows-migration.db');
    // A database as the release before the move left it: a job with two rows, one failed.
    const old = new Database(file);
    old.function('assay_cache_key_number', (key) => cacheKeyNumber(String(key)));
    const before = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE rows_by_rowid'));
    for (let v = 0; v < before; v++) old.exec(MIGRATIONS[v]!);
    old.pragma(`user_version = ${before}`);
    old
      .prepare(
        `INSERT INTO jobs (id, owner_id, type, status, status_updates, parameters, spec, row_count, created_at, updated_at, rows_done, rows_failed)
         VALUES ('eval-1', 'owner', 'classify', 'running', '[]', '{}', '{}', 4, 'then', 'then', 2, 1)`,
      )
      .run();
    const put = old.prepare(
      `INSERT INTO rows (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields, input) VALUES ('eval-1', ?, ?, ?, NULL, NULL, 0, ?, ?, ?, ?)`,
    );
    for (const r of [judged(0), judged(1, 'judge_failed')]) put.run(r.rowIndex, r.outcome, r.label, r.judgeFailures, JSON.stringify(r.usage), JSON.stringify(r.fields), JSON.stringify(r.input));
    old.close();
    expect(overflowPages(file)).toBe(2);

    const store = openSqliteStore(file);
    expect(await store.rowCounts('eval-1')).toEqual({ done: 2, failed: 1 });
    // A retry of the failed row replaces it, a new row is added, and the counters follow.
    await store.saveRows('eval-1', [judged(1), judged(2)]);
    expect(await store.rowCounts('eval-1')).toEqual({ done: 3, failed: 0 });
    const rows: StoredRowResult[] = [];
    for await (const row of store.iterateRows('eval-1')) rows.push(row);
    expect(rows.map((r) => [r.rowIndex, r.outcome, r.label])).toEqual([
      [0, 'ok', 'correct'],
      [1, 'ok', 'correct'],
      [2, 'ok', 'correct'],
    ]);
    expect(rows[0]!.fieldsJson).toBe(JSON.stringify(judged(0).fields));
    expect(await store.doneRowIndexes('eval-1', 0, 4)).toEqual(new Set([0, 1, 2]));
    await expect(store.saveRows('eval-1', [judged(2)])).resolves.toBeUndefined();
    expect(await store.rowCounts('eval-1')).toEqual({ done: 3, failed: 0 });
    await store.close();
    // The moved rows and the new ones all keep their bytes on the table's own pages.
    expect(overflowPages(file)).toBe(0);
  });
});

describe('migrations', () => {
  /** The built store, as another process loads it. */
  const storeModule = new URL('../../../dist/backends/embedded/sqlite-store.js', import.meta.url).href;
  // Each process says it is ready, waits for a line on stdin, opens the file, says how it went.
  const opener = `
    import { openSqliteStore } from ${JSON.stringify(storeModule)};
    import { once } from 'node:events';
    process.stdout.write('ready\\n');
    await once(process.stdin, 'data');
    try { await openSqliteStore(process.argv[1]).close(); process.stdout.write('opened'); }
    catch (err) { process.stdout.write('failed: ' + err.message); }
    process.exit(0);`;

  /** Opens `file` in `count` processes at the same moment; resolves with what each said. */
  async function openTogether(file: string, count: number): Promise<string[]> {
    const procs = Array.from({ length: count }, () => spawn(process.execPath, ['--input-type=module', '-e', opener, file], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const outputs = procs.map((p) => {
      let out = '';
      const exited = once(p, 'exit').then(() => out);
      const ready = new Promise<void>((resolve, reject) => {
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.startsWith('ready\n')) resolve();
        });
        void exited.then(() => reject(new Error(`an opener exited before it was ready: ${out}`)));
      });
      return { ready, exited };
    });
    await Promise.all(outputs.map((o) => o.ready));
    for (const p of procs) p.stdin.end('go\n');
    return (await Promise.all(outputs.map((o) => o.exited))).map((out) => out.slice('ready\n'.length));
  }

  function version(file: string): number {
    const db = new Database(file, { readonly: true });
    try {
      return db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  }

  it('applies each migration once when processes open one file together, fresh or older', async () => {
    for (let round = 0; round < 3; round++) {
      const fresh = path.join(dir, `together-fresh-${round}.db`);
      expect(await openTogether(fresh, 4)).toEqual(['opened', 'opened', 'opened', 'opened']);
      expect(version(fresh)).toBe(MIGRATIONS.length);

      // A file written by an older assay: the first three migrations only.
      const older = path.join(dir, `together-older-${round}.db`);
      const db = new Database(older);
      db.pragma('journal_mode = WAL');
      for (let v = 0; v < 3; v++) db.exec(`${MIGRATIONS[v]!}; PRAGMA user_version = ${v + 1};`);
      db.close();
      expect(await openTogether(older, 4)).toEqual(['opened', 'opened', 'opened', 'opened']);
      expect(version(older)).toBe(MIGRATIONS.length);
    }
    // And the file works: a store on it keeps a job.
    const store = openSqliteStore(path.join(dir, 'together-older-0.db'));
    await store.insertJob(jobRecord('eval-m'), { judge: 'k' });
    expect((await store.getJob('eval-m'))?.id).toBe('eval-m');
    await store.close();
  });
});

describe('a file that is not a database', () => {
  it('is refused with its path named', () => {
    const file = path.join(dir, 'garbage.db');
    fs.writeFileSync(file, 'these bytes were never a SQLite database, and there are enough of them to prove it');
    expect(() => openSqliteStore(file)).toThrow(`cannot open the database ${file}: file is not a database`);
  });
});

describe('the jobs version', () => {
  it('moves for changes made on another connection to the same file', async () => {
    const file = path.join(dir, 'jobs-version.db');
    const api = openSqliteStore(file);
    // As the engine thread or another process writes: the store contract checks one connection.
    const engine = openSqliteStore(file);
    try {
      const start = await api.jobsVersion!();
      await engine.insertJob(jobRecord('eval-v'), { judge: 'k' });
      const added = await api.jobsVersion!();
      expect(added).not.toBe(start);
      await engine.transitionJob('eval-v', ['pending'], { status: 'queued', message: 'queued', timestamp: '2026-01-01T00:00:02.000000Z' });
      expect(await api.jobsVersion!()).not.toBe(added);
    } finally {
      await api.close();
      await engine.close();
    }
  });
});

describe('call cache keys', () => {
  it('never answers a key with the reply of another key that shares its number', async () => {
    const first = 'abcdef0123456' + '0'.repeat(51);
    const second = 'abcdef0123456' + 'f'.repeat(51);
    expect(cacheKeyNumber(first)).toBe(cacheKeyNumber(second));
    const file = path.join(dir, 'cache-collision.db');
    const store = openSqliteStore(file);
    await store.putCachedCall(first, { content: 'first', usage: null }, 100);
    await store.putCachedCall(second, { content: 'second', usage: null }, 100);
    await store.close();
    // Read back from the file, past the entries still waiting to be written.
    const reopened = openSqliteStore(file);
    expect(await reopened.getCachedCall(first)).toEqual({ content: 'first', usage: null });
    // The second key could not be stored next to the first: a miss, never the first's reply.
    expect(await reopened.getCachedCall(second)).toBeUndefined();
    await reopened.close();
  });

  it('tells the next put why a batch of cache writes failed, and writes again once it can', async () => {
    const file = path.join(dir, 'cache-failure.db');
    const store = openSqliteStore(file);
    const other = new Database(file);
    other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON cached_calls BEGIN SELECT RAISE(ABORT, 'the disk says no'); END`);
    // A bound of 10 writes every entry at once, so the failure is known by the end of the put.
    await expect(store.putCachedCall('k1', { content: 'one', usage: null }, 10)).rejects.toThrow('1 call cache entry could not be written: the disk says no');
    other.exec('DROP TRIGGER refuse');
    other.close();
    await store.putCachedCall('k2', { content: 'two', usage: null }, 10);
    await store.close();
    const reopened = openSqliteStore(file);
    expect(await reopened.getCachedCall('k1')).toBeUndefined();
    expect(await reopened.getCachedCall('k2')).toEqual({ content: 'two', usage: null });
    await reopened.close();
  });

  it('numbers a hex digest by its first 13 digits, and any other key by its SHA-256', () => {
    expect(cacheKeyNumber('0000000000001' + 'a'.repeat(51))).toBe(1);
    expect(cacheKeyNumber('fffffffffffff')).toBe(2 ** 52 - 1);
    // Not hex: hashed first, so keys that differ anywhere get different numbers.
    expect(cacheKeyNumber('newest')).not.toBe(cacheKeyNumber('oldest'));
    expect(Number.isSafeInteger(cacheKeyNumber('newest'))).toBe(true);
  });
});
