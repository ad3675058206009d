import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { parseJobRequest } from './job-request.js';

const defaults = { judgeMaxTokens: 32768, judgeTemperature: 0.05, generationMaxTokens: 1024, generationTemperature: 0.05 };
const judge = { model: 'judge-model', model_source: 'serverless', system_template: 'Grade {{prompt}}' };

function classify(extra: Record<string, unknown> = {}) {
  return {
    type: 'classify',
    parameters: { judge, input_data_file_path: 'file-1', model_to_evaluate: 'response', labels: ['good', 'bad'], pass_labels: ['good'], ...extra },
  };
}

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('parseJobRequest', () => {
  it('normalises a classify request in column mode with Together defaults', () => {
    const parsed = parseJobRequest(classify(), defaults);
    expect(parsed.spec).toMatchObject({
      type: 'classify',
      fileId: 'file-1',
      labels: ['good', 'bad'],
      passLabels: ['good'],
      target: { kind: 'column', column: 'response' },
      judge: { model: 'judge-model', source: 'serverless', maxTokens: 32768, temperature: 0.05, systemTemplate: 'Grade {{prompt}}' },
    });
  });

  it('treats explicit nulls as absent, as Python SDK v1 sends them', () => {
    const body = classify({
      judge: { ...judge, external_api_token: null, external_base_url: null, num_workers: null },
      model_a: null,
      model_b: null,
      min_score: null,
    });
    expect(parseJobRequest(body, defaults).spec.type).toBe('classify');
  });

  it('accepts the old model_name spelling and defaults model_source to serverless', () => {
    const parsed = parseJobRequest(classify({ judge: { model_name: 'old-judge', system_template: 'x' } }), defaults);
    expect(parsed.spec.judge).toMatchObject({ model: 'old-judge', source: 'serverless' });
  });

  it('ignores unknown fields and accepts newer ones', () => {
    const parsed = parseJobRequest(
      { ...classify({ judge: { ...judge, max_tokens: 512, temperature: 0.3, num_workers: 7, brand_new: true }, something_new: 1 }), extra: 2 },
      defaults,
    );
    expect(parsed.spec.judge).toMatchObject({ maxTokens: 512, temperature: 0.3, numWorkers: 7 });
  });

  it('keeps tokens out of the echoed parameters and the spec, by reference only', () => {
    const parsed = parseJobRequest(
      classify({
        judge: { ...judge, model_source: 'external', external_base_url: 'http://127.0.0.1:1/v1', external_api_token: 'sk-judge' },
        model_to_evaluate: { model: 'm', model_source: 'external', external_base_url: 'http://127.0.0.1:1/v1', external_api_token: 'sk-gen', input_template: '{{prompt}}' },
      }),
      defaults,
    );
    expect(parsed.secrets).toEqual({ judge: 'sk-judge', model_to_evaluate: 'sk-gen' });
    expect(JSON.stringify(parsed.parameters)).not.toContain('sk-');
    expect(JSON.stringify(parsed.spec)).not.toContain('sk-');
    expect(parsed.spec.judge.secretRef).toBe('judge');
  });

  it('reads a generation config with defaults for missing sampling fields', () => {
    const parsed = parseJobRequest(
      { type: 'score', parameters: { judge, input_data_file_path: 'f', min_score: 1, max_score: 10, pass_threshold: 7, model_to_evaluate: { model: 'gen', model_source: 'serverless', input_template: 'Q: {{prompt}}' } } },
      defaults,
    );
    expect(parsed.spec).toMatchObject({
      type: 'score',
      target: { kind: 'generate', generator: { model: 'gen', inputTemplate: 'Q: {{prompt}}', systemTemplate: '', maxTokens: 1024, temperature: 0.05 } },
    });
  });

  it('turns compare position-bias correction on unless disabled', () => {
    const base = { judge, input_data_file_path: 'f', model_a: 'a', model_b: 'b' };
    expect(parseJobRequest({ type: 'compare', parameters: base }, defaults).spec).toMatchObject({ positionBiasCorrection: true });
    expect(parseJobRequest({ type: 'compare', parameters: { ...base, disable_position_bias_correction: true } }, defaults).spec).toMatchObject({
      positionBiasCorrection: false,
    });
  });

  it.each([
    [{ type: 'rank', parameters: {} }, 'type', /type must be one of classify, score, compare; got "rank"/],
    [{ parameters: {} }, 'type', /got nothing/],
    [{ type: 'classify' }, 'parameters', /parameters must be an object/],
    [classify({ labels: undefined }), 'parameters.labels', /parameters.labels is required/],
    [classify({ labels: ['only'] }), 'parameters.labels', /parameters.labels/],
    [classify({ pass_labels: ['great'] }), 'parameters.pass_labels', /not found: \["great"\]/],
    [classify({ labels: ['a', 'a'], pass_labels: ['a'] }), 'parameters.labels', /repeat/],
    [classify({ judge: { model: 'j', system_template: 'x', model_source: 'cloud' } }), 'parameters.judge.model_source', /model_source/],
    [classify({ judge: { system_template: 'x' } }), 'parameters.judge.model', /parameters.judge.model is required/],
    [classify({ model_to_evaluate: undefined }), 'parameters.model_to_evaluate', /required/],
    [classify({ model_to_evaluate: { model: 'm' } }), 'parameters.model_to_evaluate', /column name or a model config/],
  ])('rejects %j naming %s', (body, param, message) => {
    const err = errorOf(() => parseJobRequest(body, defaults));
    expect(err.param).toBe(param);
    expect(err.message).toMatch(message);
    expect(err.httpStatus).toBe(400);
  });

  it('checks score bounds', () => {
    const score = (min: number, max: number, threshold: number) => ({
      type: 'score',
      parameters: { judge, input_data_file_path: 'f', model_to_evaluate: 'r', min_score: min, max_score: max, pass_threshold: threshold },
    });
    expect(errorOf(() => parseJobRequest(score(10, 1, 5), defaults)).message).toMatch(/min_score \(10\) must be less than parameters.max_score \(1\)/);
    expect(errorOf(() => parseJobRequest(score(1, 10, 11), defaults)).param).toBe('parameters.pass_threshold');
    expect(parseJobRequest(score(1, 10, 10), defaults).spec.type).toBe('score');
  });

  it('requires both models for compare', () => {
    const err = errorOf(() => parseJobRequest({ type: 'compare', parameters: { judge, input_data_file_path: 'f', model_a: 'a' } }, defaults));
    expect(err.param).toBe('parameters.model_b');
  });
});
