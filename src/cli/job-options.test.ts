import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { addJobOptions, buildJobRequest } from './job-options.js';

/** Parses `args` with the job flags and builds the request body they describe. */
async function build(args: string[]) {
  const cmd = addJobOptions(new Command().exitOverride(), { withInput: true });
  cmd.parse(args, { from: 'user' });
  return buildJobRequest(cmd.opts(), 'file-1');
}

const judge = ['--judge-model', 'j', '--judge-system-template', 'Judge {{q}}'];

describe('buildJobRequest', () => {
  it('builds a classify body with a generated response and its settings', async () => {
    const body = await build([
      '--type', 'classify', ...judge, '--judge-temperature', '0.2', '--num-workers', '3',
      '--model-to-evaluate', 'm', '--model-to-evaluate-input-template', '{{q}}', '--model-to-evaluate-max-tokens', '64',
      '--labels', 'yes, no', '--pass-labels', 'yes',
    ]);
    expect(body).toEqual({
      type: 'classify',
      parameters: {
        input_data_file_path: 'file-1',
        judge: { model: 'j', model_source: 'serverless', system_template: 'Judge {{q}}', temperature: 0.2, num_workers: 3 },
        model_to_evaluate: { model: 'm', model_source: 'serverless', input_template: '{{q}}', max_tokens: 64, num_workers: 3 },
        labels: ['yes', 'no'],
        pass_labels: ['yes'],
      },
    });
  });

  it('builds a compare body from two columns', async () => {
    const body = await build(['--type', 'compare', ...judge, '--model-a-field', 'a', '--model-b-field', 'b', '--disable-position-bias-correction']);
    expect(body.parameters).toMatchObject({ model_a: 'a', model_b: 'b', disable_position_bias_correction: true });
  });

  it.each([
    [['--type', 'classify', ...judge, '--model-field', 'r', '--labels', 'one', '--pass-labels', 'one'], /--labels needs at least two labels/],
    [['--type', 'classify', ...judge, '--model-field', 'r', '--labels', 'a,b', '--pass-labels', 'c'], /--pass-labels "c" is not one of --labels \(a, b\)/],
    [['--type', 'classify', ...judge, '--labels', 'a,b', '--pass-labels', 'a'], /classify needs the response to judge/],
    [['--type', 'score', ...judge, '--model-field', 'r', '--min-score', '1', '--max-score', '5'], /score needs --pass-threshold/],
    [['--type', 'score', ...judge, '--model-field', 'r', '--min-score', '1', '--max-score', '5', '--pass-threshold', '9'], /--pass-threshold \(9\) must lie between/],
    [['--type', 'score', ...judge, '--model-to-evaluate', 'm', '--min-score', '1', '--max-score', '5', '--pass-threshold', '3'], /--model-to-evaluate needs --model-to-evaluate-input-template/],
    [['--type', 'score', ...judge, '--model-to-evaluate-temperature', '1', '--min-score', '1', '--max-score', '5', '--pass-threshold', '3'], /--model-to-evaluate-temperature needs --model-to-evaluate MODEL/],
    [['--type', 'compare', ...judge, '--model-a-field', 'a', '--model-a', 'x', '--model-b-field', 'b'], /--model-a-field cannot be combined with --model-a/],
    [['--type', 'compare', ...judge, '--model-a-field', 'a'], /compare needs model B/],
    [['--type', 'compare', ...judge, '--model-a-field', 'a', '--model-b-field', 'b', '--labels', 'x,y'], /--labels applies to --type classify, not compare/],
    [['--type', 'classify', '--judge-model', 'j', '--model-field', 'r'], /--judge-system-template is required/],
    [['--type', 'classify', ...judge.slice(0, 2), '--judge-system-template', '@/nonexistent/judge.txt'], /cannot read the file/],
  ])('refuses %j', async (args, message) => {
    const error = await build(args).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });
});
