/**
 * Reading the rows of a stored dataset, lazily and in order. Indexes agree with what
 * `ingestDataset` counted because both apply the same line and record rules (`lines.ts`,
 * `jsonl.ts`, `csv.ts`).
 */
import { createReadStream } from 'node:fs';
import { CsvRows, recordToObject, type CsvRecordHandler } from './csv.js';
import type { DatasetFormat } from './ingest.js';
import { jsonlLines, JsonlRows } from './jsonl.js';
import type { RowOffset } from './offsets.js';

export interface DatasetRow {
  /** 0-based row index. */
  index: number;
  /** 1-based line number in the file where the row starts. */
  line: number;
  data: Record<string, unknown>;
}

const CHUNK_BYTES = 256 * 1024;
/**
 * Read size for a few rows (a chunk of rows, typically a few KB): a larger read would be split into
 * lines (JSONL) or tokenised (CSV) far past the rows wanted.
 */
const FEW_ROWS_READ_BYTES = 16 * 1024;

/** Which rows to read: from `from` (default 0) up to `until` (exclusive, default all). */
export interface RowRange {
  from?: number;
  /** Rows from here on are not read; a range with an end is read in small pieces. */
  until?: number;
  /** A known offset at or before `from`, where the read may begin instead of the file's start. */
  start?: RowOffset;
  /** The CSV header as the file record keeps it, for a read that starts mid-file. */
  columns?: readonly string[];
}

/**
 * Streams the rows of a stored dataset in order, parsing lazily with bounded memory. Rows before
 * `from` are skipped cheaply: they are scanned (JSONL) or tokenised (CSV) but not turned into
 * objects.
 *
 * @example
 * for await (const row of readRows(path, 'jsonl', { from: 100, until: 164 })) render(row.data);
 */
export function readRows(path: string, format: DatasetFormat, opts: RowRange = {}): AsyncIterable<DatasetRow> {
  const from = Math.max(0, opts.from ?? 0);
  const until = opts.until ?? Number.POSITIVE_INFINITY;
  const start = opts.start && opts.start.index <= from ? opts.start : { index: 0, byte: 0, line: 1 };
  const readBytes = opts.until !== undefined ? FEW_ROWS_READ_BYTES : CHUNK_BYTES;
  return format === 'jsonl' ? readJsonl(path, from, until, start, readBytes) : readCsv(path, from, until, start, readBytes, opts.columns);
}

async function* readJsonl(path: string, from: number, until: number, start: RowOffset, readBytes: number): AsyncGenerator<DatasetRow, void, undefined> {
  if (from >= until) return;
  const rows = new JsonlRows(start.index);
  const source = createReadStream(path, { highWaterMark: readBytes, start: start.byte });
  try {
    // A chunk stops reading before the file ends, and a stream left that way is destroyed with an
    // AbortError, its stack captured (about 65 µs a chunk): `finally` closes it instead.
    for await (const batch of jsonlLines(source.iterator({ destroyOnReturn: false }), undefined, start.line)) {
      for (const { bytes, number } of batch) {
        if (!rows.isRow(bytes, number)) continue;
        const index = rows.rowCount - 1;
        if (index < from) continue;
        yield { index, line: number, data: rows.parse(bytes, number) };
        if (index + 1 >= until) return;
      }
    }
  } finally {
    source.destroy();
  }
  rows.finish();
}

/** A CSV file's header: the columns, read from its first records. */
async function csvColumns(path: string): Promise<string[]> {
  const csv = new CsvRows();
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    csv.push(chunk as Buffer, () => {});
    if (csv.columns !== null) return csv.columns;
  }
  csv.end(() => {});
  return csv.columns ?? [];
}

async function* readCsv(
  path: string,
  from: number,
  until: number,
  start: RowOffset,
  readBytes: number,
  knownColumns?: readonly string[],
): AsyncGenerator<DatasetRow, void, undefined> {
  if (from >= until) return;
  // Mid-file, the parser starts at a row's first byte, with the header the file record keeps (or
  // read from the file's top).
  const resumed = start.index > 0;
  const columns = resumed ? (knownColumns ? [...knownColumns] : await csvColumns(path)) : [];
  const csv = resumed ? new CsvRows({ resume: { columns, row: start.index, byte: start.byte, line: start.line } }) : new CsvRows();
  // Records are tokenised a read at a time but become objects only when yielded: a reader that
  // stops early (a chunk) pays for its own rows, not for the rest of the read.
  const batch: Array<{ index: number; line: number; fields: string[] }> = [];
  const collect: CsvRecordHandler = (fields, line) => {
    const index = csv.rowCount - 1;
    if (index >= from && index < until) batch.push({ index, line, fields });
  };
  const drain = function* (): Generator<DatasetRow> {
    for (const { index, line, fields } of batch) yield { index, line, data: recordToObject(csv.columns ?? [], fields) };
    batch.length = 0;
  };
  // csv-parse manages some 5-10 MB/s here, so every byte read and not needed shows: a range with an
  // end is read in small pieces, and reading stops once the range is done.
  const source = createReadStream(path, { highWaterMark: readBytes, start: resumed ? start.byte : 0 });
  try {
    // Closed by `finally`, not by an AbortError (see readJsonl).
    for await (const chunk of source.iterator({ destroyOnReturn: false })) {
      csv.push(chunk as Buffer, collect);
      yield* drain();
      if (csv.rowCount >= until) return;
    }
  } finally {
    source.destroy();
  }
  csv.end(collect);
  yield* drain();
}
