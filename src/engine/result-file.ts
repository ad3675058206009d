/**
 * Writes a finished job's result file: one JSONL line per input row, the row's own columns followed
 * by what assay added (generations, verdict, feedback, audit fields), while summarising the job in
 * the same pass. Streams the dataset and the stored results side by side, in row order, so memory
 * does not grow with the row count.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { DatasetFormat } from '../datasets/ingest.js';
import { readRows } from '../datasets/rows.js';
import type { JobSpec, RowJson, RowResult } from '../domain/types.js';
import { createSummarizer, type Summary, type SummaryOptions } from '../stats/aggregate.js';
import type { PendingCommit, ResultSegment, Store } from './contracts.js';

/** Characters of result lines gathered before each write. */
const WRITE_BATCH_CHARS = 256 * 1024;

export interface ResultFileInfo {
  bytes: number;
  lineCount: number;
  summary: Summary;
}

/** A row's line in the result file: its own columns, then what assay added (or why it has nothing). */
export function resultLine(data: Record<string, unknown>, result: RowResult | null, json?: RowJson): string {
  if (!result) return notEvaluatedLine(data);
  return mergedJson(data, result.fields, json) + '\n';
}

/**
 * A finished row's input and fields as JSON text, made once for both the row's write to the store
 * and its line in the result file (the live file's or a result segment's), which would otherwise
 * each serialize them: about 6 µs a row on the thread that runs rows (docs/benchmarks.md, step 46).
 */
export function rowJson(data: Record<string, unknown>, result: RowResult): RowJson {
  return { input: JSON.stringify(data), fields: JSON.stringify(result.fields) };
}

const notEvaluatedLine = (data: Record<string, unknown>): string =>
  JSON.stringify({ ...data, evaluation_successful: false, error: 'row was not evaluated' }) + '\n';

/**
 * The same line as `resultLine`, from a row's fields as stored (`JSON.stringify` of them), which
 * it splices in as they are: 3.2 µs a line against 8 for parsing and merging them, with 800
 * characters of judge feedback (1.9 against 3.4 with 200), in the pass that writes a finished
 * job's file from its stored rows (a distributed job's, after its last row). The splice is
 * `resultLine`'s only when no key of the fields is one of the row's columns or integer-like (see
 * `mergedJson`): where the text holds such a key, at any depth, the fields are parsed and merged.
 */
export function storedResultLine(data: Record<string, unknown>, fieldsJson: string | null): string {
  if (fieldsJson === null) return notEvaluatedLine(data);
  if (fieldsJson === '{}') return JSON.stringify(data) + '\n';
  if (INTEGER_LIKE_KEY_IN_JSON.test(fieldsJson) || hasKeyOf(data, fieldsJson)) {
    return mergedJson(data, JSON.parse(fieldsJson) as Record<string, unknown>) + '\n';
  }
  const left = JSON.stringify(data);
  return left === '{}' ? fieldsJson + '\n' : `${left.slice(0, -1)},${fieldsJson.slice(1)}\n`;
}

/**
 * Whether a key of `data` is a key anywhere in `json`. In JSON text a quote inside a string is
 * escaped, so `"key":` (the key serialized, then a colon) appears only where an object has that
 * key.
 */
function hasKeyOf(data: Record<string, unknown>, json: string): boolean {
  for (const key in data) {
    if (json.includes(`${JSON.stringify(key)}:`)) return true;
  }
  return false;
}

/**
 * `JSON.stringify({ ...a, ...b })`, made by joining the two objects' own JSON when no key is in
 * both (assay's fields against a row's columns: nearly always). Serializing the merged object cost
 * four times as much as serializing the two apart (13 against 3 µs for a typical row), since the
 * spread builds an object V8 handles slowly. The order of keys is the merged object's. `json`,
 * when given, is the two objects' JSON made already (`rowJson`).
 */
