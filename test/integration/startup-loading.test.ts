/**
 * What a server loads before it listens, which is most of its startup time:
 * - the HTTP client of model calls (undici) only where rows run: a node that only serves the API
 *   (a distributed API node, `serve --no-workers`) never loads it, and a node that runs rows loads
 *   it when its engine starts consuming, before its first job; and then only the parts assay uses,
 *   never the package's index (fetch, WebSocket and the rest: see undici-module.ts);
 * - of prom-client, neither the Pushgateway (which loads node:http, node:https and node:zlib) nor
 *   the Summary, which assay does not use (see prom-client-parts.ts);
 * - never fastify's schema compilers (ajv, fast-json-stringify), which no assay route uses.
 *
 * Module loading is per process, and this test process has these loaded already (the fake judge
 * and the tests use them), so each server runs in a child process of its own on the compiled code,
 * which reports what is loaded once the server listens.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/server-process.js';

const run = promisify(execFile);

/** Starts a server with `serveWorkers` as given (jobs on the API's loop), and prints what it loaded. */
const SCRIPT = `
import { createRequire } from 'node:module';
import { sep } from 'node:path';
const dist = process.env.ASSAY_DIST_URL;
const { loadConfig } = await import(new URL('config/config.js', dist));
const { startServer } = await import(new URL('server.js', dist));
const config = loadConfig({}, {
  port: 0, host: '127.0.0.1', dataDir: process.env.ASSAY_TEST_DATA_DIR, logLevel: 'warn',
  providerBaseUrl: 'http://127.0.0.1:9/v1', engineThread: false, serveWorkers: process.env.ASSAY_TEST_WORKERS === '1',
});
const server = await startServer(config);
const cache = createRequire(process.cwd() + sep).cache;
const loaded = (pkg) => Object.keys(cache).some((file) => file.includes(sep + 'node_modules' + sep + pkg + sep));
await server.close();
const has = (file) => Object.keys(cache).some((f) => f.endsWith(sep + 'node_modules' + sep + file.split('/').join(sep)));
const report = {
  listening: server.url.startsWith('http://'),
  undiciLoaded: loaded('undici'),
  undiciIndexLoaded: has('undici/index.js'),
  promClientUnusedLoaded: has('prom-client/lib/pushgateway.js') || has('prom-client/lib/summary.js'),
  schemaCompilersLoaded: loaded('ajv') || loaded('@fastify' + sep + 'fast-json-stringify-compiler'),
};
process.stdout.write('\\nREPORT ' + JSON.stringify(report) + '\\n');
`;

interface Report {
  listening: boolean;
  undiciLoaded: boolean;
  undiciIndexLoaded: boolean;
  promClientUnusedLoaded: boolean;
  schemaCompilersLoaded: boolean;
}

describe('what a server loads before it listens', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function startAndReport(workers: boolean): Promise<Report> {
    const dataDir = await mkdtemp(join(tmpdir(), 'assay-loading-'));
    dirs.push(dataDir);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ASSAY_DIST_URL: pathToFileURL(join(REPO_ROOT, 'dist') + '/').href,
        ASSAY_TEST_DATA_DIR: dataDir,
        ASSAY_TEST_WORKERS: workers ? '1' : '0',
      },
      timeout: 30_000,
    });
    // The server logs to stdout as well: the report is the line marked for it.
    const report = /^REPORT (.*)$/m.exec(stdout);
    expect(report, stdout).not.toBeNull();
    return JSON.parse(report![1]!) as Report;
  }

  it('a node that only serves the API: not the HTTP client of model calls, nor schema compilers', async () => {
    expect(await startAndReport(false)).toEqual({ listening: true, undiciLoaded: false, undiciIndexLoaded: false, promClientUnusedLoaded: false, schemaCompilersLoaded: false });
  });

  it('a node that runs rows: the parts of the HTTP client it uses, before its first job, but no schema compilers', async () => {
    expect(await startAndReport(true)).toEqual({ listening: true, undiciLoaded: true, undiciIndexLoaded: false, promClientUnusedLoaded: false, schemaCompilersLoaded: false });
  });
});
