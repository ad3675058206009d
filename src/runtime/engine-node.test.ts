/**
 * Distributed jobs on the real store, queue and model client, with the fake judge on loopback.
 *
 * A distributed job is complete only once its model calls are in the shared call cache: the
 * PostgreSQL store writes cache entries behind (backends/cache-writes.ts), and the engine writes
 * what waits before it counts a chunk done, so a rerun on any worker finds every call. Checked at
 * the moment the job turns `completed`.
 *
 * And its result file is joined from its chunks' result segments, the very file a pass over the
 * stored rows would write, summary included; a job that fails leaves no segment behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestDatabase, type TestDatabase } from '../../test/support/postgres.js';
import { waitFor } from '../../test/support/server-process.js';
import { loadConfig, type Config } from '../config/config.js';
import type { ResultSegments, Store } from '../engine/contracts.js';
import type { Engine } from '../engine/engine.js';
import { createFileService } from '../engine/file-service.js';
import { writeResultFile } from '../engine/result-file.js';
import type { FileRecord, JobRecord } from '../domain/types.js';
import { jsonReply, startFakeProvider, validVerdictReply, type FakeProvider } from '../testing/fake-provider.js';
import { openBackend, type Backend } from './backend.js';
import { createEngineNode } from './engine-node.js';

let db: TestDatabase;
const closing: Array<() => Promise<unknown>> = [];
const dirs: string[] = [];
beforeAll(async () => {
  db = await getTestDatabase();
});
afterAll(async () => {
  for (const close of closing.reverse()) await close();
  await db?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function judge(opts: Parameters<typeof startFakeProvider>[0]): Promise<FakeProvider> {
  const fake = await startFakeProvider(opts);
  closing.push(() => fake.close());
  return fake;
}

interface Node {
  config: Config;
  backend: Backend;
  /** The backend's store, with the test's stand-ins for some of its members. */
  store: Store;
  engine: Engine;
  /** A connection of the test's own to the node's database. */
  admin: pg.Client;
}

/**
 * A distributed node (real store, queue and model client) on a fresh database, running chunks;
 * `standIns` replaces members of its store, given the store and the test's connection.
 */
async function startNode(judgeUrl: string, env: Record<string, string>, standIns: (store: Store, admin: pg.Client) => Partial<Store> = () => ({})): Promise<Node> {
  const url = await db.createDatabase();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'assay-engine-node-'));
  dirs.push(dataDir);
  const config = loadConfig({ ASSAY_PROVIDER_BASE_URL: judgeUrl, ...env }, { dataDir, databaseUrl: url });
  const backend = await openBackend(config, () => {});
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const members = standIns(backend.store, admin);
  const store = new Proxy(backend.store, {
    get: (target, prop, receiver) => (Object.hasOwn(members, prop) ? members[prop as keyof Store] : (Reflect.get(target, prop, receiver) as unknown)),
  });
  const { engine } = createEngineNode(config, { store, blobs: backend.blobs, queue: backend.queue });
  closing.push(async () => {
    await engine.close();
    await backend.close();
    await admin.end();
  });
  await engine.start({ consume: true, resume: false });
  return { config, backend, store, engine, admin };
}

/** Uploads the rows as a JSONL dataset and runs a job on it to its end. */
async function runJob(node: Node, rows: Array<Record<string, unknown>>, job: { type: string; parameters: Record<string, unknown> }): Promise<{ done: JobRecord; file: FileRecord }> {
  const files = createFileService({ store: node.store, blobs: node.backend.blobs });
  const lines = rows.map((row) => `${JSON.stringify(row)}\n`).join('');
  const file = await files.upload({ ownerId: 'owner', filename: 'data.jsonl', purpose: 'eval' }, Readable.from([Buffer.from(lines)]));
  const created = await node.engine.createJob({ type: job.type, parameters: { input_data_file_path: file.id, ...job.parameters } }, 'owner');
  const done = await waitFor(async () => {
    const now = await node.store.getJob(created.id);
    return now && ['completed', 'error', 'user_error'].includes(now.status) ? now : undefined;
  }, { what: 'the job to end' });
  return { done, file };
}

const classifyParameters = (model: string, workers: number) => ({
  judge: { model, model_source: 'serverless', system_template: 'Is {{question}} answered?', num_workers: workers },
  model_to_evaluate: 'answer',
  labels: ['yes', 'no'],
  pass_labels: ['yes'],
});

