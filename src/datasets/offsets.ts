/**
 * Where rows start in a stored JSONL dataset, so a worker can read one chunk of rows without
 * scanning the file from its start. Stored datasets passed ingest, so every line before the
 * trailing blank ones is a row: row i starts on line i + 1, right after the i-th newline.
 */
import { createReadStream } from 'node:fs';

export interface RowOffset {
  /** 0-based row index. */
  index: number;
  /** Byte offset of the row's first byte. */
  byte: number;
  /** 1-based line number. */
  line: number;
}

const NL = 0x0a;

/** Offsets of rows 0, every, 2 × every, … below `rows`; one pass over the file, newline scan only. */
export async function rowOffsets(path: string, every: number, rows: number): Promise<RowOffset[]> {
  const offsets: RowOffset[] = [{ index: 0, byte: 0, line: 1 }];
  let base = 0;
  let newlines = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, nl + 1)) {
      newlines++;
      if (newlines % every === 0 && newlines < rows) offsets.push({ index: newlines, byte: base + nl + 1, line: newlines + 1 });
    }
    base += chunk.length;
  }
  return offsets;
}
