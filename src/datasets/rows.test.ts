import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestDataset, type DatasetFormat } from './ingest.js';
import { readRows, type DatasetRow } from './rows.js';
import { csvRowOffsets, rowOffsets } from './offsets.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-rows-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* chunks(content: string, size = Number.POSITIVE_INFINITY): AsyncGenerator<Buffer> {
  const buf = Buffer.from(content, 'utf8');
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

/** Ingests `content` (one byte at a time by default); returns the stored path and the row count ingest reported. */
async function stored(content: string, format: DatasetFormat, chunkSize = 1): Promise<{ path: string; lineCount: number }> {
  const path = join(dir, `data.${format}`);
  const { lineCount } = await ingestDataset(chunks(content, chunkSize), path, { format });
  return { path, lineCount };
}

async function collect(rows: AsyncIterable<DatasetRow>): Promise<DatasetRow[]> {
  const out: DatasetRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

describe('readRows, JSONL', () => {
  const content = '\ufeff{"q":"one","info":{"n":1}}\r\n{"q":"two"}\r\n{"q":"three","tags":["a"]}\n{"q":"four"}\n\n  \n';

  it('yields the rows ingest counted, with indexes and line numbers', async () => {
    const { path, lineCount } = await stored(content, 'jsonl');
    const rows = await collect(readRows(path, 'jsonl'));
    expect(rows).toHaveLength(lineCount);
    expect(rows).toEqual([
      { index: 0, line: 1, data: { q: 'one', info: { n: 1 } } },
      { index: 1, line: 2, data: { q: 'two' } },
      { index: 2, line: 3, data: { q: 'three', tags: ['a'] } },
      { index: 3, line: 4, data: { q: 'four' } },
    ]);
  });

  it('starts at `from`', async () => {
    const { path } = await stored(content, 'jsonl');
    expect((await collect(readRows(path, 'jsonl', { from: 2 }))).map((r) => [r.index, r.line])).toEqual([
      [2, 3],
      [3, 4],
    ]);
    expect(await collect(readRows(path, 'jsonl', { from: 4 }))).toEqual([]);
    expect(await collect(readRows(path, 'jsonl', { from: 0 }))).toHaveLength(4);
  });

  it('agrees with ingest over many chunks', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i, text: 'é☕'.repeat(i % 50) }));
    const { path, lineCount } = await stored(`${lines.join('\n')}\n`, 'jsonl', 4099);
    const rows = await collect(readRows(path, 'jsonl', { from: 19_990 }));
    expect(lineCount).toBe(20_000);
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: 10 }, (_, i) => 19_990 + i));
    expect(rows[9]).toEqual({ index: 19_999, line: 20_000, data: { i: 19_999, text: 'é☕'.repeat(49) } });
  });

  it('applies the ingest rules to a file that was stored unchecked', async () => {
    const path = join(dir, 'raw.jsonl');
    await writeFile(path, '{"a":1}\n\n{"a":2}\n');
    await expect(collect(readRows(path, 'jsonl'))).rejects.toMatchObject({ message: 'line 2 is empty', code: 'invalid_jsonl' });
    await writeFile(path, '{"a":1}\n[2]\n');
    const rows: DatasetRow[] = [];
    await expect(
      (async () => {
        for await (const row of readRows(path, 'jsonl')) rows.push(row);
      })(),
    ).rejects.toMatchObject({ message: 'line 2 is a JSON array, not an object' });
    expect(rows).toHaveLength(1);
  });

  it('can stop early', async () => {
    const { path } = await stored(content, 'jsonl');
    for await (const row of readRows(path, 'jsonl')) {
      expect(row.index).toBe(0);
      break;
    }
  });
});

describe('readRows, CSV', () => {
  const content = '\ufeffprompt,answer\r\n"Hi, you","He said ""no"""\r\n"two\nlines",b\r\n,\r\nlast,row\r\n\r\n';

  it('yields records as objects of strings, with the line each starts on', async () => {
    const { path, lineCount } = await stored(content, 'csv');
    const rows = await collect(readRows(path, 'csv'));
    expect(rows).toHaveLength(lineCount);
    expect(rows).toEqual([
      { index: 0, line: 2, data: { prompt: 'Hi, you', answer: 'He said "no"' } },
      { index: 1, line: 3, data: { prompt: 'two\nlines', answer: 'b' } },
      { index: 2, line: 5, data: { prompt: '', answer: '' } },
      { index: 3, line: 6, data: { prompt: 'last', answer: 'row' } },
    ]);
  });

  it('starts at `from`', async () => {
    const { path } = await stored(content, 'csv');
    expect((await collect(readRows(path, 'csv', { from: 3 }))).map((r) => r.data)).toEqual([{ prompt: 'last', answer: 'row' }]);
  });

  it('keeps any column name as an own key', async () => {
    const { path } = await stored('__proto__,constructor\nx,y\n', 'csv');
    const [row] = await collect(readRows(path, 'csv'));
    expect(Object.keys(row!.data)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(row!.data)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(row!.data, '__proto__')?.value).toBe('x');
  });

  it('agrees with ingest over many chunks', async () => {
    const records = Array.from({ length: 30_000 }, (_, i) => `${i},"text, ""quoted""\nline ${i}"`);
    const { path, lineCount } = await stored(`id,text\n${records.join('\n')}\n`, 'csv', 4099);
    expect(lineCount).toBe(30_000);
    const rows = await collect(readRows(path, 'csv', { from: 29_999 }));
    expect(rows).toEqual([{ index: 29_999, line: 2 + 2 * 29_999, data: { id: '29999', text: 'text, "quoted"\nline 29999' } }]);
  });
});

