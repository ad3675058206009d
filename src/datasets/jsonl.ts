/**
 * The JSONL dataset rules, applied line by line by both ingestion and row reading: every line is a
 * UTF-8 JSON object; blank lines are an error unless nothing but blank lines follows them.
 */
import { fileError, readLines, type Line } from './lines.js';

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;

/** True when a line holds only JSON whitespace. */
function isBlank(line: Buffer): boolean {
  // Fast path: nearly every row starts with `{`.
  if (line.length > 0 && line[0] === OPEN_BRACE) return false;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b !== SPACE && b !== TAB && b !== CR) return false;
  }
  return true;
}

function describe(value: unknown): string {
  if (value === null) return 'JSON null';
  if (Array.isArray(value)) return 'a JSON array';
  return `a JSON ${typeof value}`;
}

/** The lines of a JSONL byte stream, in batches, with its line length limit and UTF-8 check. */
export function jsonlLines(
  source: AsyncIterable<Uint8Array | string>,
  maxLineBytes?: number,
  firstLine = 1,
): AsyncGenerator<Line[], void, undefined> {
  return readLines(source, { maxLineBytes, utf8ErrorCode: 'invalid_jsonl', firstLine });
}

/** Tracks rows and blank lines across the lines of one file. */
export class JsonlRows {
  /** Rows seen so far (counting from `rowCount` when reading starts mid-file). */
  rowCount: number;

  constructor(rowsBefore = 0) {
    this.rowCount = rowsBefore;
  }
  /** The first blank line since the last row, or 0. */
  private blankLine = 0;

  /**
   * Classifies the next line: true for a row, false for a blank line. A blank line is only
   * rejected once a row follows it, since trailing blank lines are allowed.
   */
  isRow(line: Buffer, lineNumber: number): boolean {
    if (isBlank(line)) {
      if (this.blankLine === 0) this.blankLine = lineNumber;
      return false;
    }
    if (this.blankLine !== 0) throw fileError(`line ${this.blankLine} is empty`, 'invalid_jsonl');
    this.rowCount++;
    return true;
  }

  /** Parses a line that `isRow` accepted (and that `jsonlLines` checked is UTF-8). */
  parse(line: Buffer, lineNumber: number): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw fileError(`line ${lineNumber} is not valid JSON: ${reason}`, 'invalid_jsonl');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw fileError(`line ${lineNumber} is ${describe(value)}, not an object`, 'invalid_jsonl');
    }
    return value as Record<string, unknown>;
  }

  /** Call after the last line. */
  finish(): void {
    if (this.rowCount === 0) throw fileError('the file is empty', 'empty_file');
  }
}