function mergedJson(a: Record<string, unknown>, b: Record<string, unknown>, json?: RowJson): string {
  for (const key in b) {
    // A shared key (b's value wins), or an integer-like one (objects list those first): the slow way.
    if (Object.hasOwn(a, key) || INTEGER_LIKE.test(key)) return JSON.stringify({ ...a, ...b });
  }
  const left = json ? json.input : JSON.stringify(a);
  const right = json ? json.fields : JSON.stringify(b);
  if (left === '{}') return right;
  if (right === '{}') return left;
  return `${left.slice(0, -1)},${right.slice(1)}`;
}

/** Keys an object orders before all others (array indexes). */
const INTEGER_LIKE = /^(0|[1-9]\d*)$/;
/** Such a key in an object's JSON text, at any depth. */
const INTEGER_LIKE_KEY_IN_JSON = /[{,]"(?:0|[1-9]\d*)":/;

/**
 * A file written in batches of lines under a temporary name and renamed into place when finished,
 * so readers never see half of it. A write per line cost more than making the line. With a pending
 * commit, each batch is handed to it as well, and the file is committed before it is renamed.
 */
function batchedFile(destPath: string, commit?: PendingCommit) {
  const tmp = `${destPath}.tmp-${process.pid}`;
  // Opened on the first batch: a writer that gives up early leaves no file at all.
  let out: fs.WriteStream | null = null;
  let failure: Error | null = null;
  let batch = '';
  let bytes = 0;
  let discarding: Promise<void> | null = null;
  /** The commit's taking of the last batch; it rejects once the copy has failed. */
  let copying: Promise<void> | undefined;
  const stream = (): fs.WriteStream => {
    out ??= fs.createWriteStream(tmp, { highWaterMark: WRITE_BATCH_CHARS * 4 }).on('error', (err) => (failure ??= err));
    return out;
  };
  /** Writes what is gathered; true when the stream asks the writer to wait for it to drain. */
  const write = (): boolean => {
    if (batch === '' || discarding) return false;
    const data = Buffer.from(batch);
    batch = '';
    bytes += data.length;
    if (commit) {
      copying = commit.add(data);
      // Awaited by the next append or by finish, which say the failure.
      copying.catch(() => {});
    }
    return !stream().write(data);
  };
  return {
    get failed(): boolean {
      return failure !== null;
    },
    /** Adds text; a write, when one is due, resolves once the stream can take more. */
    async append(text: string): Promise<void> {
      batch += text;
      if (batch.length < WRITE_BATCH_CHARS) return;
      if (write()) await once(stream(), 'drain');
      await copying;
    },
    /** Adds text without ever waiting, for a writer fed at the pace of model calls. */
    appendNow(text: string): void {
      batch += text;
      if (batch.length >= WRITE_BATCH_CHARS) write();
    },
    /** Writes the rest, commits it if asked, renames the file into place, and returns its size in bytes. */
    async finish(): Promise<number> {
      write();
      const s = stream();
      s.end();
      // Rejects with the stream's error, even one it met before this call.
      await finished(s);
      await copying;
      await commit?.finish();
      await fs.promises.rename(tmp, destPath);
      return bytes;
    },
    /**
     * Stops writing and removes what was written. Every call waits for the same removal: a second
     * caller must not return while the first is still waiting for the stream to close (a stream
     * still opening creates its file after an early removal).
     */
    discard(): Promise<void> {
      discarding ??= (async () => {
        batch = '';
        const s = out;
        if (s && !s.closed) {
          const closed = once(s, 'close').catch(() => {});
          s.destroy();
          await closed;
        }
        await Promise.all([fs.promises.rm(tmp, { force: true }), commit?.abort()]);
      })();
      return discarding;
    },
  };
}

export async function writeResultFile(opts: {
  store: Store;
  jobId: string;
  spec: JobSpec;
  datasetPath: string;
  datasetFormat: DatasetFormat;
  destPath: string;
  summary: SummaryOptions;
  /** Takes the file's bytes as they are written (BlobStore.openCommit); finished with the file. */
  commit?: PendingCommit;
}): Promise<ResultFileInfo> {
  // Opens nothing yet; from here on every failure discards the file, and gives up the commit.
  const file = batchedFile(opts.destPath, opts.commit);
  let summarizer: ReturnType<typeof createSummarizer>;
  let lineCount = 0;
  let bytes: number;
  try {
    summarizer = createSummarizer(opts.spec, opts.summary);
    const results = opts.store.iterateRows(opts.jobId)[Symbol.asyncIterator]();
    let next = await results.next();
    for await (const row of readRows(opts.datasetPath, opts.datasetFormat)) {
      while (!next.done && next.value.rowIndex < row.index) next = await results.next();
      const result = !next.done && next.value.rowIndex === row.index ? next.value : null;
      if (result) summarizer.add(summarizer.readsFields ? { ...result, fields: JSON.parse(result.fieldsJson) as RowResult['fields'] } : result);
      await file.append(storedResultLine(row.data, result && result.fieldsJson));
      lineCount++;
    }
    bytes = await file.finish();
  } catch (err) {
    await file.discard();
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
  /** `json`, when given, is the row's JSON made already (`rowJson`). */
  add(index: number, data: Record<string, unknown>, result: RowResult, json?: RowJson): void;
  /** The finished file at `destPath` if every row was added, or null (and nothing left behind). */
  finish(): Promise<ResultFileInfo | null>;
  /** Gives up and removes what was written. */
  abandon(): Promise<void>;
}

export function openLiveResultFile(opts: { spec: JobSpec; rowCount: number; destPath: string; summary: SummaryOptions; maxWaiting: number }): LiveResultFile {
  const summarizer = createSummarizer(opts.spec, opts.summary);
  const file = batchedFile(opts.destPath);
  /** Rows finished ahead of `next`, by index. */
  const waiting = new Map<number, { data: Record<string, unknown>; result: RowResult; json: RowJson | undefined }>();
  let next = 0;
  let gaveUp = false;
  const giveUp = async (): Promise<void> => {
    gaveUp = true;
    waiting.clear();
    await file.discard();
  };

  return {
    add(index, data, result, json) {
      if (gaveUp || index < next) return;
      waiting.set(index, { data, result, json });
      for (let row = waiting.get(next); row !== undefined; row = waiting.get(next)) {
        waiting.delete(next);
        summarizer.add(row.result);
        // Rows arrive at the pace of model calls, far below what a disk takes: the stream's buffer
        // stays small without waiting for it to drain.
        file.appendNow(resultLine(row.data, row.result, row.json));
        next++;
      }
      // A write that failed (a full disk) ends it too: the job's end writes the file the usual way.
      if (waiting.size > opts.maxWaiting || file.failed) void giveUp();
    },
    async finish() {
      if (gaveUp || next !== opts.rowCount) {
        await giveUp();
        return null;
      }
      try {
        const bytes = await file.finish();
        return { bytes, lineCount: next, summary: summarizer.finish() };
      } catch {
        await giveUp();
        return null;
      }
    },
    abandon: giveUp,
  };
}

/**
 * A chunk's result segment (contracts.ts, `ResultSegments`), made as the chunk's rows finish, in
 * any order: their lines and the summary state of their rows. Made only by a run that evaluates
 * every row of the chunk.
 */
export interface SegmentBuilder {
  /**
   * Adds a finished row (`json`, when given, is its JSON made already: `rowJson`); returns the
   * segment when this row was the last one missing, else null.
   */
  add(index: number, data: Record<string, unknown>, result: RowResult, json?: RowJson): ResultSegment | null;
}

export function openResultSegment(opts: { jobId: string; start: number; end: number; run: string; spec: JobSpec; summary: SummaryOptions }): SegmentBuilder {
  const { start, end } = opts;
  const lines: Array<string | undefined> = new Array<string | undefined>(end - start);
  let filled = 0;
  const summarizer = createSummarizer(opts.spec, opts.summary);
  return {
    add(index, data, result, json) {
      if (index < start || index >= end || lines[index - start] !== undefined) return null;
      lines[index - start] = resultLine(data, result, json);
      summarizer.add(result);
      if (++filled < end - start) return null;
      return { jobId: opts.jobId, start, end, run: opts.run, lines: Buffer.from(lines.join('')), summary: summarizer.state() };
    },
  };
}
