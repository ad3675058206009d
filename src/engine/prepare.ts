/**
 * Compiles a job's templates once and checks them against the dataset's columns. Used both when a
 * job is created (to answer 400 early) and when a worker starts on it (to render rows).
 */
import { ValidationError } from '../domain/errors.js';
import type { FileRecord, JobSpec, ResponseSource } from '../domain/types.js';
import { compileTemplate, assertTemplateColumns, type CompiledTemplate, type TemplateOptions, type TemplateUse } from '../templates/index.js';
import { checkEndpoint } from '../providers/endpoints.js';

export type CompiledSource =
  | { kind: 'column'; column: string; param: string }
  | { kind: 'generate'; param: string; system: CompiledTemplate; input: CompiledTemplate };

export interface CompiledJob {
  judgeSystem: CompiledTemplate;
  /** classify/score: `target`; compare: `a` and `b`. */
  sources: { target?: CompiledSource; a?: CompiledSource; b?: CompiledSource };
}

function compileSource(source: ResponseSource, param: string, options: TemplateOptions): CompiledSource {
  if (source.kind === 'column') return { kind: 'column', column: source.column, param };
  checkEndpoint(source.generator, `parameters.${param}`);
  return {
    kind: 'generate',
    param,
    system: compileTemplate(source.generator.systemTemplate, `parameters.${param}.system_template`, options),
    input: compileTemplate(source.generator.inputTemplate, `parameters.${param}.input_template`, options),
  };
}

/** `options` bounds the work and output of every render (defaults: see src/templates). */
export function compileJob(spec: JobSpec, options: TemplateOptions = {}): CompiledJob {
  checkEndpoint(spec.judge, 'parameters.judge');
  const judgeSystem = compileTemplate(spec.judge.systemTemplate, 'parameters.judge.system_template', options);
  if (spec.type === 'compare') {
    return { judgeSystem, sources: { a: compileSource(spec.a, 'model_a', options), b: compileSource(spec.b, 'model_b', options) } };
  }
  return { judgeSystem, sources: { target: compileSource(spec.target, 'model_to_evaluate', options) } };
}

/** Every template variable and response column must name a dataset column. */
export function checkAgainstDataset(compiled: CompiledJob, file: FileRecord, strictColumns: boolean): void {
  const uses: TemplateUse[] = [{ template: compiled.judgeSystem, param: compiled.judgeSystem.param }];
  const responseColumns: string[] = [];
  for (const source of Object.values(compiled.sources)) {
    if (!source) continue;
    if (source.kind === 'generate') {
      uses.push({ template: source.system, param: source.system.param }, { template: source.input, param: source.input.param });
    } else {
      responseColumns.push(source.column);
      if (!file.columns.includes(source.column)) {
        throw new ValidationError(
          `parameters.${source.param} names the column '${source.column}', which the dataset does not have (columns: ${file.columns.join(', ')})`,
          `parameters.${source.param}`,
          'missing_column',
        );
      }
    }
  }
  assertTemplateColumns(uses, file.columns);
  if (strictColumns) {
    const used = new Set<string>([...responseColumns, 'image_data_urls']);
    for (const use of uses) for (const v of use.template.variables) used.add(v);
    const unused = file.columns.filter((c) => !used.has(c));
    if (unused.length > 0) {
      throw new ValidationError(
        `Unsupported dataset column(s): ${JSON.stringify(unused)}. Each column must be referenced by a model or judge template, ` +
          `or be a recognized field ('image_data_urls'). Remove unused columns or reference them in a template.`,
        'input_data_file_path',
        'unused_columns',
      );
    }
  }
}
