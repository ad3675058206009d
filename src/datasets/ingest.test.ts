import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AssayError, ValidationError } from '../domain/errors.js';
import { DEFAULT_MAX_LINE_BYTES, ingestDataset, MAX_COLUMNS, type IngestOptions } from './ingest.js';

let dir: string;
let dest: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-ingest-'));
  dest = join(dir, 'file-1');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Yields `content` in chunks of `size` bytes (all at once by default). */
async function* chunks(content: string | Buffer, size = Number.POSITIVE_INFINITY): AsyncGenerator<Buffer> {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Ingests `content`, expects a ValidationError, and checks nothing is left behind. */
async function rejects(
  content: string | Buffer,
  opts: IngestOptions,
  expected: { message: string | RegExp; code: string },
  size?: number,
): Promise<void> {
  const err: unknown = await ingestDataset(chunks(content, size), dest, opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  const v = err as ValidationError;
  if (typeof expected.message === 'string') expect(v.message).toBe(expected.message);
  else expect(v.message).toMatch(expected.message);
  expect({ code: v.code, param: v.param, httpStatus: v.httpStatus }).toEqual({ code: expected.code, param: 'file', httpStatus: 400 });
  expect(await readdir(dir)).toEqual([]);
}

/** Ingests `content` over its size limit: 413, naming the limit, nothing left behind. */
async function tooLarge(content: string, opts: IngestOptions & { maxBytes: number }, size?: number): Promise<void> {
  const err = await ingestDataset(chunks(content, size), dest, opts).then(
    () => null,
    (e: unknown) => e as AssayError,
  );
  expect(err).toBeInstanceOf(AssayError);
  expect({ message: err?.message, code: err?.code, param: err?.param, httpStatus: err?.httpStatus }).toEqual({
    message: `the file is larger than ${opts.maxBytes} bytes (ASSAY_MAX_UPLOAD_BYTES)`,
    code: 'file_too_large',
    param: 'file',
    httpStatus: 413,
  });
  expect(await readdir(dir)).toEqual([]);
}

const jsonl: IngestOptions = { format: 'jsonl' };
const csv: IngestOptions = { format: 'csv' };

describe('ingestDataset, JSONL', () => {
  it('stores a valid file and summarises it', async () => {
    const content =
      '{"prompt":"hi","info":{"question":"q","tags":["a"]}}\n' +
      '{"prompt":"yo","extra":null,"info":{}}\n' +
      '{"category":"x","prompt":"z"}\n';
    const summary = await ingestDataset(chunks(content), dest, jsonl);
    expect(summary).toEqual({
      bytes: Buffer.byteLength(content),
      lineCount: 3,
      columns: ['prompt', 'info', 'extra', 'category'],
      sha256: sha256(content),
    });
    expect(await readFile(dest, 'utf8')).toBe(content);
    expect(await readdir(dir)).toEqual(['file-1']);
  });

  it('accepts CRLF, a BOM, no final newline and trailing blank lines, and stores the bytes as sent', async () => {
    const content = '\ufeff{"a":1}\r\n{"b":"é ☕"}\r\n{"a":3}\r\n\r\n  \n\t\r\n\n';
    const summary = await ingestDataset(chunks(content), dest, jsonl);
    expect(summary).toMatchObject({ lineCount: 3, columns: ['a', 'b'] });
    expect(await readFile(dest)).toEqual(Buffer.from(content));
    expect((await ingestDataset(chunks('{"a":1}\n{"a":2}'), join(dir, 'f2'), jsonl)).lineCount).toBe(2);
  });

  it('gives the same summary when the source yields one byte at a time', async () => {
    const content = '\ufeff{"k":"a long value that crosses many chunk boundaries ☕"}\r\n{"k":"second","n":2}\n\n';
    const whole = await ingestDataset(chunks(content), dest, jsonl);
    const bytewise = await ingestDataset(chunks(content, 1), join(dir, 'f2'), jsonl);
    expect(bytewise).toEqual(whole);
    expect(whole).toMatchObject({ lineCount: 2, columns: ['k', 'n'] });
  });

  it('reads a Node stream with string chunks', async () => {
    const summary = await ingestDataset(Readable.from(['{"a":', '1}\n{"a":2}\n']), dest, jsonl);
    expect(summary.lineCount).toBe(2);
  });

  it.each([
    ['invalid JSON', '{"a":1}\n{"a":2}\n{"a":}\n', /^line 3 is not valid JSON: .+/],
    ['an array', '{"a":1}\n{}\n{}\n{}\n[1,2]\n', 'line 5 is a JSON array, not an object'],
    ['a number', '{"a":1}\n42\n', 'line 2 is a JSON number, not an object'],
    ['a string', '"text"\n', 'line 1 is a JSON string, not an object'],
    ['null', '{}\nnull\n', 'line 2 is JSON null, not an object'],
    ['an empty line', '{"a":1}\n{"a":2}\n{"a":3}\n\n{"a":5}\n', 'line 4 is empty'],
    ['a whitespace-only line', '{"a":1}\r\n  \t\r\n{"a":3}\r\n', 'line 2 is empty'],
    ['a leading blank line', '\n{"a":1}\n', 'line 1 is empty'],
    ['two JSON values on a line', '{"a":1} {"b":2}\n', /^line 1 is not valid JSON: /],
  ])('rejects %s, naming the line', async (_name, content, message) => {
    await rejects(content, jsonl, { message, code: 'invalid_jsonl' });
    await rejects(content, jsonl, { message, code: 'invalid_jsonl' }, 1);
  });

  it('rejects bytes that are not UTF-8, naming the line', async () => {
    const content = Buffer.concat([Buffer.from('{"a":"ok"}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    await rejects(content, jsonl, { message: 'line 2 is not valid UTF-8', code: 'invalid_jsonl' });
    await rejects(content, jsonl, { message: 'line 2 is not valid UTF-8', code: 'invalid_jsonl' }, 1);
  });

  it('reports the earlier of two problems in the same chunk', async () => {
    const content = Buffer.concat([Buffer.from('{}\n[]\n'), Buffer.from([0xff]), Buffer.from('\n')]);
    await rejects(content, jsonl, { message: 'line 2 is a JSON array, not an object', code: 'invalid_jsonl' });
  });

  it.each([
    ['no bytes', ''],
    ['only blank lines', '\n \r\n\n'],
    ['only a BOM', '\ufeff'],
  ])('rejects a file with %s as empty', async (_name, content) => {
    await rejects(content, jsonl, { message: 'the file is empty', code: 'empty_file' });
  });

  it('rejects a line over the length limit, whole or spread over chunks', async () => {
    const content = '{"a":1}\n'.repeat(6) + `{"a":"${'x'.repeat(40)}"}\n{"a":1}\n`;
    const opts = { ...jsonl, maxLineBytes: 32 };
    await rejects(content, opts, { message: 'line 7 is longer than 32 bytes', code: 'line_too_long' });
    await rejects(content, opts, { message: 'line 7 is longer than 32 bytes', code: 'line_too_long' }, 1);
    const exact = '{"a":"' + 'x'.repeat(24) + '"}';
    expect(exact).toHaveLength(32);
    expect((await ingestDataset(chunks(`${exact}\r\n${exact}`, 1), dest, opts)).lineCount).toBe(2);
  });

  it('limits lines to 16 MiB by default', async () => {
    expect(DEFAULT_MAX_LINE_BYTES).toBe(16_777_216);
    const content = Buffer.alloc(DEFAULT_MAX_LINE_BYTES + 1, 0x20);
    await rejects(content, jsonl, { message: 'line 1 is longer than 16777216 bytes', code: 'line_too_long' }, 65_536);
  });

  it('rejects a file over the size limit with 413', async () => {
    const content = '{"a":1}\n'.repeat(10);
    await tooLarge(content, { ...jsonl, maxBytes: 79 }, 7);
    expect((await ingestDataset(chunks(content), dest, { ...jsonl, maxBytes: 80 })).bytes).toBe(80);
  });

  it('rejects rows past the row limit and rows nested past the depth limit, naming the line', async () => {
    const rows = '{"a":1}\n'.repeat(5);
    await rejects(rows, { ...jsonl, maxRows: 4 }, { message: 'line 5 brings the dataset to more than 4 rows (ASSAY_MAX_ROWS)', code: 'too_many_rows' }, 3);
    const deep = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    const content = `{"a":1}\n${deep(64)}\n${deep(65)}\n`;
    await rejects(content, { ...jsonl, maxDepth: 64 }, { message: 'line 3 nests deeper than 64 levels (ASSAY_MAX_JSON_DEPTH)', code: 'json_too_deep' });
    await rejects(`{"a":1}\n${deep(100_000)}\n`, { ...jsonl, maxDepth: 64 }, { message: /^line 2 nests deeper/, code: 'json_too_deep' });
    expect((await ingestDataset(chunks(rows), dest, { ...jsonl, maxRows: 5 })).lineCount).toBe(5);
  });

  it('rejects rows whose keys add up to too many columns', async () => {
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_COLUMNS + 1 }, (_, i) => [`k${i}`, i])));
    await rejects(`{"a":1}\n${wide}\n`, jsonl, { message: /^line 2 brings the dataset to more than 10000 columns$/, code: 'too_many_columns' });
  });

  it('removes the temporary file when the source fails', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('{"a":1}\n{"a":');
      throw new Error('connection reset');
    }
    await expect(ingestDataset(broken(), dest, jsonl)).rejects.toThrow('connection reset');
    expect(await readdir(dir)).toEqual([]);
  });

  it('removes the temporary file when a source stream is destroyed mid-upload', async () => {
    const source = new Readable({ read() {} });
    source.push('{"a":1}\n');
    const pending = ingestDataset(source, dest, jsonl);
    setImmediate(() => source.destroy(new Error('client went away')));
    await expect(pending).rejects.toThrow('client went away');
    expect(await readdir(dir)).toEqual([]);
  });

  it('stores anything when validation is off, counting lines', async () => {
    await tooLarge('x'.repeat(10), { ...jsonl, validate: false, maxBytes: 5 });
    const summary = await ingestDataset(chunks('not json\n\n[1]\nlast', 3), dest, { ...jsonl, validate: false });
    expect(summary).toMatchObject({ lineCount: 4, columns: [] });
    expect((await ingestDataset(chunks(''), join(dir, 'f2'), { ...jsonl, validate: false })).lineCount).toBe(0);
  });
});

