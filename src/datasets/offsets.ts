/**
 * Where rows start in a stored dataset, so a worker can read one chunk of rows without scanning
 * the file from its start. Stored datasets passed ingest, so there are no blank lines between rows.
 *
 * - JSONL: every line before the trailing blank ones is a row, so row i starts on line i + 1,
 *   right after the i-th newline: a newline scan finds them.
 * - CSV: a quoted field may hold newlines, so the file is parsed once; row i starts where row
 *   i - 1 (or the header) ended.
 */
import { createReadStream } from 'node:fs';
import { CsvRows } from './csv.js';

export interface RowOffset {
  /** 0-based row index. */
  index: number;
  /** Byte offset of the row's first byte. */
  byte: number;
  /** 1-based line number. */
  line: number;
}

const NL = 0x0a;

/**
 * Offsets of rows 0, every, 2 × every, … below `rows`, a batch per read as the file is scanned (a
 * newline scan only), so a caller can act on the first offsets before the scan ends.
 */
export async function* rowOffsetBatches(path: string, every: number, rows: number): AsyncGenerator<RowOffset[]> {
  let batch: RowOffset[] = [{ index: 0, byte: 0, line: 1 }];
  let base = 0;
  let newlines = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, nl + 1)) {
      newlines++;
      if (newlines % every === 0 && newlines < rows) batch.push({ index: newlines, byte: base + nl + 1, line: newlines + 1 });
    }
    base += chunk.length;
    if (batch.length > 0) yield batch;
    batch = [];
  }
  if (batch.length > 0) yield batch;
}

/** The same for a CSV dataset: offsets of rows 0, every, 2 × every, … (one parse of the file). */
export async function* csvRowOffsetBatches(path: string, every: number): AsyncGenerator<RowOffset[]> {
  const csv = new CsvRows();
  let batch: RowOffset[] = [];
  /** Where the row being read started: just past the previous row, or past the header for row 0. */
  let previousEnd = 0;
  const onRecord = (_fields: string[], line: number, endByte: number): void => {
    const index = csv.rowCount - 1;
    if (index % every === 0) batch.push({ index, byte: index === 0 ? csv.headerEnd : previousEnd, line });
    previousEnd = endByte;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    csv.push(chunk, onRecord);
    if (batch.length > 0) yield batch;
    batch = [];
  }
  csv.end(onRecord);
  if (batch.length > 0) yield batch;
}

async function all(batches: AsyncIterable<RowOffset[]>): Promise<RowOffset[]> {
  const offsets: RowOffset[] = [];
  for await (const batch of batches) offsets.push(...batch);
  return offsets;
}

/** All of `rowOffsetBatches` at once. */
export const rowOffsets = (path: string, every: number, rows: number): Promise<RowOffset[]> => all(rowOffsetBatches(path, every, rows));

/** All of `csvRowOffsetBatches` at once. */
export const csvRowOffsets = (path: string, every: number): Promise<RowOffset[]> => all(csvRowOffsetBatches(path, every));
