import { describe, expect, it } from 'vitest';

import { parseVerdict } from './parse.js';
import type { VerdictOptions } from './types.js';

const classify: VerdictOptions = { type: 'classify', labels: ['yes', 'no'] };
const score: VerdictOptions = { type: 'score', minScore: 1, maxScore: 10 };
const compare: VerdictOptions = { type: 'compare' };

function reason(raw: string | null | undefined, opts: VerdictOptions): string {
  const result = parseVerdict(raw, opts);
  if (result.ok) throw new Error(`expected invalid, got ${JSON.stringify(result.verdict)}`);
  return result.reason;
}

describe('parseVerdict: finding the JSON', () => {
  it('parses a plain reply', () => {
    expect(parseVerdict('{"feedback": "good", "label": "yes"}', classify)).toEqual({
      ok: true,
      verdict: { feedback: 'good', label: 'yes' },
    });
  });

  it('strips code fences, with or without a language', () => {
    expect(parseVerdict('```json\n{"feedback": "f", "score": 7}\n```', score)).toEqual({
      ok: true,
      verdict: { feedback: 'f', score: 7 },
    });
    expect(parseVerdict('  ```\n{"feedback": "f", "choice": "B"}\n```  ', compare)).toMatchObject({
      ok: true,
      verdict: { choice: 'B' },
    });
    expect(parseVerdict('Here you go:\n```json\n{"feedback": "f", "label": "no"}\n```\nHope it helps.', classify))
      .toMatchObject({ ok: true, verdict: { label: 'no' } });
  });

  it('finds the object inside prose', () => {
    const raw = 'Sure! My verdict is {"feedback": "ok", "label": "yes"} as requested.';
    expect(parseVerdict(raw, classify)).toMatchObject({ ok: true, verdict: { label: 'yes' } });
  });

  it('skips braces in prose that are not JSON', () => {
    const raw = 'The answer uses {placeholders} and {x: 1}. {"feedback": "meh", "score": 3}';
    expect(parseVerdict(raw, score)).toMatchObject({ ok: true, verdict: { score: 3 } });
  });

  it('respects braces, quotes and escapes inside strings', () => {
    const feedback = 'uses "}" and \\"{\\" and {nested: {"a": 1}} braces';
    const raw = `{"feedback": ${JSON.stringify(feedback)}, "label": "no"} trailing }`;
    expect(parseVerdict(raw, classify)).toEqual({ ok: true, verdict: { feedback, label: 'no' } });
  });

  it('takes the first object when there are several', () => {
    const raw = '{"feedback": "first", "label": "yes"}\n{"feedback": "second", "label": "no"}';
    expect(parseVerdict(raw, classify)).toMatchObject({ ok: true, verdict: { label: 'yes' } });
  });

  it('does not take a verdict from inside another broken structure', () => {
    expect(reason('{feedback: {"feedback": "x", "label": "yes"}}', classify)).toBe('reply is not JSON');
  });

  it('strips think blocks', () => {
    const draft = '<think>Maybe {"feedback": "draft", "label": "no"}? Let me reconsider.</think>';
    expect(parseVerdict(`${draft}\n{"feedback": "final", "label": "yes"}`, classify)).toEqual({
      ok: true,
      verdict: { feedback: 'final', label: 'yes' },
    });
    expect(parseVerdict('<THINKING>hmm</THINKING>{"feedback": "", "score": 2}', score)).toMatchObject({
      ok: true,
      verdict: { score: 2 },
    });
    expect(parseVerdict(`Answer: ${draft} {"feedback": "final", "label": "yes"}`, classify)).toMatchObject({
      ok: true,
      verdict: { feedback: 'final' },
    });
  });

  it('handles a reply that starts mid-thought (opening tag in the prompt)', () => {
    const raw = 'I think {"label": "no"} is wrong.\n</think>\n{"feedback": "final", "label": "yes"}';
    expect(parseVerdict(raw, classify)).toMatchObject({ ok: true, verdict: { feedback: 'final', label: 'yes' } });
  });

  it('keeps think tags quoted inside the feedback', () => {
    const raw = '{"feedback": "the reply leaks a </think> tag", "label": "no"}';
    expect(parseVerdict(raw, classify)).toEqual({
      ok: true,
      verdict: { feedback: 'the reply leaks a </think> tag', label: 'no' },
    });
  });

  it('refuses a reply cut off while thinking', () => {
    expect(reason('<think>so the answer is {"feedback": "x", "label": "yes"}', classify)).toBe('reply is not JSON');
  });

  it('reports empty and non-JSON replies', () => {
    expect(reason(null, classify)).toBe('reply is empty');
    expect(reason(undefined, classify)).toBe('reply is empty');
    expect(reason('   ', classify)).toBe('reply is empty');
    expect(reason('yes', classify)).toBe('reply is not JSON');
    expect(reason('{"feedback": "unterminated", "label": "yes"', classify)).toBe('reply is not JSON');
    expect(reason('["yes"]', classify)).toBe('reply is not JSON');
  });
});

