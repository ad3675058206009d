/** `assay serve` (API node, with workers unless told otherwise) and `assay worker` (worker node). */
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { lowerBackgroundThreads } from '../../runtime/thread-priority.js';

interface NodeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  database?: string;
  workers?: boolean;
  insecureNoAuth?: boolean;
}

function configFrom(opts: NodeOptions, defaults: Record<string, string> = {}) {
  return loadConfig({
    ...defaults,
    ...process.env,
    ...(opts.host ? { HOST: opts.host } : {}),
    ...(opts.port ? { PORT: opts.port } : {}),
    ...(opts.dataDir ? { ASSAY_DATA_DIR: opts.dataDir } : {}),
    ...(opts.database ? { ASSAY_DATABASE_URL: opts.database } : {}),
    ...(opts.workers === false ? { ASSAY_SERVE_WORKERS: 'false' } : {}),
    ...(opts.insecureNoAuth ? { ASSAY_INSECURE_NO_AUTH: 'true' } : {}),
  });
}

/** Stops the node on SIGTERM/SIGINT: no new work, running chunks finished or handed back. */
function stopOnSignals(node: { close(): Promise<void>; app: { log: { info(o: object, m: string): void; error(o: object, m: string): void } } }): void {
  const shutdown = (signal: string) => {
    node.app.log.info({ signal }, 'shutting down');
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        node.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the API (and, by default, run evaluation workers in this process)')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PORT, default 8080)')
    .option('--data-dir <dir>', 'where the database and files live (env ASSAY_DATA_DIR, default ./.assay)')
    .option('--database <url>', 'PostgreSQL URL for the distributed shape (env ASSAY_DATABASE_URL); default: embedded SQLite')
    .option('--no-workers', 'do not run evaluation workers in this process (distributed API node)')
    .option(
      '--insecure-no-auth',
      'listen on a non-loopback address although no API key exists (env ASSAY_INSECURE_NO_AUTH); only behind something that authenticates callers',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ assay serve\n  $ ASSAY_PROVIDER_BASE_URL=http://127.0.0.1:11434/v1 assay serve --port 9000 --data-dir /var/lib/assay\n' +
        '  $ assay serve --database postgres://assay@db/assay --host 0.0.0.0 --no-workers',
    )
    .action(async (opts: NodeOptions) => {
      const config = configFrom(opts);
      // The engine thread starts first: it loads the engine's modules while this thread loads the
      // HTTP stack, instead of after it, so a job created right after the server listens does not
      // wait for it. It opens its store only once the server has opened its own (see
      // engine-thread-main.ts).
      const engineThread = config.serveWorkers && config.engineThread ? (await import('../../runtime/engine-thread.js')).startEngineThread(config) : undefined;
      // Loaded here so the client commands start without the HTTP stack.
      const { startServer } = await import('../../server.js').catch(async (err: unknown) => {
        await engineThread?.close();
        throw err;
      });
      const server = await startServer(config, engineThread ? { engineThread } : {});
      // This process is the server, so its helper threads may yield to the API's and the engine
      // thread's (not so for a server started inside another program, which owns its threads).
      // The engine thread said which it is as it started, long before the server listened.
      if (engineThread) {
        const engineThreadId = await engineThread.osThreadId;
        lowerBackgroundThreads(engineThreadId === null ? [] : [engineThreadId]);
      }
      // One plain line for people and scripts waiting for readiness.
      const where = config.databaseUrl ? 'state in PostgreSQL' : `data in ${config.dataDir}`;
      process.stdout.write(`assay listening on ${server.url} (${where}${config.serveWorkers ? '' : ', no workers'})\n`);
      stopOnSignals(server);
    });

  program
    .command('worker')
    .description('run evaluation workers against the shared PostgreSQL database (distributed shape)')
    .option('--database <url>', 'PostgreSQL URL (env ASSAY_DATABASE_URL); required')
    .option('--host <host>', 'address for /healthz, /readyz and /metrics (env HOST, default 127.0.0.1)')
    .option('--port <port>', 'port for /healthz, /readyz and /metrics (env PORT, default 0: any free port)')
    .option('--data-dir <dir>', 'local cache of file contents (env ASSAY_DATA_DIR, default ./.assay)')
    .addHelpText('after', '\nExamples:\n  $ assay worker --database postgres://assay@db/assay --port 9090')
    .action(async (opts: NodeOptions) => {
      const config = configFrom(opts, { PORT: '0' });
      const { startWorker } = await import('../../worker.js');
      const worker = await startWorker(config);
      process.stdout.write(`assay worker listening on ${worker.url} (health, readiness and metrics)\n`);
      stopOnSignals(worker);
    });
}
