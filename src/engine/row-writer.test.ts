import { describe, expect, it } from 'vitest';
import type { RowResult } from '../domain/types.js';
import { createRowWriter } from './row-writer.js';

const row = (rowIndex: number): RowResult => ({ rowIndex, outcome: 'ok' }) as unknown as RowResult;

describe('createRowWriter', () => {
  it('writes the rows added in one turn together, and later rows in a later write', async () => {
    const writes: number[][] = [];
    const writer = createRowWriter(async (rows) => void writes.push(rows.map((r) => r.rowIndex)));
    const first = [0, 1, 2].map((i) => writer.add(row(i)));
    await Promise.all(first);
    await writer.add(row(3));
    expect(writes).toEqual([[0, 1, 2], [3]]);
  });

  it('resolves a row only once it is written, and rejects the rows of a failed write', async () => {
    let written = false;
    const writer = createRowWriter(async (rows) => {
      if (rows[0]!.rowIndex === 9) throw new Error('disk full');
      written = true;
    });
    const ok = writer.add(row(0));
    expect(written).toBe(false);
    await ok;
    expect(written).toBe(true);
    await expect(writer.add(row(9))).rejects.toThrow('disk full');
    await expect(writer.flush()).rejects.toThrow('disk full');
  });
});
