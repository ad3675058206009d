import { describe, expect, it } from 'vitest';

import { dropLeadingThinking, extractJsonObject, firstJsonObject, matchingBrace, stripFence } from './extract.js';

describe('matchingBrace', () => {
  it('matches nested braces and ignores braces in strings and after escapes', () => {
    const text = '{"a": {"b": "}"}, "c": "\\"}{"}tail';
    expect(matchingBrace(text, 0)).toBe(text.indexOf('tail') - 1);
    expect(matchingBrace('{"open": "never closed', 0)).toBe(-1);
    expect(matchingBrace('{ { }', 0)).toBe(-1);
  });
});

describe('stripFence', () => {
  it('unwraps a reply that is one fenced block', () => {
    expect(stripFence('```json\n{"a": 1}\n```')).toBe('{"a": 1}');
    expect(stripFence('```\r\n{"a": 1}\r\n```')).toBe('{"a": 1}');
    expect(stripFence('```{"a": 1}```')).toBe('{"a": 1}');
  });

  it('leaves other text alone', () => {
    expect(stripFence('before ```json\n{}\n```')).toBe('before ```json\n{}\n```');
  });
});

describe('dropLeadingThinking', () => {
  it('drops one or more leading blocks', () => {
    expect(dropLeadingThinking('<think>a</think>\n<think>b</think> rest')).toBe('rest');
    expect(dropLeadingThinking('no thinking')).toBe('no thinking');
  });

  it('returns null for a reply cut off while thinking', () => {
    expect(dropLeadingThinking('<think>still going')).toBeNull();
  });
});

describe('firstJsonObject / extractJsonObject', () => {
  it('skips arrays and broken candidates', () => {
    expect(firstJsonObject('[{"a": 1}]')).toEqual({ a: 1 });
    expect(firstJsonObject('{"a": } {"b": 2}')).toEqual({ b: 2 });
    expect(firstJsonObject('nothing here')).toBeNull();
  });

  it('copes with a lone opening brace before the object', () => {
    expect(extractJsonObject('Format: { then {"feedback": "x", "label": "y"}')).toEqual({ feedback: 'x', label: 'y' });
  });

  it('handles unicode and escapes in strings', () => {
    expect(extractJsonObject('{"feedback": "caf\\u00e9 \\n {ok}", "score": 3}')).toEqual({
      feedback: 'café \n {ok}',
      score: 3,
    });
  });
});
