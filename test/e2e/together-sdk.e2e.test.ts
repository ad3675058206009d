/**
 * End-to-end acceptance test: the unmodified `together-ai` SDK against a real assay server process,
 * whose judge and models under test are a deterministic fake OpenAI-compatible server in this
 * process on a real loopback port (together-sdk.cases.ts says how it answers), so every figure of
 * every job is known in advance.
 *
 * Eight jobs run at once on one server: classify, score and compare, each with responses read from
 * dataset columns and generated from model configs; one compare with position-bias correction
 * disabled; and one classify whose judge refuses its key (it ends in `user_error`, which gives the
 * status filter something to exclude). Two jobs send `external_api_token`: it must reach the fake
 * and appear in no response, result file or log.
 *
 * Together's result fields are checked exactly as Together defines them, and assay's additions
 * beside them (intervals, position-bias rates, token usage, the judge prompts in the result file)
 * separately, each against a value computed from the fixtures.
 *
 * The setup (upload, create, wait) runs once in `beforeAll`; each test then checks one aspect.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeChatRequest, type FakeProvider } from '../../src/testing/fake-provider.js';
import { startServer, waitFor, type ServerProcess } from '../support/server-process.js';
import { createTogetherClient, type FileResponseLike, type TogetherHarness } from '../support/together-sdk.js';
import { expectResponse, expectSchema, type EvaluationType } from '../support/upstream-schemas.js';
import {
  COMPLETED,
  DATASET_NAMES,
  DATASETS,
  DENIED_JUDGE,
  DEVIATIONS,
  GEN,
  GEN_A,
  GEN_B,
  JOB_TIMEOUT_MS,
  JOBS,
  JUDGE,
  JUDGE_DEFAULT_MAX_TOKENS,
  JUDGE_DEFAULT_TEMPERATURE,
  PROVIDER_KEY,
  REPAIR_PREFIX,
  SECRET,
  classifyColumnRows,
  classifyGenerationRows,
  compareColumnRows,
  compareGenerationRows,
  count,
  expectedUsage,
  expectedCache,
  fakeReply,
  generated,
  intervalAround,
  isRepairTurn,
  scoreGenerationRows,
  section,
  serialize,
  type Ctx,
  type DatasetName,
  type JobCase,
  type Json,
  type Shown,
} from './together-sdk.cases.js';

type Client = TogetherHarness['client'];
type CreateBody = Parameters<Client['evals']['create']>[0];
type JobBody = Awaited<ReturnType<Client['evals']['retrieve']>>;
type StatusBody = Awaited<ReturnType<Client['evals']['status']>>;

// ---------------------------------------------------------------------------------------------
// Shared state, filled in by beforeAll
// ---------------------------------------------------------------------------------------------

interface Created {
  id: string;
  sent: Json;
  createResponse: unknown;
  /** Every status response polled, the terminal one last. */
  polled: StatusBody[];
  final: StatusBody;
}

let fake: FakeProvider;
let server: ServerProcess;
let harness: TogetherHarness;
let client: Client;
let workDir: string;
const uploads = {} as Record<DatasetName, FileResponseLike>;
const created = new Map<string, Created>();
/** JSON of every response body the SDK returned and every result file read, for the token check. */
const seenBodies: string[] = [];

function see<T>(body: T): T {
  seenBodies.push(typeof body === 'string' ? body : JSON.stringify(body));
  return body;
}

function job(name: string): Created {
  const found = created.get(name);
  if (!found) throw new Error(`job ${name} was not created`);
  return found;
}

function withoutTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTokens);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'external_api_token').map(([k, v]) => [k, withoutTokens(v)]));
  }
  return value;
}

const TERMINAL = new Set(['completed', 'error', 'user_error']);

