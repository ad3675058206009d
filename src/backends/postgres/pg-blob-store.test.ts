import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { openPostgresBlobStore } from './pg-blob-store.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describe('the PostgreSQL blob store', () => {
  it('removes from its local folder the partial files of processes that died, as the local store does', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'assay-pg-cache-'));
    const pool = new pg.Pool({ connectionString: await db.createDatabase(), max: 2 });
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
