#!/usr/bin/env node
/** The `assay` command: registers the commands, runs one, and turns failures into exit codes. */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerEvalsCommands } from './commands/evals.js';
import { registerFilesCommands } from './commands/files.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerRunCommand } from './commands/run.js';
import { registerServeCommand } from './commands/serve.js';
import type { CliIO } from './context.js';
import { describeError, EXIT_USAGE } from './errors.js';

const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const program = new Command();
program
  .name('assay')
  .description('Self-hostable LLM-as-a-judge evaluation service (Together-compatible API)')
  .version(version())
  .option('--json', 'machine-readable output only on stdout (no progress, no notes)')
  .option('--base-url <url>', 'API base URL of the server (env ASSAY_BASE_URL, then TOGETHER_BASE_URL; default http://127.0.0.1:8080/v1)')
  .option('--api-key <key>', 'API key (env ASSAY_API_KEY, then TOGETHER_API_KEY; not needed for a local assay without keys)')
  // Inherited by every command registered below.
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError('(add --help for usage and examples)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  $ assay serve                                   # the API on http://127.0.0.1:8080/v1
  $ assay run data.jsonl --type classify ...      # one evaluation in this process, no server
  $ assay files upload data.jsonl                 # against a server (assay or Together)
  $ assay evals create --type score ... --watch
  $ assay evals results eval-1a2b-1760000000 --download results.jsonl`,
  );

// Server processes: `serve` and `worker`.
registerServeCommand(program);
// Administration.
registerKeysCommands(program, io);
// Client commands, against any Together-compatible server.
registerFilesCommands(program, io);
registerEvalsCommands(program, io);
// Evaluation without a server.
registerRunCommand(program, io);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
    return;
  }
  const { message, hint, exitCode } = describeError(err);
  process.stderr.write(`assay: ${message}\n${hint ? `  ${hint}\n` : ''}`);
  process.exitCode = exitCode;
});
