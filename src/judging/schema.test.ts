import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

import { responseFormatFor, verdictJsonSchema } from './schema.js';

describe('verdictJsonSchema', () => {
  it('describes a classify verdict', () => {
    expect(verdictJsonSchema({ type: 'classify', labels: ['yes', 'no'] })).toEqual({
      type: 'object',
      properties: {
        feedback: { type: 'string', description: expect.any(String) },
        label: { type: 'string', enum: ['yes', 'no'], description: expect.any(String) },
      },
      required: ['feedback', 'label'],
      additionalProperties: false,
    });
  });

  it('describes a score verdict with its bounds', () => {
    const schema = verdictJsonSchema({ type: 'score', minScore: 1, maxScore: 10 });
    expect(schema.properties).toMatchObject({ score: { type: 'number', minimum: 1, maximum: 10 } });
    expect(schema.required).toEqual(['feedback', 'score']);
  });

  it('describes a compare verdict', () => {
    const schema = verdictJsonSchema({ type: 'compare' });
    expect(schema.properties).toMatchObject({ choice: { type: 'string', enum: ['A', 'B'] } });
    expect(schema.required).toEqual(['feedback', 'choice']);
  });

  it('puts feedback first', () => {
    expect(Object.keys(verdictJsonSchema({ type: 'compare' }).properties as object)).toEqual(['feedback', 'choice']);
  });

  it('is a valid JSON schema that accepts good verdicts and rejects bad ones', () => {
    const ajv = new Ajv({ strict: true });
    const classify = ajv.compile(verdictJsonSchema({ type: 'classify', labels: ['yes', 'no'] }));
    expect(classify({ feedback: 'f', label: 'yes' })).toBe(true);
    expect(classify({ feedback: 'f', label: 'maybe' })).toBe(false);
    expect(classify({ feedback: 'f', label: 'yes', extra: 1 })).toBe(false);
    expect(classify({ label: 'yes' })).toBe(false);
    const score = ajv.compile(verdictJsonSchema({ type: 'score', minScore: 1, maxScore: 5 }));
    expect(score({ feedback: '', score: 5 })).toBe(true);
    expect(score({ feedback: '', score: 6 })).toBe(false);
  });
});

describe('responseFormatFor', () => {
  it('wraps the schema for response_format', () => {
    const opts = { type: 'score', minScore: 0, maxScore: 1 } as const;
    expect(responseFormatFor(opts)).toEqual({
      type: 'json_schema',
      json_schema: { name: 'verdict', strict: true, schema: verdictJsonSchema(opts) },
    });
  });
});
