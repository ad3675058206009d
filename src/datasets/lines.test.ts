import { describe, expect, it } from 'vitest';
import { LineCounter, LineSplitter, readLines, Utf8Check, type LineOptions } from './lines.js';

/** Splits `input` fed in chunks of `size` bytes; returns [lineNumber, text] pairs. */
function split(input: Buffer, size: number, opts: LineOptions = {}): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const splitter = new LineSplitter(opts);
  const onLine = (bytes: Buffer, n: number): void => {
    out.push([n, bytes.toString('utf8')]);
  };
  for (let i = 0; i < input.length; i += size) splitter.push(input.subarray(i, i + size), onLine);
  splitter.end(onLine);
  return out;
}

async function* chunked(input: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < input.length; i += size) yield input.subarray(i, i + size);
}

describe('LineSplitter', () => {
  const tricky = Buffer.from('\ufeff{"a":1}\r\n\r\nplain\n\n  \ncafé ☕\r\nlast', 'utf8');
  const expected: Array<[number, string]> = [
    [1, '{"a":1}'],
    [2, ''],
    [3, 'plain'],
    [4, ''],
    [5, '  '],
    [6, 'café ☕'],
    [7, 'last'],
  ];

  it('gives the same lines whatever the chunk size', () => {
    for (let size = 1; size <= tricky.length; size++) expect(split(tricky, size), `chunk size ${size}`).toEqual(expected);
  });

  it('does not invent a line after a final newline, and keeps a lone final blank line', () => {
    expect(split(Buffer.from('a\n'), 1)).toEqual([[1, 'a']]);
    expect(split(Buffer.from('a\n\n'), 1)).toEqual([
      [1, 'a'],
      [2, ''],
    ]);
    expect(split(Buffer.from(''), 1)).toEqual([]);
  });

  it('drops a BOM only at the start of line 1', () => {
    expect(split(Buffer.from('\ufeffa\n\ufeffb'), 2)).toEqual([
      [1, 'a'],
      [2, '\ufeffb'],
    ]);
  });

  it('rejects a line longer than the limit, terminator and BOM excluded', () => {
    expect(split(Buffer.from('\ufeff12345\r\n12345'), 1, { maxLineBytes: 5 })).toHaveLength(2);
    for (const size of [1, 3, 100]) {
      expect(() => split(Buffer.from('ok\n123456\nok'), size, { maxLineBytes: 5 })).toThrow('line 2 is longer than 5 bytes');
    }
  });

  it('stops holding bytes once a line is over the limit, before it ends', () => {
    const splitter = new LineSplitter({ maxLineBytes: 4 });
    splitter.push(Buffer.from('ok\nabc'), () => {});
    expect(() => splitter.push(Buffer.from('def'), () => {})).toThrow('line 2 is longer than 4 bytes');
  });

  it('names the first line that is not UTF-8, after handing out the lines before it', () => {
    const input = Buffer.concat([Buffer.from('ok\nfine é\n'), Buffer.from([0x62, 0xff, 0x0a]), Buffer.from('after\n')]);
    for (const size of [1, 2, 5, 100]) {
      const seen: number[] = [];
      const splitter = new LineSplitter({ utf8ErrorCode: 'bad_text' });
      const run = (): void => {
        for (let i = 0; i < input.length; i += size) splitter.push(input.subarray(i, i + size), (_b, n) => seen.push(n));
        splitter.end(() => {});
      };
      expect(run).toThrow(expect.objectContaining({ message: 'line 3 is not valid UTF-8', code: 'bad_text' }));
      expect(seen).toEqual([1, 2]);
    }
  });

  it('rejects a character cut short by the end of the file', () => {
    const input = Buffer.concat([Buffer.from('ok\nx'), Buffer.from('☕').subarray(0, 2)]);
    expect(() => split(input, 1, { utf8ErrorCode: 'bad_text' })).toThrow('line 2 is not valid UTF-8');
  });
});

describe('readLines', () => {
  it('yields one batch per chunk, with line numbers running across chunks', async () => {
    const input = Buffer.from('a\nb\nc\r\nd');
    const batches: Array<Array<[number, string]>> = [];
    for await (const batch of readLines(chunked(input, 4))) {
      batches.push(batch.map((l) => [l.number, l.bytes.toString()]));
    }
    expect(batches).toEqual([[[1, 'a'], [2, 'b']], [[3, 'c']], [[4, 'd']]]);
  });

  it('accepts string chunks and Uint8Arrays', async () => {
    async function* mixed(): AsyncGenerator<string | Uint8Array> {
      yield 'x\ny';
      yield new Uint8Array([0x7a, 0x0a]);
    }
    const lines: string[] = [];
    for await (const batch of readLines(mixed())) for (const l of batch) lines.push(l.bytes.toString());
    expect(lines).toEqual(['x', 'yz']);
  });
});

describe('LineCounter', () => {
  it.each([
    ['', 0],
    ['a', 1],
    ['a\n', 1],
    ['a\nb', 2],
    ['a\n\n', 2],
    ['\n', 1],
  ])('counts %j as %i lines', (text, lines) => {
    const counter = new LineCounter();
    for (const ch of Buffer.from(text)) counter.push(Buffer.from([ch]));
    counter.push(Buffer.alloc(0));
    expect(counter.lines).toBe(lines);
  });
});

describe('Utf8Check', () => {
  it('accepts characters split across chunks in every way', () => {
    const input = Buffer.from('a é ☕ 𝄞 z\nnext 😀');
    for (let size = 1; size <= 5; size++) {
      const check = new Utf8Check();
      for (let i = 0; i < input.length; i += size) expect(check.push(input.subarray(i, i + size), 1)).toBe(0);
      expect(check.end(2)).toBe(0);
    }
  });

  it('reports the line of a bad byte relative to the chunk start', () => {
    const check = new Utf8Check();
    expect(check.push(Buffer.from([0x61, 0x0a, 0x62, 0x0a, 0xc3, 0x28]), 10)).toBe(12);
  });
});