describe('ingestDataset, CSV', () => {
  it('rejects records past the row limit, naming the line', async () => {
    const content = 'a,b\n1,2\n3,4\n5,6\n';
    await rejects(content, { ...csv, maxRows: 2 }, { message: 'line 4 brings the dataset to more than 2 rows (ASSAY_MAX_ROWS)', code: 'too_many_rows' }, 5);
    expect((await ingestDataset(chunks(content), dest, { ...csv, maxRows: 3 })).lineCount).toBe(3);
  });

  it('stores a valid file with quoted commas, quotes and newlines in fields', async () => {
    const content = '\ufeffprompt,answer,category\r\n"Hi, you","He said ""no""",a\r\n"two\nlines",plain,b\r\n,,\r\n';
    const summary = await ingestDataset(chunks(content), dest, csv);
    expect(summary).toEqual({
      bytes: Buffer.byteLength(content),
      lineCount: 3,
      columns: ['prompt', 'answer', 'category'],
      sha256: sha256(content),
    });
    expect(await ingestDataset(chunks(content, 1), join(dir, 'f2'), csv)).toEqual(summary);
  });

  it('ignores trailing blank lines and accepts no final newline', async () => {
    expect((await ingestDataset(chunks('a,b\n1,2\n3,4\n\n \n\n'), dest, csv)).lineCount).toBe(2);
    expect((await ingestDataset(chunks('a,b\n1,2\n3,4'), join(dir, 'f2'), csv)).lineCount).toBe(2);
  });

  it.each([
    ['a ragged row', 'a,b\n1,2\n3,4\n5,6,7\n', 'line 4 has 3 fields, the header has 2'],
    ['a short row', 'a,b\n1,2\n"x\ny"\n', 'line 3 has 1 field, the header has 2'],
    ['a duplicate column', 'id,text,id\n1,2,3\n', 'the header names column "id" more than once'],
    ['an unnamed column', 'id,,text\n1,2,3\n', 'column 2 of the header has no name'],
    ['an interior blank line', 'a,b\n1,2\n\n3,4\n', 'line 3 is empty'],
    ['a blank line before the header', '\na,b\n1,2\n', 'line 1 is empty'],
    ['an unclosed quote', 'a,b\n1,2\n3,"four\n5,6\n', 'line 3 opens a quoted field that is never closed'],
    ['a stray quote', 'a,b\n1,2\n3,x"y\n', /^line 3 is not valid CSV: Invalid Opening Quote/],
    ['text after a closing quote', 'a,b\n1,"2"x\n', /^line 2 is not valid CSV: Invalid Closing Quote/],
  ])('rejects %s, naming it', async (_name, content, message) => {
    await rejects(content, csv, { message, code: 'invalid_csv' });
    await rejects(content, csv, { message, code: 'invalid_csv' }, 1);
  });

  it.each([
    ['no bytes', ''],
    ['a header only', 'a,b\n'],
    ['a header and blank lines', '\ufeffa,b\r\n\r\n'],
  ])('rejects a file with %s as empty', async (_name, content) => {
    await rejects(content, csv, { message: 'the file is empty', code: 'empty_file' });
  });

  it('rejects bytes that are not UTF-8, naming the line', async () => {
    const content = Buffer.concat([Buffer.from('a,b\n1,2\n"3\n'), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('",4\n')]);
    await rejects(content, csv, { message: 'line 4 is not valid UTF-8', code: 'invalid_csv' }, 1);
  });

  it('rejects a record over the length limit', async () => {
    const content = `a,b\n1,2\n3,"${'x'.repeat(100)}"\n`;
    await rejects(content, { ...csv, maxLineBytes: 50 }, { message: 'line 3 is longer than 50 bytes', code: 'line_too_long' }, 7);
  });
});
