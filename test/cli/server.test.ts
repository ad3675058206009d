/**
 * The client commands (`files …`, `evals …`) as users run them: the real binary against a real
 * assay server process, with a fake OpenAI-compatible provider as the judge.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../src/testing/fake-provider.js';
import { GOOD, jsonl, scriptedJudge } from '../integration/harness.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { closedPort, json, runCli } from './cli.js';

let fake: FakeProvider;
let server: ServerProcess;
let dir: string;
let dataset: string;

const ROWS = [
  { question: '2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens' },
];

/** Runs the CLI against the test server. */
const assay = (args: string[]) => runCli(['--base-url', server.baseUrl, ...args], { cwd: dir });

const createArgs = (input: string) => [
  'evals',
  'create',
  '--type',
  'classify',
  '--judge-model',
  'judge-model',
  '--judge-system-template',
  'Is the answer to "{{question}}" correct?',
  '--input-data-file-path',
  input,
  '--model-field',
  'answer',
  '--labels',
  'correct,incorrect',
  '--pass-labels',
  'correct',
];

interface FileJson {
  id: string;
  filename: string;
  purpose: string;
  LineCount: number;
}

beforeAll(async () => {
  fake = await startFakeProvider({ reply: scriptedJudge });
  server = await startServer({ env: { ASSAY_PROVIDER_BASE_URL: fake.url, ASSAY_LOG_LEVEL: 'warn' } });
  dir = await mkdtemp(join(tmpdir(), 'assay-cli-server-'));
  dataset = join(dir, 'qa.jsonl');
  await writeFile(dataset, jsonl(ROWS));
});
afterAll(async () => {
  await server?.cleanup();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('assay files', () => {
  it('uploads (three-step and direct), lists, gets, downloads and deletes', async () => {
    const uploaded = await assay(['--json', 'files', 'upload', dataset]);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    const file = json<FileJson>(uploaded);
    expect(file).toMatchObject({ filename: 'qa.jsonl', purpose: 'eval', LineCount: 3 });

    const direct = json<FileJson>(await assay(['files', 'upload', dataset, '--direct', '--file-name', 'direct.jsonl', '--json']));
    expect(direct).toMatchObject({ filename: 'direct.jsonl', LineCount: 3 });

    const listed = await assay(['files', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const ids = json<{ data: FileJson[] }>(listed).data.map((f) => f.id);
    expect(ids).toEqual(expect.arrayContaining([file.id, direct.id]));

    const table = await assay(['files', 'list']);
    expect(table.stdout).toMatch(/^ID\s+FILENAME\s+PURPOSE\s+ROWS/m);
    expect(table.stdout).toContain(file.id);

    expect(json<FileJson>(await assay(['files', 'get', file.id, '--json'])).id).toBe(file.id);

    const out = join(dir, 'copy.jsonl');
    const downloaded = await assay(['files', 'download', file.id, '-o', out]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(jsonl(ROWS));
    const again = await assay(['files', 'download', file.id, '-o', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists[\s\S]*--force/);

    const deleted = await assay(['files', 'delete', direct.id, '--json']);
    expect(json(deleted)).toMatchObject({ id: direct.id, deleted: true });
    const after = json<{ data: FileJson[] }>(await assay(['files', 'list', '--json'])).data.map((f) => f.id);
    expect(after).not.toContain(direct.id);
  });
});

describe('assay evals', () => {
  it('creates a job from a file id, follows it to the end and shows its results', async () => {
    const file = json<FileJson>(await assay(['files', 'upload', dataset, '--json']));
    const created = await assay(['--json', ...createArgs(file.id)]);
    expect(created.code, created.stderr).toBe(0);
    const job = json<{ workflow_id: string; status: string; type: string; parameters: Record<string, unknown> }>(created);
    expect(job.workflow_id).toMatch(/^eval-[0-9a-f]{4}-\d+$/);
    expect(job.type).toBe('classify');
    expect(job.parameters).toMatchObject({ input_data_file_path: file.id, labels: ['correct', 'incorrect'], pass_labels: ['correct'], model_to_evaluate: 'answer' });

    const watched = await assay(['evals', 'status', job.workflow_id, '--watch', '--interval', '0.1', '--json']);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toBe('');
    const final = json<{ status: string; results: Record<string, unknown> }>(watched);
    expect(final.status).toBe('completed');
    expect(final.results).toMatchObject({ label_counts: { correct: 2, incorrect: 1 } });

    const status = json<{ status: string }>(await assay(['evals', 'status', job.workflow_id, '--json']));
    expect(status.status).toBe('completed');

    const out = join(dir, 'results.jsonl');
    const results = await assay(['evals', 'results', job.workflow_id, '--download', out]);
    expect(results.code, results.stderr).toBe(0);
    expect(results.stdout).toMatch(/classify · completed/);
    expect(results.stdout).toMatch(/pass rate\s+66\.7%\s+\[[\d.]+%, [\d.]+%\]\s+2 of 3 valid verdicts correct/);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);

    const list = json<Array<{ workflow_id: string }>>(await assay(['evals', 'list', '--json']));
    expect(list.map((j) => j.workflow_id)).toContain(job.workflow_id);
  });

  it('uploads a local dataset given as --input-data-file-path, then creates the job', async () => {
    const created = await assay([...createArgs(dataset), '--watch', '--interval', '0.1']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/uploaded .*qa\.jsonl as file-/);
    expect(created.stdout).toMatch(/classify · completed/);
  });

  it('passes on the server’s refusal with a non-zero exit code', async () => {
    const file = json<FileJson>(await assay(['files', 'upload', dataset, '--json']));
    const bad = await assay(createArgs(file.id).map((a) => (a === 'answer' ? 'response' : a)));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^assay: .*response/m);

    const missing = await assay(['evals', 'get', 'eval-0000-1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no evaluation job with id "eval-0000-1"/);
  });

  it('refuses a bad flag combination before calling the server', async () => {
    const result = await assay(createArgs('file-123').map((a) => (a === 'correct,incorrect' ? 'correct' : a)));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--labels needs at least two labels/);

    const score = await runCli(['evals', 'create', '--type', 'score', '--judge-model', 'j', '--judge-system-template', 'x', '--model-field', 'a', '--input-data-file-path', 'file-1', '--min-score', '5', '--max-score', '1', '--pass-threshold', '3']);
    expect(score.code).toBe(2);
    expect(score.stderr).toMatch(/--min-score \(5\) must be below --max-score \(1\)/);

    const unknown = await runCli(['evals', 'create', '--nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--nope'/);
  });

  it('has help with examples', async () => {
    const help = await runCli(['evals', 'create', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/--judge-model-source/);
  });
});

describe('connection errors', () => {
  it('says how to start a server when nothing listens', async () => {
    const port = await closedPort();
    const base = `http://127.0.0.1:${port}/v1`;
    const result = await runCli(['files', 'list', '--base-url', base]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`no assay server at ${base}; start one with \`npx assay serve\` or pass --base-url`);

    const fromEnv = await runCli(['evals', 'list'], { env: { ASSAY_BASE_URL: base } });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain(`no assay server at ${base}`);
  });

  it('hints at /v1 when the base URL lacks it', async () => {
    const result = await runCli(['files', 'list', '--base-url', server.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`try --base-url ${server.url}/v1`);
  });
});