describe('parseVerdict: keys and feedback', () => {
  it('names a missing key', () => {
    expect(reason('{"feedback": "x"}', classify)).toBe('reply has no "label" key');
    expect(reason('{"feedback": "x"}', score)).toBe('reply has no "score" key');
    expect(reason('{"feedback": "x", "label": "A"}', compare)).toBe('reply has no "choice" key');
  });

  it('accepts keys in another case', () => {
    expect(parseVerdict('{"Feedback": "f", "LABEL": "yes"}', classify)).toEqual({
      ok: true,
      verdict: { feedback: 'f', label: 'yes' },
    });
  });

  it('treats missing feedback as empty and stringifies non-string feedback', () => {
    expect(parseVerdict('{"label": "yes"}', classify)).toEqual({ ok: true, verdict: { feedback: '', label: 'yes' } });
    expect(parseVerdict('{"feedback": null, "label": "yes"}', classify)).toMatchObject({ verdict: { feedback: '' } });
    expect(parseVerdict('{"feedback": {"why": [1, 2]}, "score": 5}', score)).toMatchObject({
      verdict: { feedback: '{"why":[1,2]}' },
    });
  });

  it('ignores extra keys', () => {
    expect(parseVerdict('{"feedback": "f", "score": 4, "confidence": 0.9}', score)).toEqual({
      ok: true,
      verdict: { feedback: 'f', score: 4 },
    });
  });
});

describe('parseVerdict: classify', () => {
  it('trims the label', () => {
    expect(parseVerdict('{"label": "  no "}', classify)).toMatchObject({ ok: true, verdict: { label: 'no' } });
  });

  it('maps a unique case-insensitive match to the canonical label', () => {
    const opts: VerdictOptions = { type: 'classify', labels: ['Pass', 'Fail'] };
    expect(parseVerdict('{"label": "PASS"}', opts)).toMatchObject({ ok: true, verdict: { label: 'Pass' } });
    expect(parseVerdict('{"label": "fail"}', opts)).toMatchObject({ ok: true, verdict: { label: 'Fail' } });
  });

  it('refuses an ambiguous case-insensitive match but accepts an exact one', () => {
    const opts: VerdictOptions = { type: 'classify', labels: ['ok', 'OK', 'bad'] };
    expect(parseVerdict('{"label": "OK"}', opts)).toMatchObject({ ok: true, verdict: { label: 'OK' } });
    expect(reason('{"label": "Ok"}', opts)).toBe('label "Ok" is not one of ["ok","OK","bad"]');
  });

  it('names an unknown label and the allowed ones', () => {
    expect(reason('{"feedback": "x", "label": "maybe"}', classify)).toBe('label "maybe" is not one of ["yes","no"]');
  });

  it('accepts a number for a numeric label, refuses other types', () => {
    const opts: VerdictOptions = { type: 'classify', labels: ['1', '2'] };
    expect(parseVerdict('{"label": 2}', opts)).toMatchObject({ ok: true, verdict: { label: '2' } });
    expect(reason('{"label": null}', classify)).toBe('label null is not a string');
    expect(reason('{"label": ["yes"]}', classify)).toBe('label ["yes"] is not a string');
  });
});

