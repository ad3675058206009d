/** Small helpers shared by the PostgreSQL store and queue. */
import pg from 'pg';

export interface PoolOptions {
  /** Connections in the pool. */
  max?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Errors of idle connections (the server restarted, the network dropped); the pool reconnects. */
  onError?: (err: Error) => void;
}

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, application_name: opts.applicationName ?? 'assay' });
  // Without a listener an idle connection's error would crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
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
