/**
 * Dataset ingestion: stream an uploaded file to storage while checking it is a valid dataset, in
 * one pass with bounded memory. Bytes go to a temporary sibling of the destination, which is
 * renamed into place only once every check has passed, so a rejected or broken upload leaves
 * nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CsvRows } from './csv.js';
import { jsonlLines, JsonlRows } from './jsonl.js';
import { fileError, fileTooLarge, LineCounter, toBuffer } from './lines.js';
import { nestsDeeperThan } from '../domain/json-depth.js';

export type DatasetFormat = 'jsonl' | 'csv';

export interface IngestSummary {
  /** Size of the stored file. */
  bytes: number;
  /** Rows in the dataset (CSV: records after the header); with `validate: false`, lines. */
  lineCount: number;
  /** JSONL: the union of top-level keys in first-seen order. CSV: the header. */
  columns: string[];
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
}

export interface IngestOptions {
  format: DatasetFormat;
  /** Reject files larger than this. Default: no limit. */
  maxBytes?: number;
  /** Reject lines (CSV: records) longer than this. Default 16 MiB. */
  maxLineBytes?: number;
  /** Reject datasets with more rows than this. Default: no limit. */
  maxRows?: number;
  /** Reject JSONL rows nesting deeper than this many levels. Default: no limit. */
  maxDepth?: number;
  /** Default true. False stores the bytes and counts lines only, for files that are not datasets. */
  validate?: boolean;
}

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/** A JSONL dataset whose rows have more distinct top-level keys than this is rejected. */
export const MAX_COLUMNS = 10_000;

/**
 * An upload being written by process PID, renamed into place once valid. A crash leaves it behind;
 * the blob stores remove those of dead processes when they open (see backends/partial-files.ts).
 */
export const UPLOAD_PARTIAL = /^\..+\.upload-(\d+)$/;

function uploadPartialPath(destPath: string): string {
  return join(dirname(destPath), `.${basename(destPath)}.${randomBytes(6).toString('hex')}.upload-${process.pid}`);
}

type Chunks = AsyncIterable<Buffer>;
type Shape = Pick<IngestSummary, 'lineCount' | 'columns'>;

const noop = (): void => {};

/**
 * Streams `source` to `destPath` while validating; writes to a temporary sibling file and renames
 * only on success, so a rejected upload leaves nothing behind (the temp file is removed on any
 * error, including a source stream error/abort).
 *
 * @example
 * const summary = await ingestDataset(request.file, join(dir, fileId), { format: 'jsonl' });
 */
export async function ingestDataset(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  destPath: string,
  opts: IngestOptions,
): Promise<IngestSummary> {
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const limits: RowLimits = { maxRows: opts.maxRows ?? Number.POSITIVE_INFINITY, maxDepth: opts.maxDepth ?? Number.POSITIVE_INFINITY };
  const tempPath = uploadPartialPath(destPath);
  // Until the first read, nothing listens for a source stream's errors: keep one from crashing.
  const emitter = 'on' in source && typeof source.on === 'function' ? source : null;
  emitter?.on('error', noop);
  const file = await open(tempPath, 'wx').catch((err: unknown) => {
    emitter?.off('error', noop);
    throw err;
  });
  let fileOpen = true;
  try {
    const hash = createHash('sha256');
    let bytes = 0;

    /** The source's chunks, each counted, hashed and written before the next is read. */
    async function* stored(): AsyncGenerator<Buffer, void, undefined> {
      for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
        const buf = toBuffer(chunk);
        bytes += buf.length;
        if (bytes > maxBytes) throw fileTooLarge(maxBytes);
        hash.update(buf);
        // The write overlaps the validation of the same chunk.
        const written = writeAll(file, buf);
        written.catch(noop);
        try {
          yield buf;
        } finally {
          await written;
        }
      }
    }

    let shape: Shape;
    if (opts.validate === false) shape = await countLines(stored());
    else if (opts.format === 'jsonl') shape = await checkJsonl(stored(), maxLineBytes, limits);
    else shape = await checkCsv(stored(), maxLineBytes, limits);

    await file.sync();
    fileOpen = false;
    await file.close();
    await rename(tempPath, destPath);
    return { bytes, ...shape, sha256: hash.digest('hex') };
  } catch (err) {
    if (fileOpen) await file.close().catch(noop);
    await unlink(tempPath).catch(noop);
    throw err;
  } finally {
    emitter?.off('error', noop);
  }
}

async function writeAll(file: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await file.write(buf, offset, buf.length - offset);
    offset += bytesWritten;
  }
}

interface RowLimits {
  maxRows: number;
  maxDepth: number;
}

function tooManyRows(lineNumber: number, maxRows: number) {
  return fileError(`line ${lineNumber} brings the dataset to more than ${maxRows} rows (ASSAY_MAX_ROWS)`, 'too_many_rows');
}

async function checkJsonl(chunks: Chunks, maxLineBytes: number, limits: RowLimits): Promise<Shape> {
  const rows = new JsonlRows();
  const columns = new Set<string>();
  for await (const batch of jsonlLines(chunks, maxLineBytes)) {
    for (const { bytes, number } of batch) {
      if (!rows.isRow(bytes, number)) continue;
      if (rows.rowCount > limits.maxRows) throw tooManyRows(number, limits.maxRows);
      const row = rows.parse(bytes, number);
      // Nesting d levels takes at least 2d bytes, so short rows need no walk.
      if (bytes.length > 2 * limits.maxDepth && nestsDeeperThan(row, limits.maxDepth)) {
        throw fileError(`line ${number} nests deeper than ${limits.maxDepth} levels (ASSAY_MAX_JSON_DEPTH)`, 'json_too_deep');
      }
      for (const key of Object.keys(row)) {
        if (columns.has(key)) continue;
        columns.add(key);
        if (columns.size > MAX_COLUMNS) {
          throw fileError(`line ${number} brings the dataset to more than ${MAX_COLUMNS} columns`, 'too_many_columns');
        }
      }
    }
  }
  rows.finish();
  return { lineCount: rows.rowCount, columns: [...columns] };
}

async function checkCsv(chunks: Chunks, maxLineBytes: number, limits: RowLimits): Promise<Shape> {
  const csv = new CsvRows({ maxRecordBytes: maxLineBytes });
  // The parser calls back inside its own loop, so a row too many is noted there and refused after.
  let overLine = 0;
  const onRecord = (_fields: string[], line: number) => {
    if (overLine === 0 && csv.rowCount > limits.maxRows) overLine = line;
  };
  for await (const chunk of chunks) {
    csv.push(chunk, onRecord);
    if (overLine !== 0) throw tooManyRows(overLine, limits.maxRows);
  }
  csv.end(onRecord);
  if (overLine !== 0) throw tooManyRows(overLine, limits.maxRows);
  return { lineCount: csv.rowCount, columns: csv.columns ?? [] };
}

async function countLines(chunks: Chunks): Promise<Shape> {
  const counter = new LineCounter();
  for await (const chunk of chunks) counter.push(chunk);
  return { lineCount: counter.lines, columns: [] };
}
