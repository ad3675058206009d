/**
 * Distributed jobs on the real store, queue and model client, with the fake judge on loopback.
 *
 * A distributed job is complete only once its model calls are in the shared call cache: the
 * PostgreSQL store writes cache entries behind (backends/cache-writes.ts), and the engine writes
 * what waits before it counts a chunk done, so a rerun on any worker finds every call. Checked at
 * the moment the job turns `completed`.
 *
 * And its result file is joined from its chunks' result segments, the very file a pass over the
 * stored rows would write, summary included.
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
import { loadConfig } from '../config/config.js';
import type { ResultSegments, Store } from '../engine/contracts.js';
import { createFileService } from '../engine/file-service.js';
import { jsonReply, startFakeProvider, validVerdictReply, type FakeProvider } from '../testing/fake-provider.js';
import { writeResultFile } from '../engine/result-file.js';
import { openBackend } from './backend.js';
import { createEngineNode } from './engine-node.js';

let db: TestDatabase;
let fake: FakeProvider;
const dirs: string[] = [];
beforeAll(async () => {
  db = await getTestDatabase();
  fake = await startFakeProvider({ reply: validVerdictReply });
});
afterAll(async () => {
  await fake?.close();
  await db?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a distributed job and the shared call cache', () => {
  it('has every call of the job in the cache by the time the job is completed', async () => {
    const url = await db.createDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'assay-engine-node-'));
    dirs.push(dataDir);
    const config = loadConfig({ ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_CACHE: 'true' }, { dataDir, databaseUrl: url });
    const backend = await openBackend(config, () => {});
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // The cache's entries as they stand when the job turns completed, before the store records it.
    let cachedAtCompletion: number | null = null;
    const store = new Proxy(backend.store, {
      get(target, prop, receiver) {
        if (prop !== 'transitionJob') return Reflect.get(target, prop, receiver) as unknown;
        const transitionJob: Store['transitionJob'] = async (id, from, update, patch) => {
          if (update.status === 'completed') cachedAtCompletion = Number((await admin.query('SELECT COUNT(*) AS n FROM call_cache')).rows[0].n);
          return target.transitionJob(id, from, update, patch);
        };
        return transitionJob;
      },
    });
    const { engine } = createEngineNode(config, { store, blobs: backend.blobs, queue: backend.queue });
    try {
      await engine.start({ consume: true, resume: false });
      const rows = 150;
      const lines = Array.from({ length: rows }, (_, i) => `${JSON.stringify({ question: `q${i}`, answer: `a${i}` })}\n`).join('');
      const files = createFileService({ store, blobs: backend.blobs });
      const file = await files.upload({ ownerId: 'owner', filename: 'data.jsonl', purpose: 'eval' }, Readable.from([Buffer.from(lines)]));
      const job = await engine.createJob(
        {
          type: 'classify',
          parameters: {
            input_data_file_path: file.id,
            judge: { model: 'cache-judge', model_source: 'serverless', system_template: 'Is {{question}} answered?', num_workers: 16 },
            model_to_evaluate: 'answer',
            labels: ['yes', 'no'],
            pass_labels: ['yes'],
          },
        },
        'owner',
      );
      const done = await waitFor(async () => {
        const now = await store.getJob(job.id);
        return now && ['completed', 'error', 'user_error'].includes(now.status) ? now : undefined;
      }, { what: 'the job to end' });
      expect(done.status).toBe('completed');
      expect(cachedAtCompletion).toBe(rows);
    } finally {
      await engine.close();
      await backend.close();
      await admin.end();
    }
  });
});

describe('a distributed job\'s result file', () => {
  it('is joined from its chunks\' result segments: what a pass over the stored rows writes, with the same summary', async () => {
    // Scores that vary by row, and latencies too, so that rows finish out of row order.
    const rowOf = (userText: string): number => Number(/#(\d+)/.exec(userText)?.[1] ?? 0);
    const judge = await startFakeProvider({
      latencyMs: (req) => (rowOf(req.userText) * 7) % 11,
      reply: (req) => jsonReply({ feedback: `row ${rowOf(req.userText)}`, score: 1 + ((rowOf(req.userText) * 37) % 10) }),
    });
    const url = await db.createDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'assay-segments-job-'));
    dirs.push(dataDir);
    const config = loadConfig({ ASSAY_PROVIDER_BASE_URL: judge.url }, { dataDir, databaseUrl: url });
    const backend = await openBackend(config, () => {});
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // How each job's file was committed: joined from segments (its size) or not (null).
    const joins: Array<number | null> = [];
    const segments: ResultSegments = {
      ...backend.store.resultSegments!,
      commitFile: async (jobId, fileId, rowCount) => {
        const joined = await backend.store.resultSegments!.commitFile(jobId, fileId, rowCount);
        joins.push(joined && joined.bytes);
        return joined;
      },
    };
    const store = new Proxy(backend.store, {
      get: (target, prop, receiver) => (prop === 'resultSegments' ? segments : (Reflect.get(target, prop, receiver) as unknown)),
    });
    const { engine } = createEngineNode(config, { store, blobs: backend.blobs, queue: backend.queue });
    try {
      await engine.start({ consume: true, resume: false });
      const rows = 300;
      const lines = Array.from({ length: rows }, (_, i) => `${JSON.stringify({ question: `#${i} how far?`, answer: `${i} miles`, n: i })}\n`).join('');
      const files = createFileService({ store, blobs: backend.blobs });
      const file = await files.upload({ ownerId: 'owner', filename: 'data.jsonl', purpose: 'eval' }, Readable.from([Buffer.from(lines)]));
      const job = await engine.createJob(
        {
          type: 'score',
          parameters: {
            input_data_file_path: file.id,
            judge: { model: 'segment-judge', model_source: 'serverless', system_template: 'Rate {{question}}', num_workers: 16 },
            model_to_evaluate: 'answer',
            min_score: 1,
            max_score: 10,
            pass_threshold: 7,
          },
        },
        'owner',
      );
      const done = await waitFor(async () => {
        const now = await store.getJob(job.id);
        return now && ['completed', 'error', 'user_error'].includes(now.status) ? now : undefined;
      }, { what: 'the job to end' });
      expect(done.status).toBe('completed');
      const resultId = String(done.results?.['result_file_id']);
      const served = await text(await backend.blobs.openRead(resultId));
      expect(joins).toEqual([Buffer.byteLength(served)]);
      expect(served.split('\n')).toHaveLength(rows + 1);

      const dest = path.join(dataDir, 'pass.jsonl');
      const pass = await writeResultFile({
        store,
        jobId: job.id,
        spec: done.spec,
        datasetPath: await backend.blobs.localPath(file.id),
        datasetFormat: 'jsonl',
        destPath: dest,
        summary: { labelCountsAsString: config.labelCountsAsString, prices: config.prices },
      });
      expect(served).toBe(readFileSync(dest, 'utf8'));
      expect(done.results).toEqual({ ...pass.summary.results, result_file_id: resultId });
      expect((done.results?.['aggregated_scores'] as { std_score: number }).std_score).toBeGreaterThan(1);
      // Forgotten once the file is written.
      expect((await admin.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
    } finally {
      await engine.close();
      await backend.close();
      await admin.end();
      await judge.close();
    }
  });
});

describe('a distributed job that fails', () => {
  it('leaves no result segments behind', async () => {
    // Once a chunk has kept its segment, every call is refused: the job stops with a user error.
    let saved = 0;
    const judge = await startFakeProvider({
      latencyMs: 2,
      reply: (req) => (saved > 0 ? { status: 401, body: { error: { message: 'Invalid API key' } } } : validVerdictReply(req)),
    });
    const url = await db.createDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'assay-segments-fail-'));
    dirs.push(dataDir);
    const config = loadConfig({ ASSAY_PROVIDER_BASE_URL: judge.url }, { dataDir, databaseUrl: url });
    const backend = await openBackend(config, () => {});
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const segments: ResultSegments = {
      ...backend.store.resultSegments!,
      save: async (segment) => {
        await backend.store.resultSegments!.save(segment);
        saved++;
      },
    };
    const store = new Proxy(backend.store, {
      get: (target, prop, receiver) => (prop === 'resultSegments' ? segments : (Reflect.get(target, prop, receiver) as unknown)),
    });
    const { engine } = createEngineNode(config, { store, blobs: backend.blobs, queue: backend.queue });
    try {
      await engine.start({ consume: true, resume: false });
      const lines = Array.from({ length: 2000 }, (_, i) => `${JSON.stringify({ question: `#${i} why?`, answer: `because ${i}` })}\n`).join('');
      const files = createFileService({ store, blobs: backend.blobs });
      const file = await files.upload({ ownerId: 'owner', filename: 'data.jsonl', purpose: 'eval' }, Readable.from([Buffer.from(lines)]));
      const job = await engine.createJob(
        {
          type: 'classify',
          parameters: {
            input_data_file_path: file.id,
            judge: { model: 'failing-judge', model_source: 'serverless', system_template: 'Is {{question}} answered?', num_workers: 4 },
            model_to_evaluate: 'answer',
            labels: ['yes', 'no'],
            pass_labels: ['yes'],
          },
        },
        'owner',
      );
      const done = await waitFor(async () => {
        const now = await store.getJob(job.id);
        return now && ['completed', 'error', 'user_error'].includes(now.status) ? now : undefined;
      }, { what: 'the job to end' });
      expect(done.status).toBe('user_error');
      expect(saved).toBeGreaterThan(0);
      expect((await admin.query('SELECT 1 FROM result_segments')).rowCount).toBe(0);
    } finally {
      await engine.close();
      await backend.close();
      await admin.end();
      await judge.close();
    }
  });
});
