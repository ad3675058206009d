/**
 * The Store contract, as one suite any adapter runs: `describeStoreContract('sqlite', open)`.
 * Each test gets a fresh store from `open` and closes it afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RowQuery, Store } from '../../src/engine/contracts.js';
import type { FileRecord, JobRecord, RowResult, StoredRowResult } from '../../src/domain/types.js';

const judge = { model: 'j', source: 'serverless', baseUrl: null, secretRef: null, maxTokens: 1, temperature: 0, numWorkers: null, systemTemplate: '' } as const;

export function fileRecord(id: string, patch: Partial<FileRecord> = {}): FileRecord {
  return { id, ownerId: 'alice', filename: `${id}.jsonl`, purpose: 'eval', format: 'jsonl', bytes: 0, lineCount: 0, columns: [], state: 'awaiting_upload', createdAt: 1_700_000_000, ...patch };
}

export function jobRecord(id: string, patch: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    ownerId: 'alice',
    type: 'classify',
    status: 'pending',
    statusUpdates: [{ status: 'pending', message: 'created', timestamp: '2026-01-01T00:00:00.000000Z' }],
    parameters: { labels: ['a', 'b'] },
    spec: { type: 'classify', fileId: 'file-1', judge, target: { kind: 'column', column: 'r' }, labels: ['a', 'b'], passLabels: ['a'] },
    rowCount: 3,
    results: null,
    cancelRequested: false,
    createdAt: '2026-01-01T00:00:00.000000Z',
    updatedAt: '2026-01-01T00:00:00.000000Z',
    ...patch,
  };
}

function rowResult(rowIndex: number, patch: Partial<RowResult> = {}): RowResult {
  return { rowIndex, outcome: 'ok', label: 'a', score: null, choice: null, generationFailures: 0, judgeFailures: 0, usage: {}, fields: { label: 'a', n: rowIndex }, ...patch };
}

const update = (status: JobRecord['status'], message: string = status) => ({ status, message, timestamp: '2026-01-01T00:00:01.000000Z' });

export function describeStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store | undefined;
    const fresh = async () => (store = await open());
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it('stores files, completes them, lists only ready ones per owner, deletes', async () => {
      const s = await fresh();
      await s.insertFile(fileRecord('file-a'));
      await s.insertFile(fileRecord('file-b', { ownerId: 'bob', state: 'ready' }));
      expect(await s.listFiles('alice')).toEqual([]);
      await s.completeFile('file-a', { bytes: 10, lineCount: 2, columns: ['x', 'y'], format: 'jsonl' });
      expect(await s.getFile('file-a')).toMatchObject({ state: 'ready', bytes: 10, lineCount: 2, columns: ['x', 'y'] });
      expect((await s.listFiles('alice')).map((f) => f.id)).toEqual(['file-a']);
      expect(await s.deleteFile('file-a')).toBe(true);
      expect(await s.deleteFile('file-a')).toBe(false);
      expect(await s.getFile('file-a')).toBeUndefined();
    });

    it('keeps secrets apart from the job and forgets them at a terminal status', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), { judge: 'sk-1' });
      expect(JSON.stringify(await s.getJob('eval-1'))).not.toContain('sk-1');
      expect(await s.getJobSecrets('eval-1')).toEqual({ judge: 'sk-1' });
      await s.transitionJob('eval-1', ['pending'], update('completed'), { results: { ok: 1 } });
      expect(await s.getJobSecrets('eval-1')).toEqual({});
    });

    it('moves a job only from the expected statuses and records every update', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      expect(await s.transitionJob('eval-1', ['running'], update('completed'))).toBeUndefined();
      const queued = await s.transitionJob('eval-1', ['pending'], update('queued', 'Job queued'));
      expect(queued?.status).toBe('queued');
      const done = await s.transitionJob('eval-1', ['queued'], update('completed'), { results: { A_wins: 1 } });
      expect(done).toMatchObject({ status: 'completed', results: { A_wins: 1 }, updatedAt: '2026-01-01T00:00:01.000000Z' });
      expect((await s.getJob('eval-1'))?.statusUpdates.map((u) => u.status)).toEqual(['pending', 'queued', 'completed']);
      expect(await s.transitionJob('missing', ['pending'], update('queued'))).toBeUndefined();
    });

    it('lists jobs newest first, by owner and status, with a limit; unfinished oldest first', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      await s.insertJob(jobRecord('eval-2', { status: 'completed' }), {});
      await s.insertJob(jobRecord('eval-3', { ownerId: 'bob' }), {});
      await s.insertJob(jobRecord('eval-4'), {});
      expect((await s.listJobs({ ownerId: 'alice', limit: 10 })).map((j) => j.id)).toEqual(['eval-4', 'eval-2', 'eval-1']);
      expect((await s.listJobs({ ownerId: 'alice', limit: 1 })).map((j) => j.id)).toEqual(['eval-4']);
      expect((await s.listJobs({ ownerId: 'alice', status: 'completed', limit: 10 })).map((j) => j.id)).toEqual(['eval-2']);
      expect((await s.listUnfinishedJobs()).map((j) => j.id)).toEqual(['eval-1', 'eval-3', 'eval-4']);
      expect(await s.jobCounts()).toEqual({ pending: 3, completed: 1 });
    });

    it('moves the jobs version when a job is added or a listed field changes, and not for row writes', async () => {
      const s = await fresh();
      expect(s.jobsVersion).toBeDefined();
      const version = () => s.jobsVersion!();
      const start = await version();
      await s.insertJob(jobRecord('eval-v'), { judge: 'k' });
      const added = await version();
      expect(added).not.toBe(start);

      // What changes with every row, or is never shown, leaves it where it is.
      await s.saveRows('eval-v', [rowResult(0), rowResult(1, { outcome: 'judge_failed' })]);
      await s.setJobSecrets('eval-v', { judge: 'k2' });
      expect(await s.claimFinalization('eval-v')).toBe(true);
      await s.releaseFinalization('eval-v');
      expect(await s.requestCancel('eval-v')).toBe(true);
      expect(await version()).toBe(added);

      expect(await s.transitionJob('eval-v', ['pending'], update('queued'))).toBeDefined();
      const moved = await version();
      expect(moved).not.toBe(added);
      // A transition that does not happen (the job is no longer pending) changes nothing.
      expect(await s.transitionJob('eval-v', ['pending'], update('queued'))).toBeUndefined();
      expect(await version()).toBe(moved);
    });

    it('lets exactly one caller claim finalization until released', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      const claims = await Promise.all([s.claimFinalization('eval-1'), s.claimFinalization('eval-1'), s.claimFinalization('eval-1')]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      await s.releaseFinalization('eval-1');
      expect(await s.claimFinalization('eval-1')).toBe(true);
    });

    it('lets an old finalization claim be taken over, and a fresh one not', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      expect(await s.claimFinalization('eval-1', { takeOverAfterMs: 60_000 })).toBe(true);
      // Held for less than a minute: not abandoned.
      expect(await s.claimFinalization('eval-1', { takeOverAfterMs: 60_000 })).toBe(false);
      expect(await s.claimFinalization('eval-1')).toBe(false);
      // Held for at least 0 ms: abandoned, so the claim moves to the new caller, once.
      const takeovers = await Promise.all([s.claimFinalization('eval-1', { takeOverAfterMs: 0 }), s.claimFinalization('eval-1', { takeOverAfterMs: 60_000 })]);
      expect(takeovers).toEqual([true, false]);
    });

    it('keeps a renewed finalization claim from being taken over', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      await s.insertJob(jobRecord('eval-2'), {});
      expect(await s.claimFinalization('eval-1')).toBe(true);
      expect(await s.claimFinalization('eval-2')).toBe(true);
      // A lease is about time: both claims age 600 ms (a bounded wait on the clock), then one is renewed.
      const claimed = Date.now();
      while (Date.now() - claimed < 600) await new Promise((resolve) => setImmediate(resolve));
      await s.renewFinalization('eval-1');
      expect(await s.claimFinalization('eval-1', { takeOverAfterMs: 300 })).toBe(false);
      expect(await s.claimFinalization('eval-2', { takeOverAfterMs: 300 })).toBe(true);
      // Renewing a claim nobody holds claims nothing.
      await s.releaseFinalization('eval-1');
      await s.renewFinalization('eval-1');
      expect(await s.claimFinalization('eval-1')).toBe(true);
    });

    it('upserts rows on (job, row index) so a redelivered chunk does no harm', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      await s.insertJob(jobRecord('eval-2'), {});
      await s.saveRows('eval-1', [rowResult(0), rowResult(2)]);
      await s.saveRows('eval-1', [rowResult(2, { label: 'b', fields: { label: 'b' } }), rowResult(1)]);
      await s.saveRows('eval-2', [rowResult(0)]);
      expect(await s.countRows('eval-1')).toBe(3);
      expect([...(await s.doneRowIndexes('eval-1', 1, 3))].sort()).toEqual([1, 2]);
      const rows: StoredRowResult[] = [];
      for await (const r of s.iterateRows('eval-1')) rows.push(r);
      expect(rows.map((r) => [r.rowIndex, r.label])).toEqual([[0, 'a'], [1, 'a'], [2, 'b']]);
      // As stored: the result file splices this text in as it is.
      expect(rows[2]?.fieldsJson).toBe('{"label":"b"}');
    });

    it('counts done and failed rows, and deletes rows by outcome', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      await s.saveRows('eval-1', [
        rowResult(0),
        rowResult(1, { outcome: 'judge_failed' }),
        rowResult(2, { outcome: 'generation_failed' }),
        rowResult(3, { outcome: 'invalid' }),
      ]);
      expect(await s.rowCounts('eval-1')).toEqual({ done: 4, failed: 2 });
      expect(await s.rowCounts('eval-9')).toEqual({ done: 0, failed: 0 });
      // Redelivery that changes an outcome keeps the counts exact.
      await s.saveRows('eval-1', [rowResult(1, { outcome: 'ok' }), rowResult(0, { outcome: 'judge_failed' })]);
      expect(await s.rowCounts('eval-1')).toEqual({ done: 4, failed: 2 });
      expect(await s.deleteRows('eval-1', ['judge_failed', 'generation_failed'])).toBe(2);
      expect(await s.rowCounts('eval-1')).toEqual({ done: 2, failed: 0 });
      expect(await s.countRows('eval-1')).toBe(2);
      expect([...(await s.doneRowIndexes('eval-1', 0, 10))].sort()).toEqual([1, 3]);
    });

    it('records a cancel request only for unfinished jobs, and a reopen clears it', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1', { status: 'running' }), {});
      await s.insertJob(jobRecord('eval-2', { status: 'completed' }), {});
      expect(await s.requestCancel('eval-1')).toBe(true);
      expect(await s.requestCancel('eval-2')).toBe(false);
      expect(await s.requestCancel('nope')).toBe(false);
      expect((await s.getJob('eval-1'))?.cancelRequested).toBe(true);
      await s.transitionJob('eval-1', ['running'], update('user_error'));
      expect(await s.claimFinalization('eval-1')).toBe(true);
      const reopened = await s.transitionJob('eval-1', ['user_error'], update('queued'), { results: null, reopen: true });
      expect(reopened).toMatchObject({ status: 'queued', cancelRequested: false, results: null });
      expect((await s.getJob('eval-1'))?.cancelRequested).toBe(false);
      expect(await s.claimFinalization('eval-1')).toBe(true);
    });

    it('replaces a job’s secrets', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), { judge: 'old' });
      await s.setJobSecrets('eval-1', { judge: 'new' });
      expect(await s.getJobSecrets('eval-1')).toEqual({ judge: 'new' });
    });

    it('pages and filters rows with their inputs', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      await s.saveRows('eval-1', [
        rowResult(0, { label: 'a', input: { q: 'Capital of France?' } }),
        rowResult(1, { label: 'b', input: { q: 'Two plus two' } }),
        rowResult(2, { outcome: 'invalid', label: null, input: { q: 'france again' } }),
        rowResult(3, { outcome: 'judge_failed', label: null, input: { q: 'x' } }),
        rowResult(4, { label: null, score: 7, choice: 'Tie', input: { q: 'y' } }),
      ]);
      const page = await s.queryRows('eval-1', { offset: 0, limit: 2 });
      expect(page.total).toBe(5);
      expect(page.rows.map((r) => r.rowIndex)).toEqual([0, 1]);
      expect(page.rows[0]?.input).toEqual({ q: 'Capital of France?' });
      const ids = async (q: Partial<RowQuery>) => (await s.queryRows('eval-1', { offset: 0, limit: 10, ...q })).rows.map((r) => r.rowIndex);
      expect(await ids({ offset: 3 })).toEqual([3, 4]);
      expect(await ids({ outcome: 'failed' })).toEqual([3]);
      expect(await ids({ outcome: 'invalid' })).toEqual([2]);
      expect(await ids({ labels: ['b'] })).toEqual([1]);
      expect(await ids({ labels: [] })).toEqual([]);
      expect(await ids({ minScore: 5 })).toEqual([4]);
      expect(await ids({ belowScore: 5 })).toEqual([]);
      expect(await ids({ choice: 'Tie' })).toEqual([4]);
      expect(await ids({ search: 'FRANCE' })).toEqual([0, 2]);
      expect((await s.queryRows('eval-1', { offset: 0, limit: 10, search: 'france', outcome: 'ok' })).total).toBe(1);
      // A redelivered result without its input keeps the stored input.
      await s.saveRows('eval-1', [rowResult(0, { label: 'b' })]);
      expect((await s.queryRows('eval-1', { offset: 0, limit: 1 })).rows[0]).toMatchObject({ label: 'b', input: { q: 'Capital of France?' } });
    });

    it('stores API keys by hash, finds unrevoked ones, revokes', async () => {
      const s = await fresh();
      expect(await s.hasApiKeys()).toBe(false);
      await s.insertApiKey({ id: 'key-1', ownerId: 'alice', hash: 'h1', prefix: 'ak_12', createdAt: 1, revokedAt: null });
      await s.insertApiKey({ id: 'key-2', ownerId: 'bob', hash: 'h2', prefix: 'ak_34', createdAt: 2, revokedAt: null });
      expect(await s.hasApiKeys()).toBe(true);
      expect(await s.findApiKey('h1')).toMatchObject({ id: 'key-1', ownerId: 'alice' });
      expect(await s.findApiKey('nope')).toBeUndefined();
      expect(await s.revokeApiKey('key-1', 10)).toBe(true);
      expect(await s.revokeApiKey('key-1', 11)).toBe(false);
      expect(await s.findApiKey('h1')).toBeUndefined();
      expect((await s.listApiKeys()).map((k) => [k.id, k.revokedAt])).toEqual([['key-1', 10], ['key-2', null]]);
      await s.revokeApiKey('key-2', 12);
      expect(await s.hasApiKeys()).toBe(false);
    });

    it('keeps cached calls, touches them on use, and evicts the least recently used past the bound', async () => {
      const s = await fresh();
      expect(await s.getCachedCall('k0')).toBeUndefined();
      await s.putCachedCall('k0', { content: 'zero', usage: { promptTokens: 3, completionTokens: 1 } }, 100);
      expect(await s.getCachedCall('k0')).toEqual({ content: 'zero', usage: { promptTokens: 3, completionTokens: 1 } });
      for (let i = 1; i <= 30; i++) {
        await s.putCachedCall(`k${i}`, { content: `v${i}`, usage: null }, 10);
        // Keep k0 in use: it must survive eviction.
        if (i % 5 === 0) expect(await s.getCachedCall('k0')).toBeDefined();
      }
      let kept = 0;
      for (let i = 0; i <= 30; i++) if (await s.getCachedCall(`k${i}`)) kept++;
      expect(kept).toBeLessThanOrEqual(10);
      expect(await s.getCachedCall('k0')).toBeDefined();
      expect(await s.getCachedCall('k30')).toEqual({ content: 'v30', usage: null });
      expect(await s.getCachedCall('k1')).toBeUndefined();
    });

    it("stores a row's JSON as the engine made it, when given, and the same rows as without it", async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      const input = { q: 'Capital of France?', n: 1 };
      const fields = { label: 'a', feedback: 'right' };
      await s.saveRows('eval-1', [
        rowResult(0, { input, fields, json: { input: JSON.stringify(input), fields: JSON.stringify(fields) } }),
        rowResult(1, { input, fields }),
        // Keys in another order than the objects': the text given is the text stored.
        rowResult(2, { input, fields, json: { input: '{"n":1,"q":"Capital of France?"}', fields: '{"feedback":"right","label":"a"}' } }),
      ]);
      const { rows } = await s.queryRows('eval-1', { offset: 0, limit: 10 });
      expect(rows.map((r) => [r.input, r.fields])).toEqual([
        [input, fields],
        [input, fields],
        [input, fields],
      ]);
      expect(rows.map((r) => Object.keys(r.fields))).toEqual([['label', 'feedback'], ['label', 'feedback'], ['feedback', 'label']]);
      const stored: string[] = [];
      for await (const r of s.iterateRows('eval-1')) stored.push(r.fieldsJson);
      expect(stored[2]).toBe('{"feedback":"right","label":"a"}');
    });

    it('iterates many rows in order across pages', async () => {
      const s = await fresh();
      await s.insertJob(jobRecord('eval-1'), {});
      const n = 2500;
      await s.saveRows('eval-1', Array.from({ length: n }, (_, i) => rowResult(n - 1 - i, { score: i })));
      let expected = 0;
      for await (const r of s.iterateRows('eval-1')) expect(r.rowIndex).toBe(expected++);
      expect(expected).toBe(n);
    });
  });
}