/** The row number a fake judge's call is about (`#N` in its dataset row). */
const rowOf = (userText: string): number => Number(/#(\d+)/.exec(userText)?.[1] ?? 0);

describe('a distributed job and the shared call cache', () => {
  it('has every call of the job in the cache by the time the job is completed', async () => {
    const fake = await judge({ reply: validVerdictReply });
    // The cache's entries as they stand when the job turns completed, before the store records it.
    let cachedAtCompletion: number | null = null;
    const node = await startNode(fake.url, { ASSAY_CACHE: 'true' }, (store, admin) => ({
      transitionJob: async (id, from, update, patch) => {
        if (update.status === 'completed') cachedAtCompletion = Number((await admin.query('SELECT COUNT(*) AS n FROM call_cache')).rows[0].n);
        return store.transitionJob(id, from, update, patch);
      },
    }));
    const rows = Array.from({ length: 150 }, (_, i) => ({ question: `q${i}`, answer: `a${i}` }));
    const { done } = await runJob(node, rows, { type: 'classify', parameters: classifyParameters('cache-judge', 16) });
    expect(done.status).toBe('completed');
    expect(cachedAtCompletion).toBe(150);
  });
});

describe("a distributed job's result file", () => {
  it("is joined from its chunks' result segments: what a pass over the stored rows writes, with the same summary", async () => {
    // Scores that vary by row, and latencies too, so that rows finish out of row order.
    const fake = await judge({
      latencyMs: (req) => (rowOf(req.userText) * 7) % 11,
      reply: (req) => jsonReply({ feedback: `row ${rowOf(req.userText)}`, score: 1 + ((rowOf(req.userText) * 37) % 10) }),
    });
    // How each job's file was committed: joined from segments (its size) or not (null).
    const joins: Array<number | null> = [];
    const node = await startNode(fake.url, {}, (store) => ({
      resultSegments: {
        ...store.resultSegments!,
        commitFile: async (jobId, fileId, rowCount) => {
          const joined = await store.resultSegments!.commitFile(jobId, fileId, rowCount);
          joins.push(joined && joined.bytes);
          return joined;
        },
      } satisfies ResultSegments,
    }));
    const rows = Array.from({ length: 300 }, (_, i) => ({ question: `#${i} how far?`, answer: `${i} miles`, n: i }));
    const { done, file } = await runJob(node, rows, {
      type: 'score',
      parameters: {
        judge: { model: 'segment-judge', model_source: 'serverless', system_template: 'Rate {{question}}', num_workers: 16 },
        model_to_evaluate: 'answer',
        min_score: 1,
        max_score: 10,
        pass_threshold: 7,
      },
    });
    expect(done.status).toBe('completed');
    const resultId = String(done.results?.['result_file_id']);
    const served = await text(await node.backend.blobs.openRead(resultId));
    expect(joins).toEqual([Buffer.byteLength(served)]);
    expect(served.split('\n')).toHaveLength(rows.length + 1);

    const dest = path.join(node.config.dataDir, 'pass.jsonl');
    const pass = await writeResultFile({
      store: node.store,
      jobId: done.id,
      spec: done.spec,
      datasetPath: await node.backend.blobs.localPath(file.id),
      datasetFormat: 'jsonl',
      destPath: dest,
      summary: { labelCountsAsString: node.config.labelCountsAsString, prices: node.config.prices },
    });
    expect(served).toBe(readFileSync(dest, 'utf8'));
    expect(done.results).toEqual({ ...pass.summary.results, result_file_id: resultId });
    expect((done.results?.['aggregated_scores'] as { std_score: number }).std_score).toBeGreaterThan(1);
    // Forgotten once the file is written.
    expect((await node.admin.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
  });
});

describe('a distributed job that fails', () => {
  it('leaves no result segments behind', async () => {
    // Once a chunk has kept its segment, every call is refused: the job stops with a user error.
    let saved = 0;
    const fake = await judge({
      latencyMs: 2,
      reply: (req) => (saved > 0 ? { status: 401, body: { error: { message: 'Invalid API key' } } } : validVerdictReply(req)),
    });
    const node = await startNode(fake.url, {}, (store) => ({
      resultSegments: {
        ...store.resultSegments!,
        save: async (segment) => {
          await store.resultSegments!.save(segment);
          saved++;
        },
      } satisfies ResultSegments,
    }));
    const rows = Array.from({ length: 2000 }, (_, i) => ({ question: `#${i} why?`, answer: `because ${i}` }));
    const { done } = await runJob(node, rows, { type: 'classify', parameters: classifyParameters('failing-judge', 4) });
    expect(done.status).toBe('user_error');
    expect(saved).toBeGreaterThan(0);
    expect((await node.admin.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
  });
});
