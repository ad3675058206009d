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
/** Read size of a CSV read that starts mid-file (a chunk of rows is typically a few KB). */
const RESUMED_CSV_READ_BYTES = 16 * 1024;

/**
 * Streams the rows of a stored dataset in order, parsing lazily with bounded memory. Optional
 * `from` index to skip earlier rows cheaply: they are scanned (JSONL) or tokenised (CSV) but not
 * turned into objects.
 *
 * @example
 * for await (const row of readRows(path, 'jsonl', { from: 100 })) render(row.data);
 */
export function readRows(
  path: string,
  format: DatasetFormat,
  opts: { from?: number; start?: RowOffset; columns?: readonly string[] } = {},
): AsyncIterable<DatasetRow> {
  const from = Math.max(0, opts.from ?? 0);
  // A known offset at or before `from` lets a read begin mid-file instead of at the start.
  const start = opts.start && opts.start.index <= from ? opts.start : { index: 0, byte: 0, line: 1 };
  return format === 'jsonl' ? readJsonl(path, from, start) : readCsv(path, from, start, opts.columns);
}

async function* readJsonl(path: string, from: number, start: RowOffset): AsyncGenerator<DatasetRow, void, undefined> {
  const rows = new JsonlRows(start.index);
  const source = createReadStream(path, { highWaterMark: CHUNK_BYTES, start: start.byte });
  for await (const batch of jsonlLines(source, undefined, start.line)) {
    for (const { bytes, number } of batch) {
      if (!rows.isRow(bytes, number)) continue;
      const index = rows.rowCount - 1;
      if (index < from) continue;
      yield { index, line: number, data: rows.parse(bytes, number) };
    }
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

async function* readCsv(path: string, from: number, start: RowOffset, knownColumns?: readonly string[]): AsyncGenerator<DatasetRow, void, undefined> {
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
    if (index >= from) batch.push({ index, line, fields });
  };
  const drain = function* (): Generator<DatasetRow> {
    for (const { index, line, fields } of batch) yield { index, line, data: recordToObject(csv.columns ?? [], fields) };
    batch.length = 0;
  };
  // A resumed read is usually one chunk of rows: small reads tokenise little past its end
  // (csv-parse manages some 5-10 MB/s here, so every byte read and not needed shows).
  const highWaterMark = resumed ? RESUMED_CSV_READ_BYTES : CHUNK_BYTES;
  for await (const chunk of createReadStream(path, { highWaterMark, start: resumed ? start.byte : 0 })) {
    csv.push(chunk as Buffer, collect);
    yield* drain();
  }
  csv.end(collect);
  yield* drain();
}
