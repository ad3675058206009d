#!/usr/bin/env node
/** The `assay` command. */
import { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { startServer } from '../server.js';

const program = new Command();
program.name('assay').description('Self-hostable LLM-as-a-judge evaluation service (Together-compatible API)');

program
  .command('serve')
  .description('serve the API and run evaluation workers in this process')
  .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (env PORT, default 8080)')
  .option('--data-dir <dir>', 'where the database and files live (env ASSAY_DATA_DIR, default ./.assay)')
  .action(async (opts: { host?: string; port?: string; dataDir?: string }) => {
    const config = loadConfig({
      ...process.env,
      ...(opts.host ? { HOST: opts.host } : {}),
      ...(opts.port ? { PORT: opts.port } : {}),
      ...(opts.dataDir ? { ASSAY_DATA_DIR: opts.dataDir } : {}),
    });
    const server = await startServer(config);
    // One plain line for people and scripts waiting for readiness.
    process.stdout.write(`assay listening on ${server.url} (data in ${config.dataDir})\n`);
    const shutdown = (signal: string) => {
      server.app.log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          server.app.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`assay: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
