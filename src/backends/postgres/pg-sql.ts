/** Small helpers shared by the PostgreSQL store and queue. */
import pg from 'pg';

export interface PoolOptions {
  /** Connections in the pool. */
  max?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Errors of idle connections (the server restarted, the network dropped); the pool reconnects. */
  onError?: (err: Error) => void;
  /**
   * How long a query waits for a connection, a new one or a free one of the pool, before it fails
   * (default `DEFAULT_CONNECT_TIMEOUT_MS`). Without a bound, a database host that drops packets
   * instead of refusing them held a start for the OS's TCP timeout, about two minutes, and only
   * then said why.
   */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'assay',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
  // Without a listener an idle connection's error would crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
}

/** A database URL as messages may show it: without its password. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    // pg also takes it as a parameter: postgres://host/db?password=…
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return 'the database (its URL does not parse)';
  }
}

/**
 * Runs `fn` in a transaction on one connection: committed if it resolves, rolled back if it
 * throws. A connection lost on the way is the error it rejects with, whatever query then failed.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  let broken: Error | undefined;
  // A checked-out connection that drops between two queries reports it as an event, which would
  // crash the process without a listener; its next query fails instead, and rolls back below.
  const onError = (err: Error): void => {
    lost ??= err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw lost ?? err;
  } finally {
    client.off('error', onError);
    // A connection that cannot even roll back is discarded rather than reused.
    client.release(broken ?? lost);
  }
}

/** Quotes an identifier (a schema name from configuration) for use in SQL text. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A job not yet in a terminal status, as a condition on the `jobs` table. */
export const UNFINISHED = `status NOT IN ('completed', 'error', 'user_error')`;
