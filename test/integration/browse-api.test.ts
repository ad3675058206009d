/**
 * The browsing routes the web UI uses, over real HTTP with a scripted judge: a job's rows paged
 * and filtered, the first rows of a dataset, and a template rendered against one row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { jobRecord } from '../contract/store-contract.js';
import { expectError, GOOD, scriptedJudge, startHarness, type Harness, type UploadedFile } from './harness.js';

interface RowsPage {
  object: string;
  total: number;
  offset: number;
  limit: number;
  data: Array<{ row_index: number; outcome: string; input: Record<string, unknown> | null; result: Record<string, unknown> }>;
}

/** Rows 0-3 are good answers; row 4 gets an unusable verdict, row 5 a failed judge call. */
const QA_ROWS = [
  { question: '2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Largest planet?', answer: `Jupiter ${GOOD}` },
  { question: 'Share of water on Earth?', answer: `71% ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens [unparseable]' },
  { question: 'Speed of light?', answer: 'slow [judge-down]' },
  { question: 'Chemical symbol for gold?', answer: 'Ag' },
  { question: 'Square root of 144?', answer: '14' },
];

/** The scripted judge, plus a reply that is no verdict and a judge call that fails for good. */
function judge(req: FakeChatRequest): FakeReply {
  if (req.text.includes('[unparseable]')) return { content: 'I would rather not say.' };
  if (req.text.includes('[judge-down]')) return { status: 400, body: { error: { message: 'bad request' } } };
  return scriptedJudge(req);
}

let h: Harness;
let qa: UploadedFile;
let classifyId: string;
let scoreId: string;
let compareId: string;

const judgeParams = { model: 'judge-model', model_source: 'serverless', system_template: 'Is the answer to "{{question}}" correct?' };

async function rows(jobId: string, query = ''): Promise<RowsPage> {
  const res = await h.request('GET', `/v1/evaluation/${jobId}/rows${query ? `?${query}` : ''}`);
  expect(res.status, res.text).toBe(200);
  return res.body as RowsPage;
}
const indexes = async (jobId: string, query: string) => (await rows(jobId, query)).data.map((r) => r.row_index);

beforeAll(async () => {
  h = await startHarness({ fake: { reply: judge } });
  qa = await h.uploadJsonl(QA_ROWS, 'qa.jsonl');
  const pairs = await h.uploadJsonl(
    [0, 1, 2, 3].map((i) => ({ prompt: `question ${i}`, answer_a: i < 3 ? `a${i} ${GOOD}` : `a${i}`, answer_b: i < 3 ? `b${i}` : `b${i} ${GOOD}` })),
    'pairs.jsonl',
  );
  classifyId = await h.createJob({
    type: 'classify',
    parameters: { judge: judgeParams, input_data_file_path: qa.id, model_to_evaluate: 'answer', labels: ['correct', 'incorrect'], pass_labels: ['correct'] },
  });
  scoreId = await h.createJob({
    type: 'score',
    parameters: { judge: judgeParams, input_data_file_path: qa.id, model_to_evaluate: 'answer', min_score: 1, max_score: 10, pass_threshold: 6 },
  });
  compareId = await h.createJob({
    type: 'compare',
    parameters: { judge: { ...judgeParams, system_template: 'Which answer to {{prompt}} is better?' }, input_data_file_path: pairs.id, model_a: 'answer_a', model_b: 'answer_b' },
  });
  for (const id of [classifyId, scoreId, compareId]) expect((await h.waitForJob(id)).status).toBe('completed');
});

afterAll(async () => {
  await h?.close();
});

describe('GET /v1/evaluation/{id}/rows', () => {
  it('lists rows in order with their inputs and result fields', async () => {
    const page = await rows(classifyId);
    expect(page).toMatchObject({ object: 'list', total: 8, offset: 0, limit: 50 });
    expect(page.data.map((r) => r.row_index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(page.data[1]).toMatchObject({ row_index: 1, outcome: 'ok', input: QA_ROWS[1], result: { label: 'correct', evaluation_successful: true } });
    expect(page.data[1]!.result.judge_prompt).toBeInstanceOf(Array);
    expect(page.data[4]).toMatchObject({ outcome: 'invalid', result: { judge_raw_output: 'I would rather not say.' } });
    expect(page.data[4]!.result.invalid_reason).toEqual(expect.any(String));
    expect(page.data[5]).toMatchObject({ outcome: 'judge_failed', result: { error: expect.any(String) } });
  });

  it('pages with offset and limit, and caps the limit at 500', async () => {
    expect(await rows(classifyId, 'offset=3&limit=2')).toMatchObject({ total: 8, offset: 3, limit: 2 });
    expect(await indexes(classifyId, 'offset=3&limit=2')).toEqual([3, 4]);
    expect(await indexes(classifyId, 'offset=8')).toEqual([]);
    expect((await rows(classifyId, 'limit=100000')).limit).toBe(500);
  });

  it('filters by outcome', async () => {
    expect(await indexes(classifyId, 'outcome=invalid')).toEqual([4]);
    expect(await indexes(classifyId, 'outcome=judge_failed')).toEqual([5]);
    expect(await indexes(classifyId, 'outcome=failed')).toEqual([5]);
    expect(await indexes(classifyId, 'outcome=generation_failed')).toEqual([]);
    expect(await indexes(classifyId, 'outcome=ok')).toEqual([0, 1, 2, 3, 6, 7]);
  });

  it('maps pass to the pass labels of a classify job, and filters by label', async () => {
    expect(await indexes(classifyId, 'pass=true')).toEqual([0, 1, 2, 3]);
    expect(await indexes(classifyId, 'pass=false')).toEqual([6, 7]);
    expect(await indexes(classifyId, 'label=incorrect')).toEqual([6, 7]);
    expect(await indexes(classifyId, 'pass=true&label=incorrect')).toEqual([]);
    expect((await rows(classifyId, 'pass=false&limit=1')).total).toBe(2);
  });

  it('maps pass to the pass threshold of a score job', async () => {
    expect(await indexes(scoreId, 'pass=true')).toEqual([0, 1, 2, 3]);
    expect(await indexes(scoreId, 'pass=false')).toEqual([6, 7]);
  });

  it('filters a compare job by winner', async () => {
    expect(await indexes(compareId, 'winner=A')).toEqual([0, 1, 2]);
    expect(await indexes(compareId, 'winner=B')).toEqual([3]);
    expect(await indexes(compareId, 'winner=Tie')).toEqual([]);
  });

  it('searches inputs and results case-insensitively, with % and _ taken literally', async () => {
    expect(await indexes(classifyId, 'q=FRANCE')).toEqual([1]);
    expect(await indexes(classifyId, `q=${encodeURIComponent('71%')}`)).toEqual([3]);
    expect(await indexes(classifyId, `q=${encodeURIComponent('%')}`)).toEqual([3]);
    expect(await indexes(classifyId, 'q=zz_nothing')).toEqual([]);
    expect(await indexes(classifyId, 'q=rather+not+say')).toEqual([4]);
    expect(await indexes(classifyId, 'q=square&pass=false')).toEqual([7]);
  });

  it('answers 400 with the error envelope for bad parameters', async () => {
    const bad = async (query: string, param: string, pattern: RegExp) => {
      const error = expectError(await h.request('GET', `/v1/evaluation/${classifyId}/rows?${query}`), 400, pattern);
      expect(error.param).toBe(param);
    };
    await bad('limit=0', 'limit', /limit must be an integer of at least 1/);
    await bad('limit=ten', 'limit', /limit/);
    await bad('offset=-1', 'offset', /offset/);
    await bad('offset=1.5', 'offset', /offset/);
    await bad('outcome=great', 'outcome', /outcome must be one of/);
    await bad('pass=yes', 'pass', /pass must be one of true, false/);
    await bad('label=maybe', 'label', /label must be one of the job's labels/);
    await bad('winner=A', 'winner', /winner does not apply to a classify job/);
    await bad(`q=${'x'.repeat(501)}`, 'q', /q must be at most 500 characters/);
    await bad('limit=1&limit=2', 'limit', /limit may be given once/);
    const compare = expectError(await h.request('GET', `/v1/evaluation/${compareId}/rows?pass=true`), 400, /pass does not apply to a compare job/);
    expect(compare.param).toBe('pass');
  });

  it('answers 404 for an unknown job and for another owner’s job', async () => {
    expectError(await h.request('GET', '/v1/evaluation/eval-nope/rows'), 404, /no evaluation job with id "eval-nope"/);
    await h.server.backend.store.insertJob(jobRecord('eval-theirs', { ownerId: 'someone-else' }), {});
    expectError(await h.request('GET', '/v1/evaluation/eval-theirs/rows'), 404, /no evaluation job with id "eval-theirs"/);
  });
});

describe('GET /v1/files/{id}/preview', () => {
  it('returns the columns, the first rows and the row count', async () => {
    const res = await h.request('GET', `/v1/files/${qa.id}/preview?limit=2`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ columns: ['question', 'answer'], rows: QA_ROWS.slice(0, 2), line_count: 8 });
  });

  it('returns 20 rows by default, at most 100, and none for limit=0', async () => {
    const many = await h.uploadJsonl(Array.from({ length: 150 }, (_, i) => ({ i })), 'many.jsonl');
    const rowsOf = async (query: string) => ((await h.request('GET', `/v1/files/${many.id}/preview${query}`)).body as { rows: unknown[] }).rows;
    expect(await rowsOf('')).toHaveLength(20);
    expect(await rowsOf('?limit=1000')).toHaveLength(100);
    expect(await rowsOf('?limit=0')).toEqual([]);
    expect((await rowsOf('?limit=3'))[2]).toEqual({ i: 2 });
  });

  it('reads CSV datasets', async () => {
    const csv = await h.upload('question,answer\n"Hello, world?",yes\nsecond,no\n', 'qa.csv');
    const res = await h.request('GET', `/v1/files/${csv.id}/preview`);
    expect(res.body).toMatchObject({ columns: ['question', 'answer'], rows: [{ question: 'Hello, world?', answer: 'yes' }, { question: 'second', answer: 'no' }], line_count: 2 });
  });

  it('answers 400 for a bad limit and 404 for an unknown or another owner’s file', async () => {
    expectError(await h.request('GET', `/v1/files/${qa.id}/preview?limit=-2`), 400, /limit/);
    expectError(await h.request('GET', '/v1/files/file-nope/preview'), 404, /no file with id "file-nope"/);
    const theirs = { ...(await h.server.backend.store.getFile(qa.id))!, id: 'file-theirs', ownerId: 'someone-else' };
    await h.server.backend.store.insertFile(theirs);
    expectError(await h.request('GET', '/v1/files/file-theirs/preview'), 404, /no file with id "file-theirs"/);
  });
});

describe('POST /v1/templates/render', () => {
  const render = (body: unknown) => h.request('POST', '/v1/templates/render', { json: body });

  it('renders a template against a row and names the variables it reads', async () => {
    const res = await render({ template: 'Q: {{ question }} / {{ info.source }}{% if missing %}!{% endif %}', row: { question: 'Why?', info: { source: 'wiki' } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ rendered: 'Q: Why? / wiki', variables: ['question', 'info', 'missing'] });
  });

  it('renders without a row', async () => {
    expect((await render({ template: 'plain {{ x }}' })).body).toEqual({ rendered: 'plain ', variables: ['x'] });
  });

  it('answers 400 with the template error', async () => {
    const syntax = expectError(await render({ template: 'Q: {{ question ', row: {} }), 400, /template template has a syntax error/);
    expect(syntax).toMatchObject({ param: 'template', code: 'invalid_template' });
    const runtime = expectError(await render({ template: '{% for i in range(10000000) %}{% endfor %}', row: {} }), 400, /failed to render/);
    expect(runtime.code).toBe('template_render_error');
  });

  it('answers 400 for a malformed body', async () => {
    expect(expectError(await render({ row: {} }), 400, /template must be a string/).param).toBe('template');
    expect(expectError(await render({ template: 'x', row: [1] }), 400, /row must be an object/).param).toBe('row');
    expectError(await render([1, 2]), 400, /JSON object/);
    expectError(await render({ template: 'x'.repeat(100_001) }), 400, /at most 100000 characters/);
  });
});

describe('compare rows', () => {
  it('keep both passes with their prompts', async () => {
    const page = await rows(compareId, 'limit=1');
    expect(page.data[0]!.result).toMatchObject({ choice_original: 'A', choice_flipped: 'A', final_decision: 'A', passes_agree: true });
    expect(page.data[0]!.result.judge_prompt_original).toBeInstanceOf(Array);
    expect(page.data[0]!.result.judge_prompt_flipped).toBeInstanceOf(Array);
  });
});
