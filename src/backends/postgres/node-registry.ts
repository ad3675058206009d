/**
 * Workers announce themselves in PostgreSQL every few seconds, so each can tell how many share the
 * model endpoints and take only its part of their budgets (concurrency, requests and tokens per
 * minute). A worker that stops announcing drops out after three missed beats.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface NodeHeartbeat {
  /** This worker's share of every endpoint's budgets: 1 / live workers. */
  share(): number;
  stop(): Promise<void>;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS assay_nodes (
  id TEXT PRIMARY KEY,
  last_seen TIMESTAMPTZ NOT NULL
)`;

export async function startHeartbeat(pool: pg.Pool, intervalMs = 5000): Promise<NodeHeartbeat> {
  const id = randomUUID();
  await pool.query('SELECT pg_advisory_lock(7202512)');
  try {
    await pool.query(SCHEMA);
  } finally {
    await pool.query('SELECT pg_advisory_unlock(7202512)');
  }
  let live = 1;
  const beat = async (): Promise<void> => {
    await pool.query(`INSERT INTO assay_nodes (id, last_seen) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET last_seen = now()`, [id]);
    const res = await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM assay_nodes WHERE last_seen > now() - make_interval(secs => $1)`, [
      (3 * intervalMs) / 1000,
    ]);
    live = Math.max(1, Number(res.rows[0]?.n ?? 1));
  };
  await beat();
  const timer = setInterval(() => void beat().catch(() => {}), intervalMs);
  timer.unref();
  return {
    share: () => 1 / live,
    async stop() {
      clearInterval(timer);
      await pool.query('DELETE FROM assay_nodes WHERE id = $1', [id]).catch(() => {});
    },
  };
}
