/**
 * Judging you can trust: rows survive a flaky, rate-limited provider; position bias is measured
 * and corrected; unusable verdicts are counted as invalid; jobs can be cancelled and their failed
 * rows run again. Real server, real fake provider on a loopback port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { jsonReply, type FakeChatRequest, type FakeReply } from '../../src/testing/fake-provider.js';
import { GOOD, holdAfter, scriptedJudge, startHarness, waitFor, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const judge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade the answer to {{q}}.' };
const isJudgeCall = (req: FakeChatRequest) => req.body['response_format'] !== undefined || /Reply with exactly one JSON object/.test(req.systemText);

function classifyJob(fileId: string, extra: Record<string, unknown> = {}) {
  return { type: 'classify', parameters: { judge, input_data_file_path: fileId, model_to_evaluate: 'a', labels: ['good', 'bad'], pass_labels: ['good'], ...extra } };
}

describe('a flaky, rate-limited provider', () => {
  it('still judges every row, with no failures and few wasted calls', async () => {
    // Faults are drawn in the order calls arrive, which timing decides, so one call can draw several
    // in a row: with the default 6 retries some call of the 300 would fail for good in about one run
    // of 260 (300 × 0.2^7); with 12, about one in four million.
    h = await startHarness({ config: { providerMaxRetries: 12 }, fake: { faults: { errorRate: 0.1, malformedRate: 0.1, seed: 7 }, maxInFlight: 8 } });
    const rows = Array.from({ length: 300 }, (_, i) => ({ q: `question ${i}`, a: i % 3 === 0 ? `answer ${GOOD}` : `answer ${i}` }));
    const file = await h.uploadJsonl(rows);
    const id = await h.createJob(classifyJob(file.id));
    const job = await h.waitForJob(id, 60_000);
    expect(job.status).toBe('completed');
    expect(job.results).toMatchObject({ generation_fail_count: 0, judge_fail_count: 0, invalid_label_count: 0, label_counts: { good: 100, bad: 200 } });
    const stats = h.fake.stats();
    // 300 calls are needed; a fifth of the replies are broken, so about 375 are expected without any 429.
    expect(stats.total).toBeLessThanOrEqual(1.3 * 300);
    expect(stats.maxInFlightSeen).toBeLessThanOrEqual(25);
  });
});

describe('position bias', () => {
  /** A judge that always picks whichever response is shown first. */
  const prefersFirst = (req: FakeChatRequest): FakeReply => (isJudgeCall(req) ? jsonReply({ feedback: 'the first one', choice: 'A' }) : { content: 'x' });
  const rows = Array.from({ length: 12 }, (_, i) => ({ q: `q${i}`, left: `left ${i}`, right: `right ${i}` }));
  const compareJob = (fileId: string, disable: boolean) => ({
    type: 'compare',
    parameters: { judge, input_data_file_path: fileId, model_a: 'left', model_b: 'right', disable_position_bias_correction: disable },
  });

  it('turns a first-position judge into ties with a flip rate of 100% by default', async () => {
    h = await startHarness({ fake: { reply: prefersFirst } });
    const file = await h.uploadJsonl(rows);
    const job = await h.waitForJob(await h.createJob(compareJob(file.id, false)));
    expect(job.results).toMatchObject({ A_wins: 0, B_wins: 0, Ties: 12, flip_rate: 1, first_position_preference_rate: 1, win_rate_a: 0.5 });
    expect(h.fake.calls).toHaveLength(24);
  });

  it('lets the bias decide when correction is disabled: all A wins, one call per row', async () => {
    h = await startHarness({ fake: { reply: prefersFirst } });
    const file = await h.uploadJsonl(rows);
    const job = await h.waitForJob(await h.createJob(compareJob(file.id, true)));
    expect(job.results).toMatchObject({ A_wins: 12, B_wins: 0, Ties: 0, flip_rate: null, first_position_preference_rate: null });
    expect(h.fake.calls).toHaveLength(12);
  });
});

