/**
 * Checks that every name a template reads is a dataset column, so a job with a typo in a template
 * is refused at creation instead of rendering blanks for every row.
 */
import { ValidationError } from '../domain/errors.js';
import type { CompiledTemplate } from './compile.js';

export interface TemplateUse {
  template: CompiledTemplate;
  /** The request field the template came from, e.g. `parameters.judge.system_template`. */
  param: string;
}

export interface UndeclaredVariable {
  variable: string;
  param: string;
}

/** Variables that name no column, per template, in template order then order of first use. */
export function undeclaredColumns(templates: readonly TemplateUse[], columns: Iterable<string>): UndeclaredVariable[] {
  const known = new Set(columns);
  const missing: UndeclaredVariable[] = [];
  for (const { template, param } of templates) {
    for (const variable of template.variables) {
      if (!known.has(variable)) missing.push({ variable, param });
    }
  }
  return missing;
}

/**
 * Throws a `ValidationError` (code `missing_column`, `param` = the template's field) for the first
 * variable that names no column, e.g.
 * `template parameters.judge.system_template uses {{foo}} but the dataset has no column 'foo' (columns: a, b)`.
 */
export function assertTemplateColumns(templates: readonly TemplateUse[], columns: Iterable<string>): void {
  const columnList = [...columns];
  const [first, ...rest] = undeclaredColumns(templates, columnList);
  if (first === undefined) return;
  const listed = columnList.length > 0 ? columnList.join(', ') : 'none';
  const more = rest.length > 0 ? `; ${rest.length} more unknown: ${rest.map((m) => m.variable).join(', ')}` : '';
  throw new ValidationError(
    `template ${first.param} uses {{${first.variable}}} but the dataset has no column '${first.variable}' ` +
      `(columns: ${listed})${more}`,
    first.param,
    'missing_column',
  );
}
