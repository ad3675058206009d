/**
 * Files: announced (`POST /files` of the SDKs' three-step upload), received (the signed PUT, or a
 * direct multipart upload), listed, read and deleted. Bytes are validated while they stream to
 * storage; a rejected upload leaves neither bytes nor a stored record behind.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AssayError, NotFoundError, ValidationError } from '../domain/errors.js';
import { FILE_PURPOSES, type FileFormat, type FilePurpose, type FileRecord } from '../domain/types.js';
import { ingestDataset } from '../datasets/ingest.js';
import { readRows } from '../datasets/rows.js';
import type { BlobStore, Store } from './contracts.js';
import { newFileId } from './ids.js';

export interface FileAnnouncement {
  ownerId: string;
  filename?: string | undefined;
  purpose?: string | undefined;
  fileType?: string | undefined;
}

export interface FileService {
  announce(req: FileAnnouncement): Promise<FileRecord>;
  /** Receives the bytes of an announced file. */
  receive(id: string, source: AsyncIterable<Uint8Array> | Readable): Promise<FileRecord>;
  /** Announce and receive in one step (multipart `POST /files/upload`). */
  upload(req: FileAnnouncement, source: AsyncIterable<Uint8Array> | Readable): Promise<FileRecord>;
  get(id: string, ownerId: string): Promise<FileRecord>;
  list(ownerId: string): Promise<FileRecord[]>;
  open(id: string, ownerId: string): Promise<{ file: FileRecord; bytes: number; stream: Readable }>;
  /** The first `limit` rows of a stored dataset, read lazily: the rest of the file is never parsed. */
  head(id: string, ownerId: string, limit: number): Promise<{ file: FileRecord; rows: Record<string, unknown>[] }>;
  delete(id: string, ownerId: string): Promise<void>;
}

function checkPurpose(purpose: string | undefined): FilePurpose {
  if (purpose === undefined || purpose === '') throw new ValidationError('purpose is required (for evaluation datasets: "eval")', 'purpose');
  if (!(FILE_PURPOSES as readonly string[]).includes(purpose)) {
    throw new ValidationError(`purpose must be one of ${FILE_PURPOSES.join(', ')}; got "${purpose}"`, 'purpose');
  }
  return purpose as FilePurpose;
}

function formatOf(fileType: string | undefined, filename: string): FileFormat {
  const declared = fileType?.toLowerCase() || path.extname(filename).slice(1).toLowerCase() || 'jsonl';
  if (declared === 'jsonl' || declared === 'json') return 'jsonl';
  if (declared === 'csv') return 'csv';
  if (declared === 'parquet') throw new ValidationError('parquet files are not supported; upload JSONL or CSV', 'file_type');
  if (fileType) throw new ValidationError(`file_type must be jsonl or csv; got "${fileType}"`, 'file_type');
  return 'jsonl';
}

/** What an upload may be (see Config.limits); each is unlimited when left out. */
export interface UploadLimits {
  maxUploadBytes?: number;
  maxLineBytes?: number;
  maxRows?: number;
  maxJsonDepth?: number;
}

/** Longest stored file name, in characters; longer names are cut. */
const MAX_FILENAME_CHARS = 255;

export function createFileService(deps: { store: Store; blobs: BlobStore; limits?: UploadLimits }): FileService {
  const limits = deps.limits ?? {};
  const ingestLimits = {
    ...(limits.maxUploadBytes !== undefined ? { maxBytes: limits.maxUploadBytes } : {}),
    ...(limits.maxLineBytes !== undefined ? { maxLineBytes: limits.maxLineBytes } : {}),
    ...(limits.maxRows !== undefined ? { maxRows: limits.maxRows } : {}),
    ...(limits.maxJsonDepth !== undefined ? { maxDepth: limits.maxJsonDepth } : {}),
  };
  const { store, blobs } = deps;
  const receiving = new Set<string>();

  async function owned(id: string, ownerId: string): Promise<FileRecord> {
    const file = await store.getFile(id);
    // Another owner's file is as invisible as a missing one.
    if (!file || file.ownerId !== ownerId) throw new NotFoundError(`no file with id "${id}"`, 'id');
    return file;
  }

  async function announce(req: FileAnnouncement): Promise<FileRecord> {
    const purpose = checkPurpose(req.purpose);
    // The TS SDK sends the caller's path as file_name; only its last part is the name.
    const base = path
      .basename((req.filename ?? '').replace(/\\/g, '/'))
      // Control characters have no business in a name that ends up in headers and listings.
      .replace(/[\u0000-\u001f\u007f]/g, '_')
      // Half a surrogate pair (JSON can carry one) is no character: every store and header agrees on U+FFFD.
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    // Cut by code points, so no character is split in two.
    const filename = Array.from(base).slice(0, MAX_FILENAME_CHARS).join('') || 'upload.jsonl';
    const file: FileRecord = {
      id: newFileId(),
      ownerId: req.ownerId,
      filename,
      purpose,
      format: formatOf(req.fileType, filename),
      bytes: 0,
      lineCount: 0,
      columns: [],
      state: 'awaiting_upload',
      createdAt: Math.floor(Date.now() / 1000),
    };
    await store.insertFile(file);
    return file;
  }

  async function receive(id: string, source: AsyncIterable<Uint8Array> | Readable): Promise<FileRecord> {
    const file = await store.getFile(id);
    if (!file) throw new NotFoundError(`no file with id "${id}"`, 'id');
    if (file.state !== 'awaiting_upload' || receiving.has(id)) {
      throw new AssayError(`file ${id} has already been uploaded`, { code: 'already_uploaded', httpStatus: 409 });
    }
    receiving.add(id);
    try {
      const summary = await ingestDataset(source, blobs.stagingPath(id), { format: file.format, ...ingestLimits });
      try {
        await blobs.commit(id);
      } catch (err) {
        await blobs.delete(id);
        throw err;
      }
      const patch = { bytes: summary.bytes, lineCount: summary.lineCount, columns: summary.columns, format: file.format };
      await store.completeFile(id, patch);
      return { ...file, ...patch, state: 'ready' };
    } finally {
      receiving.delete(id);
    }
  }

  return {
    announce,
    receive,
    async upload(req, source) {
      const file = await announce(req);
      try {
        return await receive(file.id, source);
      } catch (err) {
        await store.deleteFile(file.id);
        throw err;
      }
    },
    get: owned,
    list: (ownerId) => store.listFiles(ownerId),
    async open(id, ownerId) {
      const file = await owned(id, ownerId);
      if (file.state !== 'ready') throw new ValidationError(`file ${id} has not been uploaded yet`, 'id', 'not_uploaded');
      return { file, bytes: await blobs.size(id), stream: await blobs.openRead(id) };
    },
    async head(id, ownerId, limit) {
      const file = await owned(id, ownerId);
      if (file.state !== 'ready') throw new ValidationError(`file ${id} has not been uploaded yet`, 'id', 'not_uploaded');
      const rows: Record<string, unknown>[] = [];
      if (limit <= 0) return { file, rows };
      // Leaving the loop closes the generator, which closes the file stream.
      for await (const row of readRows(await blobs.localPath(id), file.format)) {
        rows.push(row.data);
        if (rows.length >= limit) break;
      }
      return { file, rows };
    },
    async delete(id, ownerId) {
      await owned(id, ownerId);
      await store.deleteFile(id);
      await blobs.delete(id);
    },
  };
}
