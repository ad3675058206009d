/**
 * Runs the real assay server (`dist/bundle/main.js serve`, the bundled `assay` command users run)
 * as a child process for end-to-end tests, and a bounded polling helper for waiting on state
 * instead of sleeping.
 *
 * The test script builds `dist/` before tests run; the server is started with an ephemeral port
 * and a fresh data directory, and is ready once it prints `listening on http://HOST:PORT`.
 *
 * @example
 * ```ts
 * const server = await startServer();
 * try {
 *   const res = await fetch(`${server.baseUrl}/evaluation`);
 * } finally {
 *   await server.cleanup();
 * }
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(REPO_ROOT, 'dist', 'bundle', 'main.js');

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const KILL_TIMEOUT_MS = 5_000;
const READY_PATTERN = /listening on (https?:\/\/\S+)/;

export interface ServerProcess {
  /** Origin the server listens on, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** `url + '/v1'`: what SDK clients use as their base URL. */
  baseUrl: string;
  /** The server's `ASSAY_DATA_DIR`. */
  dataDir: string;
  proc: ChildProcess;
  /** Everything the process has written to stdout so far. */
  stdout(): string;
  /** Everything the process has written to stderr so far. */
  stderr(): string;
  /** The log lines of error level or above written so far (pino JSON, level 50+), for a failure's message. */
  errorLines(): string[];
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code (`null` when the process
   * ended by a signal). Escalates to SIGKILL when the process has not exited within 10 s
   * (`stopTimeoutMs`).
   * Safe to call more than once and after the process has exited on its own.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /**
   * `stop()`, then removes the data directory if `startServer` created it. A directory passed
   * in through `opts.dataDir` is left alone, so a test can restart a server on the same data.
   */
  cleanup(): Promise<void>;
}

export interface StartServerOptions {
  /** Extra environment, applied last (may override HOST, PORT and ASSAY_DATA_DIR). */
  env?: Record<string, string>;
  /** Data directory to use; a fresh one under `os.tmpdir()` when absent. */
  dataDir?: string;
  /** The CLI command: `serve` (default) or `worker`. */
  command?: 'serve' | 'worker';
  /** Extra CLI arguments after the command. */
  args?: string[];
  /** How long to wait for the ready line; 15 s by default. */
  readyTimeoutMs?: number;
  /** How long `stop()` waits before escalating to SIGKILL; 10 s by default. */
  stopTimeoutMs?: number;
  /** Script to run instead of `dist/bundle/main.js` (tests of this harness use a stand-in). */
  entry?: string;
}

/** Servers still running, so that a crashed test run does not leave orphans behind. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const proc of live) proc.kill('SIGKILL');
  });
}

function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Resolves once the process has exited, or with `false` after `ms`. */
function waitForExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(proc)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      proc.off('exit', onExit);
      resolve(false);
    }, ms);
    proc.once('exit', onExit);
  });
}

/** Turns the URL from the ready line into an origin a client on this machine can reach. */
function reachableOrigin(printed: string): string {
  const url = new URL(printed);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]' || url.hostname === '::') {
    url.hostname = '127.0.0.1';
  }
  return url.origin;
}

/** Starts `node dist/bundle/main.js serve` and resolves once it prints its ready line. */
export async function startServer(opts: StartServerOptions = {}): Promise<ServerProcess> {
  const entry = opts.entry ?? CLI_ENTRY;
  if (!existsSync(entry)) {
    throw new Error(`${entry} does not exist: run \`npm run build\` before the end-to-end tests`);
  }
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'assay-test-')));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    ASSAY_DATA_DIR: dataDir,
    ...opts.env,
  };

  const argv = [entry, opts.command ?? 'serve', ...(opts.args ?? [])];
  const proc = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();
  live.add(proc);
  proc.once('exit', () => live.delete(proc));

  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    out += chunk;
  });
  proc.stderr?.on('data', (chunk: string) => {
    err += chunk;
  });

  const describe = (reason: string): Error =>
    new Error(
      `assay server ${reason}\n--- command ---\n${process.execPath} ${argv.join(' ')}` +
        `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`,
    );

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (!hasExited(proc)) {
      proc.kill(signal);
      if (!(await waitForExit(proc, opts.stopTimeoutMs ?? STOP_TIMEOUT_MS))) {
        proc.kill('SIGKILL');
        if (!(await waitForExit(proc, KILL_TIMEOUT_MS))) {
          throw describe(`(pid ${proc.pid}) did not exit even after SIGKILL`);
        }
      }
    }
    return proc.exitCode;
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      let pending = '';
      const finish = (): void => {
        clearTimeout(timer);
        proc.stdout?.off('data', onData);
        proc.off('exit', onExit);
        proc.off('error', onError);
      };
      const onData = (chunk: string): void => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const match = READY_PATTERN.exec(line);
          if (match?.[1] !== undefined) {
            finish();
            resolve(reachableOrigin(match[1]));
            return;
          }
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        finish();
        reject(describe(`exited before it was ready (code ${code}, signal ${signal})`));
      };
      const onError = (error: Error): void => {
        finish();
        reject(describe(`could not be started: ${error.message}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(describe(`printed no "listening on http://HOST:PORT" line within ${readyTimeoutMs} ms`));
      }, readyTimeoutMs);
      proc.stdout?.on('data', onData);
      proc.once('exit', onExit);
      proc.once('error', onError);
    });
  } catch (error) {
    await stop('SIGKILL').catch(() => undefined);
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  return {
    url,
    baseUrl: `${url}/v1`,
    dataDir,
    proc,
    stdout: () => out,
    errorLines: () =>
      out.split('\n').filter((line) => {
        try {
          return ((JSON.parse(line) as { level?: unknown }).level as number) >= 50;
        } catch {
          return false;
        }
      }),
    stderr: () => err,
    stop,
    async cleanup() {
      await stop();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface WaitForOptions {
  /** What is being waited for, for the timeout message ("job eval-… to complete"). */
  what: string;
  /** Give up after this long; 15 s by default. */
  timeoutMs?: number;
  /** Pause between attempts; 50 ms by default. */
  intervalMs?: number;
}

/**
 * Calls `fn` until it returns something other than `undefined` or `false`, and resolves with
 * that value. Errors thrown by `fn` propagate at once. Rejects with an error naming `what` once
 * `timeoutMs` has passed.
 *
 * @example
 * ```ts
 * const done = await waitFor(
 *   async () => {
 *     const s = await client.evals.status(id);
 *     return s.status === 'completed' && s;
 *   },
 *   { what: `job ${id} to complete`, timeoutMs: 30_000 },
 * );
 * ```
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  { what, timeoutMs = 15_000, intervalMs = 50 }: WaitForOptions,
): Promise<T> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(`Timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${what}`);
    }
    await delay(Math.min(intervalMs, remaining));
  }
}
