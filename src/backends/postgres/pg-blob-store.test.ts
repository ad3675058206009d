import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getTestDatabase, testPool, type TestDatabase } from '../../../test/support/postgres.js';
import type { JobSpec, StoredRowResult } from '../../domain/types.js';
import type { Store } from '../../engine/contracts.js';
import { writeResultFile } from '../../engine/result-file.js';
import { openPostgresBlobStore } from './pg-blob-store.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describe('the PostgreSQL blob store', () => {
  it('removes from its local folder the partial files of processes that died, as the local store does', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'assay-pg-cache-'));
    const pool = testPool(await db.createDatabase(), 2);
    try {
      const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
      const file = (name: string) => path.join(cacheDir, name);
      writeFileSync(file(`file-a.tmp-${dead}`), 'half a result file');
      writeFileSync(file(`.file-b.0123456789ab.upload-${dead}`), 'half an upload');
      writeFileSync(file(`.file-c.0123456789ab.upload-${process.ppid}`), 'an upload still being written');
      writeFileSync(file('file-d'), 'a cached file');
      await openPostgresBlobStore(pool, cacheDir);
      expect(existsSync(file(`file-a.tmp-${dead}`))).toBe(false);
      expect(existsSync(file(`.file-b.0123456789ab.upload-${dead}`))).toBe(false);
      expect(existsSync(file(`.file-c.0123456789ab.upload-${process.ppid}`))).toBe(true);
      expect(existsSync(file('file-d'))).toBe(true);
    } finally {
      await pool.end();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('a commit that takes a file while it is written', () => {
  /** Two nodes' blob stores on one database, each with its own local folder. */
  async function twoNodes() {
    const url = await db.createDatabase();
    const dirs = [mkdtempSync(path.join(tmpdir(), 'assay-pg-node-a-')), mkdtempSync(path.join(tmpdir(), 'assay-pg-node-b-'))];
    const pools = dirs.map(() => testPool(url, 2));
    const [a, b] = await Promise.all(dirs.map((dir, i) => openPostgresBlobStore(pools[i]!, dir)));
    return {
      a: a!,
      b: b!,
      url,
      pools,
      dirs,
      async close() {
        await Promise.all(pools.map((p) => p.end()));
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  /** 2.5 MiB of JSONL in pieces of about 256 KiB, as a result file's batches come. */
  const pieces = Array.from({ length: 10 }, (_, i) => Buffer.from(`{"row":${i},"text":"${'x'.repeat(256 * 1024 - 30)}"}\n`));

  it('lets other nodes read the file only once it is finished, whole', async () => {
    const nodes = await twoNodes();
    const pending = nodes.a.openCommit!('file-copied');
    try {
      for (const piece of pieces) await pending.add(piece);
      await expect(nodes.b.localPath('file-copied')).rejects.toThrow(/no stored contents/);
      await pending.finish();
      const copy = await nodes.b.localPath('file-copied');
      expect(readFileSync(copy).equals(Buffer.concat(pieces))).toBe(true);
      expect(await nodes.b.size('file-copied')).toBe(Buffer.concat(pieces).length);
    } finally {
      // Ended either way before the pools close, which wait for its connection.
      await pending.abort();
      await nodes.close();
    }
  });

  it('gives another node a file of more chunks than it fetches at once, every byte as written', async () => {
    const nodes = await twoNodes();
    // 9.5 MiB of every byte value (NULs and bytes that are not UTF-8 included), from a fixed seed:
    // ten chunks of the store, read back in two fetches.
    const bytes = Buffer.alloc(9.5 * 1024 * 1024);
    let x = 2463534242;
    for (let i = 0; i < bytes.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x & 0xff;
    }
    try {
      writeFileSync(nodes.a.stagingPath('file-many-chunks'), bytes);
      await nodes.a.commit('file-many-chunks');
      const copy = readFileSync(await nodes.b.localPath('file-many-chunks'));
      expect(copy.length).toBe(bytes.length);
      expect(copy.equals(bytes)).toBe(true);
    } finally {
      await nodes.close();
    }
  });

  it('streams a file another node has not cached straight from the database, leaving no copy behind', async () => {
    const nodes = await twoNodes();
    try {
      writeFileSync(nodes.a.stagingPath('file-streamed'), Buffer.concat(pieces));
      await nodes.a.commit('file-streamed');
      const read: Buffer[] = [];
      for await (const piece of await nodes.b.openRead('file-streamed')) read.push(piece as Buffer);
      expect(Buffer.concat(read).equals(Buffer.concat(pieces))).toBe(true);
      // Handed over in the store's chunks as they came, not as one copy of the file.
      expect(read.length).toBe(3);
      expect(readdirSync(nodes.dirs[1]!)).toEqual([]);
      // The node that wrote it reads its own copy.
      const own: Buffer[] = [];
      for await (const piece of await nodes.a.openRead('file-streamed')) own.push(piece as Buffer);
      expect(Buffer.concat(own).equals(Buffer.concat(pieces))).toBe(true);
      await expect(nodes.b.openRead('file-never-stored')).rejects.toThrow(/file file-never-stored has no stored contents/);
    } finally {
      await nodes.close();
    }
  });

  it('copies a file once for readers on one node that ask for it at the same time', async () => {
    const nodes = await twoNodes();
    try {
      writeFileSync(nodes.a.stagingPath('file-shared'), Buffer.concat(pieces));
      await nodes.a.commit('file-shared');
      const query = vi.spyOn(nodes.pools[1]!, 'query');
      const paths = await Promise.all([nodes.b.localPath('file-shared'), nodes.b.localPath('file-shared'), nodes.b.localPath('file-shared')]);
      expect(new Set(paths).size).toBe(1);
      expect(readFileSync(paths[0]!).equals(Buffer.concat(pieces))).toBe(true);
      const fetches = query.mock.calls.filter(([sql]) => String(sql).includes('encode(data'));
      expect(fetches).toHaveLength(1);
      // Once copied, the cache answers without the database.
      query.mockClear();
      expect(await nodes.b.localPath('file-shared')).toBe(paths[0]);
      expect(query).not.toHaveBeenCalled();
    } finally {
      await nodes.close();
    }
  });

  it('keeps an empty file as a file', async () => {
    const nodes = await twoNodes();
    try {
      const pending = nodes.a.openCommit!('file-empty');
      await pending.finish();
      expect(readFileSync(await nodes.b.localPath('file-empty')).length).toBe(0);
    } finally {
      await nodes.close();
    }
  });

  it('keeps nothing of a file whose commit was aborted', async () => {
    const nodes = await twoNodes();
    const pending = nodes.a.openCommit!('file-aborted');
    try {
      for (const piece of pieces) await pending.add(piece);
      await pending.abort();
      await expect(nodes.b.localPath('file-aborted')).rejects.toThrow(/no stored contents/);
    } finally {
      // Ended either way before the pools close, which wait for its connection.
      await pending.abort();
      await nodes.close();
    }
  });

  it('fails, keeping nothing, when its database connection is lost during the copy', async () => {
    const nodes = await twoNodes();
    const admin = new pg.Client({ connectionString: nodes.url });
    await admin.connect();
    const pending = nodes.a.openCommit!('file-cut');
    try {
      await pending.add(pieces[0]!);
      for (const piece of pieces.slice(1, 5)) await pending.add(piece);
      // The commit opens its transaction on its own while the writer goes on: on a busy machine it
      // may not have begun yet, so the cut waits for it (a bounded number of looks).
      let cut = 0;
      for (let look = 0; look < 2000 && cut === 0; look++) {
        const found = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`);
        cut = found.rowCount ?? 0;
      }
      expect(cut).toBe(1);
      let failed: unknown = null;
      try {
        for (const piece of pieces.slice(5)) await pending.add(piece);
        await pending.finish();
      } catch (err) {
        failed = err;
      }
      // The cause is the lost connection, however the socket learned of it.
      expect(String(failed)).toMatch(/terminat|connection|ECONNRESET|EPIPE/i);
      await expect(nodes.b.localPath('file-cut')).rejects.toThrow(/no stored contents/);
    } finally {
      // Before the pools close, which wait for the commit's connection: a failed expectation
      // above must fail the test, not hang it.
      await pending.abort();
      await admin.end();
      await nodes.close();
    }
  });
});

describe('a result file committed while the pass over its rows writes it', () => {
  const spec: JobSpec = {
    type: 'classify',
    fileId: 'file-dataset',
    judge: { model: 'j', source: 'serverless', baseUrl: null, secretRef: null, maxTokens: 1, temperature: 0, numWorkers: null, systemTemplate: '' },
    target: { kind: 'column', column: 'answer' },
    labels: ['good', 'bad'],
    passLabels: ['good'],
  };
  const ROWS = 3000;
  const result = (i: number): StoredRowResult => ({
    rowIndex: i,
    outcome: 'ok',
    label: 'good',
    score: null,
    choice: null,
    generationFailures: 0,
    judgeFailures: 0,
    usage: {},
    fieldsJson: JSON.stringify({ evaluation_successful: true, label: 'good', feedback: `row ${i} ${'is fine '.repeat(120)}` }),
  });
  /** The stored rows, as a store reads them back; with `failAt`, the read fails there, as a lost database would. */
  const rowsOf = (failAt?: number) =>
    ({
      async *iterateRows() {
        for (let i = 0; i < ROWS; i++) {
          if (i === failAt) throw new Error('the database went away');
          yield result(i);
        }
      },
    }) as unknown as Store;

  async function setUp() {
    const url = await db.createDatabase();
    const dir = mkdtempSync(path.join(tmpdir(), 'assay-pg-result-'));
    const pools = [0, 1].map(() => testPool(url, 2));
    const [writer, reader] = await Promise.all(pools.map((pool, i) => openPostgresBlobStore(pool, path.join(dir, `node-${i}`))));
    const datasetPath = path.join(dir, 'data.jsonl');
    writeFileSync(datasetPath, Array.from({ length: ROWS }, (_, i) => JSON.stringify({ id: i, answer: `answer ${i}` })).join('\n') + '\n');
    return {
      writer: writer!,
      reader: reader!,
      /** Connections of the writing node's pool that are checked out. */
      held: () => pools[0]!.totalCount - pools[0]!.idleCount,
      pass: (id: string, store: Store) =>
        writeResultFile({ store, jobId: 'eval-1', spec, datasetPath, datasetFormat: 'jsonl', destPath: writer!.stagingPath(id), summary: { labelCountsAsString: false }, commit: writer!.openCommit!(id) }),
      async close() {
        await Promise.all(pools.map((p) => p.end()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it('is the same file on another node as on the node that wrote it', async () => {
    const t = await setUp();
    try {
      const info = await t.pass('file-result', rowsOf());
      const written = readFileSync(t.writer.stagingPath('file-result'));
      expect(info.lineCount).toBe(ROWS);
      expect(written.length).toBe(info.bytes);
      expect(written.length).toBeGreaterThan(2 * 1024 * 1024);
      expect(readFileSync(await t.reader.localPath('file-result')).equals(written)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('leaves nothing, on either node, when the pass fails midway', async () => {
    const t = await setUp();
    try {
      await expect(t.pass('file-broken', rowsOf(2000))).rejects.toThrow(/database went away/);
      // The commit's transaction was rolled back and its connection given back.
      expect(t.held()).toBe(0);
      await expect(t.reader.localPath('file-broken')).rejects.toThrow(/no stored contents/);
      const writerDir = path.dirname(t.writer.stagingPath('file-broken'));
      expect(readdirSync(writerDir).filter((name) => name.includes('file-broken'))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