beforeAll(async () => {
  fake = await startFakeProvider({ reply: fakeReply });
  server = await startServer({
    env: {
      ASSAY_PROVIDER_BASE_URL: fake.url,
      ASSAY_PROVIDER_API_KEY: PROVIDER_KEY,
      ASSAY_JUDGE_MAX_TOKENS: String(JUDGE_DEFAULT_MAX_TOKENS),
      ASSAY_JUDGE_TEMPERATURE: String(JUDGE_DEFAULT_TEMPERATURE),
    },
  });
  harness = createTogetherClient(server.baseUrl, 'assay-e2e-key', { maxRetries: 0 });
  client = harness.client;

  workDir = await mkdtemp(join(tmpdir(), 'assay-e2e-data-'));
  for (const name of DATASET_NAMES) {
    const path = join(workDir, DATASETS[name].file);
    await writeFile(path, serialize(name));
    // An absolute path, as users pass it: the server must keep only the basename.
    uploads[name] = see(await harness.uploadFile(path, 'eval'));
  }

  const ctx: Ctx = {
    fileIds: Object.fromEntries(DATASET_NAMES.map((n) => [n, uploads[n].id])) as Record<DatasetName, string>,
    fakeUrl: fake.url,
  };
  // Created one after another, so the list order is known.
  for (const jobCase of JOBS) {
    const sent = jobCase.parameters(ctx);
    // Plain data from the job table (together-sdk.cases.ts); the SDK sends it as given.
    const body = { type: jobCase.type, parameters: sent } as unknown as CreateBody;
    const response = see(
      await client.evals.create(body).catch((err: unknown) => {
        // The server's own account of a failed create is in its log, not in the reply.
        throw new Error(`creating ${jobCase.name} failed: ${String(err)}\nthe server's errors:\n${server.errorLines().join('\n')}`);
      }),
    );
    if (response.workflow_id === undefined) throw new Error(`no workflow_id for ${jobCase.name}: ${JSON.stringify(response)}`);
    created.set(jobCase.name, { id: response.workflow_id, sent, createResponse: response, polled: [], final: {} });
  }
  // All jobs run at once on the server; wait for each to finish.
  await Promise.all(
    [...created.entries()].map(async ([name, entry]) => {
      entry.final = await waitFor(
        async () => {
          const status = see(await client.evals.status(entry.id));
          entry.polled.push(status);
          return status.status !== undefined && TERMINAL.has(status.status) ? status : undefined;
        },
        { what: `job ${name} (${entry.id}) to finish`, timeoutMs: JOB_TIMEOUT_MS, intervalMs: 100 },
      );
    }),
  );
}, 120_000);

