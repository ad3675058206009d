/**
 * What `assay run` does: evaluates a local JSONL/CSV file with the embedded engine in this process,
 * no server. The run lives in a state folder keyed by the input's content and the job's parameters,
 * so the same command run again resumes it: rows already judged are not sent again, and a finished
 * run just shows its results. Loaded only when `run` is invoked, so other commands start fast.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../config/config.js';
import { AssayError } from '../../domain/errors.js';
import { TERMINAL_STATUSES, type JobRecord } from '../../domain/types.js';
import { neededSecrets } from '../../engine/secrets.js';
import type { CommandContext } from '../context.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, UsageError } from '../errors.js';
import { count, createProgressBar, duration, progressStateOf, type ProgressState } from '../format.js';
import { buildJobRequest } from '../job-options.js';
import { openLocalEngine, type LocalEngine } from './local-engine.js';
import { hashFile, runKey, runPaths, writeRunNote, type RunPaths } from './state.js';
import { formatSummary } from '../summary.js';

/** Every file and job of a run belongs to this owner, as on a local server without keys. */
const OWNER = 'local';
const POLL_MS = 200;

export interface RunOptions {
  providerBaseUrl?: string;
  providerApiKey?: string;
  output?: string;
  stateDir?: string;
  fresh?: boolean;
  retryFailed?: boolean;
}

function formatOf(input: string): 'jsonl' | 'csv' {
  const ext = path.extname(input).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') throw new UsageError('parquet files are not supported; convert the dataset to JSONL or CSV');
  return 'jsonl';
}

/** A path as people typed it: relative to the working folder when inside it. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** Finds or starts the run's job: resumes an unfinished one, retries a failed one, or creates it. */
async function prepareJob(
  ctx: CommandContext,
  local: LocalEngine,
  request: { type: string; parameters: Record<string, unknown> },
  input: string,
  opts: RunOptions,
): Promise<{ job: JobRecord; runs: boolean }> {
  const { store, engine, files } = local;
  const [previous] = await store.listJobs({ ownerId: OWNER, limit: 1 });
  if (previous && !TERMINAL_STATUSES.has(previous.status)) {
    // Tokens given this time win over the ones stored when the run started.
    try {
      await store.setJobSecrets(previous.id, neededSecrets(previous.spec, request.parameters));
    } catch {
      // Not every token was given again: keep the stored ones.
    }
    const counts = await store.rowCounts(previous.id);
    ctx.note(`resuming ${previous.id}: ${count(counts.done)} of ${count(previous.rowCount)} rows already judged`);
    return { job: previous, runs: true };
  }
  if (previous && (previous.status !== 'completed' || opts.retryFailed)) {
    try {
      const job = await engine.retryFailed(previous.id, OWNER, request.parameters);
      ctx.note(`${previous.id} ended in ${previous.status}; ${job.statusUpdates.at(-1)?.message ?? 'running failed rows again'}`);
      return { job, runs: true };
    } catch (err) {
      if (!(err instanceof AssayError) || err.code !== 'nothing_to_retry') throw err;
      if (previous.status === 'completed' || typeof previous.results?.result_file_id === 'string') {
        ctx.note(`${previous.id} has no failed rows to run again`);
        return { job: previous, runs: false };
      }
      ctx.note(`${previous.id} ended before judging rows (${String(previous.results?.error ?? previous.status)}); starting it again`);
    }
  } else if (previous) {
    return { job: previous, runs: false };
  }
  const dataset =
    (await files.list(OWNER)).find((f) => f.purpose === 'eval') ??
    (await files.upload({ ownerId: OWNER, filename: path.basename(input), purpose: 'eval', fileType: formatOf(input) }, fs.createReadStream(input)));
  const job = await engine.createJob({ type: request.type, parameters: { ...request.parameters, input_data_file_path: dataset.id } }, OWNER);
  return { job, runs: true };
}

/** Serverless and dedicated models go to the configured provider; Together's needs a key. */
function checkProvider(config: Config, parameters: Record<string, unknown>): void {
  const configs = [parameters.judge, parameters.model_to_evaluate, parameters.model_a, parameters.model_b];
  const usesProvider = configs.some((c) => typeof c === 'object' && c !== null && (c as { model_source?: unknown }).model_source !== 'external');
  if (usesProvider && config.providerApiKey === null && /^https:\/\/api\.together\.(ai|xyz)\//.test(`${config.providerBaseUrl}/`)) {
    throw new UsageError(
      `serverless and dedicated models go to ${config.providerBaseUrl}, and no API key is set for it`,
      'set TOGETHER_API_KEY (or pass --provider-api-key), or point --provider-base-url at your own OpenAI-compatible server',
    );
  }
}

