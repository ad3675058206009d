/**
 * The row half of the PostgreSQL store: upserts of row results in batches, keyset-paged reads and
 * the filtered browsing query.
 */
import type pg from 'pg';
import type { RowQuery, Store } from '../../engine/contracts.js';
import type { RowCounts, RowResult } from '../../domain/types.js';
import { RESULT_COLUMNS, toResult, toStoredResult, type ResultRow } from '../records.js';
import { inTransaction } from './pg-sql.js';

type RowMethods = Pick<Store, 'saveRows' | 'doneRowIndexes' | 'countRows' | 'rowCounts' | 'deleteRows' | 'iterateRows' | 'queryRows'>;



const FAILED = `outcome IN ('generation_failed', 'judge_failed')`;
/** Rows read per page by iterateRows. */
const PAGE = 1000;
/**
 * Rows per upsert statement (the columns go as arrays, one round trip each). Measured on 100,000
 * rows: batches of 1,000–2,000 took 2–3 s, 20,000 over 4 s.
 */
const SAVE_BATCH = 2000;

/**
 * A batch of row results: `assay_save_rows` (pg-schema.ts) takes the job's lock and upserts. The
 * JSON columns (usage, fields, input) go as one string each, the rows' values joined by U+001E,
 * and the statement splits them: sent as text arrays, every quote and backslash of every value
 * was escaped by `pg` (20 µs a row in a distributed worker, docs/benchmarks.md). JSON text never
 * holds U+001E raw (JSON.stringify escapes control characters) and is never empty, so an empty
 * piece is a row without that value: NULL. (A batch of one row without input sends '', which
 * splits into no element at all; `unnest` fills the missing one with NULL.)
 */
const SAVE = `SELECT assay_save_rows($1, $2::int[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::int[], $8::int[],
  string_to_array($9, chr(30), ''), string_to_array($10, chr(30), ''), string_to_array($11, chr(30), ''), $12::text[])`;
const SEPARATOR = '\u001e';

const DELETE = `
  WITH gone AS (
    DELETE FROM rows WHERE job_id = $1 AND outcome = ANY($2::text[]) RETURNING outcome
  ), counted AS (
    UPDATE jobs SET rows_done = rows_done - (SELECT count(*) FROM gone), rows_failed = rows_failed - (SELECT count(*) FROM gone WHERE ${FAILED})
    WHERE id = $1
  )
  SELECT count(*)::int AS n FROM gone`;

/**
 * Writers of one job's rows take turns on the job's row (`assay_save_rows` takes it too), so the
 * job's counters stay exact. Always jobs before rows: no deadlock.
 */
const LOCK_JOB = 'SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE';

function saveParams(jobId: string, rows: readonly RowResult[]): unknown[] {
  return [
    jobId,
    rows.map((r) => r.rowIndex),
    rows.map((r) => r.outcome),
    rows.map((r) => r.label),
    rows.map((r) => r.score),
    rows.map((r) => r.choice),
    rows.map((r) => r.generationFailures),
    rows.map((r) => r.judgeFailures),
    rows.map((r) => JSON.stringify(r.usage) ?? '').join(SEPARATOR),
    rows.map((r) => (r.json ? r.json.fields : JSON.stringify(r.fields))).join(SEPARATOR),
    rows.map((r) => (r.json ? r.json.input : r.input ? JSON.stringify(r.input) : '')).join(SEPARATOR),
    rows.map((r) => r.run ?? null),
  ];
}

/** One statement cannot upsert a key twice; as with writes one by one, the last result wins. */
function lastPerIndex(rows: readonly RowResult[]): RowResult[] {
  const byIndex = new Map<number, RowResult>();
  for (const r of rows) byIndex.set(r.rowIndex, r);
  return byIndex.size === rows.length ? [...rows] : [...byIndex.values()];
}

