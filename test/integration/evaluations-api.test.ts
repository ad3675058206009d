/**
 * The Evaluations API over real HTTP, with a fake OpenAI-compatible provider as judge and model
 * server: creation-time validation, every request shape a released SDK sends, listing, the job
 * lifecycle and its failure policy, and token redaction.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/backends/embedded/sqlite-store.js';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { jobRecord } from '../contract/store-contract.js';
import { expectResponse } from '../support/upstream-schemas.js';
import { expectError, GOOD, scriptedJudge, startHarness, waitFor, type Harness, type Job, type UploadedFile } from './harness.js';

let h: Harness;
/** question/answer rows; the first four answers are good. */
let qa: UploadedFile;
/** question + two answers, for compare; A is the better one in rows 0-2, B in rows 3-4. */
let pairs: UploadedFile;

const QA_ROWS = [
  { question: '2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Largest planet?', answer: `Jupiter ${GOOD}` },
  { question: 'Boiling point of water at sea level?', answer: `100 °C ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens' },
];
const PAIR_ROWS = [0, 1, 2, 3, 4].map((i) => ({
  prompt: `question ${i}`,
  answer_a: i < 3 ? `a${i} ${GOOD}` : `a${i}`,
  answer_b: i < 3 ? `b${i}` : `b${i} ${GOOD}`,
}));

beforeAll(async () => {
  h = await startHarness();
  qa = await h.uploadJsonl(QA_ROWS, 'qa.jsonl');
  pairs = await h.uploadJsonl(PAIR_ROWS, 'pairs.jsonl');
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.fake.setReply(scriptedJudge);
  h.fake.reset();
});

const judge = (over: Record<string, unknown> = {}) => ({
  model: 'judge-model',
  model_source: 'serverless',
  system_template: 'Is the answer to "{{question}}" correct?',
  ...over,
});

function classify(fileId: string, over: Record<string, unknown> = {}) {
  return {
    type: 'classify',
    parameters: {
      judge: judge(),
      input_data_file_path: fileId,
      model_to_evaluate: 'answer',
      labels: ['correct', 'incorrect'],
      pass_labels: ['correct'],
      ...over,
    },
  };
}

function score(fileId: string, over: Record<string, unknown> = {}) {
  return {
    type: 'score',
    parameters: {
      judge: judge(),
      input_data_file_path: fileId,
      model_to_evaluate: 'answer',
      min_score: 1,
      max_score: 10,
      pass_threshold: 7,
      ...over,
    },
  };
}

function compare(fileId: string, over: Record<string, unknown> = {}) {
  return {
    type: 'compare',
    parameters: {
      judge: judge({ system_template: 'Which answer to "{{prompt}}" is better?' }),
      input_data_file_path: fileId,
      model_a: 'answer_a',
      model_b: 'answer_b',
      ...over,
    },
  };
}

const judgeCalls = (): FakeChatRequest[] => h.fake.calls.filter((c) => c.body['response_format'] !== undefined);

type Usage = { prompt_tokens: number; completion_tokens: number };

/** A judge reply of the scripted judge, reporting `usage` tokens. */
function scriptedWithUsage(req: FakeChatRequest, usage: Usage): FakeReply {
  const reply = scriptedJudge(req);
  if (!('content' in reply)) throw new Error('the scripted judge always answers with content');
  return { ...reply, usage };
}

/** The result file of a finished job, one object per line. */
async function resultLines(job: Job): Promise<Array<Record<string, unknown>>> {
  const content = await h.request('GET', `/v1/files/${String(job.results?.['result_file_id'])}/content`);
  expect(content.status).toBe(200);
  return content.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The verdict request (not a repair turn) whose <response> is `answer`. */
function verdictRequestFor(answer: string): FakeChatRequest {
  const found = judgeCalls().filter((c) => c.messages.length === 2 && c.userText.includes(`<response>\n${answer}\n</response>`));
  expect(found, answer).toHaveLength(1);
  return found[0]!;
}

/** Wilson's 95% score interval for x of n (docs/statistics.md), unrounded. */
function wilson(x: number, n: number): { low: number; high: number } {
  const z = 1.959963984540054;
  const p = x / n;
  const center = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
/** Bounds are reported rounded to 6 decimals. */
const wilsonBounds = (x: number, n: number, scale = 1) => {
  const w = wilson(x, n);
  return { low: expect.closeTo(scale * w.low, 5), high: expect.closeTo(scale * w.high, 5) };
};

/** A promise the fake's reply can wait on, released by the test. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('creation-time validation', () => {
  async function expectRejected(body: unknown, ...patterns: RegExp[]) {
    const res = await h.request('POST', '/v1/evaluation', { json: body });
    const error = expectError(res, 400, ...patterns);
    expectResponse('POST', '/v1/evaluation', 400, res.body);
    expect(error.type).toBe('invalid_request_error');
    return error;
  }

  it('rejects an unknown or missing type', async () => {
    await expectRejected({ ...classify(qa.id), type: 'rank' }, /type/, /rank/, /classify/);
    const { type: _type, ...untyped } = classify(qa.id);
    await expectRejected(untyped, /type/);
    await expectRejected({ ...classify(qa.id), type: null }, /type/);
  });

  it('rejects missing or invalid parameters', async () => {
    await expectRejected({ type: 'classify' }, /parameters/);
    await expectRejected({ type: 'classify', parameters: [] }, /parameters/);
    await expectRejected(classify(qa.id, { judge: undefined }), /judge/);
    await expectRejected(classify(qa.id, { judge: judge({ system_template: undefined }) }), /system_template/);
    await expectRejected(classify(qa.id, { input_data_file_path: undefined }), /input_data_file_path/);
    await expectRejected(classify(qa.id, { model_to_evaluate: undefined }), /model_to_evaluate/);
    await expectRejected(compare(pairs.id, { model_b: null }), /model_b/);
    await expectRejected(classify(qa.id, { judge: judge({ model_source: 'somewhere' }) }), /model_source/);
  });

  it('rejects bad classify labels', async () => {
    const missing = await expectRejected(classify(qa.id, { labels: undefined }), /labels/, /required/);
    expect(missing.param).toBe('parameters.labels');
    await expectRejected(classify(qa.id, { labels: ['only'], pass_labels: ['only'] }), /labels/);
    // The v2 CLI sends empty lists when the flags are left out.
    await expectRejected(classify(qa.id, { labels: [], pass_labels: [] }), /labels/);
    await expectRejected(classify(qa.id, { pass_labels: ['maybe'] }), /pass_labels/, /maybe/);
    await expectRejected(classify(qa.id, { pass_labels: [] }), /pass_labels/);
  });

  it('rejects an inconsistent score range', async () => {
    await expectRejected(score(qa.id, { min_score: 10, max_score: 1 }), /min_score/, /max_score/);
    await expectRejected(score(qa.id, { pass_threshold: 11 }), /pass_threshold/, /11/);
    await expectRejected(score(qa.id, { pass_threshold: 0 }), /pass_threshold/);
    await expectRejected(score(qa.id, { min_score: '1' }), /min_score/);
  });

  it('rejects an unknown dataset file', async () => {
    const id = 'file-00000000-0000-4000-8000-000000000000';
    const error = await expectRejected(classify(id), new RegExp(id));
    expect(error.param).toBe('parameters.input_data_file_path');
  });

  it('rejects a template naming a column the dataset lacks, naming the column', async () => {
    const error = await expectRejected(
      classify(qa.id, { judge: judge({ system_template: 'Given {{context}}, is the answer to {{question}} right?' }) }),
      /context/,
      /parameters\.judge\.system_template/,
    );
    expect(error.param).toBe('parameters.judge.system_template');
    await expectRejected(
      classify(qa.id, {
        model_to_evaluate: { model: 'gen', model_source: 'serverless', input_template: '{{prompt}}', max_tokens: 10, temperature: 0 },
      }),
      /prompt/,
      /input_template/,
    );
  });

  it('rejects a Jinja syntax error, naming the template field', async () => {
    await expectRejected(
      classify(qa.id, { judge: judge({ system_template: 'Is {{ question is right?' }) }),
      /parameters\.judge\.system_template/,
    );
    await expectRejected(
      classify(qa.id, {
        model_to_evaluate: { model: 'gen', model_source: 'serverless', input_template: '{% if question %}{{question}}', max_tokens: 10, temperature: 0 },
      }),
      /parameters\.model_to_evaluate\.input_template/,
    );
  });

  it('rejects a response column the dataset lacks', async () => {
    await expectRejected(classify(qa.id, { model_to_evaluate: 'response' }), /model_to_evaluate/, /'response'/);
    await expectRejected(compare(pairs.id, { model_b: 'answer_c' }), /model_b/, /answer_c/);
  });

  it('rejects an external model without a base URL or known provider prefix', async () => {
    const error = await expectRejected(
      classify(qa.id, { judge: judge({ model: 'my-local-model', model_source: 'external', external_api_token: 'x' }) }),
      /external_base_url/,
      /my-local-model/,
    );
    expect(error.param).toBe('parameters.judge.external_base_url');
  });

  it('rejects a body that is not JSON, or not an object', async () => {
    const notJson = await h.request('POST', '/v1/evaluation', { body: '{"type": "classify", ', headers: { 'content-type': 'application/json' } });
    expectError(notJson, 400, /JSON/);
    expectError(await h.request('POST', '/v1/evaluation', { json: [classify(qa.id)] }), 400, /object/);
    expectError(await h.request('POST', '/v1/evaluation', { json: 'classify' }), 400, /object/);
    expectError(await h.request('POST', '/v1/evaluation', { body: '', headers: { 'content-type': 'application/json' } }), 400);
  });
});

describe('accepted request shapes', () => {
  it('treats explicit nulls as absent (Python SDK v1)', async () => {
    const nullJudge = judge({ external_api_token: null, external_base_url: null, num_workers: null, max_tokens: null, temperature: null });
    const id = await h.createJob({
      type: 'classify',
      parameters: {
        ...classify(qa.id).parameters,
        judge: nullJudge,
        min_score: null,
        max_score: null,
        pass_threshold: null,
        model_a: null,
        model_b: null,
      },
    });
    const job = await h.waitForJob(id);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expect(job.results).toMatchObject({ label_counts: { correct: 4, incorrect: 1 }, pass_percentage: 80 });

    const compareId = await h.createJob({
      type: 'compare',
      parameters: { ...compare(pairs.id).parameters, model_to_evaluate: null, labels: null, pass_labels: null, disable_position_bias_correction: null },
    });
    expect((await h.waitForJob(compareId)).status).toBe('completed');
  });

  it('accepts model_name without model_source, as serverless', async () => {
    const id = await h.createJob(
      classify(qa.id, {
        judge: { model_name: 'legacy-judge', system_template: 'Judge {{question}}.' },
        model_to_evaluate: { model_name: 'legacy-gen', input_template: '{{question}}', max_tokens: 50, temperature: 0.2 },
      }),
    );
    const job = await h.waitForJob(id);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    const models = new Set(h.fake.calls.map((c) => c.model));
    expect(models).toEqual(new Set(['legacy-judge', 'legacy-gen']));
    // Generated answers carry GOOD (see scriptedJudge), so every row passes.
    expect(job.results).toMatchObject({ pass_percentage: 100, generation_fail_count: 0 });
  });

  it('ignores unknown extra fields at every level', async () => {
    const body = classify(qa.id, { judge: judge({ reasoning_effort: 'high' }), some_future_field: { x: 1 } });
    const id = await h.createJob({ ...body, project_id: 'p-1' });
    expect((await h.waitForJob(id)).status).toBe('completed');
  });

  it('sends the judge max_tokens and temperature, or the defaults when left out', async () => {
    const id = await h.createJob(classify(qa.id, { judge: judge({ max_tokens: 123, temperature: 0.7 }) }));
    expect((await h.waitForJob(id)).status).toBe('completed');
    expect(judgeCalls()).toHaveLength(QA_ROWS.length);
    for (const call of judgeCalls()) expect(call.body).toMatchObject({ max_tokens: 123, temperature: 0.7 });

    h.fake.reset();
    const defaults = await h.createJob(classify(qa.id));
    expect((await h.waitForJob(defaults)).status).toBe('completed');
    for (const call of judgeCalls()) {
      expect(call.body).toMatchObject({ max_tokens: h.config.judgeMaxTokens, temperature: h.config.judgeTemperature });
    }
  });

  it('honours num_workers as the concurrency of an endpoint', async () => {
    // A little provider latency lets calls overlap when nothing limits them.
    h.fake.setReply(async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return scriptedJudge(req);
    });
    const id = await h.createJob(classify(qa.id, { judge: judge({ num_workers: 1 }) }));
    expect((await h.waitForJob(id)).status).toBe('completed');
    expect(judgeCalls()).toHaveLength(QA_ROWS.length);
    expect(h.fake.stats().maxInFlightSeen).toBe(1);
  });

  it('asks the judge once per row with disable_position_bias_correction, twice without', async () => {
    const once = await h.createJob(compare(pairs.id, { disable_position_bias_correction: true }));
    const single = await h.waitForJob(once);
    expect(single.status).toBe('completed');
    expect(judgeCalls()).toHaveLength(PAIR_ROWS.length);
    expect(single.results).toMatchObject({ A_wins: 3, B_wins: 2, Ties: 0 });

    h.fake.reset();
    // One pass: no flip rate; the judge picked the response shown first in rows 0-2, where A is better.
    expect(single.results).toMatchObject({ flip_rate: null, first_position_preference_rate: null });

    h.fake.reset();
    const twice = await h.createJob(compare(pairs.id));
    const double = await h.waitForJob(twice);
    expect(double.status).toBe('completed');
    expect(judgeCalls()).toHaveLength(2 * PAIR_ROWS.length);
    expect(double.results).toMatchObject({ A_wins: 3, B_wins: 2, Ties: 0 });
    // The scripted judge goes by content alone: the passes always agree, and it picks the first
    // response in exactly half of the ten passes. 3 wins to 2: p = 2 · P(X <= 2) = 2 · 16/32 = 1.
    expect(double.results).toMatchObject({ flip_rate: 0, first_position_preference_rate: 0.5, win_rate_a: 0.6, sign_test_p_value: 1 });
    expectResponse('GET', `/v1/evaluation/${twice}`, 200, double, { resultsType: 'compare' });
  });
});

describe('listing and lookup', () => {
  let ids: string[] = [];
  beforeAll(async () => {
    ids = [];
    for (let i = 0; i < 3; i++) ids.push(await h.createJob(classify(qa.id)));
    for (const id of ids) await h.waitForJob(id);
  });

  for (const path of ['/v1/evaluation', '/v1/evaluations']) {
    it(`GET ${path} lists jobs as a bare array, newest first, with status and limit filters`, async () => {
      const all = await h.request('GET', `${path}?limit=100`);
      expect(all.status).toBe(200);
      expect(Array.isArray(all.body)).toBe(true);
      expectResponse('GET', '/v1/evaluation', 200, all.body, { deviations: ['label_counts_object'] });
      const listed = (all.body as Job[]).map((j) => j.workflow_id);
      // Newest first: the three jobs made last, in reverse order of creation.
      expect(listed.slice(0, 3)).toEqual([...ids].reverse());

      const limited = await h.request('GET', `${path}?limit=2`);
      expect((limited.body as Job[]).map((j) => j.workflow_id)).toEqual(listed.slice(0, 2));

      const completed = await h.request('GET', `${path}?status=completed&limit=100`);
      expect((completed.body as Job[]).length).toBeGreaterThanOrEqual(3);
      expect((completed.body as Job[]).every((j) => j.status === 'completed')).toBe(true);
      const pending = await h.request('GET', `${path}?status=pending`);
      expect(pending.body).toEqual([]);

      // Extras some SDK builds send are ignored.
      expect((await h.request('GET', `${path}?user_id=u-1&userId=u-1`)).status).toBe(200);
    });

    it(`GET ${path} answers 400 to a bad status or limit`, async () => {
      expectError(await h.request('GET', `${path}?status=done`), 400, /status/, /done/);
      expectError(await h.request('GET', `${path}?limit=0`), 400, /limit/);
      expectError(await h.request('GET', `${path}?limit=ten`), 400, /limit/);
    });
  }

  it('answers a job list and a job anew once a job changes, whichever connection to the database changed it', async () => {
    const first = await h.request('GET', '/v1/evaluation?limit=5');
    expect(first.status).toBe(200);
    expect((await h.request('GET', '/v1/evaluation?limit=5')).text).toBe(first.text);
    const owner = (first.body as Job[])[0]!.owner_id as string;
    // A second connection to the server's database, as the engine thread and other processes have.
    const other = openSqliteStore(join(h.config.dataDir, 'assay.db'));
    const id = 'eval-ffff-1700000000';
    const newest = async () => ((await h.request('GET', '/v1/evaluation?limit=5')).body as Job[])[0]!;
    try {
      expect((await h.request('GET', `/v1/evaluation/${id}/status`)).status).toBe(404);
      await other.insertJob(jobRecord(id, { ownerId: owner }), {});
      expect(await newest()).toMatchObject({ workflow_id: id, status: 'pending' });
      expect((await h.request('GET', `/v1/evaluation/${id}/status`)).body).toMatchObject({ status: 'pending' });
      const at = '2026-01-01T00:00:05.000000Z';
      await other.transitionJob(id, ['pending'], { status: 'user_error', message: 'stopped by the test', timestamp: at }, { results: { error: 'stopped' } });
      expect(await newest()).toMatchObject({ workflow_id: id, status: 'user_error', updated_at: at });
      expect((await h.request('GET', `/v1/evaluation/${id}/status`)).body).toEqual({ status: 'user_error', results: { error: 'stopped' } });
      expect((await h.request('GET', `/v1/evaluation/${id}`)).body).toMatchObject({ status: 'user_error', updated_at: at });
      // The other filters and limits follow too.
      expect(((await h.request('GET', '/v1/evaluation?status=user_error&limit=1')).body as Job[])[0]!.workflow_id).toBe(id);
    } finally {
      await other.close();
    }
  });

  for (const path of ['/v1/evaluation/model-list', '/v1/evaluations/model-list']) {
    it(`GET ${path} lists the models, and is not taken for a job id`, async () => {
      const res = await h.request('GET', path);
      expect(res.status, res.text).toBe(200);
      expectResponse('GET', '/v1/evaluation/model-list', 200, res.body);
      expect(res.body).toEqual({ model_list: h.config.models });
      expect((await h.request('GET', `${path}?model_source=all`)).body).toEqual({ model_list: h.config.models });
      expect((await h.request('GET', `${path}?model_source=external`)).body).toEqual({ model_list: [] });
      expectError(await h.request('GET', `${path}?model_source=nowhere`), 400, /model_source/);
    });
  }

  it('answers 404 with the error envelope for an unknown job', async () => {
    const id = 'eval-0000-1700000000';
    const res = await h.request('GET', `/v1/evaluation/${id}`);
    expectError(res, 404, new RegExp(id));
    expectResponse('GET', `/v1/evaluation/${id}`, 404, res.body);
    expectError(await h.request('GET', `/v1/evaluation/${id}/status`), 404, new RegExp(id));
  });
});

describe('job lifecycle', () => {
  it('runs a job from pending through queued and running to completed', async () => {
    const release = gate();
    const usage = { prompt_tokens: 120, completion_tokens: 9 };
    h.fake.setReply(async (req) => {
      await release.opened;
      return scriptedWithUsage(req, usage);
    });
    const id = await h.createJob(classify(qa.id));

    // While the judge holds every row, the job is running, has no results yet, and shows its progress.
    await waitFor(() => judgeCalls().length === QA_ROWS.length, { what: 'every row to reach the judge' });
    const noneDone = { rows_total: QA_ROWS.length, rows_done: 0, rows_failed: 0, rows_per_second: null, eta_seconds: null, waiting_on_rate_limit: false };
    const running = await h.request('GET', `/v1/evaluation/${id}/status`);
    expect(running.body).toEqual({ status: 'running', progress: noneDone });
    expectResponse('GET', `/v1/evaluation/${id}/status`, 200, running.body);
    const runningJob = await h.request('GET', `/v1/evaluation/${id}`);
    expect(runningJob.body).toMatchObject({ workflow_id: id, status: 'running', results: null });
    expect((runningJob.body as Job)['progress']).toEqual(noneDone);
    expectResponse('GET', `/v1/evaluation/${id}`, 200, runningJob.body);
    release.open();

    const job = await h.waitForJob(id);
    expect(job.status_updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', 'completed']);
    expect(job.status_updates[0]?.message).toBe('Job created and pending for processing');
    const times = job.status_updates.map((u) => u.timestamp);
    expect([...times].sort()).toEqual(times);
    expect(job.updated_at).toBe(times[times.length - 1]);
    expect(job.created_at).toBe(times[0]);
    expect(job.parameters).toEqual(classify(qa.id).parameters);
    expectResponse('GET', `/v1/evaluation/${id}`, 200, job, { resultsType: 'classify', deviations: ['label_counts_object'] });
    expect(job).not.toHaveProperty('progress');
    const { pass_percentage_ci, label_proportions, usage: spent, cache, ...together } = job.results ?? {};
    // Together's fields, exactly.
    expect(together).toEqual({
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_label_count: 0,
      pass_percentage: 80,
      label_counts: { correct: 4, incorrect: 1 },
      result_file_id: expect.stringMatching(/^file-/),
    });
    // assay's additions: intervals over the 5 valid labels, and the tokens of the 5 judge calls.
    expect(pass_percentage_ci).toEqual(wilsonBounds(4, 5, 100));
    expect(label_proportions).toEqual({
      correct: { proportion: 0.8, ...wilsonBounds(4, 5) },
      incorrect: { proportion: 0.2, ...wilsonBounds(1, 5) },
    });
    expect(spent).toEqual({
      generation: { prompt_tokens: 0, completion_tokens: 0 },
      judge: { prompt_tokens: 5 * 120, completion_tokens: 5 * 9 },
      total_tokens: 5 * (120 + 9),
    });
    // The cache is off in these tests: every call went to the provider.
    expect(cache).toEqual({ hits: 0, misses: 5 });

    const status = await h.request('GET', `/v1/evaluation/${id}/status`);
    expect(status.body).toEqual({ status: 'completed', results: job.results });
    expectResponse('GET', `/v1/evaluation/${id}/status`, 200, status.body, { resultsType: 'classify', deviations: ['label_counts_object'] });

    const resultFile = await h.request('GET', `/v1/files/${String(job.results?.['result_file_id'])}`);
    expect(resultFile.body).toMatchObject({ purpose: 'eval-output', LineCount: QA_ROWS.length, Processed: true });
    const lines = await resultLines(job);
    expect(lines.map((l) => l['label'])).toEqual(['correct', 'correct', 'correct', 'correct', 'incorrect']);
    expect(lines.every((l) => l['evaluation_successful'] === true)).toBe(true);
    // Each line records the judge prompt: the messages of the row's judge call.
    lines.forEach((line, i) => {
      expect(line['judge_prompt'], `row ${i}`).toEqual(verdictRequestFor(QA_ROWS[i]!.answer).messages);
      expect(line, `row ${i}`).not.toHaveProperty('judge_repaired');
    });
  });

  it('gives an unusable judge reply one repair turn; a usable answer there is the verdict, another unusable one leaves the row invalid', async () => {
    const first = { prompt_tokens: 100, completion_tokens: 10 };
    const repair = { prompt_tokens: 250, completion_tokens: 25 };
    const repaired = JSON.stringify({ feedback: 'on reflection', label: 'correct' });
    // Row 4 (Dickens) is first answered with prose, then, on the repair turn, with a label the
    // scripted judge would not give; row 3 (100 °C) gets prose both times.
    h.fake.setReply((req): FakeReply => {
      const isRepair = req.messages.length > 2;
      const asked = String(req.messages[1]?.content);
      const usage = isRepair ? repair : first;
      if (asked.includes('Dickens')) return { content: isRepair ? repaired : 'Not sure.', usage };
      if (asked.includes('100 °C')) return { content: 'No idea.', usage };
      return scriptedWithUsage(req, usage);
    });
    const job = await h.waitForJob(await h.createJob(classify(qa.id)));
    expect(job.status, JSON.stringify(job.results)).toBe('completed');

    // Five verdict requests and two repair turns.
    expect(judgeCalls()).toHaveLength(QA_ROWS.length + 2);
    const repairs = judgeCalls().filter((c) => c.messages.length > 2);
    expect(repairs).toHaveLength(2);
    for (const [row, reply] of [[3, 'No idea.'], [4, 'Not sure.']] as const) {
      const request = verdictRequestFor(QA_ROWS[row]!.answer);
      const turn = repairs.find((c) => c.messages[1]?.content === request.messages[1]?.content);
      expect(turn, `row ${row}`).toBeDefined();
      // The verdict request again, the judge's reply, and why it could not be used.
      expect(turn!.messages.slice(0, 3)).toEqual([...request.messages, { role: 'assistant', content: reply }]);
      expect(turn!.messages[3]?.role).toBe('user');
      expect(String(turn!.messages[3]?.content)).toMatch(/^Your previous reply could not be used: reply is not JSON\.\n/);
      // Same model, settings and response format.
      expect({ ...turn!.body, messages: null }).toEqual({ ...request.body, messages: null });
    }

    const { pass_percentage_ci, label_proportions, usage, cache, ...together } = job.results ?? {};
    // Row 4's repaired label counts; row 3 is invalid, and not a failure.
    expect(together).toEqual({
      generation_fail_count: 0,
      judge_fail_count: 0,
      invalid_label_count: 1,
      pass_percentage: 100,
      label_counts: { correct: 4, incorrect: 0 },
      result_file_id: expect.stringMatching(/^file-/),
    });
    expect(pass_percentage_ci).toEqual({ low: expect.closeTo(100 * wilson(4, 4).low, 5), high: 100 });
    expect(label_proportions).toEqual({
      correct: { proportion: 1, low: expect.closeTo(wilson(4, 4).low, 5), high: 1 },
      incorrect: { proportion: 0, low: 0, high: expect.closeTo(wilson(0, 4).high, 5) },
    });
    // Both turns of a conversation count.
    expect(usage).toEqual({
      generation: { prompt_tokens: 0, completion_tokens: 0 },
      judge: { prompt_tokens: 5 * 100 + 2 * 250, completion_tokens: 5 * 10 + 2 * 25 },
      total_tokens: 5 * 110 + 2 * 275,
    });
    expect(cache).toEqual({ hits: 0, misses: 7 });

    const lines = await resultLines(job);
    const prompt = (row: number) => verdictRequestFor(QA_ROWS[row]!.answer).messages;
    expect(lines).toEqual([
      ...QA_ROWS.slice(0, 3).map((row, i) => ({
        ...row,
        evaluation_successful: true,
        label: 'correct',
        feedback: 'looks right',
        judge_raw_output: JSON.stringify({ feedback: 'looks right', label: 'correct' }),
        judge_prompt: prompt(i),
      })),
      {
        ...QA_ROWS[3],
        evaluation_successful: false,
        label: null,
        feedback: null,
        judge_raw_output: 'No idea.',
        judge_prompt: prompt(3),
        invalid_reason: 'reply is not JSON (also after one repair request; first reply: reply is not JSON)',
      },
      {
        ...QA_ROWS[4],
        evaluation_successful: true,
        label: 'correct',
        feedback: 'on reflection',
        judge_raw_output: repaired,
        judge_prompt: prompt(4),
        judge_repaired: true,
      },
    ]);
  });

  it('runs a score job to completed with aggregated scores', async () => {
    const id = await h.createJob(score(qa.id));
    expect(id).toMatch(/^eval-[0-9a-f]{4}-\d{10}$/);
    const job = await h.waitForJob(id);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expectResponse('GET', `/v1/evaluation/${id}`, 200, job, { resultsType: 'score' });
    // Four answers score 10, one scores 1; 7 passes.
    const scores = [10, 10, 10, 10, 1];
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / (scores.length - 1));
    const results = job.results as { aggregated_scores: Record<string, number> } & Record<string, unknown>;
    expect(results.aggregated_scores['mean_score']).toBeCloseTo(mean, 6);
    expect(results.aggregated_scores['std_score']).toBeCloseTo(std, 5);
    expect(results.aggregated_scores['pass_percentage']).toBeCloseTo(80, 6);
    expect(results).toMatchObject({ generation_fail_count: 0, judge_fail_count: 0, invalid_score_count: 0 });
  });

  it('ends a job in user_error quickly when the provider answers 401 to everything, without a call per row', async () => {
    // Its own server and provider: calls already on the wire when the job stops still arrive
    // afterwards, and must not be counted by the next test.
    const own = await startHarness({
      fake: {
        reply: () => ({
          status: 401,
          body: { error: { message: 'Invalid API key provided.', type: 'authentication_error', param: null, code: 'invalid_api_key' } },
        }),
      },
    });
    try {
      const rows = Array.from({ length: 200 }, (_, i) => ({ question: `q${i}`, answer: `a${i}` }));
      const file = await own.uploadJsonl(rows, 'many.jsonl');
      const started = Date.now();
      const id = await own.createJob(classify(file.id));
      const job = await own.waitForJob(id, 10_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(job.status).toBe('user_error');
      const message = String(job.results?.['error']);
      expect(message).toMatch(/judge/);
      expect(message).toContain(own.fake.url);
      expect(message).toMatch(/401/);
      expect(message).toMatch(/API key/);
      expect(job.status_updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', 'user_error']);
      const status = await own.request('GET', `/v1/evaluation/${id}/status`);
      expect(status.body).toEqual({ status: 'user_error', results: { error: message } });
      expectResponse('GET', `/v1/evaluation/${id}/status`, 200, status.body);
      // The first failure stops the job: at most the endpoint's concurrency (25) of calls were
      // ever sent, not one per row.
      expect(own.fake.calls.length).toBeGreaterThan(0);
      expect(own.fake.calls.length).toBeLessThanOrEqual(25);
    } finally {
      await own.close();
    }
  });

  /** Ten rows; the judge answers HTTP 400 for the first `failing`. */
  async function runWithFailingJudge(failing: number): Promise<Job> {
    const rows = Array.from({ length: 10 }, (_, i) => ({ question: `q${i}`, answer: i < failing ? `reject-me ${i}` : `ok ${i} ${GOOD}` }));
    const file = await h.uploadJsonl(rows, `failing-${failing}.jsonl`);
    h.fake.setReply((req): FakeReply =>
      req.userText.includes('reject-me')
        ? { status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error', param: null, code: null } } }
        : scriptedJudge(req),
    );
    const job = await h.waitForJob(await h.createJob(classify(file.id)));
    // A 400 is not retried: one call per row.
    expect(judgeCalls()).toHaveLength(10);
    return job;
  }

  it('ends in error when more than 30% of rows fail judging', async () => {
    const job = await runWithFailingJudge(4);
    expect(job.status).toBe('error');
    const message = String(job.results?.['error']);
    expect(message).toMatch(/4 of 10 rows failed/);
    expect(message).toMatch(/30%/);
    expect(job.status_updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', 'error']);
    const status = await h.request('GET', `/v1/evaluation/${job.workflow_id}/status`);
    expect(status.body).toMatchObject({ status: 'error', results: { error: message } });
  });

  it('completes when at most 30% of rows fail judging, counting them', async () => {
    const job = await runWithFailingJudge(3);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expect(job.results).toMatchObject({ judge_fail_count: 3, generation_fail_count: 0, label_counts: { correct: 7, incorrect: 0 }, pass_percentage: 100 });
    const content = await h.request('GET', `/v1/files/${String(job.results?.['result_file_id'])}/content`);
    const lines = content.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 3).map((l) => [l['evaluation_successful'], l['label']])).toEqual([
      [false, null],
      [false, null],
      [false, null],
    ]);
    expect(String(lines[0]?.['error'])).toMatch(/bad request/);
  });

  it('counts rows without a value in the response column as generation failures', async () => {
    const rows = [
      { question: 'q0', answer: `a0 ${GOOD}` },
      { question: 'q1' },
      { question: 'q2', answer: null },
      ...Array.from({ length: 7 }, (_, i) => ({ question: `q${i + 3}`, answer: `a${i + 3} ${GOOD}` })),
    ];
    const file = await h.uploadJsonl(rows, 'gaps.jsonl');
    const job = await h.waitForJob(await h.createJob(classify(file.id)));
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    expect(job.results).toMatchObject({ generation_fail_count: 2, judge_fail_count: 0, label_counts: { correct: 8, incorrect: 0 } });
    expect(judgeCalls()).toHaveLength(8);
  });

  it('ends in user_error when the dataset file is deleted while the job runs', async () => {
    const release = gate();
    h.fake.setReply(async (req) => {
      await release.opened;
      return scriptedJudge(req);
    });
    const file = await h.uploadJsonl(QA_ROWS, 'deleted-soon.jsonl');
    const id = await h.createJob(classify(file.id));
    await waitFor(() => judgeCalls().length === QA_ROWS.length, { what: 'every row to reach the judge' });
    expect((await h.request('DELETE', `/v1/files/${file.id}`)).status).toBe(200);
    release.open();

    const job = await h.waitForJob(id);
    expect(job.status).toBe('user_error');
    expect(String(job.results?.['error'])).toContain(file.id);
  });
});

describe('secrets', () => {
  it('never shows an external_api_token in any response', async () => {
    const secret = 'tok-SECRET-1';
    const id = await h.createJob(
      classify(qa.id, {
        judge: judge({ model: 'ext-judge', model_source: 'external', external_base_url: h.fake.url, external_api_token: secret }),
        model_to_evaluate: {
          model: 'ext-gen',
          model_source: 'external',
          external_base_url: h.fake.url,
          external_api_token: secret,
          input_template: '{{question}}',
          max_tokens: 20,
          temperature: 0,
        },
      }),
    );
    const job = await h.waitForJob(id);
    expect(job.status, JSON.stringify(job.results)).toBe('completed');
    // The token did reach the provider.
    expect(h.fake.calls.length).toBeGreaterThan(0);
    for (const call of h.fake.calls) expect(call.headers['authorization']).toBe(`Bearer ${secret}`);

    const texts = [
      (await h.request('GET', `/v1/evaluation/${id}`)).text,
      (await h.request('GET', `/v1/evaluation/${id}/status`)).text,
      (await h.request('GET', '/v1/evaluation?limit=100')).text,
      (await h.request('GET', '/v1/evaluations?limit=100')).text,
      (await h.request('GET', `/v1/files/${String(job.results?.['result_file_id'])}/content`)).text,
    ];
    for (const text of texts) {
      expect(text).not.toContain('SECRET');
    }
    expect(texts[0]).toContain(id);
    expect(texts[2]).toContain(id);
    expect(texts[3]).toContain(id);
    // The rest of the parameters are echoed as sent.
    expect((job.parameters['judge'] as Record<string, unknown>)['external_base_url']).toBe(h.fake.url);
  });
});

describe('robustness', () => {
  it('does not pile up abort listeners on a job as its model calls complete', async () => {
    // Every call listens for the job's abort; a listener left behind per finished call grows
    // without bound over a long job (Node warns past 10 on one signal).
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      const rows = Array.from({ length: 30 }, (_, i) => ({ question: `q${i}`, answer: `a${i} ${GOOD}` }));
      const file = await h.uploadJsonl(rows, 'listeners.jsonl');
      // One call at a time, so at most one listener is ever needed.
      const job = await h.waitForJob(await h.createJob(classify(file.id, { judge: judge({ num_workers: 1 }) })));
      expect(job.status).toBe('completed');
      expect(judgeCalls()).toHaveLength(30);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('still answers /healthz after 30 bad requests in a row', async () => {
    const bad: Array<[string, string, Parameters<Harness['request']>[2]]> = [
      ['POST', '/v1/evaluation', { body: '{', headers: { 'content-type': 'application/json' } }],
      ['POST', '/v1/evaluation', { body: 'null', headers: { 'content-type': 'application/json' } }],
      ['POST', '/v1/evaluation', { body: '[]', headers: { 'content-type': 'application/json' } }],
      ['POST', '/v1/evaluation', { body: '"x"', headers: { 'content-type': 'application/json' } }],
      ['POST', '/v1/evaluation', { body: 'type=classify', headers: { 'content-type': 'text/plain' } }],
      ['POST', '/v1/evaluation', { body: new URLSearchParams({ type: 'classify' }) }],
      ['POST', '/v1/evaluation', { json: { type: 'classify', parameters: { judge: 'x' } } }],
      ['POST', '/v1/evaluation', { json: { type: 'score', parameters: { min_score: 'a' } } }],
      ['POST', '/v1/evaluation', { json: { type: 'compare', parameters: { model_a: 1, model_b: [] } } }],
      ['POST', '/v1/evaluation', { json: { type: { nested: true }, parameters: {} } }],
      ['POST', '/v1/evaluation', { json: classify(qa.id, { labels: [1, 2] }) }],
      ['POST', '/v1/evaluation', { json: classify(qa.id, { judge: judge({ system_template: '{% for %}' }) }) }],
      ['POST', '/v1/evaluation', { json: classify(qa.id, { judge: judge({ external_base_url: 'not a url' }) }) }],
      ['POST', '/v1/evaluation', { json: classify('../../etc/passwd') }],
      ['GET', '/v1/evaluation?limit=-1', {}],
      ['GET', '/v1/evaluation?status=completed&status=error', {}],
      ['GET', '/v1/evaluation/%00', {}],
      ['GET', '/v1/evaluation/..%2F..%2Fetc/status', {}],
      ['GET', '/v1/files/..%2Fassay.db', {}],
      ['GET', '/v1/files/..%2Fassay.db/content', {}],
      ['DELETE', '/v1/files/..%2Fassay.db', {}],
      ['POST', '/v1/files', { body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      ['POST', '/v1/files', { body: '--x\r\nbroken', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
      ['POST', '/v1/files/upload', { body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n{"a"', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
      ['POST', '/v1/files/upload', { json: { purpose: 'eval' } }],
      ['PUT', '/v1/uploads/file-x', { body: 'x' }],
      ['PUT', '/v1/uploads/..%2F..%2Fescape?expires=1&signature=x', { body: 'x' }],
      ['PATCH', '/v1/evaluation', { json: {} }],
      ['GET', '/v1/nothing-here', {}],
      ['POST', '/v1/files/nope/preprocess', { body: '{', headers: { 'content-type': 'application/json' } }],
    ];
    expect(bad).toHaveLength(30);
    const serverErrors: string[] = [];
    for (const [method, path, opts] of bad) {
      const res = await h.request(method, path, opts);
      expect(res.status, `${method} ${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expectError(res, res.status);
      if (res.status >= 500) serverErrors.push(`${method} ${path} → ${res.status}`);
    }
    const health = await h.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    // And real work still goes through.
    expect((await h.request('GET', `/v1/files/${qa.id}`)).status).toBe(200);
    // Every one of them was the caller's fault, so none is a 5xx (which SDKs would retry).
    expect(serverErrors).toEqual([]);
  });
});