describe('reading from a row offset', () => {
  it('gives the same rows as a read from the start, for every offset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-offsets-'));
    try {
      const file = join(dir, 'd.jsonl');
      const lines = Array.from({ length: 23 }, (_, i) => JSON.stringify({ i, text: 'é'.repeat(i % 5), nested: { i } }));
      await writeFile(file, `\ufeff${lines.join('\r\n')}\n\n`);
      const all: unknown[] = [];
      for await (const row of readRows(file, 'jsonl')) all.push(row);
      const offsets = await rowOffsets(file, 5, 23);
      expect(offsets.map((o) => o.index)).toEqual([0, 5, 10, 15, 20]);
      for (const start of offsets) {
        const got: unknown[] = [];
        for await (const row of readRows(file, 'jsonl', { from: start.index, start })) got.push(row);
        expect(got).toEqual(all.slice(start.index));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does the same for CSV, with quoted newlines, CRLF endings and a byte order mark', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-offsets-'));
    try {
      const file = join(dir, 'd.csv');
      const records = Array.from({ length: 23 }, (_, i) => `${i},"é ${'x'.repeat(i % 4)}${i % 3 === 0 ? '\r\nsecond line' : ''}","say ""${i}"""`);
      await writeFile(file, `\ufeffid,text,quote\r\n${records.join('\r\n')}\r\n`);
      const all: unknown[] = [];
      for await (const row of readRows(file, 'csv')) all.push(row);
      expect(all).toHaveLength(23);
      const offsets = await csvRowOffsets(file, 5);
      expect(offsets.map((o) => o.index)).toEqual([0, 5, 10, 15, 20]);
      for (const start of offsets) {
        const got: unknown[] = [];
        for await (const row of readRows(file, 'csv', { from: start.index, start })) got.push(row);
        expect(got).toEqual(all.slice(start.index));
        // With the header the file record keeps, the read need not look at the file's top.
        const withColumns: unknown[] = [];
        for await (const row of readRows(file, 'csv', { from: start.index, start, columns: ['id', 'text', 'quote'] })) withColumns.push(row);
        expect(withColumns).toEqual(all.slice(start.index));
      }
      // A chunk that starts mid-file and stops early reads only its rows.
      const got: number[] = [];
      for await (const row of readRows(file, 'csv', { from: 12, start: offsets[2] })) {
        if (row.index >= 15) break;
        got.push(row.index);
      }
      expect(got).toEqual([12, 13, 14]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('reading a range of rows', () => {
  it('gives exactly the rows in [from, until), in both formats, for ranges wider than one read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'assay-range-'));
    try {
      // Rows of about 1 KB, so a 64-row range spans several of the small reads a range uses.
      const wide = (i: number) => `${i} ${'w'.repeat(1000)}`;
      const jsonl = join(dir, 'd.jsonl');
      await writeFile(jsonl, Array.from({ length: 300 }, (_, i) => JSON.stringify({ i, text: wide(i) })).join('\n') + '\n');
      const csv = join(dir, 'd.csv');
      await writeFile(csv, `i,text\n${Array.from({ length: 300 }, (_, i) => `${i},"${wide(i)}\nsecond line"`).join('\n')}\n`);
      for (const [file, format] of [[jsonl, 'jsonl'], [csv, 'csv']] as const) {
        const all: Array<{ index: number }> = [];
        for await (const row of readRows(file, format)) all.push(row);
        const offsets = format === 'jsonl' ? await rowOffsets(file, 64, 300) : await csvRowOffsets(file, 64);
        for (const start of offsets) {
          const until = Math.min(start.index + 64, 300);
          const got: unknown[] = [];
          for await (const row of readRows(file, format, { from: start.index, until, start, columns: ['i', 'text'] })) got.push(row);
          expect(got).toEqual(all.slice(start.index, until));
        }
        expect(await collect(readRows(file, format, { from: 10, until: 10 }))).toEqual([]);
        expect((await collect(readRows(file, format, { from: 298, until: 400 }))).map((r) => r.index)).toEqual([298, 299]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readRows, a range that ends before the file does', () => {
  /** The process's open descriptors on `file` (Linux). */
  async function openOn(file: string): Promise<number> {
    const { readdir, readlink } = await import('node:fs/promises');
    let n = 0;
    for (const fd of await readdir('/proc/self/fd')) n += (await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file ? 1 : 0;
    return n;
  }

  it.runIf(process.platform === 'linux')('closes the file, in both formats', async () => {
    const jsonl = join(dir, 'd.jsonl');
    await writeFile(jsonl, Array.from({ length: 500 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n');
    const csv = join(dir, 'd.csv');
    await writeFile(csv, `i\n${Array.from({ length: 500 }, (_, i) => String(i)).join('\n')}\n`);
    for (const [file, format] of [[jsonl, 'jsonl'], [csv, 'csv']] as const) {
      const offsets = format === 'jsonl' ? await rowOffsets(file, 64, 500) : await csvRowOffsets(file, 64);
      for (const start of offsets.slice(0, -1)) {
        const rows = await collect(readRows(file, format, { from: start.index, until: start.index + 64, start, columns: ['i'] }));
        expect(rows.map((r) => r.index)).toEqual(Array.from({ length: 64 }, (_, k) => start.index + k));
      }
      // A stream closes its descriptor on the thread pool soon after it is destroyed: wait for
      // that, boundedly (a busy machine takes longer).
      const until = Date.now() + 10_000;
      while ((await openOn(file)) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(await openOn(file)).toBe(0);
    }
  });
});
