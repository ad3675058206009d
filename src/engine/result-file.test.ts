import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from '../backends/embedded/sqlite-store.js';
import type { JobRecord, JobSpec, RowResult } from '../domain/types.js';
import { createSummarizer } from '../stats/aggregate.js';
import type { PendingCommit, Store } from './contracts.js';
import { openLiveResultFile, resultLine, rowJson, storedResultLine, writeResultFile } from './result-file.js';

const judge = { model: 'j', source: 'serverless', baseUrl: null, secretRef: null, maxTokens: 1, temperature: 0, numWorkers: null, systemTemplate: '' } as const;
const spec: JobSpec = { type: 'classify', fileId: 'f', judge, target: { kind: 'column', column: 'r' }, labels: ['good', 'bad'], passLabels: ['good'] };

const OPTS = { labelCountsAsString: false };

function result(i: number): RowResult {
  const label = i % 3 === 0 ? 'bad' : 'good';
  return {
    rowIndex: i,
    outcome: 'ok',
    label,
    score: null,
    choice: null,
    generationFailures: 0,
    judgeFailures: 0,
    usage: { judge: { prompt: 10, completion: 2 } },
    fields: { evaluation_successful: true, label, feedback: `row ${i}` },
  };
}
const data = (i: number) => ({ id: i, text: `question ${i}` });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-live-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a result line', () => {
  it('is the row merged with its fields, serialized, whatever the keys and values', () => {
    // Keys that collide, that objects order first (integer-like), or that are special to objects.
    const key = fc.oneof(fc.constantFrom('id', 'label', 'feedback', '0', '7', '10', '01', '__proto__', 'constructor', ''), fc.string({ maxLength: 6 }));
    const object = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 });
    fc.assert(
      fc.property(object, object, (data, fields) => {
        const row = { ...result(0), fields };
        const expected = JSON.stringify({ ...data, ...fields }) + '\n';
        expect(resultLine(data, row)).toBe(expected);
        // The same from the row's JSON made once for its write and its line.
        expect(resultLine(data, row, rowJson(data, row))).toBe(expected);
      }),
      { seed: 20261127, numRuns: 2_000 },
    );
  });

  it("joins the row's JSON it is given instead of serializing the row again", () => {
    const row = result(1);
    // Text JSON.stringify would not make (spaces), to see it is the one used.
    const json = { input: '{ "id": 1 }', fields: '{ "label": "good" }' };
    expect(resultLine({ id: 1 }, row, json)).toBe('{ "id": 1 , "label": "good" }\n');
  });

  it('is the same when made from the fields as stored, spliced in or parsed where a key may be shared', () => {
    // Columns that fields hold at the top, only deeper down, or not at all; keys that need escaping.
    const key = fc.oneof(fc.constantFrom('id', 'label', 'feedback', '0', '7', '01', 'a"b', 'a\\b', 'é', '__proto__', ''), fc.string({ maxLength: 6 }));
    const object = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 });
    const fields = fc.oneof(object, fc.record({ judge: object, label: fc.string() }));
    fc.assert(
      fc.property(object, fields, (data, fields) => {
        expect(storedResultLine(data, JSON.stringify(fields))).toBe(resultLine(data, { ...result(0), fields }));
      }),
      { seed: 20261128, numRuns: 4_000 },
    );
    expect(storedResultLine({ q: 1 }, null)).toBe(resultLine({ q: 1 }, null));
  });

  it('splices the stored fields in when no column is among their keys, and parses them when one is', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(storedResultLine({ q: 'x', n: 1 }, '{"label":"good","feedback":"q: \\"a\\""}')).toBe('{"q":"x","n":1,"label":"good","feedback":"q: \\"a\\""}\n');
      expect(parse).not.toHaveBeenCalled();
      // The column `label` is also a field: the field's value wins, in the column's place.
      expect(storedResultLine({ label: 'old', q: 'x' }, '{"label":"good","feedback":"f"}')).toBe('{"label":"good","q":"x","feedback":"f"}\n');
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });
});

