/**
 * The distributed TaskQueue: row chunks as pg-boss 10 jobs in PostgreSQL, shared by every node.
 *
 * - Enqueue is idempotent on (job, start): under a per-job advisory lock, chunks whose key is
 *   already queued, waiting to retry or running are skipped. No pg-boss queue policy gives that
 *   (`short` only dedups queued jobs, `stately` allows one queued beside one running), so the queue
 *   uses the `standard` policy and does the check itself.
 * - A consumer fetches up to its free slots in one query (FOR UPDATE SKIP LOCKED, so nodes never
 *   share a chunk), runs them, and completes each. A handler that throws hands its chunk back
 *   (retried after `retryDelaySeconds`); a chunk whose worker died comes back when its lease ends.
 * - A worker renews the lease of each chunk it runs, three times per lease, so a chunk may take
 *   longer than its lease (a slow model, a low concurrency) without being presumed lost and run a
 *   second time beside the first.
 * - `cancel`, `pending` and `size` read pg-boss's job table by the job id kept in each task's data.
 * - An enqueue notifies (PostgreSQL NOTIFY, sent as its transaction commits) and every consumer
 *   listens on a connection of its own, so a chunk queued by the API node starts on a worker within
 *   milliseconds rather than at the worker's next poll (about a second late on every job). The poll
 *   stays, for a notification lost while the listening connection was down.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import type { RowChunk, TaskQueue } from '../../engine/contracts.js';
import { createPool, ident, inTransaction } from './pg-sql.js';

export interface PgBossQueueOptions {
  /** The pg-boss queue holding row chunks. */
  queueName?: string;
  /** pg-boss's schema; must match the instance's when one is passed in. */
  schema?: string;
  /** Seconds a worker may hold a chunk; after that the chunk is presumed lost and runs elsewhere. */
  leaseSeconds?: number;
  /** Deliveries after the first (handler threw, lease ended) before pg-boss gives a chunk up. */
  retryLimit?: number;
  /** Seconds before a handed-back chunk may be taken again. */
  retryDelaySeconds?: number;
  /** How often an idle consumer looks for chunks; an enqueue in this process wakes it at once. */
  pollIntervalMs?: number;
  /** How often a pg-boss created here looks for ended leases (its maintenance). */
  maintenanceIntervalSeconds?: number;
  /** Connections of a pool created here. */
  poolSize?: number;
  /** How long a pool created here waits for a connection (see `PoolOptions.connectTimeoutMs`). */
  connectTimeoutMs?: number;
  /** A handler threw, or its chunk could not be acknowledged. */
  onError?: (err: unknown, task: RowChunk) => void;
  /** The queue itself failed (database unreachable, maintenance); it keeps polling. */
  onQueueError?: (err: unknown) => void;
}

const DEFAULTS = {
  queueName: 'assay-chunks',
  schema: 'pgboss',
  leaseSeconds: 120,
  retryLimit: 10,
  retryDelaySeconds: 1,
  pollIntervalMs: 1000,
  maintenanceIntervalSeconds: 60,
  poolSize: 4,
} satisfies Partial<PgBossQueueOptions>;

/** A pg-boss instance and the pool it runs on, both started and owned by the caller. */
export interface PgBossConnection {
  boss: PgBoss;
  pool: pg.Pool;
}

/** Lets pg-boss run its statements on our pool (and our transactions). */
const executorOf = (db: pg.Pool | pg.PoolClient): PgBoss.Db => ({ executeSql: (text, values) => db.query(text, values) });

/**
 * Opens the queue on a database URL (creating and owning a pool and a pg-boss) or on a started
 * pg-boss with its pool (the caller owns them). Installs pg-boss's schema and the queue if needed.
 *
 * @example
 * const queue = await createPgBossQueue(process.env.ASSAY_DATABASE_URL!, { leaseSeconds: 120 });
 * queue.consume(runChunk, { concurrency: 16 });
 */
