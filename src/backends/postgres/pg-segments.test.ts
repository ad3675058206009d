/**
 * Result segments on a real PostgreSQL: a job's file is joined from them only while they stand for
 * every stored row, in row order, into the blob store's chunks; otherwise nothing is written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, testPool, type TestDatabase } from '../../../test/support/postgres.js';
import type { BlobStore, ResultSegment, Store } from '../../engine/contracts.js';
import type { RowResult } from '../../domain/types.js';
import { createSummarizer } from '../../stats/aggregate.js';
import { openPostgresBlobStore } from './pg-blob-store.js';
import { openPostgresStore } from './pg-store.js';

let db: TestDatabase;
const dirs: string[] = [];
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(async () => {
  await db?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const spec = { type: 'classify', fileId: 'f', judge: { model: 'j' }, target: { kind: 'column', column: 'r' }, labels: ['good', 'bad'], passLabels: ['good'] } as never;

interface Setup {
  store: Store;
  blobs: BlobStore;
  pool: pg.Pool;
  close(): Promise<void>;
}

async function setup(rowCount: number): Promise<Setup> {
  const url = await db.createDatabase();
  const store = await openPostgresStore(url, { max: 4 });
  const pool = testPool(url, 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'assay-segments-'));
  dirs.push(dir);
  const blobs = await openPostgresBlobStore(pool, dir);
  await store.insertJob(
    {
      id: 'job',
      ownerId: 'o',
      type: 'classify',
      status: 'running',
      statusUpdates: [],
      parameters: {},
      spec,
      rowCount,
      results: null,
      cancelRequested: false,
      createdAt: 't',
      updatedAt: 't',
    },
    {},
  );
  return { store, blobs, pool, close: async () => (await store.close(), await pool.end()) };
}

const result = (i: number, run: string): RowResult => ({
  rowIndex: i,
  outcome: 'ok',
  label: i % 3 === 0 ? 'bad' : 'good',
  score: null,
  choice: null,
  generationFailures: 0,
  judgeFailures: 0,
  usage: { judge: { prompt: 10, completion: 2 } },
  fields: { label: i % 3 === 0 ? 'bad' : 'good' },
  run,
});

/** A chunk run of rows [start, end): its rows stored, and its segment with lines of `lineBytes` each. */
async function runChunk(s: Setup, start: number, end: number, run: string, lineBytes = 20): Promise<ResultSegment> {
  const rows = Array.from({ length: end - start }, (_, k) => result(start + k, run));
  await s.store.saveRows('job', rows);
  const summarizer = createSummarizer(spec, { labelCountsAsString: false });
  rows.forEach((r) => summarizer.add(r));
  const lines = rows.map((r) => `${String(r.rowIndex).padStart(lineBytes - 1, '·')}\n`).join('');
  return { jobId: 'job', start, end, run, lines: Buffer.from(lines), summary: summarizer.state() };
}

describe('result segments in PostgreSQL', () => {
  it('joins the segments in row order into the blob store, about 1 MiB a chunk, with their summaries', async () => {
    // Seven chunks of 64 rows (the last of 54) with lines of 5,000 characters, most of them two
    // bytes in UTF-8: 4.4 MB in all.
    const s = await setup(7 * 64 - 10);
    try {
      const segments: ResultSegment[] = [];
      for (let start = 0; start < 7 * 64 - 10; start += 64) segments.push(await runChunk(s, start, Math.min(start + 64, 7 * 64 - 10), `run-${start}`, 5000));
      // Kept in any order.
      for (const segment of [...segments].reverse()) await s.store.resultSegments!.save(segment);
      const joined = await s.store.resultSegments!.commitFile('job', 'file-joined', 7 * 64 - 10);
      const expected = Buffer.concat(segments.map((g) => g.lines));
      expect(joined?.bytes).toBe(expected.length);
      expect(await text(await s.blobs.openRead('file-joined'))).toBe(expected.toString());
      const { rows } = await s.pool.query<{ seq: number; n: number }>('SELECT seq, octet_length(data) AS n FROM file_chunks WHERE file_id = $1 ORDER BY seq', ['file-joined']);
      // Numbered from 0 without gaps, each holding the segments that start within a MiB.
      expect(rows.length).toBeGreaterThan(2);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
      const largestSegment = Math.max(...segments.map((g) => g.lines.length));
      expect(rows.every((r) => r.n <= 1024 * 1024 + largestSegment)).toBe(true);
      expect(joined?.summaries).toEqual(segments.map((g) => g.summary));

      await s.store.resultSegments!.drop('job');
      expect((await s.pool.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('writes nothing when a chunk has no segment, or a row was written again since its segment was made', async () => {
    const s = await setup(200);
    try {
      const a = await runChunk(s, 0, 64, 'a');
      const b = await runChunk(s, 64, 128, 'b');
      const c = await runChunk(s, 128, 192, 'c');
      const d = await runChunk(s, 192, 200, 'd');
      for (const segment of [a, b, d]) await s.store.resultSegments!.save(segment);
      // Chunk c's rows are stored but it kept no segment (its run had rows done before it).
      expect(await s.store.resultSegments!.commitFile('job', 'file-gap', 200)).toBeNull();
      await s.store.resultSegments!.save(c);
      // Another run (a worker that took chunk b over) writes one of b's rows again.
      await s.store.saveRows('job', [result(100, 'b-again')]);
      expect(await s.store.resultSegments!.commitFile('job', 'file-stale', 200)).toBeNull();
      // A row written by a worker that stamps no run.
      await s.store.saveRows('job', [result(100, 'b')]);
      await s.pool.query(`SELECT assay_save_rows('job', ARRAY[5], ARRAY['ok'], ARRAY['good'], ARRAY[NULL::float8], ARRAY[NULL], ARRAY[0], ARRAY[0], ARRAY['{}'], ARRAY['{}'], ARRAY[NULL])`);
      expect(await s.store.resultSegments!.commitFile('job', 'file-unstamped', 200)).toBeNull();
      // A job with a row more than its segments cover.
      await s.store.saveRows('job', [result(5, 'a')]);
      expect(await s.store.resultSegments!.commitFile('job', 'file-short', 201)).toBeNull();
      const { rows } = await s.pool.query('SELECT DISTINCT file_id FROM file_chunks');
      expect(rows).toEqual([]);
      // With every row as its segment made it, the file is joined.
      const joined = await s.store.resultSegments!.commitFile('job', 'file-whole', 200);
      expect(joined?.bytes).toBe([a, b, c, d].reduce((n, g) => n + g.lines.length, 0));
      expect(joined?.summaries).toHaveLength(4);
      // A segment that comes after the job ended (a chunk that was still running) is not kept.
      await s.store.resultSegments!.drop('job');
      await s.store.transitionJob('job', ['running'], { status: 'user_error', message: 'failed', timestamp: 't' });
      await s.store.resultSegments!.save(a);
      expect((await s.pool.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
    } finally {
      await s.close();
    }
  });
});
