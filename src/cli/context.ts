/**
 * What every command receives: the process's streams and environment, the global options
 * (`--json`, `--base-url`, `--api-key`), and the two kinds of output. With `--json`, stdout carries
 * only JSON and notes and progress on stderr are off; warnings and errors always go to stderr.
 */
import type { Command } from 'commander';
import { loadClientSettings, type ClientSettings } from '../config/client.js';
import { createClient, type Client } from './client.js';
import { UsageError } from './errors.js';

export type Env = Record<string, string | undefined>;

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Env;
}

export interface GlobalOptions {
  json?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

export interface CommandContext {
  io: CliIO;
  json: boolean;
  /** The command's own options merged with the global ones. */
  opts: Record<string, unknown>;
  /** Prints a result: JSON with --json, else the text `human()` returns. */
  result(value: unknown, human: () => string): void;
  /** A note for people on stderr (off with --json). */
  note(message: string): void;
  /** A warning on stderr, also with --json. */
  warn(message: string): void;
  settings(): ClientSettings;
  client(): Client;
}

export function contextFor(command: Command, io: CliIO): CommandContext {
  const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  const json = opts.json === true;
  const line = (stream: NodeJS.WritableStream, text: string) => stream.write(text.endsWith('\n') ? text : `${text}\n`);
  let settings: ClientSettings | undefined;
  const ctx: CommandContext = {
    io,
    json,
    opts,
    result(value, human) {
      if (json) line(io.stdout, JSON.stringify(value, null, 2));
      else line(io.stdout, human());
    },
    note(message) {
      if (!json) line(io.stderr, message);
    },
    warn(message) {
      line(io.stderr, `assay: ${message}`);
    },
    settings() {
      if (!settings) {
        try {
          settings = loadClientSettings(io.env, { baseUrl: opts.baseUrl, apiKey: opts.apiKey });
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      }
      return settings;
    },
    client() {
      const s = ctx.settings();
      return createClient({ baseUrl: s.baseUrl, apiKey: s.apiKey });
    },
  };
  return ctx;
}

/** Wraps an action so it gets a context instead of commander's arguments. */
export function action<A extends unknown[]>(io: CliIO, fn: (ctx: CommandContext, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const positional = args.slice(0, -2) as A;
    await fn(contextFor(command, io), ...positional);
  };
}