/** Copies the job's result file out of the state folder, atomically. */
async function writeResultFile(local: LocalEngine, fileId: string, dest: string): Promise<void> {
  const { stream } = await local.files.open(fileId, OWNER);
  const tmp = `${dest}.part-${process.pid}`;
  try {
    await pipeline(stream, fs.createWriteStream(tmp));
    await fs.promises.rename(tmp, dest);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

export async function runLocal(ctx: CommandContext, inputArg: string): Promise<void> {
  const opts = ctx.opts as RunOptions;
  const input = path.resolve(inputArg);
  if (!fs.existsSync(input)) throw new UsageError(`no file ${inputArg}`, 'pass the path of a JSONL or CSV dataset');
  if (!fs.statSync(input).isFile()) throw new UsageError(`${inputArg} is not a file`);
  const format = formatOf(input);
  const request = await buildJobRequest(ctx.opts, 'file-local');
  const key = runKey(await hashFile(input), format, request);
  const paths: RunPaths = runPaths(input, key, { stateDir: opts.stateDir, output: opts.output });
  if (opts.fresh) await fs.promises.rm(paths.dir, { recursive: true, force: true });

  const config = loadConfig(ctx.io.env, {
    dataDir: paths.dir,
    logLevel: 'error',
    ...(opts.providerBaseUrl ? { providerBaseUrl: opts.providerBaseUrl.replace(/\/+$/, '') } : {}),
    ...(opts.providerApiKey ? { providerApiKey: opts.providerApiKey } : {}),
  });
  checkProvider(config, request.parameters);
  const bar = createProgressBar(ctx.io.stderr, { enabled: !ctx.json });
  const local = await openLocalEngine(config, (level, msg, extra) => {
    if (level !== 'error') return;
    bar.stop();
    ctx.warn(`${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`);
  });
  writeRunNote(paths.dir, { input, format, key, type: request.type, parameters: request.parameters, created_at: new Date().toISOString() });

  // Ctrl-C stops cleanly: rows in flight are dropped (they run next time), finished rows are kept.
  let interrupted = false;
  let wake: () => void = () => {};
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (): void => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  try {
    const { job: first, runs } = await prepareJob(ctx, local, request, input, opts);
    await local.engine.start();
    let job = first;
    let shownState: ProgressState | undefined;
    while (!interrupted) {
      job = (await local.store.getJob(job.id)) ?? job;
      if (TERMINAL_STATUSES.has(job.status)) break;
      shownState = progressStateOf(await local.engine.progress(job));
      bar.update(shownState);
      await Promise.race([sleep(POLL_MS), woken]);
    }

    if (interrupted && !TERMINAL_STATUSES.has(job.status)) {
      bar.stop();
      ctx.note('stopping…');
      await local.engine.close();
      const counts = await local.store.rowCounts(job.id);
      await local.close();
      if (ctx.json) {
        ctx.result({ workflow_id: job.id, type: job.type, status: 'interrupted', rows: job.rowCount, rows_done: counts.done, state_dir: paths.dir }, () => '');
      }
      ctx.warn(
        `interrupted: ${count(counts.done)} of ${count(job.rowCount)} rows judged and kept in ${shown(paths.dir)}\n` +
          `  run the same command again to resume; the ${count(job.rowCount - counts.done)} rows left are judged then, the others are not sent again`,
      );
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }

    if (runs) {
      const counts = await local.store.rowCounts(job.id);
      const rate = shownState?.rowsPerSecond ?? null;
      bar.finish({ done: counts.done, total: job.rowCount, failed: counts.failed, rowsPerSecond: rate, etaSeconds: null });
    }
    const fileId = job.results?.result_file_id;
    let resultFile: string | undefined;
    if (typeof fileId === 'string') {
      await writeResultFile(local, fileId, paths.resultFile);
      resultFile = paths.resultFile;
    }
    await local.close();
    if (!runs) {
      ctx.note(`already evaluated (${job.id}); no model was called. Pass --fresh to evaluate again${job.status === 'completed' ? ', or --retry-failed to judge failed rows again' : ''}.`);
    } else {
      ctx.note(`finished in ${duration((Date.now() - started) / 1000)}`);
    }
    ctx.result(
      { workflow_id: job.id, type: job.type, status: job.status, rows: job.rowCount, results: job.results, result_file: resultFile ?? null, state_dir: paths.dir },
      () =>
        formatSummary({
          type: job.type,
          status: job.status,
          results: job.results,
          rows: job.rowCount,
          parameters: job.parameters,
          resultFile: resultFile ? shown(resultFile) : undefined,
        }),
    );
    if (job.status !== 'completed') {
      const why = typeof job.results?.error === 'string' ? `: ${job.results.error}` : '';
      ctx.warn(`${job.id} ended in ${job.status}${why}\n  fix the cause and run the same command again: failed rows are judged again, the others are kept`);
      process.exitCode = EXIT_FAILURE;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    bar.stop();
    await local.close();
  }
}

