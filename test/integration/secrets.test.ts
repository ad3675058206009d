/**
 * Secrets stay secret: `external_api_token`s and the provider key never appear in an endpoint's
 * answer, a log line (the server's pino output, captured at debug level with every request
 * logged) or a result file, even when a provider quotes the key back in its error message; a
 * job's tokens are forgotten when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { GOOD, scriptedJudge, startHarness, type Harness } from './harness.js';

const PROVIDER_KEY = 'sk-provider-0123456789abcdef';
const GENERATOR_TOKEN = 'sk-generator-fedcba9876543210';
const JUDGE_TOKEN = 'sk-judge-5555aaaa6666bbbb';
/** A token the fake provider rejects, quoting it back as some real providers do. */
const REJECTED_TOKEN = 'sk-rejected-77778888cccc';
const SECRETS = [PROVIDER_KEY, GENERATOR_TOKEN, JUDGE_TOKEN, REJECTED_TOKEN];

function reply(req: FakeChatRequest): FakeReply {
  const auth = req.headers.authorization ?? '';
  if (auth.includes(REJECTED_TOKEN)) {
    return { status: 401, body: { error: { message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}.`, type: 'invalid_request_error' } } };
  }
  return scriptedJudge(req);
}

const lines: string[] = [];
let h: Harness;
const answers: string[] = [];
const jobs: string[] = [];

beforeAll(async () => {
  h = await startHarness({
    fake: { reply },
    config: { providerApiKey: PROVIDER_KEY, logLevel: 'debug', requestLog: 'all' },
    logStream: { write: (line) => void lines.push(line) },
  });
});
afterAll(async () => {
  await h?.close();
});

/** Every request goes through here, so every answer is checked. */
async function call(method: string, path: string, json?: unknown) {
  const res = await h.request(method, path, json === undefined ? {} : { json });
  answers.push(`${method} ${path} ${res.status} ${[...res.headers].join(' ')} ${res.text}`);
  return res;
}

describe('tokens and keys', () => {
  it('runs jobs with tokens, one of them rejected and quoted back by the provider', async () => {
    const file = await h.uploadJsonl([
      { q: 'q1', a: `a1 ${GOOD}` },
      { q: 'q2', a: 'a2' },
    ]);
    const generator = { model: 'gen', model_source: 'external', external_base_url: h.fake.url, external_api_token: GENERATOR_TOKEN, input_template: '{{q}}' };
    const judge = (token: string) => ({ model: 'judge', model_source: 'external', external_base_url: h.fake.url, external_api_token: token, system_template: 'Grade {{q}}.' });
    const bodies = [
      { type: 'score', parameters: { judge: judge(JUDGE_TOKEN), input_data_file_path: file.id, model_to_evaluate: generator, min_score: 1, max_score: 10, pass_threshold: 5 } },
      {
        type: 'classify',
        parameters: {
          judge: { model: 'judge', model_source: 'serverless', system_template: 'Grade {{q}}.' },
          input_data_file_path: file.id,
          model_to_evaluate: 'a',
          labels: ['good', 'bad'],
          pass_labels: ['good'],
        },
      },
      { type: 'compare', parameters: { judge: judge(REJECTED_TOKEN), input_data_file_path: file.id, model_a: 'a', model_b: generator } },
    ];
    for (const body of bodies) {
      const res = await call('POST', '/v1/evaluation', body);
      expect(res.status, res.text).toBe(200);
      jobs.push((res.body as { workflow_id: string }).workflow_id);
    }
    const finished = await Promise.all(jobs.map((id) => h.waitForJob(id)));
    expect(finished.map((j) => j.status)).toEqual(['completed', 'completed', 'user_error']);
    expect(String(finished[2]!.results?.error)).toMatch(/HTTP 401: Incorrect API key provided: \[redacted\]/);
    // The tokens did reach the provider: they were used, not lost.
    const sent = new Set(h.fake.calls.map((c) => c.headers.authorization));
    expect([...sent].sort()).toEqual([`Bearer ${GENERATOR_TOKEN}`, `Bearer ${JUDGE_TOKEN}`, `Bearer ${PROVIDER_KEY}`, `Bearer ${REJECTED_TOKEN}`].sort());
    // A retry that brings a token again is refused (the job ended before any row ran), quoting nothing.
    const retry = await call('POST', `/v1/evaluation/${jobs[2]}/retry-failed`, { judge: { external_api_token: REJECTED_TOKEN } });
    expect(retry.status, retry.text).toBe(409);
  });

  it('forgets every job’s tokens when it ends', async () => {
    for (const id of jobs) expect(await h.server.backend.store.getJobSecrets(id)).toEqual({});
  });

  it('never shows a token or key in any answer, result file, or log line', async () => {
    await call('GET', '/v1/evaluation?limit=100');
    await call('GET', '/v1/evaluations');
    for (const id of jobs) {
      const job = await call('GET', `/v1/evaluation/${id}`);
      await call('GET', `/v1/evaluation/${id}/status`);
      await call('GET', `/v1/evaluation/${id}/rows?limit=500`);
      await call('POST', `/v1/evaluation/${id}/cancel`);
      const resultFile = (job.body as { results: { result_file_id?: string } }).results.result_file_id;
      if (resultFile) {
        await call('GET', `/v1/files/${resultFile}`);
        expect((await call('GET', `/v1/files/${resultFile}/content`)).status).toBe(200);
      }
    }
    await call('GET', '/v1/files');
    await call('GET', '/metrics');
    // The parameters are echoed without their tokens.
    const first = JSON.parse(answers.find((a) => a.startsWith(`GET /v1/evaluation/${jobs[0]} 200`))!.replace(/^[^{]*/, '')) as {
      parameters: { judge: Record<string, unknown> };
    };
    expect(first.parameters.judge).toMatchObject({ model: 'judge', external_base_url: h.fake.url });
    expect(first.parameters.judge).not.toHaveProperty('external_api_token');

    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
    for (const secret of SECRETS) {
      expect(answers.filter((a) => a.includes(secret)), secret).toEqual([]);
      expect(lines.filter((l) => l.includes(secret)), secret).toEqual([]);
    }
  });
});