describe('parseVerdict: score', () => {
  it('accepts numbers and numeric strings within the range', () => {
    expect(parseVerdict('{"score": 1}', score)).toMatchObject({ ok: true, verdict: { score: 1 } });
    expect(parseVerdict('{"score": 10}', score)).toMatchObject({ ok: true, verdict: { score: 10 } });
    expect(parseVerdict('{"score": 7.5}', score)).toMatchObject({ ok: true, verdict: { score: 7.5 } });
    expect(parseVerdict('{"score": " 8 "}', score)).toMatchObject({ ok: true, verdict: { score: 8 } });
    expect(parseVerdict('{"score": "6.25"}', score)).toMatchObject({ ok: true, verdict: { score: 6.25 } });
    expect(parseVerdict('{"score": "5e0"}', score)).toMatchObject({ ok: true, verdict: { score: 5 } });
  });

  it('reports scores outside the range', () => {
    expect(reason('{"score": 11}', score)).toBe('score 11 is outside [1, 10]');
    expect(reason('{"score": 0.5}', score)).toBe('score 0.5 is outside [1, 10]');
    expect(reason('{"score": "-3"}', score)).toBe('score -3 is outside [1, 10]');
  });

  it('refuses NaN, Infinity and non-numbers', () => {
    expect(reason('{"score": "NaN"}', score)).toBe('score "NaN" is not a number');
    expect(reason('{"score": "Infinity"}', score)).toBe('score "Infinity" is not a number');
    expect(reason('{"score": 1e999}', score)).toBe('score Infinity is not a finite number');
    expect(reason('{"score": NaN}', score)).toBe('reply is not JSON');
    expect(reason('{"score": "7/10"}', score)).toBe('score "7/10" is not a number');
    expect(reason('{"score": ""}', score)).toBe('score "" is not a number');
    expect(reason('{"score": true}', score)).toBe('score true is not a number');
    expect(reason('{"score": null}', score)).toBe('score null is not a number');
  });

  it('works with negative and fractional ranges', () => {
    const opts: VerdictOptions = { type: 'score', minScore: -1, maxScore: 1 };
    expect(parseVerdict('{"score": -0.5}', opts)).toMatchObject({ ok: true, verdict: { score: -0.5 } });
    expect(reason('{"score": 1.5}', opts)).toBe('score 1.5 is outside [-1, 1]');
  });
});

describe('parseVerdict: compare', () => {
  it.each([
    ['A', 'A'],
    ['b', 'B'],
    [' A ', 'A'],
    ['Response A', 'A'],
    ['response b', 'B'],
    ['RESPONSE_B', 'B'],
  ])('accepts %j as %s', (given, expected) => {
    expect(parseVerdict(JSON.stringify({ feedback: 'f', choice: given }), compare)).toEqual({
      ok: true,
      verdict: { feedback: 'f', choice: expected },
    });
  });

  it.each(['tie', 'Tie', 'C', 'A or B', 'both', ''])('refuses %j', (given) => {
    const expected = `choice ${JSON.stringify(given)} is not "A" or "B"`;
    expect(reason(JSON.stringify({ choice: given }), compare)).toBe(expected);
  });

  it('refuses non-strings', () => {
    expect(reason('{"choice": 1}', compare)).toBe('choice 1 is not "A" or "B"');
    expect(reason('{"choice": null}', compare)).toBe('choice null is not "A" or "B"');
  });
});
