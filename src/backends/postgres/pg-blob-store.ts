/**
 * File contents in PostgreSQL, so every node of a distributed deployment can read every file
 * without another service to run (docs/distributed.md says why this beats an object store here).
 * A file is stored as 1 MiB chunks; each node keeps a local cache of the files it has read, which
 * is safe because a file's bytes never change once committed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { BlobStore } from '../../engine/contracts.js';
import { removeAbandonedPartials } from '../partial-files.js';

const CHUNK_BYTES = 1024 * 1024;

const SCHEMA = `CREATE TABLE IF NOT EXISTS file_chunks (
  file_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (file_id, seq)
)`;

export async function openPostgresBlobStore(pool: pg.Pool, cacheDir: string): Promise<BlobStore> {
  fs.mkdirSync(cacheDir, { recursive: true });
  // Result files and uploads are written here before they go to the database.
  removeAbandonedPartials(cacheDir);
  const client = await pool.connect();
  try {
    // Nodes starting together must not race on the DDL.
    await client.query('SELECT pg_advisory_lock(7202511)');
    await client.query(SCHEMA);
  } finally {
    await client.query('SELECT pg_advisory_unlock(7202511)').catch(() => {});
    client.release();
  }

  const cachePath = (fileId: string): string => {
    if (!/^[A-Za-z0-9_-]+$/.test(fileId)) throw new Error(`invalid file id ${JSON.stringify(fileId)}`);
    return path.join(cacheDir, fileId);
  };

  /** The chunks of a file in order, fetched a few at a time so memory stays small. */
  async function* chunks(fileId: string): AsyncGenerator<Buffer> {
    let seq = 0;
    for (;;) {
      const res = await pool.query<{ data: Buffer }>(
        'SELECT data FROM file_chunks WHERE file_id = $1 AND seq >= $2 ORDER BY seq LIMIT 8',
        [fileId, seq],
      );
      for (const row of res.rows) yield row.data;
      if (res.rows.length < 8) return;
      seq += 8;
    }
  }

  async function localPath(fileId: string): Promise<string> {
    const target = cachePath(fileId);
    if (fs.existsSync(target)) return target;
    const exists = await pool.query('SELECT 1 FROM file_chunks WHERE file_id = $1 LIMIT 1', [fileId]);
    if (exists.rowCount === 0) throw new Error(`file ${fileId} has no stored contents`);
    const tmp = `${target}.${process.pid}.${Date.now()}.download`;
    try {
      await pipeline(Readable.from(chunks(fileId)), fs.createWriteStream(tmp));
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    return target;
  }

  return {
    stagingPath: cachePath,
    async commit(fileId) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM file_chunks WHERE file_id = $1', [fileId]);
        let seq = 0;
        const stream = fs.createReadStream(cachePath(fileId), { highWaterMark: CHUNK_BYTES });
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          await client.query('INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)', [fileId, seq++, chunk]);
        }
        // An empty file still needs a row, so other nodes can tell it exists.
        if (seq === 0) await client.query('INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, 0, $2)', [fileId, Buffer.alloc(0)]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    localPath,
    async openRead(fileId) {
      return fs.createReadStream(await localPath(fileId));
    },
    async size(fileId) {
      const res = await pool.query<{ n: string | null }>('SELECT SUM(length(data)) AS n FROM file_chunks WHERE file_id = $1', [fileId]);
      return Number(res.rows[0]?.n ?? 0);
    },
    async delete(fileId) {
      await pool.query('DELETE FROM file_chunks WHERE file_id = $1', [fileId]);
      await fs.promises.rm(cachePath(fileId), { force: true });
    },
  };
}