describe('a result file written as rows finish', () => {
  it('holds every row in row order, whatever order they finished in, with the summary of an in-order pass', async () => {
    const rows = 1_000;
    const dest = join(dir, 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: rows, destPath: dest, summary: OPTS, maxWaiting: 64 });
    // Rows finish in a jumbled order within windows of 50, as rows with slower calls do.
    const order: number[] = [];
    for (let start = 0; start < rows; start += 50) {
      const window = Array.from({ length: Math.min(50, rows - start) }, (_, k) => start + k);
      for (let k = 0; k < window.length; k++) order.push(window[(k * 17) % window.length]!);
    }
    // Half of them with their JSON made already, as the engine gives it.
    for (const i of order) live.add(i, data(i), result(i), i % 2 === 0 ? rowJson(data(i), result(i)) : undefined);
    const info = await live.finish();

    const expected = Array.from({ length: rows }, (_, i) => resultLine(data(i), result(i))).join('');
    expect(readFileSync(dest, 'utf8')).toBe(expected);
    const summarizer = createSummarizer(spec, OPTS);
    for (let i = 0; i < rows; i++) summarizer.add(result(i));
    expect(info).toEqual({ bytes: Buffer.byteLength(expected), lineCount: rows, summary: summarizer.finish() });
    expect(readdirSync(dir)).toEqual(['result.jsonl']);
  });

  it('gives up, leaving nothing behind, when a row never arrives', async () => {
    const dest = join(dir, 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: 3, destPath: dest, summary: OPTS, maxWaiting: 64 });
    live.add(0, data(0), result(0));
    live.add(2, data(2), result(2));
    expect(await live.finish()).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up once too many rows wait for a slow one, so its memory stays bounded', async () => {
    const rows = 300_000;
    const dest = join(dir, 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: rows, destPath: dest, summary: OPTS, maxWaiting: 10 });
    // Enough in-order rows to start the file on disk, then row 50,000 is slow.
    for (let i = 0; i < 50_000; i++) live.add(i, data(i), result(i));
    for (let i = 50_001; i < 50_020; i++) live.add(i, data(i), result(i));
    live.add(50_000, data(50_000), result(50_000));
    for (let i = 50_020; i < rows; i++) live.add(i, data(i), result(i));
    expect(await live.finish()).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves nothing behind when it gives up twice at once, while its file is still opening', async () => {
    const dest = join(dir, 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: 100_000, destPath: dest, summary: OPTS, maxWaiting: 10 });
    // Enough rows for a first write, so the file is being opened when both give up.
    for (let i = 0; i < 5_000; i++) live.add(i, data(i), result(i));
    let abandoned = false;
    const first = live.abandon().then(() => (abandoned = true));
    expect(await live.finish()).toBeNull();
    // The second caller returns only once the first caller's removal is done.
    expect(abandoned).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    await first;
  });

  it('gives up, without failing the job, when the file cannot be written', async () => {
    const dest = join(dir, 'no-such-folder', 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: 2_000, destPath: dest, summary: OPTS, maxWaiting: 10 });
    // Enough rows for a write while the job runs, then the rest at the end.
    for (let i = 0; i < 2_000; i++) live.add(i, { ...data(i), pad: 'p'.repeat(200) }, result(i));
    expect(await live.finish()).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes what it wrote when abandoned', async () => {
    const dest = join(dir, 'result.jsonl');
    const live = openLiveResultFile({ spec, rowCount: 100_000, destPath: dest, summary: OPTS, maxWaiting: 10 });
    for (let i = 0; i < 5_000; i++) live.add(i, data(i), result(i));
    await live.abandon();
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(dest)).toBe(false);
  });
});

describe('the result file written after a job', () => {
  it("holds a compare job's stored rows, spliced or merged, with the summary their parsed fields give", async () => {
    const compare: JobSpec = { type: 'compare', fileId: 'f', judge, a: { kind: 'column', column: 'a' }, b: { kind: 'column', column: 'b' }, positionBiasCorrection: true };
    const job: JobRecord = {
      id: 'eval-1',
      ownerId: 'o',
      type: 'compare',
      status: 'running',
      statusUpdates: [],
      parameters: {},
      spec: compare,
      rowCount: 6,
      results: null,
      cancelRequested: false,
      createdAt: '2026-01-01T00:00:00.000000Z',
      updatedAt: '2026-01-01T00:00:00.000000Z',
    };
    const choices = ['A', 'B', 'Tie', 'A', 'A'] as const;
    const stored = choices.map((choice, i): RowResult => {
      const agree = choice !== 'Tie';
      return {
        rowIndex: i,
        outcome: 'ok',
        label: null,
        score: null,
        choice,
        generationFailures: 0,
        judgeFailures: 0,
        usage: { judge: { prompt: 20, completion: 3 } },
        fields: { choice, choice_original: agree ? choice : 'A', choice_flipped: agree ? choice : 'B', passes_agree: agree, feedback: `"q": ${i}` },
      };
    });
    // Row 3 has a column that is also one of its fields (the field wins); row 5 was never judged.
    const rows = [0, 1, 2, 3, 4, 5].map((i) => (i === 3 ? { q: i, a: 'x', b: 'y', choice: 'mine' } : { q: i, a: 'x', b: 'y' }));
    const datasetPath = join(dir, 'data.jsonl');
    writeFileSync(datasetPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const store = openSqliteStore(join(dir, 'assay.db'));
    try {
      await store.insertJob(job, {});
      await store.saveRows(job.id, stored);
      const dest = join(dir, 'result.jsonl');
      const info = await writeResultFile({ store, jobId: job.id, spec: compare, datasetPath, datasetFormat: 'jsonl', destPath: dest, summary: OPTS });

      const expected = rows.map((r, i) => resultLine(r, stored[i] ?? null)).join('');
      expect(readFileSync(dest, 'utf8')).toBe(expected);
      expect(JSON.parse(expected.split('\n')[3]!)).toMatchObject({ q: 3, choice: 'A' });
      const summarizer = createSummarizer(compare, OPTS);
      for (const r of stored) summarizer.add(r);
      expect(info.summary).toEqual(summarizer.finish());
      expect(info.summary.results).toMatchObject({ A_wins: 3, B_wins: 1, Ties: 1, flip_rate: 0.2 });
    } finally {
      await store.close();
    }
  });

  it('gives up the pending commit it was handed whatever fails, even before it reads a row', async () => {
    const commit: PendingCommit = { add: vi.fn(async () => {}), finish: vi.fn(async () => {}), abort: vi.fn(async () => {}) };
    // A spec the summary cannot be made for: the first thing the pass does fails.
    const broken = { ...spec, labels: undefined } as unknown as JobSpec;
    const store = { iterateRows: () => (async function* () {})() } as unknown as Store;
    await expect(
      writeResultFile({ store, jobId: 'j', spec: broken, datasetPath: join(dir, 'none.jsonl'), datasetFormat: 'jsonl', destPath: join(dir, 'out.jsonl'), summary: OPTS, commit }),
    ).rejects.toThrow(TypeError);
    expect(commit.abort).toHaveBeenCalledOnce();
    expect(commit.finish).not.toHaveBeenCalled();
    expect(readdirSync(dir)).toEqual([]);
  });
});