export function rowMethods(pool: pg.Pool): RowMethods {
  const count = async (sql: string, args: unknown[]): Promise<number> => (await pool.query<{ n: number }>(sql, args)).rows[0]!.n;

  return {
    async saveRows(jobId, rows) {
      if (rows.length === 0) return;
      const unique = lastPerIndex(rows);
      // One round trip for a batch (the row writer's batches are a few rows): the statement is its
      // own transaction. A larger write goes in parts, in one transaction, so it lands whole.
      if (unique.length <= SAVE_BATCH) {
        await pool.query(SAVE, saveParams(jobId, unique));
        return;
      }
      await inTransaction(pool, async (client) => {
        for (let i = 0; i < unique.length; i += SAVE_BATCH) await client.query(SAVE, saveParams(jobId, unique.slice(i, i + SAVE_BATCH)));
      });
    },
    async doneRowIndexes(jobId, from, to) {
      const { rows } = await pool.query<{ row_index: number }>(
        'SELECT row_index FROM rows WHERE job_id = $1 AND row_index >= $2 AND row_index < $3',
        [jobId, from, to],
      );
      return new Set(rows.map((r) => r.row_index));
    },
    async countRows(jobId) {
      return (await pool.query<{ n: number }>('SELECT rows_done AS n FROM jobs WHERE id = $1', [jobId])).rows[0]?.n ?? 0;
    },
    async rowCounts(jobId) {
      const { rows } = await pool.query<RowCounts>('SELECT rows_done AS done, rows_failed AS failed FROM jobs WHERE id = $1', [jobId]);
      return rows[0] ?? { done: 0, failed: 0 };
    },
    async deleteRows(jobId, outcomes) {
      if (outcomes.length === 0) return 0;
      return inTransaction(pool, async (client) => {
        await client.query(LOCK_JOB, [jobId]);
        return (await client.query<{ n: number }>(DELETE, [jobId, outcomes])).rows[0]!.n;
      });
    },
    async *iterateRows(jobId) {
      let after = -1;
      for (;;) {
        const { rows } = await pool.query<ResultRow>(
          `SELECT ${RESULT_COLUMNS} FROM rows WHERE job_id = $1 AND row_index > $2 ORDER BY row_index LIMIT ${PAGE}`,
          [jobId, after],
        );
        for (const row of rows) yield toStoredResult(row);
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1]!.row_index;
      }
    },
    async queryRows(jobId, query) {
      const { clause, args } = rowFilter(jobId, query);
      const total = await count(`SELECT count(*)::int AS n FROM rows WHERE ${clause}`, args);
      const { rows } = await pool.query<ResultRow>(
        `SELECT ${RESULT_COLUMNS}, input FROM rows WHERE ${clause} ORDER BY row_index LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
        [...args, query.limit, query.offset],
      );
      return { total, rows: rows.map(toResult) };
    },
  };
}

/** The WHERE clause of a row query; its filters combine with AND. */
function rowFilter(jobId: string, query: RowQuery): { clause: string; args: unknown[] } {
  const args: unknown[] = [jobId];
  const where = ['job_id = $1'];
  const arg = (value: unknown): string => `$${args.push(value)}`;
  if (query.outcome === 'failed') where.push(FAILED);
  else if (query.outcome !== undefined) where.push(`outcome = ${arg(query.outcome)}`);
  if (query.labels !== undefined) where.push(`label = ANY(${arg(query.labels)}::text[])`);
  if (query.minScore !== undefined) where.push(`score >= ${arg(query.minScore)}`);
  if (query.belowScore !== undefined) where.push(`score < ${arg(query.belowScore)}`);
  if (query.choice !== undefined) where.push(`choice = ${arg(query.choice)}`);
  if (query.search !== undefined && query.search !== '') {
    const needle = arg(query.search);
    where.push(`(position(lower(${needle}) in lower(COALESCE(input, ''))) > 0 OR position(lower(${needle}) in lower(fields)) > 0)`);
  }
  return { clause: where.join(' AND '), args };
}