afterAll(async () => {
  harness?.restore();
  await server?.cleanup();
  await fake?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Fake-call helpers
// ---------------------------------------------------------------------------------------------

const judgeCallsOf = (name: string): FakeChatRequest[] => fake.calls.filter((c) => c.systemText.startsWith(`[${name}] `));
const generationCallsOf = (name: string, tag: string): FakeChatRequest[] =>
  fake.calls.filter((c) => c.systemText.startsWith(`[${name}:${tag}]`));

/** The verdict request (first turn) of job `name` that showed the judge exactly this. */
function verdictRequest(name: string, shown: Shown): FakeChatRequest {
  const tags = shown.responses.length === 1 ? ['response'] : ['response_a', 'response_b'];
  const found = judgeCallsOf(name).filter(
    (c) => !isRepairTurn(c) && section(c.userText, 'input') === shown.input && tags.every((tag, k) => section(c.userText, tag) === shown.responses[k]),
  );
  expect(found, `${name}: the verdict request showing ${JSON.stringify(shown)}`).toHaveLength(1);
  return found[0]!;
}

/** Result-file fields holding the judge prompt of each pass, the original order first. */
const PROMPT_FIELDS: Record<EvaluationType, readonly string[]> = {
  classify: ['judge_prompt'],
  score: ['judge_prompt'],
  compare: ['judge_prompt_original', 'judge_prompt_flipped'],
};

/** A row's judge prompts as the result file records them: the messages of each pass's verdict request. */
function judgePrompts(jobCase: JobCase, row: Json): Json {
  const passes = jobCase.shown?.(row) ?? [];
  return Object.fromEntries(passes.map((shown, k) => [PROMPT_FIELDS[jobCase.type][k], verdictRequest(jobCase.name, shown).messages]));
}

/**
 * Together's result fields: the properties of the upstream `Evaluation*Results` schemas, and of
 * score's `aggregated_scores`. Everything else in `results` is an assay addition.
 */
const TOGETHER_FIELDS: Record<EvaluationType, readonly string[]> = {
  classify: ['generation_fail_count', 'judge_fail_count', 'invalid_label_count', 'result_file_id', 'pass_percentage', 'label_counts'],
  score: ['aggregated_scores', 'generation_fail_count', 'judge_fail_count', 'invalid_score_count', 'failed_samples', 'result_file_id'],
  compare: ['num_samples', 'A_wins', 'B_wins', 'Ties', 'generation_fail_count', 'judge_fail_count', 'result_file_id'],
};
const TOGETHER_AGGREGATES = ['mean_score', 'std_score', 'pass_percentage'];

function split(entries: Json, together: readonly string[]): { together: Json; additions: Json } {
  const own = Object.entries(entries);
  return {
    together: Object.fromEntries(own.filter(([k]) => together.includes(k))),
    additions: Object.fromEntries(own.filter(([k]) => !together.includes(k))),
  };
}

/** Splits `results` into Together's fields and assay's additions. */
function splitResults(type: EvaluationType, results: Json): { together: Json; additions: Json } {
  const { together, additions } = split(results, TOGETHER_FIELDS[type]);
  const aggregates = together['aggregated_scores'];
  if (type === 'score' && aggregates !== null && typeof aggregates === 'object') {
    const inner = split(aggregates as Json, TOGETHER_AGGREGATES);
    together['aggregated_scores'] = inner.together;
    additions['aggregated_scores'] = inner.additions;
  }
  return { together, additions };
}

/** The `progress` of an unfinished job of `rows` rows. */
function expectProgress(progress: unknown, rows: number): void {
  expect(progress).toEqual({
    rows_total: rows,
    rows_done: expect.toSatisfy((n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= rows, `0..${rows} rows`),
    rows_failed: expect.toSatisfy((n: unknown) => Number.isInteger(n) && (n as number) >= 0, 'a count'),
    rows_per_second: expect.toSatisfy((x: unknown) => x === null || (typeof x === 'number' && x > 0), 'null or a positive rate'),
    eta_seconds: expect.toSatisfy((x: unknown) => x === null || (typeof x === 'number' && x >= 0), 'null or a non-negative ETA'),
    // The fake never rate-limits.
    waiting_on_rate_limit: false,
  });
  const { rows_done: done, rows_failed: failed } = progress as { rows_done: number; rows_failed: number };
  expect(failed).toBeLessThanOrEqual(done);
}

const RFC3339_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('together-ai SDK against a real assay server', () => {
  describe('files', () => {
    it('files.upload returns a processed FileResponse with the basename, type and line count', async () => {
      for (const name of DATASET_NAMES) {
        const { file, rows, type } = DATASETS[name];
        const uploaded = uploads[name];
        const size = (await stat(join(workDir, file))).size;
        expect(uploaded, name).toMatchObject({
          id: expect.stringMatching(/^file-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
          object: 'file',
          filename: file,
          bytes: size,
          purpose: 'eval',
          Processed: true,
          FileType: type,
          LineCount: rows.length,
        });
        expect(Number.isInteger(uploaded.created_at)).toBe(true);
        expect(Math.abs(uploaded.created_at - Date.now() / 1000)).toBeLessThan(600);
        expectSchema('FileResponse', uploaded);
      }
      expect(new Set(DATASET_NAMES.map((n) => uploads[n].id)).size).toBe(DATASET_NAMES.length);
    });

    it('files.retrieve and files.list show the uploads as they were returned', async () => {
      for (const name of DATASET_NAMES) {
        const retrieved = see(await client.files.retrieve(uploads[name].id));
        expect(retrieved).toEqual(uploads[name]);
        expectResponse('GET', `/v1/files/${uploads[name].id}`, 200, retrieved);
      }
      const list = see(await client.files.list());
      expectResponse('GET', '/v1/files', 200, list);
      for (const name of DATASET_NAMES) {
        expect(list.data.find((f) => f.id === uploads[name].id)).toEqual(uploads[name]);
      }
      // The result files of the completed jobs are listed too, as eval-output.
      const resultIds = COMPLETED.map((j) => (job(j.name).final.results as Json)['result_file_id']);
      for (const id of resultIds) {
        expect(list.data.find((f) => f.id === id)).toMatchObject({ purpose: 'eval-output', FileType: 'jsonl', Processed: true });
      }
      expect(list.data).toHaveLength(DATASET_NAMES.length + COMPLETED.length);
    });
  });

  describe('evals.create', () => {
    it('answers every job with {workflow_id, status: "pending"} matching the upstream schema', () => {
      for (const jobCase of JOBS) {
        const { id, createResponse } = job(jobCase.name);
        expect(createResponse, jobCase.name).toEqual({ workflow_id: id, status: 'pending' });
        expect(id).toMatch(/^eval-[0-9a-f]{4}-\d{10}$/);
        expectResponse('POST', '/v1/evaluation', 200, createResponse);
      }
      expect(new Set(JOBS.map((j) => job(j.name).id)).size).toBe(JOBS.length);
    });
  });

  for (const jobCase of JOBS) {
    describe(`${jobCase.type} job ${jobCase.name}`, () => {
      it(`evals.status ends in ${jobCase.status} with exactly the expected results`, () => {
        const { id, final, polled } = job(jobCase.name);
        if (jobCase.status === 'completed') {
          expect(Object.keys(final).sort()).toEqual(['results', 'status']);
          expect(final.status).toBe('completed');
          const { together, additions } = splitResults(jobCase.type, final.results as Json);
          // Together's fields, exactly.
          expect(together).toEqual({ ...jobCase.results, result_file_id: expect.stringMatching(/^file-/) });
          // assay's additions beside them, and nothing else (no `cost`: the server has no price table).
          expect(additions).toEqual({ ...jobCase.additions, usage: expectedUsage(jobCase), cache: expectedCache(jobCase) });
        } else {
          expect(final).toEqual({ status: jobCase.status, results: jobCase.results });
        }
        const rows = DATASETS[jobCase.dataset].rows.length;
        for (const body of polled) {
          expectResponse('GET', `/v1/evaluation/${id}/status`, 200, body, { resultsType: jobCase.type, deviations: DEVIATIONS });
          if (TERMINAL.has(body.status ?? '')) {
            expect(body).not.toHaveProperty('progress');
          } else {
            expect(body).not.toHaveProperty('results');
            expect(Object.keys(body).sort()).toEqual(['progress', 'status']);
            expectProgress((body as Json)['progress'], rows);
          }
        }
        if (jobCase.status === 'completed') {
          const resultFileId = (final.results as Json)['result_file_id'];
          expect(Object.values(uploads).map((u) => u.id)).not.toContain(resultFileId);
        }
      });

      it('evals.retrieve shows the job, its status history and the parameters without the token', async () => {
        const { id, sent, final } = job(jobCase.name);
        const body: JobBody = see(await client.evals.retrieve(id));
        expectResponse('GET', `/v1/evaluation/${id}`, 200, body, { resultsType: jobCase.type, deviations: DEVIATIONS });
        expect(body.workflow_id).toBe(id);
        expect(body.type).toBe(jobCase.type);
        expect(body.status).toBe(jobCase.status);
        expect(body.results).toEqual(final.results);
        expect(body).not.toHaveProperty('progress');
        expect(body.parameters).toEqual(withoutTokens(sent));
        expect(typeof body.owner_id).toBe('string');
        expect(body.created_at).toMatch(RFC3339_MICROS);
        expect(body.updated_at).toMatch(RFC3339_MICROS);

        const updates = body.status_updates ?? [];
        expect(updates.map((u) => u.status)).toEqual(['pending', 'queued', 'running', jobCase.status]);
        expect(updates[0]?.message).toBe('Job created and pending for processing');
        for (const update of updates) {
          expect(update.timestamp).toMatch(RFC3339_MICROS);
          expect(typeof update.message).toBe('string');
        }
        const stamps = updates.map((u) => u.timestamp ?? '');
        expect([...stamps].sort()).toEqual(stamps);
        expect(stamps[0]).toBe(body.created_at);
        expect(stamps.at(-1)).toBe(body.updated_at);
      });

      if (jobCase.lines !== undefined) {
        const expectedLines = jobCase.lines;
        it('the result file has one line per row, in order, with the input columns and the verdicts', async () => {
          const { final } = job(jobCase.name);
          const resultFileId = String((final.results as Json)['result_file_id']);
          const response = await client.files.content(resultFileId);
          expect(response.status).toBe(200);
          const text = see(await response.text());
          expect(text.endsWith('\n')).toBe(true);
          const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Json);
          expect(lines).toHaveLength(expectedLines.length);
          const rows = DATASETS[jobCase.dataset].rows;
          lines.forEach((line, i) => {
            const row = rows[i]!;
            // The input columns come first, in their order, unchanged.
            expect(Object.keys(line).slice(0, Object.keys(row).length), `row ${i}`).toEqual(Object.keys(row));
            // The verdicts, and the judge prompt(s): the messages of the row's verdict request(s).
            expect(line, `row ${i}`).toEqual({ ...expectedLines[i], ...judgePrompts(jobCase, row) });
            // Two usable passes: passes_agree says whether they chose the same model.
            if (typeof line['choice_original'] === 'string' && typeof line['choice_flipped'] === 'string') {
              expect(line['passes_agree'], `row ${i}`).toBe(line['choice_original'] === line['choice_flipped']);
            } else {
              expect(line, `row ${i}`).not.toHaveProperty('passes_agree');
            }
            // No repair turn produced a usable verdict in these jobs.
            expect(line, `row ${i}`).not.toHaveProperty('judge_repaired');
          });

          const meta = see(await client.files.retrieve(resultFileId));
          expectSchema('FileResponse', meta);
          expect(meta).toMatchObject({
            id: resultFileId,
            object: 'file',
            purpose: 'eval-output',
            FileType: 'jsonl',
            Processed: true,
            LineCount: expectedLines.length,
            bytes: Buffer.byteLength(text),
          });
        });
      }

      if (jobCase.judgeCalls !== null) {
        const expectedJudgeCalls = jobCase.judgeCalls;
        it('the provider saw the expected judge and generation calls', () => {
          const calls = judgeCallsOf(jobCase.name);
          expect(calls).toHaveLength(expectedJudgeCalls);
          for (const [tag, n] of Object.entries(jobCase.generationCalls)) {
            expect(generationCallsOf(jobCase.name, tag), `${tag} generations`).toHaveLength(n);
          }
          // One repair turn per unusable reply, and only for those.
          const repairs = calls.filter(isRepairTurn);
          expect(repairs).toHaveLength(jobCase.repairs.length);
          const rows = DATASETS[jobCase.dataset].rows;
          for (const { row, pass } of jobCase.repairs) {
            const request = verdictRequest(jobCase.name, jobCase.shown!(rows[row]!)[pass]!);
            // The verdict request again, then the judge's reply to it, then why it could not be used.
            const turns = repairs.filter((c) => isDeepStrictEqual(c.messages.slice(0, 2), request.messages));
            expect(turns, `row ${row} pass ${pass}`).toHaveLength(1);
            const turn = turns[0]!;
            const reply = fakeReply(request);
            expect('content' in reply).toBe(true);
            expect(turn.messages[2]).toEqual({ role: 'assistant', content: (reply as { content: string }).content });
            expect(turn.messages[3]?.role).toBe('user');
            const followUp = String(turn.messages[3]?.content);
            expect(followUp.startsWith(REPAIR_PREFIX), followUp).toBe(true);
            // After the reason, it restates the reply format the system message gave.
            const restated = followUp.slice(followUp.indexOf('\n') + 1);
            expect(restated).not.toBe('');
            expect(request.systemText).toContain(restated);
            // Same model, settings and response format as the request it repairs.
            expect({ ...turn.body, messages: null }).toEqual({ ...request.body, messages: null });
          }
        });
      }
    });
  }

  describe('evals.list', () => {
    it('returns a bare array of every job, newest first', async () => {
      const list = see(await client.evals.list());
      expect(Array.isArray(list)).toBe(true);
      expectResponse('GET', '/v1/evaluation', 200, list, { deviations: DEVIATIONS });
      const newestFirst = [...JOBS].reverse().map((j) => job(j.name).id);
      expect(list.map((j) => j.workflow_id)).toEqual(newestFirst);
      for (const item of list) {
        const detail = see(await client.evals.retrieve(item.workflow_id!));
        expect(item).toEqual(detail);
      }
    });

    it('filters by status and honours limit', async () => {
      const completed = see(await client.evals.list({ status: 'completed' }));
      expect(completed.map((j) => j.workflow_id)).toEqual([...COMPLETED].reverse().map((j) => job(j.name).id));
      expect(completed.every((j) => j.status === 'completed')).toBe(true);

      const failed = see(await client.evals.list({ status: 'user_error' }));
      expect(failed.map((j) => j.workflow_id)).toEqual([job('classify-denied').id]);

      expect(see(await client.evals.list({ status: 'running' }))).toEqual([]);

      const newest = see(await client.evals.list({ limit: 3 }));
      expect(newest.map((j) => j.workflow_id)).toEqual([...JOBS].reverse().slice(0, 3).map((j) => job(j.name).id));
    });
  });

  describe("assay's additions", () => {
    it('every interval holds its estimate and stays within its range', () => {
      for (const jobCase of COMPLETED) {
        const { final, sent } = job(jobCase.name);
        const results = final.results as Json;
        if (jobCase.type === 'classify') {
          expect(results['pass_percentage_ci'], jobCase.name).toEqual(intervalAround(results['pass_percentage'] as number, 0, 100));
          const counts = results['label_counts'] as Record<string, number>;
          const valid = Object.values(counts).reduce((a, b) => a + b, 0);
          const shares = results['label_proportions'] as Record<string, { proportion: number; low: number; high: number }>;
          expect(Object.keys(shares)).toEqual(Object.keys(counts));
          for (const [label, { proportion, ...ci }] of Object.entries(shares)) {
            expect(proportion, `${jobCase.name} ${label}`).toBeCloseTo(counts[label]! / valid, 6);
            expect(ci, `${jobCase.name} ${label}`).toEqual(intervalAround(proportion, 0, 1));
          }
        } else if (jobCase.type === 'score') {
          const scores = results['aggregated_scores'] as Json;
          const [min, max] = [sent['min_score'] as number, sent['max_score'] as number];
          expect(scores['mean_score_ci'], jobCase.name).toEqual(intervalAround(scores['mean_score'] as number, min, max));
          expect(scores['pass_percentage_ci'], jobCase.name).toEqual(intervalAround(scores['pass_percentage'] as number, 0, 100));
        } else {
          expect(results['win_rate_a_ci'], jobCase.name).toEqual(intervalAround(results['win_rate_a'] as number, 0, 1));
        }
      }
    });
  });

  describe('what the provider saw', () => {
    it('judge calls ask for a json_schema verdict; generation calls ask for no format', () => {
      const judgeCalls = fake.calls.filter((c) => c.model === JUDGE || c.model === DENIED_JUDGE);
      const generationCalls = fake.calls.filter((c) => c.model !== JUDGE && c.model !== DENIED_JUDGE);
      expect(judgeCalls.length).toBeGreaterThan(0);
      for (const call of judgeCalls) {
        expect(call.body['response_format']).toMatchObject({ type: 'json_schema', json_schema: { name: 'verdict', strict: true } });
        // A verdict request, or a repair turn continuing one with the judge's reply and a follow-up.
        expect(call.messages.map((m) => m.role)).toEqual(isRepairTurn(call) ? ['system', 'user', 'assistant', 'user'] : ['system', 'user']);
      }
      expect(count(judgeCalls, isRepairTurn)).toBe(JOBS.reduce((n, j) => n + j.repairs.length, 0));
      for (const call of generationCalls) expect(call.body).not.toHaveProperty('response_format');

      const schemaOf = (name: string) =>
        (judgeCallsOf(name)[0]?.body['response_format'] as { json_schema: { schema: Json } } | undefined)?.json_schema.schema;
      expect(schemaOf('classify-generation')).toMatchObject({
        required: ['feedback', 'label'],
        properties: { label: { type: 'string', enum: ['good', 'bad', 'ugly'] } },
      });
      expect(schemaOf('score-generation')).toMatchObject({
        required: ['feedback', 'score'],
        properties: { score: { type: 'number', minimum: 0, maximum: 10 } },
      });
      expect(schemaOf('compare-column')).toMatchObject({
        required: ['feedback', 'choice'],
        properties: { choice: { type: 'string', enum: ['A', 'B'] } },
      });
    });

    it('judge calls carry the rendered template, the input and the response, with the right settings and key', () => {
      const calls = judgeCallsOf('classify-column');
      for (const [i, row] of classifyColumnRows.entries()) {
        const mine = calls.filter((c) => section(c.userText, 'response') === row['answer']);
        expect(mine, `row ${i}`).toHaveLength(1);
        const call = mine[0]!;
        expect(call.systemText.startsWith(`[classify-column] Grade the answer to: ${String(row['question'])}\n\n`)).toBe(true);
        // Column mode: the input is the row's other columns.
        expect(section(call.userText, 'input')).toBe(JSON.stringify({ question: row['question'], meta: row['meta'] }));
        expect(call.body).toMatchObject({ model: JUDGE, max_tokens: JUDGE_DEFAULT_MAX_TOKENS, temperature: JUDGE_DEFAULT_TEMPERATURE });
        expect(call.headers['authorization']).toBe(`Bearer ${PROVIDER_KEY}`);
      }

      for (const call of judgeCallsOf('classify-generation')) {
        expect(call.body).toMatchObject({ model: JUDGE, max_tokens: 512, temperature: 0 });
        // Generation mode: the input is the rendered input template, the response what the model said.
        const input = section(call.userText, 'input');
        expect(input).toMatch(/^Write about topic \d LABEL=[a-z]+\.$/);
        expect(section(call.userText, 'response')).toBe(generated(GEN, input ?? ''));
      }

      for (const call of judgeCallsOf('score-column')) {
        expect(call.body).toMatchObject({ model: JUDGE, max_tokens: 256, temperature: 0 });
        expect(call.headers['authorization']).toBe(`Bearer ${SECRET}`);
      }
    });

    it('generation calls render the model config: system and input templates, max_tokens, temperature', () => {
      const check = (name: string, tag: string, model: string, system: string, input: (row: Json) => string, maxTokens: number, temperature: number, key: string, rows: Json[]) => {
        const calls = generationCallsOf(name, tag);
        const inputs = calls.map((c) => c.userText).sort();
        expect(inputs).toEqual(rows.map(input).sort());
        for (const call of calls) {
          expect(call.model).toBe(model);
          expect(call.messages).toEqual([
            { role: 'system', content: system },
            { role: 'user', content: call.userText },
          ]);
          expect(call.body).toMatchObject({ max_tokens: maxTokens, temperature });
          expect(call.headers['authorization']).toBe(`Bearer ${key}`);
        }
      };
      check('classify-generation', 'gen', GEN, '[classify-generation:gen] You are a writer.', (r) => `Write about ${String(r['topic'])}.`, 64, 0.3, PROVIDER_KEY, classifyGenerationRows);
      check('score-generation', 'gen', GEN, '[score-generation:gen] Be brief.', (r) => `Do ${String(r['task'])}`, 128, 0.7, PROVIDER_KEY, scoreGenerationRows);
      check('compare-generation', 'a', GEN_A, '[compare-generation:a] You are model A.', (r) => String(r['prompt']), 48, 0.2, SECRET, compareGenerationRows);
      check('compare-generation', 'b', GEN_B, '[compare-generation:b] You are model B.', (r) => `Please answer: ${String(r['prompt'])}`, 40, 0.4, PROVIDER_KEY, compareGenerationRows);
    });

    it('two-pass compare asks each row in both orders; with correction disabled, once in the original order', () => {
      const twoPass = judgeCallsOf('compare-column');
      const onePass = judgeCallsOf('compare-first');
      for (const [i, row] of compareColumnRows.entries()) {
        const shown = (c: FakeChatRequest, first: unknown, second: unknown) =>
          section(c.userText, 'response_a') === first && section(c.userText, 'response_b') === second;
        expect(count(twoPass, (c) => shown(c, row['resp_a'], row['resp_b'])), `row ${i} original`).toBe(1);
        expect(count(twoPass, (c) => shown(c, row['resp_b'], row['resp_a'])), `row ${i} flipped`).toBe(1);
        expect(count(onePass, (c) => shown(c, row['resp_a'], row['resp_b'])), `row ${i} single pass`).toBe(1);
      }
      expect(onePass).toHaveLength(compareColumnRows.length);

      // Generation mode: the judge sees what the generators said, A first in the original order.
      const generationPasses = judgeCallsOf('compare-generation');
      for (const row of compareGenerationRows) {
        const a = generated(GEN_A, String(row['prompt']));
        const b = generated(GEN_B, `Please answer: ${String(row['prompt'])}`);
        expect(count(generationPasses, (c) => section(c.userText, 'response_a') === a && section(c.userText, 'response_b') === b)).toBe(1);
        expect(count(generationPasses, (c) => section(c.userText, 'response_a') === b && section(c.userText, 'response_b') === a)).toBe(1);
      }
    });

    it('the refused judge was called with the provider key, at most once per row', () => {
      const denied = judgeCallsOf('classify-denied');
      expect(denied.length).toBeGreaterThanOrEqual(1);
      expect(denied.length).toBeLessThanOrEqual(classifyColumnRows.length);
      for (const call of denied) expect(call.headers['authorization']).toBe(`Bearer ${PROVIDER_KEY}`);
    });
  });

  it('the external API token reaches the provider but no response body, result file or log', async () => {
    // It was used: the external judge and model A were called with it.
    expect(fake.calls.some((c) => c.headers['authorization'] === `Bearer ${SECRET}`)).toBe(true);

    // Everything the SDK returned during the test.
    const everything = [...seenBodies];
    // And a sweep of every read endpoint, raw, as any HTTP client would see it.
    const get = async (path: string): Promise<string> => {
      const res = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: 'Bearer assay-e2e-key' } });
      expect(res.status, path).toBe(200);
      return res.text();
    };
    everything.push(await get('/evaluation?limit=100'), await get('/evaluations?limit=100'), await get('/files'));
    for (const jobCase of JOBS) {
      const { id } = job(jobCase.name);
      everything.push(await get(`/evaluation/${id}`), await get(`/evaluation/${id}/status`));
    }
    const files = JSON.parse(await get('/files')) as { data: Array<{ id: string }> };
    for (const file of files.data) everything.push(await get(`/files/${file.id}/content`));
    everything.push(server.stdout(), server.stderr());

    expect(everything.length).toBeGreaterThan(JOBS.length * 3);
    for (const text of everything) expect(text).not.toContain(SECRET);
  });
});
