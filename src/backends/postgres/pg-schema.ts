/**
 * The PostgreSQL schema, as versioned migrations recorded in `schema_migrations`.
 *
 * JSON payloads are TEXT, not JSONB: JSONB reorders object keys (the result file and the echoed
 * request parameters keep the order they were written in), and TEXT takes any string JSON.stringify
 * makes, where JSON/JSONB reject lone surrogates an LLM reply may carry. Timestamps of jobs are the
 * strings the engine gives; those of files and keys are unix seconds.
 */
import type pg from 'pg';
import { inTransaction } from './pg-sql.js';

interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE files (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        owner_id text NOT NULL,
        filename text NOT NULL,
        purpose text NOT NULL,
        format text NOT NULL,
        bytes bigint NOT NULL,
        line_count integer NOT NULL,
        columns text NOT NULL,
        state text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX files_owner ON files (owner_id, created_at, seq);

      CREATE TABLE jobs (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        owner_id text NOT NULL,
        type text NOT NULL,
        status text NOT NULL,
        status_updates text NOT NULL,
        parameters text NOT NULL,
        spec text NOT NULL,
        row_count integer NOT NULL,
        results text,
        secrets text,
        finalizing boolean NOT NULL DEFAULT false,
        cancel_requested boolean NOT NULL DEFAULT false,
        -- Kept by saveRows and deleteRows, so progress and completion checks need no scan.
        rows_done integer NOT NULL DEFAULT 0,
        rows_failed integer NOT NULL DEFAULT 0,
        created_at text NOT NULL,
        updated_at text NOT NULL
      );
      CREATE INDEX jobs_owner ON jobs (owner_id, seq);
      CREATE INDEX jobs_owner_status ON jobs (owner_id, status, seq);
      CREATE INDEX jobs_unfinished ON jobs (seq) WHERE status NOT IN ('completed', 'error', 'user_error');

      CREATE TABLE rows (
        job_id text NOT NULL,
        row_index integer NOT NULL,
        outcome text NOT NULL,
        label text,
        score double precision,
        choice text,
        generation_failures integer NOT NULL,
        judge_failures integer NOT NULL,
        usage text,
        fields text NOT NULL,
        input text,
        PRIMARY KEY (job_id, row_index)
      );

      CREATE TABLE api_keys (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        owner_id text NOT NULL,
        hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        created_at bigint NOT NULL,
        revoked_at bigint
      );`,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE call_cache (
        key text PRIMARY KEY,
        content text NOT NULL,
        usage text,
        last_used bigint NOT NULL
      );
      CREATE INDEX call_cache_lru ON call_cache (last_used);`,
  },
  {
    version: 3,
    // When the finalization claim was made, so a claim whose holder died can be taken over.
    sql: `ALTER TABLE jobs ADD COLUMN finalizing_since timestamptz;`,
  },
  {
    version: 4,
    // A batch of row results in one round trip (see saveRows in pg-rows.ts): it was four (BEGIN,
    // the job's lock, the upsert, COMMIT), which a row's slot waited for. Writers of one job's rows
    // take turns on the job's row, so \`before\` never misses a row another writer is inserting
    // (which would count it twice); a volatile function's statements each see what committed before
    // they start, so the upsert sees every row written before the lock was granted. The columns
    // come as arrays; all CTEs of the upsert read one snapshot, so \`before\` holds the rows as they
    // were. A redelivered result without its input keeps the input stored before.
    sql: `
      CREATE FUNCTION assay_save_rows(p_job text, p_index int[], p_outcome text[], p_label text[], p_score float8[], p_choice text[],
                                      p_generation_failures int[], p_judge_failures int[], p_usage text[], p_fields text[], p_input text[])
      RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM jobs WHERE id = p_job FOR UPDATE;
        WITH before AS (
          SELECT outcome FROM rows WHERE job_id = p_job AND row_index = ANY(p_index)
        ), saved AS (
          INSERT INTO rows (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields, input)
          SELECT p_job, * FROM unnest(p_index, p_outcome, p_label, p_score, p_choice, p_generation_failures, p_judge_failures, p_usage, p_fields, p_input)
          ON CONFLICT (job_id, row_index) DO UPDATE SET outcome = excluded.outcome, label = excluded.label, score = excluded.score,
            choice = excluded.choice, generation_failures = excluded.generation_failures, judge_failures = excluded.judge_failures,
            usage = excluded.usage, fields = excluded.fields, input = COALESCE(excluded.input, rows.input)
          RETURNING outcome
        )
        UPDATE jobs SET
          rows_done = rows_done + (SELECT count(*) FROM saved) - (SELECT count(*) FROM before),
          rows_failed = rows_failed + (SELECT count(*) FROM saved WHERE outcome IN ('generation_failed', 'judge_failed'))
                                    - (SELECT count(*) FROM before WHERE outcome IN ('generation_failed', 'judge_failed'))
        WHERE id = p_job;
      END
      $$;`,
  },
  {
    version: 5,
    // The jobs version (Store.jobsVersion): a counter that moves whenever a job is added or removed
    // or a field a job list or a status shows changes. A row of its own, moved by triggers in the
    // writing transaction, so a reader sees the new number only once the change is committed (a
    // sequence would show it before, and an API node could keep the old answer under the new
    // number). Only the rare writes take its lock: row counters, secrets, claims and cancel
    // requests do not move it.
    sql: `
      CREATE TABLE jobs_version (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL);
      INSERT INTO jobs_version (id, n) VALUES (1, 0);
      CREATE FUNCTION assay_move_jobs_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE jobs_version SET n = n + 1 WHERE id = 1;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER jobs_version_insert_delete AFTER INSERT OR DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION assay_move_jobs_version();
      CREATE TRIGGER jobs_version_update AFTER UPDATE OF id, owner_id, type, status, status_updates, parameters, results, created_at, updated_at
        ON jobs FOR EACH ROW EXECUTE FUNCTION assay_move_jobs_version();`,
  },
  {
    version: 6,
    // Result segments (contracts.ts, ResultSegments): a chunk run's lines of the result file and the
    // summary state of its rows, and on each row the run that wrote it, so that a segment stands for
    // its rows only while they are the ones it was made from. assay_save_rows takes the runs as a
    // twelfth array; its eleven-array form stays for workers of the version before, writing no run
    // (a row written without one is in no segment).
    sql: `
      ALTER TABLE rows ADD COLUMN run text;
      CREATE TABLE result_segments (
        job_id text NOT NULL,
        row_start integer NOT NULL,
        row_end integer NOT NULL,
        run text NOT NULL,
        lines bytea NOT NULL,
        summary text NOT NULL,
        PRIMARY KEY (job_id, row_start)
      );
      -- Kept only until the job ends: not compressed, which would cost once more when they are joined.
      ALTER TABLE result_segments ALTER COLUMN lines SET STORAGE EXTERNAL;
      CREATE FUNCTION assay_save_rows(p_job text, p_index int[], p_outcome text[], p_label text[], p_score float8[], p_choice text[],
                                      p_generation_failures int[], p_judge_failures int[], p_usage text[], p_fields text[], p_input text[],
                                      p_run text[])
      RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM jobs WHERE id = p_job FOR UPDATE;
        WITH before AS (
          SELECT outcome FROM rows WHERE job_id = p_job AND row_index = ANY(p_index)
        ), saved AS (
          INSERT INTO rows (job_id, row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields, input, run)
          SELECT p_job, * FROM unnest(p_index, p_outcome, p_label, p_score, p_choice, p_generation_failures, p_judge_failures, p_usage, p_fields, p_input, p_run)
          ON CONFLICT (job_id, row_index) DO UPDATE SET outcome = excluded.outcome, label = excluded.label, score = excluded.score,
            choice = excluded.choice, generation_failures = excluded.generation_failures, judge_failures = excluded.judge_failures,
            usage = excluded.usage, fields = excluded.fields, input = COALESCE(excluded.input, rows.input), run = excluded.run
          RETURNING outcome
        )
        UPDATE jobs SET
          rows_done = rows_done + (SELECT count(*) FROM saved) - (SELECT count(*) FROM before),
          rows_failed = rows_failed + (SELECT count(*) FROM saved WHERE outcome IN ('generation_failed', 'judge_failed'))
                                    - (SELECT count(*) FROM before WHERE outcome IN ('generation_failed', 'judge_failed'))
        WHERE id = p_job;
      END
      $$;
      CREATE OR REPLACE FUNCTION assay_save_rows(p_job text, p_index int[], p_outcome text[], p_label text[], p_score float8[], p_choice text[],
                                                 p_generation_failures int[], p_judge_failures int[], p_usage text[], p_fields text[], p_input text[])
      RETURNS void LANGUAGE sql AS $$
        SELECT assay_save_rows(p_job, p_index, p_outcome, p_label, p_score, p_choice, p_generation_failures, p_judge_failures, p_usage, p_fields,
                               p_input, array_fill(NULL::text, ARRAY[cardinality(p_index)]));
      $$;`,
  },
  {
    version: 7,
    // The call cache's size, kept by its writes, so that the bound is checked with a read of one
    // row: a COUNT(*) over a full cache of a million entries took 83–378 ms (docs/benchmarks.md,
    // step 43), and every worker checked it after each 200 entries it wrote. Statement-level
    // triggers see each statement's rows at once (an upsert's insert trigger sees only the rows it
    // inserted). Like the jobs version, a row of its own: writers take turns on it only briefly,
    // as each cache write is a statement of its own.
    sql: `
      CREATE TABLE call_cache_size (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL);
      INSERT INTO call_cache_size (id, n) SELECT 1, count(*) FROM call_cache;
      CREATE FUNCTION assay_count_cache_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE call_cache_size SET n = n + (SELECT count(*) FROM inserted) WHERE id = 1;
        RETURN NULL;
      END
      $$;
      CREATE FUNCTION assay_count_cache_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE call_cache_size SET n = n - (SELECT count(*) FROM deleted) WHERE id = 1;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER call_cache_size_insert AFTER INSERT ON call_cache REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION assay_count_cache_inserts();
      CREATE TRIGGER call_cache_size_delete AFTER DELETE ON call_cache REFERENCING OLD TABLE AS deleted
        FOR EACH STATEMENT EXECUTE FUNCTION assay_count_cache_deletes();`,
  },
];

/**
 * Brings the database to the latest version. Processes starting together take turns on an
 * advisory lock, so each migration runs once; all pending ones commit together or not at all.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('assay.schema_migrations', 0))`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
    }
  });
}