/** Errors two nodes creating the same queue at once may get from PostgreSQL; the loser tries again. */
const CONCURRENT_CREATE_CODES: ReadonlySet<string> = new Set(['40P01', '23505', '42P07']);

/**
 * Creates the queue unless it exists. Nodes that start together on a fresh database race in
 * pg-boss's createQueue (it adds a table and a row, and PostgreSQL may answer one of them with a
 * deadlock); whoever loses looks again and finds the queue the winner made.
 */
async function createQueueOnce(boss: PgBoss, name: string, options: Parameters<PgBoss['createQueue']>[1]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await boss.getQueue(name)) return;
    try {
      await boss.createQueue(name, options);
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= 5 || typeof code !== 'string' || !CONCURRENT_CREATE_CODES.has(code)) throw err;
    }
  }
}

export async function createPgBossQueue(source: string | PgBossConnection, options: PgBossQueueOptions = {}): Promise<TaskQueue> {
  const opts = { ...DEFAULTS, ...options };
  const onQueueError = options.onQueueError ?? (() => {});
  const owned = typeof source === 'string';
  const pool = owned ? createPool(source, { max: opts.poolSize, applicationName: 'assay-queue', onError: onQueueError, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) }) : source.pool;
  let boss: PgBoss;
  if (owned) {
    boss = new PgBoss({
      db: executorOf(pool),
      schema: opts.schema,
      supervise: true,
      schedule: false,
      maintenanceIntervalSeconds: opts.maintenanceIntervalSeconds,
    });
    boss.on('error', onQueueError);
    try {
      await boss.start();
    } catch (err) {
      await pool.end();
      throw err;
    }
  } else {
    boss = source.boss;
  }
  const name = opts.queueName;
  const jobs = `${ident(opts.schema)}.job`;
  const taskOptions = { retryLimit: opts.retryLimit, retryDelay: opts.retryDelaySeconds, retryBackoff: false, expireInSeconds: opts.leaseSeconds };
  try {
    await createQueueOnce(boss, name, { name, policy: 'standard', ...taskOptions });
  } catch (err) {
    if (owned) await Promise.allSettled([boss.stop({ graceful: false, close: false }), pool.end()]);
    throw err;
  }
  /**
   * Restarts a running chunk's lease. pg-boss 10 has no call for this; its maintenance presumes an
   * active job lost once `started_on + expire_in` has passed, so the renewal moves `started_on`
   * (which then reads as the last renewal). `expire_in` stays as queued: a chunk handed back and
   * retried keeps the lease it was given. A chunk is this worker's only for the delivery it was
   * fetched with: pg-boss counts a delivery after the first in `retry_count`, so a renewal that
   * finds no active chunk with that count learns that the chunk's lease ended and it went back to
   * the queue (or to another worker).
   */
  const renew = async (id: string, delivery: number): Promise<boolean> => {
    const { rowCount } = await pool.query(`UPDATE ${jobs} SET started_on = now() WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3`, [
      name,
      id,
      delivery,
    ]);
    return (rowCount ?? 0) > 0;
  };
  const consumer = createConsumer(boss, name, opts.pollIntervalMs, renew, options.onError ?? (() => {}), onQueueError);
  // One channel per queue: a NOTIFY channel is an identifier of at most 63 bytes.
  const channel = `assay:${opts.schema}.${name}`.slice(0, 63);
  let listener: Listener | null = null;
  const count = async (sql: string, args: unknown[]): Promise<number> => (await pool.query<{ n: number }>(sql, args)).rows[0]!.n;
  let closing: Promise<void> | undefined;

  return {
    async enqueue(tasks) {
      const fresh = new Map(tasks.map((t) => [keyOf(t), chunkOf(t)]));
      if (fresh.size === 0) return;
      await inTransaction(pool, async (client) => {
        // Enqueuers of the same job take turns, so two cannot both see a key missing and add it.
        const jobIds = [...new Set([...fresh.values()].map((t) => t.jobId))].sort();
        for (const jobId of jobIds) await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`assay.enqueue:${name}:${jobId}`]);
        const { rows } = await client.query<{ key: string }>(
          `SELECT singleton_key AS key FROM ${jobs} WHERE name = $1 AND state < 'completed' AND singleton_key = ANY($2::text[])`,
          [name, [...fresh.keys()]],
        );
        for (const { key } of rows) fresh.delete(key);
        if (fresh.size === 0) return;
        const inserts = [...fresh].map(([key, data]) => ({ name, data, singletonKey: key, ...taskOptions }));
        await boss.insert(inserts, { db: executorOf(client) });
        // Delivered as the transaction commits, when the chunks can be fetched.
        await client.query('SELECT pg_notify($1, $2)', [channel, '']);
      });
      consumer.nudge();
    },
    consume(handler, { concurrency }) {
      listener ??= listen(pool.options, channel, consumer.nudge, onQueueError);
      consumer.start(handler, Math.max(1, concurrency));
    },
    async cancel(jobId) {
      // Only waiting chunks: a running one finishes and is acknowledged by its worker.
      await pool.query(`UPDATE ${jobs} SET state = 'cancelled', completed_on = now() WHERE name = $1 AND state < 'active' AND data->>'jobId' = $2`, [
        name,
        jobId,
      ]);
    },
    pending: (jobId) => count(`SELECT count(*)::int AS n FROM ${jobs} WHERE name = $1 AND state < 'completed' AND data->>'jobId' = $2`, [name, jobId]),
    size: () => count(`SELECT count(*)::int AS n FROM ${jobs} WHERE name = $1 AND state < 'completed'`, [name]),
    close() {
      closing ??= (async () => {
        await listener?.close();
        await consumer.stop();
        if (owned) {
          await boss.stop({ graceful: false, close: false });
          await pool.end();
        }
      })();
      return closing;
    },
  };
}

