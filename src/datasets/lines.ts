/**
 * Line splitting for dataset files, shared by ingestion and row reading so both agree on what a
 * line is: bytes up to `\n`, with one trailing `\r` dropped, and a UTF-8 byte order mark dropped
 * from the start of line 1. The scan is a plain `indexOf` over Buffers; only a line that spans
 * chunks is copied, and nothing much longer than `maxLineBytes` is ever held.
 */
import { isUtf8 } from 'node:buffer';
import { AssayError, ValidationError } from '../domain/errors.js';

/** One line of a file, without its terminator. `bytes` may be a view into the source chunk. */
export interface Line {
  /** 1-based line number in the file. */
  number: number;
  bytes: Buffer;
}

export type LineHandler = (bytes: Buffer, lineNumber: number) => void;

export interface LineOptions {
  /** Longest line accepted, terminator excluded. Default: no limit. */
  maxLineBytes?: number;
  /** When set, the bytes must be UTF-8; a line that is not fails with this error code. */
  utf8ErrorCode?: string;
  /** Number of the source's first line, when it starts in the middle of a file. Default 1. */
  firstLine?: number;
}

const NL = 0x0a;
const CR = 0x0d;

/** A rejected upload or stored file: every dataset error names the `file` parameter. */
export function fileError(message: string, code: string): ValidationError {
  return new ValidationError(message, 'file', code);
}

/** An upload over the size limit: 413, like a request body that is too large. */
export function fileTooLarge(maxBytes: number): AssayError {
  return new AssayError(`the file is larger than ${maxBytes} bytes (ASSAY_MAX_UPLOAD_BYTES)`, { code: 'file_too_large', httpStatus: 413, param: 'file' });
}

export function lineTooLong(lineNumber: number, maxLineBytes: number): ValidationError {
  return fileError(`line ${lineNumber} is longer than ${maxLineBytes} bytes`, 'line_too_long');
}

export function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let nl = buf.indexOf(NL); nl !== -1; nl = buf.indexOf(NL, nl + 1)) n++;
  return n;
}

function hasBom(line: Buffer): boolean {
  return line.length >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf;
}

/**
 * Push-based splitter: feed chunks in order with `push`, then call `end` once. Lines are handed to
 * the callback synchronously, before `push` returns, so they may alias the chunk.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private readonly utf8ErrorCode: string | undefined;
  private readonly utf8: Utf8Check | null;
  /** The first line known not to be UTF-8, or 0; raised when that line is reached. */
  private badLine = 0;
  /** Copies of the unterminated tail, possibly over several chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lineNumber = 0;

  constructor(opts: LineOptions = {}) {
    this.maxLineBytes = opts.maxLineBytes ?? Number.POSITIVE_INFINITY;
    this.utf8ErrorCode = opts.utf8ErrorCode;
    this.utf8 = opts.utf8ErrorCode === undefined ? null : new Utf8Check();
    this.lineNumber = (opts.firstLine ?? 1) - 1;
  }

  push(chunk: Buffer, onLine: LineHandler): void {
    // One check per chunk rather than per line; earlier lines still come out first.
    if (this.utf8 !== null && this.badLine === 0) this.badLine = this.utf8.push(chunk, this.lineNumber + 1);
    let start = 0;
    let nl = chunk.indexOf(NL);
    while (nl !== -1) {
      if (this.pendingBytes > 0) {
        this.pending.push(chunk.subarray(0, nl));
        const line = Buffer.concat(this.pending, this.pendingBytes + nl);
        this.pending = [];
        this.pendingBytes = 0;
        this.emit(line, onLine);
      } else {
        this.emit(chunk.subarray(start, nl), onLine);
      }
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    if (start < chunk.length) {
      // Copy: the source may reuse its buffer, and a small tail should not pin a large chunk.
      this.pending.push(Buffer.from(chunk.subarray(start)));
      this.pendingBytes += chunk.length - start;
      // Allow for a `\r` still to be dropped, and a BOM on line 1.
      if (this.pendingBytes > this.maxLineBytes + (this.lineNumber === 0 ? 4 : 1)) {
        throw lineTooLong(this.lineNumber + 1, this.maxLineBytes);
      }
    }
  }

  /** Flushes a last line that has no terminator. */
  end(onLine: LineHandler): void {
    if (this.utf8 !== null && this.badLine === 0) this.badLine = this.utf8.end(this.lineNumber + 1);
    if (this.pendingBytes === 0) return;
    const line = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.emit(line, onLine);
  }

  private emit(line: Buffer, onLine: LineHandler): void {
    const lineNumber = ++this.lineNumber;
    if (lineNumber === this.badLine) {
      throw fileError(`line ${lineNumber} is not valid UTF-8`, this.utf8ErrorCode ?? 'invalid_utf8');
    }
    let begin = 0;
    let end = line.length;
    if (end > 0 && line[end - 1] === CR) end--;
    if (lineNumber === 1 && hasBom(line)) begin = 3;
    if (end - begin > this.maxLineBytes) throw lineTooLong(lineNumber, this.maxLineBytes);
    onLine(begin === 0 && end === line.length ? line : line.subarray(begin, end), lineNumber);
  }
}

