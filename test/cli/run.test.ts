/**
 * `assay run` as users run it: the real binary in a child process, the embedded engine inside it,
 * a fake OpenAI-compatible provider on a real port as judge and model. Covers progress and summary,
 * the result file, idempotent re-runs (no model call at all), resuming after Ctrl-C without
 * sending judged rows again, refusing a second run of the same command while the first runs, and
 * refusing bad flag combinations.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../src/testing/fake-provider.js';
import { GOOD, jsonl, scriptedJudge } from '../integration/harness.js';
import { waitFor } from '../support/server-process.js';
import { json, runCli, startCli } from './cli.js';

let fake: FakeProvider;
let dir: string;

const QA = [
  { question: '2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Largest planet?', answer: `Jupiter ${GOOD}` },
  { question: 'Boiling point of water?', answer: `100 °C ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens' },
];

const classifyArgs = (input: string, extra: string[] = []) => [
  'run',
  input,
  '--type',
  'classify',
  '--judge-model',
  'judge-model',
  '--judge-system-template',
  'Is the answer to "{{question}}" correct?',
  '--model-field',
  'answer',
  '--labels',
  'correct,incorrect',
  '--pass-labels',
  'correct',
  '--provider-base-url',
  fake.url,
  ...extra,
];

beforeAll(async () => {
  fake = await startFakeProvider({ reply: scriptedJudge });
  dir = await mkdtemp(join(tmpdir(), 'assay-cli-run-'));
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.setReply(scriptedJudge);
  fake.reset();
});

describe('assay run', () => {
  it('evaluates a file in-process, shows progress and a summary, writes the result file; running it again calls no model', async () => {
    const input = join(dir, 'qa.jsonl');
    await writeFile(input, jsonl(QA));

    const first = await runCli(classifyArgs(input), { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    // Progress on stderr (a plain line, as stderr is not a terminal here), the summary on stdout.
    expect(first.stderr).toMatch(/5\/5 rows \(100%\)/);
    expect(first.stdout).toMatch(/^classify · completed · 5 rows$/m);
    expect(first.stdout).toMatch(/pass rate\s+80%\s+\[\d+(\.\d)?%, \d+(\.\d)?%\]\s+4 of 5 valid verdicts correct/);
    expect(first.stdout).toMatch(/invalid verdicts\s+0/);
    expect(first.stdout).toMatch(/judge failures\s+0/);
    expect(first.stdout).toMatch(/tokens\s+[\d,]+/);
    expect(first.stdout).toMatch(/result file\s+qa\.results\.jsonl/);
    expect(fake.calls).toHaveLength(5);

    const lines = (await readFile(join(dir, 'qa.results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(5);
    expect(lines.map((l) => l.label)).toEqual(['correct', 'correct', 'correct', 'correct', 'incorrect']);
    expect(lines[0]).toMatchObject({ question: '2+2?', evaluation_successful: true });
    // The state folder sits next to the input.
    expect(existsSync(join(dir, 'qa.jsonl.assay'))).toBe(true);

    fake.reset();
    const again = await runCli(classifyArgs(input), { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(fake.calls).toHaveLength(0);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr).toMatch(/already evaluated/);

    const asJson = await runCli(['--json', ...classifyArgs(input)], { cwd: dir });
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(fake.calls).toHaveLength(0);
    // Machine-readable output only: no progress, no notes.
    expect(asJson.stderr).toBe('');
    const body = json<{ status: string; rows: number; results: Record<string, unknown>; result_file: string }>(asJson);
    expect(body).toMatchObject({ status: 'completed', rows: 5, result_file: join(dir, 'qa.results.jsonl') });
    expect(body.results).toMatchObject({ pass_percentage: 80, label_counts: { correct: 4, incorrect: 1 }, invalid_label_count: 0 });
  });

  it('other flags or other file contents make another run', async () => {
    const input = join(dir, 'keyed.jsonl');
    await writeFile(input, jsonl(QA));
    expect((await runCli(classifyArgs(input), { cwd: dir })).code).toBe(0);
    expect(fake.calls).toHaveLength(5);

    fake.reset();
    const other = await runCli(classifyArgs(input, ['--judge-temperature', '0.5']), { cwd: dir });
    expect(other.code, other.stderr).toBe(0);
    expect(fake.calls).toHaveLength(5);

    fake.reset();
    await writeFile(input, jsonl(QA.slice(0, 3)));
    const changed = await runCli(classifyArgs(input), { cwd: dir });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(/classify · completed · 3 rows/);
    expect(fake.calls).toHaveLength(3);
    expect(readdirSync(join(dir, 'keyed.jsonl.assay'))).toHaveLength(3);
  });

  it('stops cleanly on Ctrl-C and resumes without judging finished rows again', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({ question: `q${i}`, answer: i % 3 === 0 ? 'wrong' : `right ${GOOD}` }));
    const input = join(dir, 'long.jsonl');
    await writeFile(input, jsonl(rows));
    const slow = await startFakeProvider({ reply: scriptedJudge, latencyMs: 30 });
    try {
      const args = classifyArgs(input, ['--num-workers', '2']).map((a) => (a === fake.url ? slow.url : a));
      const child = startCli(args, { cwd: dir });
      await waitFor(() => slow.calls.length >= 10, { what: 'the first judge calls', timeoutMs: 20_000, intervalMs: 5 });
      child.proc.kill('SIGINT');
      const stopped = await child.done;
      expect(stopped.code, stopped.stderr).toBe(130);
      const match = /interrupted: (\d+) of 120 rows judged/.exec(stopped.stderr);
      expect(match, stopped.stderr).not.toBeNull();
      const judged = Number(match![1]);
      expect(judged).toBeGreaterThan(0);
      expect(judged).toBeLessThan(120);
      expect(stopped.stderr).toMatch(/run the same command again to resume/);

      slow.reset();
      const resumed = await runCli(args, { cwd: dir });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(new RegExp(`resuming eval-\\S+: ${judged} of 120 rows already judged`));
      // Exactly the rows not yet judged were sent (one judge call per row, as every verdict is valid).
      expect(slow.calls).toHaveLength(120 - judged);
      expect(resumed.stdout).toMatch(/classify · completed · 120 rows/);
      expect(resumed.stdout).toMatch(/pass rate\s+66\.7%/);
      const results = (await readFile(join(dir, 'long.results.jsonl'), 'utf8')).trim().split('\n');
      expect(results).toHaveLength(120);
    } finally {
      await slow.close();
    }
  });

  it('refuses a second run of the same command while the first runs, and the first judges each row once', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({ question: `twice ${i}`, answer: `right ${GOOD}` }));
    const input = join(dir, 'twice.jsonl');
    await writeFile(input, jsonl(rows));
    // The first run's calls are answered only once the second run has been turned away.
    let letThrough = (): void => {};
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    const slow = await startFakeProvider({ reply: async (req) => (await held, scriptedJudge(req)) });
    try {
      const args = classifyArgs(input, ['--num-workers', '2']).map((a) => (a === fake.url ? slow.url : a));
      const first = startCli(args, { cwd: dir });
      await waitFor(() => slow.calls.length >= 2, { what: 'the judge calls of the first run', timeoutMs: 20_000, intervalMs: 5 });
      const second = await runCli(args, { cwd: dir });
      letThrough();
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/the data folder \S+ is in use by another assay server or `assay run`/);
      const done = await first.done;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toMatch(/classify · completed · 60 rows/);
      expect(slow.calls).toHaveLength(60);
    } finally {
      await slow.close();
    }
  });

  it('compare shows wins, the win rate with its interval and the flip rate', async () => {
    const input = join(dir, 'pairs.jsonl');
    const pairs = [0, 1, 2, 3, 4].map((i) => ({ prompt: `question ${i}`, answer_a: i < 4 ? `a${i} ${GOOD}` : `a${i}`, answer_b: i < 4 ? `b${i}` : `b${i} ${GOOD}` }));
    await writeFile(input, jsonl(pairs));
    const result = await runCli(
      ['run', input, '--type', 'compare', '--judge-model', 'judge-model', '--judge-system-template', 'Which answer to {{prompt}} is better?', '--model-a-field', 'answer_a', '--model-b-field', 'answer_b', '--provider-base-url', fake.url],
      { cwd: dir },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/A wins\s+4\s+80%/);
    expect(result.stdout).toMatch(/B wins\s+1\s+20%/);
    expect(result.stdout).toMatch(/win rate A\s+80%\s+\[[\d.]+%, [\d.]+%\]\s+sign test p = [\d.]+/);
    expect(result.stdout).toMatch(/flip rate\s+0%/);
    // Two passes per row.
    expect(fake.calls).toHaveLength(10);
  });

  it('refuses bad flag combinations with exit code 2 and says what to do', async () => {
    const input = join(dir, 'bad.jsonl');
    await writeFile(input, jsonl(QA));
    const oneLabel = await runCli(classifyArgs(input).map((a) => (a === 'correct,incorrect' ? 'correct' : a)), { cwd: dir });
    expect(oneLabel.code).toBe(2);
    expect(oneLabel.stderr).toMatch(/--labels needs at least two labels/);
    expect(oneLabel.stderr).toMatch(/--labels 'correct,incorrect'/);

    const both = await runCli(classifyArgs(input, ['--model-to-evaluate', 'some-model']), { cwd: dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--model-field cannot be combined with --model-to-evaluate/);

    const foreign = await runCli(classifyArgs(input, ['--min-score', '1']), { cwd: dir });
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/--min-score applies to --type score, not classify/);

    const unknownColumn = await runCli(classifyArgs(input).map((a) => (a === 'answer' ? 'response' : a)), { cwd: dir });
    expect(unknownColumn.code).toBe(2);
    expect(unknownColumn.stderr).toMatch(/response/);

    const missing = await runCli(classifyArgs(join(dir, 'nope.jsonl')), { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no file .*nope\.jsonl/);
    expect(fake.calls).toHaveLength(0);
  });

  it('has help with examples', async () => {
    const help = await runCli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/--provider-base-url/);
  });
});
