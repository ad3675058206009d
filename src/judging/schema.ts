/**
 * The JSON schema of a verdict, for OpenAI-style structured output. Servers that honour it make
 * the judge's reply parse on the first try; `parseVerdict` still checks everything, because many
 * OpenAI-compatible servers accept `response_format` and ignore it.
 */
import { verdictKey, type VerdictOptions } from './types.js';

export type JsonSchema = { [key: string]: unknown };

/** The `response_format` body field of a chat completion request. */
export type ResponseFormat = {
  type: 'json_schema';
  json_schema: { name: 'verdict'; strict: true; schema: JsonSchema };
};

/**
 * `{feedback, <label|score|choice>}`, both required, nothing else. `feedback` comes first so a
 * model that writes keys in schema order reasons before it decides.
 */
export function verdictJsonSchema(opts: VerdictOptions): JsonSchema {
  return {
    type: 'object',
    properties: {
      feedback: { type: 'string', description: 'Your reasoning, written before the verdict.' },
      [verdictKey(opts)]: verdictProperty(opts),
    },
    required: ['feedback', verdictKey(opts)],
    additionalProperties: false,
  };
}

/** `{type: 'json_schema', json_schema: {name: 'verdict', strict: true, schema}}`. */
export function responseFormatFor(opts: VerdictOptions): ResponseFormat {
  return { type: 'json_schema', json_schema: { name: 'verdict', strict: true, schema: verdictJsonSchema(opts) } };
}

function verdictProperty(opts: VerdictOptions): JsonSchema {
  switch (opts.type) {
    case 'classify':
      return { type: 'string', enum: [...new Set(opts.labels)], description: 'One of the allowed labels, exactly.' };
    case 'score':
      return {
        type: 'number',
        minimum: opts.minScore,
        maximum: opts.maxScore,
        description: `A number from ${opts.minScore} to ${opts.maxScore}.`,
      };
    case 'compare':
      return { type: 'string', enum: ['A', 'B'], description: 'A for the first response shown, B for the second.' };
  }
}
