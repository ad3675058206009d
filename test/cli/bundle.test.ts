/**
 * The bundled `assay` command (dist/bundle, scripts/bundle.mjs) keeps the source's lazy loading:
 * a command loads only the files that hold what it runs. A loader hook records every file of the
 * bundle a real process loads, and `dist/bundle/modules.json` says which modules each file holds.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServer } from '../support/server-process.js';
import { runCli } from './cli.js';

const POSTGRES = /^(node_modules\/(pg|pg-boss|pg-pool|pg-protocol)\/|dist\/backends\/postgres\/)/;
const SERVER = /^(dist\/server\.js$|node_modules\/fastify\/)/;

let dir: string;
let modulesByFile: Record<string, string[]>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-bundle-'));
  modulesByFile = JSON.parse(await readFile(join(REPO_ROOT, 'dist', 'bundle', 'modules.json'), 'utf8')) as Record<string, string[]>;
  // The hook runs on Node's loader thread; it appends each loaded file URL to the log its
  // process names, one line each (appends of one short line do not interleave).
  await writeFile(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  if (process.env.ASSAY_TEST_MODULE_LOG && url.startsWith('file:')) appendFileSync(process.env.ASSAY_TEST_MODULE_LOG, url + '\\n');
  return nextLoad(url, context);
}
`,
  );
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Environment that makes a process log the files it loads to `log`. */
function recording(log: string): Record<string, string> {
  return { NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}`, ASSAY_TEST_MODULE_LOG: log };
}

/** The modules held by the files of the bundle that the process wrote to `log` it loaded. */
async function modulesLoaded(log: string): Promise<string[]> {
  const urls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  const files = [...new Set(urls.filter((u) => u.includes('/dist/bundle/')).map((u) => basename(new URL(u).pathname)))];
  expect(files).toContain('main.js');
  return files.flatMap((f) => {
    const modules = modulesByFile[f];
    if (modules === undefined) throw new Error(`${f} was loaded but is not in dist/bundle/modules.json: rebuild with npm run build`);
    return modules;
  });
}

describe('the bundled command', () => {
  it('makes a key without loading the server or PostgreSQL', async () => {
    const log = join(dir, 'keys.log');
    const result = await runCli(['keys', 'create', '--owner', 'alice', '--data-dir', join(dir, 'keys-data')], { env: recording(log) });
    expect(result.code, result.stderr).toBe(0);
    const modules = await modulesLoaded(log);
    expect(modules).toContain('dist/backends/embedded/sqlite-store.js');
    expect(modules.filter((m) => SERVER.test(m) || POSTGRES.test(m))).toEqual([]);
  });

  it('serves the embedded shape without loading PostgreSQL, on the API thread or the engine thread', async () => {
    const log = join(dir, 'serve.log');
    const server = await startServer({ env: { ...recording(log), ASSAY_LOG_LEVEL: 'warn' } });
    try {
      const res = await fetch(`${server.baseUrl}/evaluation`);
      expect(res.status).toBe(200);
    } finally {
      await server.cleanup();
    }
    const modules = await modulesLoaded(log);
    expect(modules).toContain('dist/server.js');
    // The engine thread's own entry: the thread loads its files through the same hook.
    expect(modules).toContain('dist/runtime/engine-thread-entry.js');
    expect(modules.filter((m) => POSTGRES.test(m))).toEqual([]);
  });
});
