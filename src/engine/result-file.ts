/**
 * Writes a finished job's result file: one JSONL line per input row, the row's own columns followed
 * by what assay added (generations, verdict, feedback, audit fields), while summarising the job in
 * the same pass. Streams the dataset and the stored results side by side, in row order, so memory
 * does not grow with the row count.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import type { DatasetFormat } from '../datasets/ingest.js';
import { readRows } from '../datasets/rows.js';
import type { JobSpec, RowResult } from '../domain/types.js';
import { createSummarizer, type Summary, type SummaryOptions } from '../stats/aggregate.js';
import type { Store } from './contracts.js';

/** Characters of result lines gathered before each write. */
const WRITE_BATCH_CHARS = 256 * 1024;

export interface ResultFileInfo {
  bytes: number;
  lineCount: number;
  summary: Summary;
}

/** A row's line in the result file: its own columns, then what assay added (or why it has nothing). */
export function resultLine(data: Record<string, unknown>, result: RowResult | null): string {
  return JSON.stringify(result ? { ...data, ...result.fields } : { ...data, evaluation_successful: false, error: 'row was not evaluated' }) + '\n';
}

export async function writeResultFile(opts: {
  store: Store;
  jobId: string;
  spec: JobSpec;
  datasetPath: string;
  datasetFormat: DatasetFormat;
  destPath: string;
  summary: SummaryOptions;
}): Promise<ResultFileInfo> {
  const summarizer = createSummarizer(opts.spec, opts.summary);
  const tmp = `${opts.destPath}.tmp-${process.pid}`;
  const out = fs.createWriteStream(tmp, { highWaterMark: WRITE_BATCH_CHARS * 4 });
  let bytes = 0;
  let lineCount = 0;
  // Lines are written in batches: a write per line cost more than making the line.
  let batch = '';
  const flush = async (): Promise<void> => {
    if (batch === '') return;
    const chunk = batch;
    batch = '';
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    const results = opts.store.iterateRows(opts.jobId)[Symbol.asyncIterator]();
    let next = await results.next();
    for await (const row of readRows(opts.datasetPath, opts.datasetFormat)) {
      while (!next.done && next.value.rowIndex < row.index) next = await results.next();
      const result = !next.done && next.value.rowIndex === row.index ? next.value : null;
      if (result) summarizer.add(result);
      batch += resultLine(row.data, result);
      lineCount++;
      if (batch.length >= WRITE_BATCH_CHARS) await flush();
    }
    await flush();
    out.end();
    await once(out, 'finish');
    await fs.promises.rename(tmp, opts.destPath);
  } catch (err) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  return { bytes, lineCount, summary: summarizer.finish() };
}

/**
 * The result file written while a job runs, so that finishing the job is a rename instead of a
 * pass over the dataset and every stored row (about 40 µs a row, all of it after the last call).
 * Rows are added as their results are stored; they finish nearly in row order (slots are granted
 * in row order), and the few that finish early wait in memory for the rows before them.
 *
 * It only works for a job whose every row is evaluated by this process in one run. Anything else
 * (rows done before a restart, chunks run by other workers, more than `maxWaiting` rows finished
 * ahead of a slow one) makes it give up, and the job's end writes the file the usual way.
 */
export interface LiveResultFile {
  add(index: number, data: Record<string, unknown>, result: RowResult): void;
  /** The finished file at `destPath` if every row was added, or null (and nothing left behind). */
  finish(): Promise<ResultFileInfo | null>;
  /** Gives up and removes what was written. */
  abandon(): Promise<void>;
}

export function openLiveResultFile(opts: { spec: JobSpec; rowCount: number; destPath: string; summary: SummaryOptions; maxWaiting: number }): LiveResultFile {
  const summarizer = createSummarizer(opts.spec, opts.summary);
  const tmp = `${opts.destPath}.tmp-${process.pid}`;
  let out: fs.WriteStream | null = null;
  /** Rows finished ahead of `next`, by index. */
  const waiting = new Map<number, { data: Record<string, unknown>; result: RowResult }>();
  let next = 0;
  let batch = '';
  let bytes = 0;
  let failed = false;

  const write = (): void => {
    if (batch === '') return;
    // Opened on the first batch: a job that gives up early leaves no file at all.
    out ??= fs.createWriteStream(tmp).on('error', () => void giveUp());
    bytes += Buffer.byteLength(batch);
    // Rows arrive at the pace of model calls, far below what a disk takes: the stream's buffer
    // stays small without waiting for it to drain.
    out.write(batch);
    batch = '';
  };
  const giveUp = async (): Promise<void> => {
    failed = true;
    waiting.clear();
    batch = '';
    const stream = out;
    out = null;
    if (stream && !stream.closed) {
      const closed = once(stream, 'close').catch(() => {});
      stream.destroy();
      await closed;
    }
    await fs.promises.rm(tmp, { force: true });
  };

  return {
    add(index, data, result) {
      if (failed || index < next) return;
      waiting.set(index, { data, result });
      for (let row = waiting.get(next); row !== undefined; row = waiting.get(next)) {
        waiting.delete(next);
        summarizer.add(row.result);
        batch += resultLine(row.data, row.result);
        next++;
      }
      if (batch.length >= WRITE_BATCH_CHARS) write();
      if (waiting.size > opts.maxWaiting) void giveUp();
    },
    async finish() {
      if (failed || next !== opts.rowCount) {
        await giveUp();
        return null;
      }
      write();
      const stream = out ?? fs.createWriteStream(tmp);
      stream.end();
      try {
        await once(stream, 'finish');
        await fs.promises.rename(tmp, opts.destPath);
      } catch {
        await giveUp();
        return null;
      }
      return { bytes, lineCount: next, summary: summarizer.finish() };
    },
    abandon: giveUp,
  };
}
