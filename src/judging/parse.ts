/**
 * Turning a judge's raw reply into a verdict. Defensive by design: the reply is found inside fences,
 * prose and `<think>` blocks, and small slips are forgiven where the meaning is unambiguous (a
 * numeric string score, a label in the wrong case, "Response A"). Anything else is an invalid
 * verdict with a reason a person can act on; it is never guessed.
 */
import { extractJsonObject } from './extract.js';
import type { ClassifyOptions, ScoreOptions, Verdict, VerdictOptions, VerdictResult } from './types.js';
import { verdictKey } from './types.js';

type Field<T> = { ok: true; value: T } | { ok: false; reason: string };

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * @example
 * parseVerdict('```json\n{"feedback": "fine", "label": "Yes"}\n```', { type: 'classify', labels: ['yes', 'no'] });
 * // { ok: true, verdict: { feedback: 'fine', label: 'yes' } }
 */
export function parseVerdict(raw: string | null | undefined, opts: VerdictOptions): VerdictResult {
  if (raw === null || raw === undefined || raw.trim() === '') return { ok: false, reason: 'reply is empty' };
  const reply = extractJsonObject(raw);
  if (reply === null) return { ok: false, reason: 'reply is not JSON' };

  const key = verdictKey(opts);
  const found = lookup(reply, key);
  if (!found.present) return { ok: false, reason: `reply has no "${key}" key` };

  const feedback = feedbackOf(lookup(reply, 'feedback').value);
  switch (opts.type) {
    case 'classify': {
      const label = parseLabel(found.value, opts);
      return label.ok ? { ok: true, verdict: { feedback, label: label.value } } : label;
    }
    case 'score': {
      const score = parseScore(found.value, opts);
      return score.ok ? { ok: true, verdict: { feedback, score: score.value } } : score;
    }
    case 'compare': {
      const choice = parseChoice(found.value);
      return choice.ok ? { ok: true, verdict: { feedback, choice: choice.value } } : choice;
    }
  }
}

/** The value under `key`, or under the only key equal to it ignoring case (`"Label"`). */
function lookup(reply: Record<string, unknown>, key: string): { present: boolean; value: unknown } {
  if (Object.hasOwn(reply, key)) return { present: true, value: reply[key] };
  const matches = Object.keys(reply).filter((k) => k.trim().toLowerCase() === key);
  const only = matches.length === 1 ? matches[0] : undefined;
  return only === undefined ? { present: false, value: undefined } : { present: true, value: reply[only] };
}

function feedbackOf(value: unknown): Verdict['feedback'] {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Exactly one of the labels; else, after trimming, the only label equal ignoring case. */
export function parseLabel(value: unknown, opts: ClassifyOptions): Field<string> {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    return { ok: false, reason: `label ${describe(value)} is not a string` };
  }
  const given = String(value);
  const trimmed = given.trim();
  const exact = opts.labels.find((label) => label === given || label === trimmed);
  if (exact !== undefined) return { ok: true, value: exact };
  const folded = trimmed.toLowerCase();
  const loose = [...new Set(opts.labels.filter((label) => label.trim().toLowerCase() === folded))];
  if (loose.length === 1 && loose[0] !== undefined) return { ok: true, value: loose[0] };
  const allowed = `[${opts.labels.map((label) => JSON.stringify(label)).join(',')}]`;
  return { ok: false, reason: `label ${JSON.stringify(given)} is not one of ${allowed}` };
}

/** A finite number, or a string holding one, within [minScore, maxScore]. */
export function parseScore(value: unknown, opts: ScoreOptions): Field<number> {
  let score: number;
  if (typeof value === 'number') {
    score = value;
  } else if (typeof value === 'string' && NUMERIC.test(value.trim())) {
    score = Number(value.trim());
  } else {
    return { ok: false, reason: `score ${describe(value)} is not a number` };
  }
  if (!Number.isFinite(score)) return { ok: false, reason: `score ${describe(value)} is not a finite number` };
  if (score < opts.minScore || score > opts.maxScore) {
    return { ok: false, reason: `score ${score} is outside [${opts.minScore}, ${opts.maxScore}]` };
  }
  return { ok: true, value: score };
}

/** "A" or "B", ignoring case and surrounding space; "Response A" is accepted too. */
export function parseChoice(value: unknown): Field<'A' | 'B'> {
  if (typeof value === 'string') {
    const normalised = value.trim().toUpperCase().replace(/^RESPONSE[\s_]+/, '');
    if (normalised === 'A' || normalised === 'B') return { ok: true, value: normalised };
  }
  return { ok: false, reason: `choice ${describe(value)} is not "A" or "B"` };
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value); // JSON would print Infinity as null
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
