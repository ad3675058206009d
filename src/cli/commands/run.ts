/**
 * `assay run`: a one-shot evaluation of a local JSONL/CSV file in this process, no server; the same
 * command run again resumes it. The work is in run/execute.ts, loaded only when `run` is invoked.
 */
import type { Command } from 'commander';
import { action, type CliIO } from '../context.js';
import { addJobOptions } from '../job-options.js';

const EXAMPLES = `
The run's state (a SQLite database with every row judged so far) lives in <input>.assay/,
keyed by the input's content and the job's flags: run the same command again after an
interruption and it carries on where it stopped; run it after it finished and it shows the
results again without calling any model. The per-row results go to
<input name>.results.jsonl next to the input. Exit code 0 when the job completed, 1 otherwise.

Examples:
  # judge answers already in the file with a local OpenAI-compatible server
  $ assay run data.jsonl --type classify \\
      --judge-model llama3.1 --judge-system-template 'Is the answer to "{{question}}" correct?' \\
      --model-field answer --labels 'correct,incorrect' --pass-labels correct \\
      --provider-base-url http://127.0.0.1:11434/v1

  # generate responses and score them on Together (TOGETHER_API_KEY set)
  $ assay run prompts.csv --type score --judge-model openai/gpt-oss-120b \\
      --judge-system-template @judge.txt \\
      --model-to-evaluate Qwen/Qwen3.5-9B --model-to-evaluate-input-template '{{prompt}}' \\
      --min-score 1 --max-score 10 --pass-threshold 7`;

export function registerRunCommand(program: Command, io: CliIO): void {
  const cmd = program
    .command('run')
    .description('evaluate a local JSONL/CSV file in this process, no server needed; re-running resumes')
    .argument('<input>', 'the dataset: a JSONL or CSV file');
  addJobOptions(cmd, { withInput: false });
  cmd
    .option('--provider-base-url <url>', 'OpenAI-compatible server for serverless/dedicated models (env ASSAY_PROVIDER_BASE_URL; default Together)')
    .option('--provider-api-key <key>', 'its API key (env ASSAY_PROVIDER_API_KEY, then TOGETHER_API_KEY)')
    .option('-o, --output <path>', 'where to write the per-row results (default <input name>.results.jsonl next to the input)')
    .option('--state-dir <dir>', 'where runs are kept (default <input>.assay)')
    .option('--fresh', 'forget this run and evaluate every row again')
    .option('--retry-failed', 'judge again the rows of a finished run whose model calls failed')
    .addHelpText('after', EXAMPLES)
    .action(
      action(io, async (ctx, input: string) => {
        const { runLocal } = await import('../run/execute.js');
        await runLocal(ctx, input);
      }),
    );
}
