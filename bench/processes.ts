/** Child processes for the benchmark: the fake judge and the assay server, each in its own process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Proc {
  child: ChildProcess;
  url: string;
  startedMs: number;
  /** The log lines of warning level or above the process has written so far (pino JSON, level 40+). */
  warnings(): string[];
  /** The log entries (pino JSON) the process has written so far with this message. */
  logged(msg: string): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts `node <script> args` and resolves once it prints a URL matching `ready`. */
export function startProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  options: { nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<Proc> {
  const { nodeArgs = [], timeoutMs = 20_000 } = options;
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start in ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}:\n${out}\n${err}`));
    });
    let isReady = false;
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      // Once only: a line written later (a log entry) must not run this again, which would drop
      // the exit listener a stop is waiting on.
      if (isReady) return;
      const match = ready.exec(out);
      if (!match) return;
      isReady = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        child,
        url: match[1]!,
        startedMs: performance.now() - started,
        warnings: () => warningLines(out + err),
        logged: (msg) => logEntries(out + err).filter((entry) => entry['msg'] === msg),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

/** Peak resident memory of a process so far, in MB (Linux: VmHWM). */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function logEntries(text: string): Array<Record<string, unknown>> {
  const entries: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    try {
      const entry: unknown = JSON.parse(line);
      if (entry !== null && typeof entry === 'object') entries.push(entry as Record<string, unknown>);
    } catch {
      // Not a log entry (a banner, a stack trace's line).
    }
  }
  return entries;
}

function warningLines(text: string): string[] {
  return logEntries(text)
    .filter((entry) => typeof entry['level'] === 'number' && entry['level'] >= 40)
    .map((entry) => JSON.stringify(entry));
}
