/**
 * File contents in PostgreSQL, so every node of a distributed deployment can read every file
 * without another service to run (docs/distributed.md says why this beats an object store here).
 * A file is stored as chunks of about 1 MiB; each node keeps a local cache of the files it has
 * read, which is safe because a file's bytes never change once committed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { BlobStore, PendingCommit } from '../../engine/contracts.js';
import { removeAbandonedPartials } from '../partial-files.js';

const CHUNK_BYTES = 1024 * 1024;
/** Bytes a pending commit lets its writer get ahead of the database before making it wait. */
const MAX_BEHIND_BYTES = 4 * CHUNK_BYTES;

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

  /**
   * The chunks of a file in order, fetched a few at a time so memory stays small. As base64, not
   * as a plain bytea, which PostgreSQL sends as hex text, twice the bytes, for the client to
   * decode: a worker's first read of a 1.2 MB dataset, which its first call waits for, took 76 ms
   * against 108-116 (docs/benchmarks.md, step 37). (node-postgres hands a bytea sent in binary
   * over as a UTF-8 string, which would corrupt every byte that is not text.) Node's decoder skips
   * the line breaks PostgreSQL puts in base64.
   */
  async function* chunks(fileId: string): AsyncGenerator<Buffer> {
    let seq = 0;
    for (;;) {
      const res = await pool.query<{ data: string }>(
        `SELECT encode(data, 'base64') AS data FROM file_chunks WHERE file_id = $1 AND seq >= $2 ORDER BY seq LIMIT 8`,
        [fileId, seq],
      );
      for (const row of res.rows) yield Buffer.from(row.data, 'base64');
      if (res.rows.length < 8) return;
      seq += 8;
    }
  }

  /** Fails, naming the file, unless its contents were committed. */
  async function mustBeStored(fileId: string): Promise<void> {
    const exists = await pool.query('SELECT 1 FROM file_chunks WHERE file_id = $1 LIMIT 1', [fileId]);
    if (exists.rowCount === 0) throw new Error(`file ${fileId} has no stored contents`);
  }

  /** Copies into the local cache under way, by file: readers that ask at once share one copy. */
  const downloads = new Map<string, Promise<string>>();

  async function localPath(fileId: string): Promise<string> {
    const target = cachePath(fileId);
    if (fs.existsSync(target)) return target;
    let download = downloads.get(fileId);
    if (!download) {
      download = copyToCache(fileId, target).finally(() => downloads.delete(fileId));
      downloads.set(fileId, download);
    }
    return download;
  }

  async function copyToCache(fileId: string, target: string): Promise<string> {
    await mustBeStored(fileId);
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

  /**
   * A file's chunks inserted in one transaction as its bytes come, so that other nodes see the
   * whole file or none of it. Inserts run one after another on their own connection while the
   * caller goes on producing bytes; it waits only when more than a few chunks are behind.
   */
  function openCommit(fileId: string): PendingCommit {
    // Refuses an id that is not a file id before a connection is taken.
    cachePath(fileId);
    let failure: unknown = null;
    // The connection sits idle between inserts while the writer works, and a checked-out client
    // whose connection drops then reports it as an event: without a listener, a crash.
    const onError = (err: Error): void => {
      failure ??= err;
    };
    const connected = (async () => {
      const client = await pool.connect();
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM file_chunks WHERE file_id = $1', [fileId]);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        client.off('error', onError);
        client.release(true);
        throw err;
      }
      return client;
    })();
    connected.catch((err: unknown) => (failure ??= err));
    let seq = 0;
    let held: Buffer[] = [];
    let heldBytes = 0;
    let behindBytes = 0;
    // Never rejects: a failed insert is kept in `failure`, and the inserts after it are skipped.
    let inserts: Promise<void> = Promise.resolve();
    let ended: Promise<void> | null = null;
    /** Set by abort: chunks still queued are not inserted. */
    let dropped = false;

    const insert = (data: Buffer): void => {
      const n = seq++;
      behindBytes += data.length;
      inserts = inserts.then(async () => {
        try {
          if (failure === null && !dropped) await (await connected).query('INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)', [fileId, n, data]);
        } catch (err) {
          failure ??= err;
        } finally {
          behindBytes -= data.length;
        }
      });
    };
    const sendHeld = (): void => {
      if (heldBytes === 0) return;
      insert(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes));
      held = [];
      heldBytes = 0;
    };
    /** Commits or rolls back once, and gives the connection back. */
    const end = (keep: boolean): Promise<void> =>
      (ended ??= (async () => {
        dropped = !keep;
        await inserts;
        let client: pg.PoolClient;
        try {
          client = await connected;
        } catch (err) {
          if (keep) throw err;
          return;
        }
        // A connection that cannot even roll back is discarded rather than reused.
        let broken = false;
        try {
          if (keep && failure === null) {
            await client.query('COMMIT');
            return;
          }
          await client.query('ROLLBACK').catch(() => (broken = true));
          if (keep) throw failure;
        } finally {
          client.off('error', onError);
          client.release(broken);
        }
      })());

    return {
      async add(bytes) {
        if (failure !== null) throw failure;
        if (ended) throw new Error(`the commit of file ${fileId} has ended`);
        held.push(bytes);
        heldBytes += bytes.length;
        if (heldBytes >= CHUNK_BYTES) sendHeld();
        if (behindBytes > MAX_BEHIND_BYTES) await inserts;
        if (failure !== null) throw failure;
      },
      async finish() {
        sendHeld();
        // An empty file still needs a row, so other nodes can tell it exists.
        if (seq === 0) insert(Buffer.alloc(0));
        await end(true);
      },
      abort: () => end(false).catch(() => {}),
    };
  }

  return {
    stagingPath: cachePath,
    async commit(fileId) {
      const pending = openCommit(fileId);
      try {
        for await (const chunk of fs.createReadStream(cachePath(fileId), { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
          await pending.add(chunk);
        }
      } catch (err) {
        await pending.abort();
        throw err;
      }
      await pending.finish();
    },
    openCommit,
    localPath,
    /**
     * A file this node has cached is read from its cache. One it has not is streamed from the
     * database as it is fetched, without being cached: a download of a large result file from an
     * API node that did not write it starts with the first chunk instead of after a copy of the
     * whole file, and API nodes do not fill their disks with files downloaded once.
     */
    async openRead(fileId) {
      const target = cachePath(fileId);
      if (fs.existsSync(target)) return fs.createReadStream(target);
      await mustBeStored(fileId);
      return Readable.from(chunks(fileId), { objectMode: false });
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
