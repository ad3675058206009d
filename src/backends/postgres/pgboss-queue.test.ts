import PgBoss from 'pg-boss';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeQueueContract } from '../../../test/contract/queue-contract.js';
import { getTestDatabase, testPool, type TestDatabase } from '../../../test/support/postgres.js';
import type { RowChunk, TaskQueue } from '../../engine/contracts.js';
import { createPgBossQueue, type PgBossQueueOptions } from './pgboss-queue.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(() => db?.stop());

describeQueueContract('pg-boss', async () => createPgBossQueue(await db.createDatabase()));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const chunk = (jobId: string, start: number): RowChunk => ({ jobId, start, end: start + 64 });

describe('pg-boss queue across nodes', () => {
  const opened: TaskQueue[] = [];
  const open = async (url: string, opts: PgBossQueueOptions = {}): Promise<TaskQueue> => {
    const q = await createPgBossQueue(url, { pollIntervalMs: 50, ...opts });
    opened.push(q);
    return q;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
  });

  it('lets several nodes start together on a fresh database: each finds the one queue', async () => {
    for (let round = 0; round < 3; round++) {
      const url = await db.createDatabase();
      const nodes = await Promise.all([open(url), open(url), open(url), open(url)]);
      await nodes[0]!.enqueue([chunk('j1', 0)]);
      for (const node of nodes) expect(await node.size()).toBe(1);
    }
  });

  it('starts a chunk queued by another node at once, not at the next poll, also after its listening connection was lost', async () => {
    const url = await db.createDatabase();
    const apiNode = await open(url);
    // A poll this slow never finds the chunks within the test's waits: only a notification can.
    const worker = await open(url, { pollIntervalMs: 600_000 });
    const ran: string[] = [];
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const listening = async () =>
        (await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'assay-queue-listen' AND query LIKE 'LISTEN%'`)).rows as Array<{ pid: number }>;
      worker.consume(async (t) => void ran.push(`${t.jobId}:${t.start}`), { concurrency: 2 });
      // Once it listens, its first poll is done: what runs next was woken by a notification.
      await until(async () => (await listening()).length === 1, 'the worker to listen');
      await apiNode.enqueue([chunk('j1', 0), chunk('j1', 64)]);
      await until(() => ran.length === 2, 'both chunks to run');

      const [before] = await listening();
      await admin.query('SELECT pg_terminate_backend($1)', [before!.pid]);
      await until(async () => (await listening()).some((r) => r.pid !== before!.pid), 'the listener to connect again');
      await apiNode.enqueue([chunk('j2', 0)]);
      await until(() => ran.includes('j2:0'), 'the chunk queued after the reconnection to run');
    } finally {
      await admin.end();
    }
  });

  it('tells a worker that a chunk it runs went back to the queue, and leaves it to the next delivery', async () => {
    const url = await db.createDatabase();
    const q = await open(url, { leaseSeconds: 1, retryDelaySeconds: 0 });
    const deliveries: AbortSignal[] = [];
    let firstReturned = false;
    const second = gate();
    q.consume(
      async (_task, lost) => {
        deliveries.push(lost!);
        if (deliveries.length === 1) {
          await until(() => lost!.aborted, 'the first delivery to learn that it lost the chunk');
          firstReturned = true;
        } else {
          await second.opened;
        }
      },
      { concurrency: 2 },
    );
    await q.enqueue([chunk('j1', 0)]);
    await until(() => deliveries.length === 1, 'the chunk to start');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const job = async () =>
        (await admin.query<{ state: string; retry_count: number; started_on: Date }>(`SELECT state, retry_count, started_on FROM pgboss.job WHERE name = 'assay-chunks'`)).rows[0]!;
      // What pg-boss's maintenance does to a chunk whose lease ended: back to the queue, to retry.
      await admin.query(`UPDATE pgboss.job SET state = 'retry' WHERE name = 'assay-chunks' AND state = 'active'`);
      await until(() => deliveries.length === 2 && firstReturned, 'the chunk delivered again, and the first delivery told and returned');
      // Two renewals by the second delivery after the first returned: had the first completed the
      // chunk on its way out, the second could renew no more (and would be told it lost it).
      for (let renewals = 0; renewals < 2; renewals++) {
        const before = (await job()).started_on.getTime();
        await until(async () => (await job()).started_on.getTime() > before, 'a renewal by the second delivery');
      }
      expect(deliveries[1]!.aborted).toBe(false);
      expect(await job()).toMatchObject({ state: 'active', retry_count: 1 });
      second.open();
      await until(async () => (await q.size()) === 0, 'the second delivery to complete the chunk');
      expect(await job()).toMatchObject({ state: 'completed', retry_count: 1 });
    } finally {
      second.open();
      await admin.end();
    }
  });

  it('adds a key once while it is queued or running, and again once it is done', async () => {
    const url = await db.createDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const tasks = [0, 64, 128].map((s) => chunk('j1', s));
    await Promise.all([a.enqueue(tasks), b.enqueue(tasks), a.enqueue(tasks)]);
    expect(await a.size()).toBe(3);
    const release = gate();
    const seen: string[] = [];
    a.consume(async (t) => {
      seen.push(`${t.jobId}:${t.start}`);
      await release.opened;
    }, { concurrency: 3 });
    await until(() => seen.length === 3, 'three running');
    await b.enqueue(tasks);
    expect(await b.pending('j1')).toBe(3);
    release.open();
    await until(async () => (await b.pending('j1')) === 0, 'all done');
    await b.enqueue([chunk('j1', 0)]);
    await until(() => seen.length === 4, 'the re-added chunk delivered');
    expect(seen.sort()).toEqual(['j1:0', 'j1:0', 'j1:128', 'j1:64']);
  });

  it('hands a chunk back when its handler throws, and delivers it again', async () => {
    const url = await db.createDatabase();
    const errors: unknown[] = [];
    const q = await open(url, { retryDelaySeconds: 0, onError: (err) => errors.push(err) });
    let attempts = 0;
    q.consume(async () => {
      if (++attempts === 1) throw new Error('shutting down');
    }, { concurrency: 1 });
    await q.enqueue([chunk('j1', 0)]);
    await until(async () => attempts === 2 && (await q.pending('j1')) === 0, 'second delivery completed');
    expect(errors).toHaveLength(1);
  });

  it('gives a dead worker’s chunk to another worker when its lease ends', async () => {
    const url = await db.createDatabase();
    // Worker A runs on its own pool, so it can die: its connections go and it never acknowledges.
    const poolA = testPool(url, 2);
    const bossA = new PgBoss({ db: { executeSql: (text, values) => poolA.query(text, values) }, supervise: false, schedule: false });
    await bossA.start();
    const a = await createPgBossQueue({ boss: bossA, pool: poolA }, { pollIntervalMs: 50 });
    // B enqueues with a 1 s lease and looks for ended leases every second.
    const b = await open(url, { leaseSeconds: 1, retryDelaySeconds: 0, maintenanceIntervalSeconds: 1 });
    // The chunk travels whole, with where it starts in the dataset file.
    const withOffset: RowChunk = { ...chunk('j1', 64), offset: { index: 64, byte: 9120, line: 65 } };
    await b.enqueue([withOffset]);

    const taken = gate();
    const never = gate();
    a.consume(async () => {
      taken.open();
      await never.opened;
    }, { concurrency: 1 });
    await taken.opened;
    await bossA.stop({ graceful: false, close: false });
    await poolA.end();

    const delivered: RowChunk[] = [];
    b.consume(async (t) => void delivered.push(t), { concurrency: 1 });
    await until(() => delivered.length === 1, 'redelivery to B');
    expect(delivered).toEqual([withOffset]);
    await until(async () => (await b.pending('j1')) === 0, 'B acknowledged');

    // Let A's stuck handler end so A can close; its acknowledgement fails on the dead pool.
    never.open();
    await a.close();
  });

  it('keeps a chunk that runs past its lease with its worker, which renews the lease', async () => {
    const url = await db.createDatabase();
    const pool = testPool(url, 4);
    const boss = new PgBoss({ db: { executeSql: (text, values) => pool.query(text, values) }, supervise: true, schedule: false, maintenanceIntervalSeconds: 1 });
    let maintenanceRuns = 0;
    boss.on('maintenance', () => maintenanceRuns++);
    await boss.start();
    // A 1 s lease, and room for a second delivery should the chunk be presumed lost.
    const q = await createPgBossQueue({ boss, pool }, { leaseSeconds: 1, retryDelaySeconds: 0, pollIntervalMs: 50 });
    const release = gate();
    const running = gate();
    let deliveries = 0;
    q.consume(async () => {
      deliveries++;
      running.open();
      await release.opened;
    }, { concurrency: 2 });
    await q.enqueue([chunk('j1', 0)]);
    await running.opened;
    // Four rounds of maintenance, each looking for leases that ended: without renewals the chunk's
    // would have ended three times over.
    const before = maintenanceRuns;
    await until(() => maintenanceRuns >= before + 4, 'four maintenance rounds');
    expect(deliveries).toBe(1);
    expect(await q.pending('j1')).toBe(1);
    // Renewals leave the lease itself as queued, so a chunk handed back later keeps a 1 s lease.
    const { rows } = await pool.query<{ lease: number }>(`SELECT EXTRACT(epoch FROM expire_in)::int AS lease FROM pgboss.job WHERE name = 'assay-chunks'`);
    expect(rows).toEqual([{ lease: 1 }]);
    release.open();
    await until(async () => (await q.pending('j1')) === 0, 'the chunk acknowledged');
    expect(deliveries).toBe(1);
    await q.close();
    await boss.stop({ graceful: false, close: false });
    await pool.end();
  });
});
