/**
 * The shared cache of model calls, as a user meets it: rerunning a job costs no provider call,
 * changing only the judge regenerates nothing, errors are not remembered, a job can opt out.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { scriptedJudge, startHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rows = Array.from({ length: 10 }, (_, i) => ({ q: `question ${i}` }));
const judgeCalls = (hh: Harness) => hh.fake.calls.filter((c) => c.body['response_format'] !== undefined).length;
const generationCalls = (hh: Harness) => hh.fake.calls.filter((c) => c.body['response_format'] === undefined).length;

function job(fileId: string, judgeTemplate = 'Is the answer to {{q}} right?', extra: Record<string, unknown> = {}) {
  return {
    type: 'classify',
    parameters: {
      input_data_file_path: fileId,
      judge: { model: 'judge', model_source: 'serverless', system_template: judgeTemplate },
      model_to_evaluate: { model: 'gen', model_source: 'serverless', system_template: 'Answer briefly.', input_template: '{{q}}', max_tokens: 50, temperature: 0 },
      labels: ['good', 'bad'],
      pass_labels: ['good'],
      ...extra,
    },
  };
}

describe('shared call cache', () => {
  it('answers an identical rerun without a single provider call, and says so', async () => {
    h = await startHarness({ config: { cacheEnabled: true } });
    const file = await h.uploadJsonl(rows);
    const first = await h.waitForJob(await h.createJob(job(file.id)));
    expect(h.fake.calls).toHaveLength(20);
    expect(first.results).toMatchObject({ cache: { hits: 0, misses: 20 } });
    h.fake.reset();
    const second = await h.waitForJob(await h.createJob(job(file.id)));
    expect(h.fake.calls).toHaveLength(0);
    expect(second.results).toMatchObject({ cache: { hits: 20, misses: 0 }, usage: { total_tokens: 0 } });
    const pick = (r: Record<string, unknown> | null) => ({ label_counts: r?.label_counts, pass_percentage: r?.pass_percentage });
    expect(pick(second.results)).toEqual(pick(first.results));
  });

  it('regenerates nothing when only the judge changes', async () => {
    h = await startHarness({ config: { cacheEnabled: true } });
    const file = await h.uploadJsonl(rows);
    await h.waitForJob(await h.createJob(job(file.id)));
    h.fake.reset();
    await h.waitForJob(await h.createJob(job(file.id, 'A different rubric for {{q}}.')));
    expect(generationCalls(h)).toBe(0);
    expect(judgeCalls(h)).toBe(10);
  });

  it('never caches errors: failed calls are made again', async () => {
    let failing = true;
    const reply = (req: FakeChatRequest): FakeReply =>
      failing && req.body['response_format'] !== undefined && req.text.includes('question 3')
        ? { status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } }
        : scriptedJudge(req);
    h = await startHarness({ fake: { reply }, config: { cacheEnabled: true } });
    const file = await h.uploadJsonl(rows);
    const first = await h.waitForJob(await h.createJob(job(file.id)));
    expect(first.results).toMatchObject({ judge_fail_count: 1 });
    failing = false;
    h.fake.reset();
    const second = await h.waitForJob(await h.createJob(job(file.id)));
    expect(second.results).toMatchObject({ judge_fail_count: 0 });
    expect(h.fake.calls).toHaveLength(1);
    expect(h.fake.calls[0]?.text).toContain('question 3');
  });

  it('lets a job opt out with use_cache: false', async () => {
    h = await startHarness({ config: { cacheEnabled: true } });
    const file = await h.uploadJsonl(rows);
    await h.waitForJob(await h.createJob(job(file.id)));
    h.fake.reset();
    const again = await h.waitForJob(await h.createJob(job(file.id, undefined, { use_cache: false })));
    expect(h.fake.calls).toHaveLength(20);
    expect(again.results).toMatchObject({ cache: { hits: 0, misses: 20 } });
  });

  it('can be turned off for the whole server', async () => {
    h = await startHarness({ config: { cacheEnabled: false } });
    const file = await h.uploadJsonl(rows);
    await h.waitForJob(await h.createJob(job(file.id)));
    await h.waitForJob(await h.createJob(job(file.id)));
    expect(h.fake.calls).toHaveLength(40);
  });

  it('warns once when the cache cannot be written, and the rows of the job do not suffer for it', async () => {
    const lines: string[] = [];
    // A bound of 10 writes each entry at once, so every put meets the failure.
    h = await startHarness({ config: { cacheEnabled: true, cacheMaxEntries: 10 }, logStream: { write: (line) => void lines.push(line) } });
    const db = new Database(join(h.dataDir, 'assay.db'));
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON cached_calls BEGIN SELECT RAISE(ABORT, 'the disk says no'); END`);
    db.close();
    const file = await h.uploadJsonl(rows);
    const done = await h.waitForJob(await h.createJob(job(file.id)));
    expect(done.status).toBe('completed');
    expect(done.results).toMatchObject({ cache: { hits: 0, misses: 20 } });
    const warnings = lines.filter((l) => l.includes('call cache could not be written'));
    // Twenty failed writes, one line: the rest are counted into the next line, a minute later.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('the disk says no');
  });
});