/**
 * The lines of a byte stream, correct across chunk boundaries, yielded as one batch per chunk:
 * a yield per batch rather than per line keeps the async overhead off the hot path.
 *
 * @example
 * for await (const batch of readLines(createReadStream(path))) for (const { number, bytes } of batch) ...
 */
export async function* readLines(
  source: AsyncIterable<Uint8Array | string>,
  opts: LineOptions = {},
): AsyncGenerator<Line[], void, undefined> {
  const splitter = new LineSplitter(opts);
  let batch: Line[] = [];
  const collect: LineHandler = (bytes, number) => {
    batch.push({ number, bytes });
  };
  // A bad line fails only after the lines before it are out, so problems surface in line order.
  const failures: unknown[] = [];
  const feed = (chunk: Buffer | null): void => {
    try {
      if (chunk === null) splitter.end(collect);
      else splitter.push(chunk, collect);
    } catch (error) {
      failures.push(error);
    }
  };
  for await (const chunk of source) {
    feed(toBuffer(chunk));
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
    if (failures.length > 0) throw failures[0];
  }
  feed(null);
  if (batch.length > 0) yield batch;
  if (failures.length > 0) throw failures[0];
}

/** Counts lines as `LineSplitter` numbers them, without splitting: for files stored unvalidated. */
export class LineCounter {
  private newlines = 0;
  private lastByte = NL;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.newlines += countNewlines(chunk);
    this.lastByte = chunk[chunk.length - 1] ?? NL;
  }

  get lines(): number {
    return this.newlines + (this.lastByte === NL ? 0 : 1);
  }
}

/** Streaming UTF-8 validation, one native check per chunk, that finds the line of a bad byte. */
export class Utf8Check {
  /** An incomplete character at the end of the previous chunk. */
  private carry: Buffer | null = null;

  /** Checks the next chunk, which starts on line `firstLine`. Returns 0, or the first bad line. */
  push(chunk: Buffer, firstLine: number): number {
    const buf = this.carry === null ? chunk : Buffer.concat([this.carry, chunk]);
    const cut = completeLength(buf);
    const head = cut === buf.length ? buf : buf.subarray(0, cut);
    this.carry = cut === buf.length ? null : Buffer.from(buf.subarray(cut));
    return isUtf8(head) ? 0 : badLine(head, firstLine);
  }

  /** Call after the last chunk, with the line it ended on. Returns 0, or that line if it is cut short. */
  end(lastLine: number): number {
    return this.carry === null ? 0 : lastLine;
  }
}

/** Which line of `bytes` (which starts on `firstLine`) is not UTF-8. Lines never split a character. */
function badLine(bytes: Buffer, firstLine: number): number {
  let line = firstLine;
  for (let start = 0; ; line++) {
    const nl = bytes.indexOf(NL, start);
    if (nl === -1 || !isUtf8(bytes.subarray(start, nl))) return line;
    start = nl + 1;
  }
}

/** The length of `buf` without a trailing, incomplete multi-byte character. */
function completeLength(buf: Buffer): number {
  const len = buf.length;
  for (let back = 1; back <= 4 && back <= len; back++) {
    const b = buf[len - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? len - back : len;
  }
  return len;
}
