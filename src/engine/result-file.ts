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
import type { JobSpec } from '../domain/types.js';
import { createSummarizer, type Summary, type SummaryOptions } from '../stats/aggregate.js';
import type { Store } from './contracts.js';

/** Characters of result lines gathered before each write. */
const WRITE_BATCH_CHARS = 256 * 1024;

export interface ResultFileInfo {
  bytes: number;
  lineCount: number;
  summary: Summary;
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
      const line = JSON.stringify(
        result ? { ...row.data, ...result.fields } : { ...row.data, evaluation_successful: false, error: 'row was not evaluated' },
      ) + '\n';
      batch += line;
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
