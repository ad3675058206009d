/**
 * The CSV dataset rules, shared by ingestion and row reading: a header row of unique, non-empty
 * column names, then records with exactly the header's number of fields. Blank lines follow the
 * JSONL rule (an error unless only blank lines follow), and the text must be UTF-8.
 *
 * Parsing is csv-parse's incremental core, driven synchronously chunk by chunk, so a caller pulls
 * bytes at its own pace with no stream plumbing, and memory stays bounded by the longest record.
 */
import { parse, CsvError } from 'csv-parse';
import { countNewlines, fileError, lineTooLong, Utf8Check } from './lines.js';

/**
 * Called with each data record (not the header), the line it starts on, and the byte offset just
 * past it (where the next record starts, in a stored file that passed ingest).
 */
export type CsvRecordHandler = (fields: string[], lineNumber: number, endByte: number) => void;

/** Where a read that starts mid-file begins: after `row` records, at `byte`, on `line`, under `columns`. */
export interface CsvResume {
  columns: string[];
  row: number;
  byte: number;
  line: number;
}

/**
 * csv-parse's incremental parser, which its Node stream, web stream and sync entry points all wrap.
 * The Node stream exposes it as `api`; reaching it directly lets us parse without a stream.
 */
interface CsvCore {
  /** `bytes`: input consumed so far, through the end of the record just pushed. */
  readonly info: { readonly lines: number; readonly empty_lines: number; readonly bytes: number };
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: unknown) => void,
    close: () => void,
  ): Error | undefined;
}

function createCore(maxRecordBytes: number): CsvCore {
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    max_record_size: Number.isFinite(maxRecordBytes) ? maxRecordBytes : 0,
  });
  const core = (parser as unknown as { api?: Partial<CsvCore> }).api;
  if (typeof core?.parse !== 'function' || typeof core.info !== 'object') {
    throw new Error('this csv-parse version does not expose its incremental parser');
  }
  return core as CsvCore;
}

const noop = (): void => {};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Tracks the header, records and blank lines across the chunks of one CSV file. */
export class CsvRows {
  /** The header, once its line has been read. */
  columns: string[] | null = null;
  /** Data records seen so far. */
  rowCount = 0;
  private readonly core: CsvCore;
  private readonly maxRecordBytes: number;
  private readonly utf8 = new Utf8Check();
  /** Newlines in the bytes pushed so far, to name the line of bad UTF-8. */
  private newlines = 0;
  /** The line the previous record ended on, and blank lines skipped up to it. */
  private endLine = 0;
  private emptyLines = 0;
  /** The first blank line since the previous record, or 0: an error once a record follows. */
  private blankLine = 0;
  /** Lines and bytes before where this parser started (a read resumed mid-file). */
  private readonly lineBase: number;
  private readonly byteBase: number;
  /** Byte offset just past the header, once read: where row 0 starts. */
  headerEnd = 0;

  constructor(opts: { maxRecordBytes?: number; resume?: CsvResume } = {}) {
    this.maxRecordBytes = opts.maxRecordBytes ?? Number.POSITIVE_INFINITY;
    this.core = createCore(this.maxRecordBytes);
    const resume = opts.resume;
    this.lineBase = resume ? resume.line - 1 : 0;
    this.byteBase = resume ? resume.byte : 0;
    if (resume) {
      this.columns = resume.columns;
      this.rowCount = resume.row;
      this.endLine = this.lineBase;
      this.newlines = this.lineBase;
    }
  }

  push(chunk: Buffer, onRecord: CsvRecordHandler): void {
    const badLine = this.utf8.push(chunk, this.newlines + 1);
    if (badLine !== 0) throw fileError(`line ${badLine} is not valid UTF-8`, 'invalid_csv');
    this.newlines += countNewlines(chunk);
    this.check(this.core.parse(chunk, false, (r) => this.record(r as string[], onRecord), noop));
  }

  /** Call after the last chunk. */
  end(onRecord: CsvRecordHandler): void {
    const badLine = this.utf8.end(this.newlines + 1);
    if (badLine !== 0) throw fileError(`line ${badLine} is not valid UTF-8`, 'invalid_csv');
    this.check(this.core.parse(undefined, true, (r) => this.record(r as string[], onRecord), noop));
    if (this.rowCount === 0) throw fileError('the file is empty', 'empty_file');
  }

  private record(fields: string[], onRecord: CsvRecordHandler): void {
    const { empty_lines: emptyLines, bytes } = this.core.info;
    const lines = this.core.info.lines + this.lineBase;
    const startLine = this.endLine + 1;
    if (emptyLines !== this.emptyLines) {
      // csv-parse skipped blank lines between the previous record and this one.
      this.emptyLines = emptyLines;
      if (this.blankLine === 0) this.blankLine = startLine;
    }
    this.endLine = lines;
    if (this.columns !== null && this.columns.length > 1 && isBlankRecord(fields)) {
      if (this.blankLine === 0) this.blankLine = startLine;
      return;
    }
    if (this.blankLine !== 0) throw fileError(`line ${this.blankLine} is empty`, 'invalid_csv');
    if (this.columns === null) {
      this.columns = checkHeader(fields);
      this.headerEnd = this.byteBase + bytes;
      return;
    }
    if (fields.length !== this.columns.length) {
      throw fileError(
        `line ${startLine} has ${plural(fields.length, 'field')}, the header has ${this.columns.length}`,
        'invalid_csv',
      );
    }
    this.rowCount++;
    onRecord(fields, startLine, this.byteBase + bytes);
  }

  private check(err: Error | undefined): void {
    if (err === undefined) return;
    if (!(err instanceof CsvError)) throw err;
    const startLine = this.endLine + 1;
    switch (err.code) {
      case 'CSV_MAX_RECORD_SIZE':
        throw lineTooLong(startLine, this.maxRecordBytes);
      case 'CSV_QUOTE_NOT_CLOSED':
        throw fileError(`line ${startLine} opens a quoted field that is never closed`, 'invalid_csv');
      default: {
        const line = typeof err.lines === 'number' ? err.lines : startLine;
        throw fileError(`line ${line} is not valid CSV: ${err.message}`, 'invalid_csv');
      }
    }
  }
}

/** A whitespace-only line, which csv-parse reads as a record of one field. */
function isBlankRecord(fields: string[]): boolean {
  return fields.length === 1 && fields[0]!.trim() === '';
}

function checkHeader(fields: string[]): string[] {
  const seen = new Set<string>();
  fields.forEach((name, i) => {
    if (name.trim() === '') throw fileError(`column ${i + 1} of the header has no name`, 'invalid_csv');
    if (seen.has(name)) throw fileError(`the header names column "${name}" more than once`, 'invalid_csv');
    seen.add(name);
  });
  return fields;
}

/** A record as an object keyed by the header. Keys are own properties, even `__proto__`. */
export function recordToObject(columns: readonly string[], fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < columns.length; i++) {
    Object.defineProperty(out, columns[i]!, {
      value: fields[i] ?? '',
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
