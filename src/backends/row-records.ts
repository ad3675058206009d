/**
 * How a row result is stored, the same in both backends: scalar columns the queries filter on,
 * and the usage, result fields and input as JSON text (text, not JSONB, so key order survives).
 */
import type { RowResult, RowUsage } from '../domain/types.js';

/** A `rows` table row as both databases return it. */
export interface ResultRow {
  row_index: number;
  outcome: string;
  label: string | null;
  score: number | null;
  choice: string | null;
  generation_failures: number;
  judge_failures: number;
  usage: string | null;
  fields: string;
  input?: string | null;
}

/** The columns a RowResult needs, without the input (selected only when browsing). */
export const RESULT_COLUMNS = 'row_index, outcome, label, score, choice, generation_failures, judge_failures, usage, fields';

export function toResult(row: ResultRow): RowResult {
  return {
    rowIndex: row.row_index,
    outcome: row.outcome as RowResult['outcome'],
    label: row.label,
    score: row.score,
    choice: row.choice as RowResult['choice'],
    generationFailures: row.generation_failures,
    judgeFailures: row.judge_failures,
    usage: row.usage === null ? {} : (JSON.parse(row.usage) as RowUsage),
    fields: JSON.parse(row.fields) as Record<string, unknown>,
    ...(row.input ? { input: JSON.parse(row.input) as Record<string, unknown> } : {}),
  };
}