describe('verdicts', () => {
  it('counts unparseable and out-of-range verdicts as invalid, exactly, after one repair request each', async () => {
    // Rows say what the judge answers; the repair turn gets the same answer, so it stays invalid.
    const answers: Record<string, string> = {
      ok7: JSON.stringify({ feedback: 'fine', score: 7 }),
      ok3: JSON.stringify({ feedback: 'meh', score: 3 }),
      prose: 'I would give this a solid seven.',
      high: JSON.stringify({ feedback: 'wow', score: 11 }),
      nokey: JSON.stringify({ feedback: 'forgot the score' }),
      text: JSON.stringify({ feedback: 'x', score: 'seven' }),
      fixed: 'FIX',
    };
    const reply = (req: FakeChatRequest): FakeReply => {
      const key = /<response>\n(\w+)\n<\/response>/.exec(req.text)?.[1] ?? '';
      // "fixed" is unusable at first and correct once the judge is told why.
      if (key === 'fixed') return { content: req.messages.length > 2 ? JSON.stringify({ feedback: 'fixed', score: 9 }) : 'nine' };
      return { content: answers[key] ?? 'no idea' };
    };
    h = await startHarness({ fake: { reply } });
    const file = await h.uploadJsonl(Object.keys(answers).map((a) => ({ q: 'q', a })));
    const job = await h.waitForJob(
      await h.createJob({ type: 'score', parameters: { judge, input_data_file_path: file.id, model_to_evaluate: 'a', min_score: 1, max_score: 10, pass_threshold: 5 } }),
    );
    expect(job.results).toMatchObject({
      invalid_score_count: 4,
      judge_fail_count: 0,
      failed_samples: 4,
      aggregated_scores: { mean_score: Number((19 / 3).toFixed(6)), pass_percentage: Number(((100 * 2) / 3).toFixed(6)) },
    });
    // 7 first asks + 5 repair turns (four invalid rows and the one that gets fixed).
    expect(h.fake.calls).toHaveLength(12);
    const content = await h.request('GET', `/v1/files/${String(job.results?.result_file_id)}/content`);
    const lines = content.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.score)).toEqual([7, 3, null, null, null, null, 9]);
    expect(lines[3]).toMatchObject({ evaluation_successful: false, invalid_reason: expect.stringMatching(/outside \[1, 10\]/) });
    expect(lines[6]).toMatchObject({ judge_repaired: true, evaluation_successful: true });
    // The judge prompt is kept for audit.
    expect(lines[0]?.judge_prompt).toEqual([
      { role: 'system', content: expect.stringContaining('Grade the answer to q.') },
      { role: 'user', content: expect.stringContaining('<response>\nok7\n</response>') },
    ]);
  });
});

describe('cancel and retry', () => {
  it('cancels a running job promptly, keeping finished rows, and reports progress while it runs', async () => {
    // Ten rows are answered; then every call hangs until the test is over.
    const { reply, release } = holdAfter(10);
    h = await startHarness({ fake: { reply } });
    const file = await h.uploadJsonl(Array.from({ length: 200 }, (_, i) => ({ q: `q${i}`, a: `a${i}` })));
    const id = await h.createJob(classifyJob(file.id));
    const running = await waitFor(
      async () => {
        const res = await h!.request('GET', `/v1/evaluation/${id}/status`);
        const body = res.body as { status: string; progress?: { rows_done: number } };
        return body.progress && body.progress.rows_done >= 10 && body;
      },
      { what: '10 rows done' },
    );
    expect(running).toMatchObject({ status: 'running', progress: { rows_total: 200, rows_done: 10, rows_failed: 0, waiting_on_rate_limit: false } });
    const started = Date.now();
    const res = await h.request('POST', `/v1/evaluation/${id}/cancel`);
    expect(res.status, res.text).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    release();
    const job = res.body as { status: string; results: Record<string, unknown> };
    expect(job.status).toBe('user_error');
    expect(job.results).toMatchObject({ cancelled: true, error: expect.stringMatching(/cancelled by the user after 10 of 200 rows/) });
    const lines = (await h.request('GET', `/v1/files/${String(job.results.result_file_id)}/content`)).text.trim().split('\n');
    expect(lines).toHaveLength(200);
    expect(lines.filter((l) => (JSON.parse(l) as { evaluation_successful: boolean }).evaluation_successful)).toHaveLength(10);
  });

  it('runs only the failed rows again and leaves the good ones alone', async () => {
    let failing = true;
    const reply = (req: FakeChatRequest): FakeReply => {
      if (failing && req.text.includes('flaky')) return { status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } };
      return scriptedJudge(req);
    };
    h = await startHarness({ fake: { reply } });
    const rows = Array.from({ length: 10 }, (_, i) => ({ q: `q${i}`, a: i < 2 ? `flaky ${GOOD}` : i < 6 ? `fine ${GOOD}` : 'fine' }));
    const file = await h.uploadJsonl(rows);
    const id = await h.createJob(classifyJob(file.id));
    const first = await h.waitForJob(id);
    expect(first.results).toMatchObject({ judge_fail_count: 2, label_counts: { good: 4, bad: 4 } });

    failing = false;
    h.fake.reset();
    const res = await h.request('POST', `/v1/evaluation/${id}/retry-failed`, { json: {} });
    expect(res.status, res.text).toBe(200);
    const second = await h.waitForJob(id);
    expect(second.status).toBe('completed');
    expect(second.results).toMatchObject({ judge_fail_count: 0, label_counts: { good: 6, bad: 4 }, pass_percentage: 60 });
    expect(h.fake.calls).toHaveLength(2);
    expect(h.fake.calls.every((c) => c.text.includes('flaky'))).toBe(true);
    expect(second.status_updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', 'completed', 'queued', 'running', 'completed']);

    const again = await h.request('POST', `/v1/evaluation/${id}/retry-failed`, { json: {} });
    expect(again.status).toBe(409);
  });
});
