/** `assay serve`: the API and the evaluation workers in one process. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the API and run evaluation workers in this process')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PORT, default 8080)')
    .option('--data-dir <dir>', 'where the database and files live (env ASSAY_DATA_DIR, default ./.assay)')
    .addHelpText('after', '\nExamples:\n  $ assay serve\n  $ ASSAY_PROVIDER_BASE_URL=http://127.0.0.1:11434/v1 assay serve --port 9000 --data-dir /var/lib/assay')
    .action(async (opts: { host?: string; port?: string; dataDir?: string }) => {
      const config = loadConfig({
        ...process.env,
        ...(opts.host ? { HOST: opts.host } : {}),
        ...(opts.port ? { PORT: opts.port } : {}),
        ...(opts.dataDir ? { ASSAY_DATA_DIR: opts.dataDir } : {}),
      });
      // Loaded here so the client commands start without the HTTP stack.
      const { startServer } = await import('../../server.js');
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
}