const keyOf = (t: RowChunk): string => `${t.jobId}:${t.start}`;
/** The chunk as stored in a task's data and handed to the handler, offset included when known. */
const chunkOf = ({ jobId, start, end, offset }: RowChunk): RowChunk => ({ jobId, start, end, ...(offset ? { offset } : {}) });

interface Consumer {
  start(handler: (task: RowChunk, lost: AbortSignal) => Promise<void>, concurrency: number): void;
  /** Something changed (a chunk was queued here, a slot freed): look for chunks now. */
  nudge(): void;
  /** Stops fetching and waits for running handlers and their acknowledgements. */
  stop(): Promise<void>;
}

/** The poll loop: fetch up to the free slots, run each chunk, complete or fail it, repeat. */
function createConsumer(
  boss: PgBoss,
  name: string,
  pollIntervalMs: number,
  renew: (id: string, delivery: number) => Promise<boolean>,
  onError: (err: unknown, task: RowChunk) => void,
  onQueueError: (err: unknown) => void,
): Consumer {
  const running = new Set<Promise<void>>();
  let handler: ((task: RowChunk, lost: AbortSignal) => Promise<void>) | undefined;
  let concurrency = 1;
  let loop: Promise<void> | undefined;
  let stopping = false;
  let nudged = false;
  let wake: (() => void) | undefined;

  const nudge = (): void => {
    nudged = true;
    wake?.();
  };

  /** Waits for a nudge or the poll interval, whichever comes first. */
  const pause = (): Promise<void> =>
    new Promise((resolve) => {
      if (nudged) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, pollIntervalMs);
      wake = done;
    });

  function run(job: PgBoss.JobWithMetadata<RowChunk>, fn: (task: RowChunk, lost: AbortSignal) => Promise<void>): void {
    const task = chunkOf(job.data);
    const lost = new AbortController();
    // The lease this chunk was queued with (the enqueuer's setting), renewed while it runs. A
    // renewal that fails (the database away) is tried again; should all fail, the lease ends and
    // the chunk runs elsewhere, as for a dead worker. A renewal that finds the chunk gone tells
    // the handler, which starts no more of its rows.
    const renewal = setInterval(() => {
      renew(job.id, job.retryCount).then((held) => {
        if (!held && !lost.signal.aborted) lost.abort(new Error(`chunk ${task.jobId}:${task.start} went back to the queue: its lease ended`));
      }, onQueueError);
    }, Math.max(100, (job.expireInSeconds * 1000) / 3));
    renewal.unref();
    const settle = async (): Promise<void> => {
      try {
        await fn(task, lost.signal);
      } catch (err) {
        onError(err, task);
        if (lost.signal.aborted) return;
        await boss.fail(name, job.id, { message: err instanceof Error ? err.message : String(err) }).catch((e: unknown) => onError(e, task));
        return;
      }
      // A chunk that went to another delivery is that one's to complete: completing it here would
      // end the other worker's run of it.
      if (lost.signal.aborted) return;
      // If this fails the chunk's lease ends and it runs again; its finished rows are skipped.
      await boss.complete(name, job.id).catch((e: unknown) => onError(e, task));
    };
    const p = settle().finally(() => {
      clearInterval(renewal);
      running.delete(p);
      nudge();
    });
    running.add(p);
  }

  async function poll(): Promise<void> {
    while (!stopping) {
      const free = concurrency - running.size;
      if (free > 0 && handler) {
        nudged = false;
        let fetched: PgBoss.JobWithMetadata<RowChunk>[] = [];
        try {
          // With metadata: the delivery count a renewal checks (see renew).
          fetched = await boss.fetch<RowChunk>(name, { batchSize: free, includeMetadata: true });
        } catch (err) {
          onQueueError(err);
        }
        if (stopping && fetched.length > 0) {
          // Taken while closing: hand them straight back rather than start work now.
          await boss.fail(name, fetched.map((j) => j.id)).catch(onQueueError);
          return;
        }
        for (const job of fetched) run(job, handler);
        if (fetched.length === free) continue;
      }
      await pause();
      nudged = false;
    }
  }

  return {
    start(fn, c) {
      handler = fn;
      concurrency = c;
      // poll() handles its own errors; this catch is for a bug in it, which would stop consumption.
      if (!loop && !stopping) loop = poll().catch(onQueueError);
      else nudge();
    },
    nudge,
    async stop() {
      stopping = true;
      nudge();
      await loop;
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

interface Listener {
  close(): Promise<void>;
}

const LISTEN_RETRY_MS = 1000;

/**
 * Listens on `channel` on a connection of its own (a pooled one would be handed to others), and
 * calls `onNotify` for each notification. A lost connection is made again a second later; until
 * then the consumer's poll finds what was queued.
 */
function listen(config: pg.ClientConfig, channel: string, onNotify: () => void, onError: (err: unknown) => void): Listener {
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;

  const again = (): void => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, LISTEN_RETRY_MS);
    retry.unref();
  };

  /** Gives up a failed connection and makes another a second later. */
  const failed = (c: pg.Client, err: unknown): void => {
    if (closed) return;
    onError(err);
    c.end().catch(() => {});
    if (client === c) client = null;
    again();
  };

  async function connect(): Promise<void> {
    const c = new pg.Client({ ...config, application_name: 'assay-queue-listen' });
    client = c;
    c.on('notification', onNotify);
    c.on('error', (err) => failed(c, err));
    // Ended without an error (the server closed it cleanly): listen again all the same.
    c.on('end', () => {
      if (closed || client !== c) return;
      client = null;
      again();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${ident(channel)}`);
      // Whatever was queued while this connection was being made is found by the poll it wakes.
      onNotify();
    } catch (err) {
      failed(c, err);
    }
  }

  void connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => {});
      client = null;
    },
  };
}
