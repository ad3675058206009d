import { describe, expect, it } from 'vitest';
import { canonicalJson, runKey } from './state.js';

const request = (over: Record<string, unknown> = {}) => ({
  type: 'classify',
  parameters: {
    input_data_file_path: 'file-a',
    judge: { model: 'j', model_source: 'external', system_template: 't', external_api_token: 'secret-1' },
    labels: ['a', 'b'],
    pass_labels: ['a'],
    ...over,
  },
});

describe('runKey', () => {
  it('depends on the content and the parameters, not on key order, the file id or tokens', () => {
    const key = runKey('hash', 'jsonl', request());
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(runKey('hash', 'jsonl', request({ input_data_file_path: 'file-b' }))).toBe(key);
    expect(runKey('hash', 'jsonl', request({ judge: { external_api_token: 'secret-2', system_template: 't', model_source: 'external', model: 'j' } }))).toBe(key);
    expect(runKey('other', 'jsonl', request())).not.toBe(key);
    expect(runKey('hash', 'csv', request())).not.toBe(key);
    expect(runKey('hash', 'jsonl', request({ pass_labels: ['b'] }))).not.toBe(key);
  });

  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":2,"f":1}]},"b":1}');
  });
});
