/**
 * The SSRF guard wired in: with API keys, a job whose user-supplied `external_base_url` points at
 * a private, loopback or link-local address is refused at creation with a 400 naming the field,
 * unless allowlisted; connections to such endpoints are checked again when made, redirects
 * included. A single-user server (no keys) reaches loopback model servers as before, and the
 * server's own configured provider is trusted either way.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, GOOD, startHarness, type Harness, type HarnessClient } from './harness.js';

const ROWS = [
  { q: 'q1', a: `a1 ${GOOD}` },
  { q: 'q2', a: 'a2' },
];

function externalJudge(baseUrl: string) {
  return { model: 'judge-model', model_source: 'external', external_base_url: baseUrl, external_api_token: 'sk-judge', system_template: 'Grade {{q}}.' };
}
function job(fileId: string, judge: Record<string, unknown>, target: unknown = 'a') {
  return { type: 'classify', parameters: { judge, input_data_file_path: fileId, model_to_evaluate: target, labels: ['good', 'bad'], pass_labels: ['good'] } };
}
const serverlessJudge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade {{q}}.' };

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function withKeys(config: Record<string, unknown> = {}): Promise<{ h: Harness; alice: HarnessClient; fileId: string }> {
  h = await startHarness({ config: { apiKeyCacheMs: 0, rateLimitRpm: 0, ...config } });
  const alice = h.as((await h.createKey('alice')).key);
  const file = await alice.uploadJsonl(ROWS);
  return { h, alice, fileId: file.id };
}

describe('with API keys', () => {
  it('refuses private, loopback and link-local base URLs at creation, naming the field and the reason', async () => {
    const { h, alice, fileId } = await withKeys();
    const port = new URL(h.fake.url).port;
    const cases: Array<[unknown, string, RegExp]> = [
      [job(fileId, externalJudge(h.fake.url)), 'parameters.judge.external_base_url', /points at 127\.0\.0\.1, a loopback address/],
      [job(fileId, externalJudge(`http://localhost:${port}/v1`)), 'parameters.judge.external_base_url', /loopback address/],
      [job(fileId, externalJudge('http://[::ffff:7f00:1]:8000/v1')), 'parameters.judge.external_base_url', /loopback/],
      [job(fileId, externalJudge('http://10.1.2.3/v1')), 'parameters.judge.external_base_url', /10\.1\.2\.3, a private address/],
      [
        job(fileId, serverlessJudge, { model: 'm', model_source: 'external', external_base_url: 'http://169.254.169.254/v1', input_template: '{{q}}' }),
        'parameters.model_to_evaluate.external_base_url',
        /link-local \(cloud metadata\)/,
      ],
    ];
    for (const [body, param, reason] of cases) {
      const error = expectError(await alice.request('POST', '/v1/evaluation', { json: body }), 400, reason, /ASSAY_ALLOWED_HOSTS/);
      expect(error).toMatchObject({ param, code: 'forbidden_address' });
      expect(error.message.startsWith(`${param}: `)).toBe(true);
    }
    expect(h.fake.calls).toHaveLength(0);
    expect((await alice.request('GET', '/v1/evaluation')).body).toEqual([]);
  });

  it('trusts the configured provider, though it is on loopback', async () => {
    const { alice, fileId } = await withKeys();
    const done = await alice.waitForJob(await alice.createJob(job(fileId, serverlessJudge)));
    expect(done.status).toBe('completed');
  });

  it('allows allowlisted addresses and networks, and connects through the guard', async () => {
    for (const allowedHosts of [['127.0.0.1'], ['127.0.0.0/8']]) {
      await h?.close();
      const { h: harness, alice, fileId } = await withKeys({ allowedHosts });
      const done = await alice.waitForJob(await alice.createJob(job(fileId, externalJudge(harness.fake.url))));
      expect(done.status).toBe('completed');
      expect(harness.fake.calls.map((c) => c.headers.authorization)).toEqual(['Bearer sk-judge', 'Bearer sk-judge']);
    }
  });

  describe('at connection time', () => {
    let redirector: Server;
    let target = '';
    beforeAll(async () => {
      // Answers every request with a 307 to `target` (same method and body, another address).
      redirector = createServer((req, res) => {
        req.resume();
        res.writeHead(307, { location: `${target}${req.url ?? ''}` }).end();
      });
      await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
    });

    it('refuses a redirect to a forbidden address, ending the job with the reason', async () => {
      // "localhost" is allowed by name, so the job is created; the redirect leads to 127.0.0.1, which is not.
      const { h, alice, fileId } = await withKeys({ allowedHosts: ['localhost'] });
      target = `http://127.0.0.1:${new URL(h.fake.url).port}`;
      const port = (redirector.address() as AddressInfo).port;
      const done = await alice.waitForJob(await alice.createJob(job(fileId, externalJudge(`http://localhost:${port}/v1`))));
      expect(done.status).toBe('user_error');
      expect(String(done.results?.error)).toMatch(/judge endpoint failed: .*connection to 127\.0\.0\.1 refused: loopback address/);
      expect(h.fake.calls).toHaveLength(0);
    });

    it('follows the same redirect without keys', async () => {
      h = await startHarness({ config: { rateLimitRpm: 0 } });
      target = `http://127.0.0.1:${new URL(h.fake.url).port}`;
      const port = (redirector.address() as AddressInfo).port;
      const file = await h.uploadJsonl(ROWS);
      const done = await h.waitForJob(await h.createJob(job(file.id, externalJudge(`http://localhost:${port}/v1`))));
      expect(done.status).toBe('completed');
      expect(h.fake.calls).toHaveLength(2);
    });
  });
});

describe('without API keys (single-user)', () => {
  it('reaches a model server on loopback, as before', async () => {
    h = await startHarness();
    const file = await h.uploadJsonl(ROWS);
    const done = await h.waitForJob(await h.createJob(job(file.id, externalJudge(h.fake.url))));
    expect(done.status).toBe('completed');
    expect(h.fake.calls).toHaveLength(2);
  });
});
