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
 * Streams the rows of a stored dataset in order, parsing lazily with bounded memory. Optional
 * `from` index to skip earlier rows cheaply: they are scanned (JSONL) or tokenised (CSV) but not
 * turned into objects.
 *
 * @example
 * for await (const row of readRows(path, 'jsonl', { from: 100 })) render(row.data);
 */
export function readRows(path: string, format: DatasetFormat, opts: { from?: number; start?: RowOffset } = {}): AsyncIterable<DatasetRow> {
  const from = Math.max(0, opts.from ?? 0);
  // A known offset at or before `from` lets a JSONL read begin mid-file instead of at the start.
  const start = format === 'jsonl' && opts.start && opts.start.index <= from ? opts.start : { index: 0, byte: 0, line: 1 };
  return format === 'jsonl' ? readJsonl(path, from, start) : readCsv(path, from);
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

async function* readCsv(path: string, from: number): AsyncGenerator<DatasetRow, void, undefined> {
  const csv = new CsvRows();
  const batch: DatasetRow[] = [];
  const collect: CsvRecordHandler = (fields, line) => {
    const index = csv.rowCount - 1;
    if (index >= from) batch.push({ index, line, data: recordToObject(csv.columns ?? [], fields) });
  };
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    csv.push(chunk as Buffer, collect);
    yield* batch;
    batch.length = 0;
  }
  csv.end(collect);
  yield* batch;
}
