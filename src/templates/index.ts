export { compileTemplate, DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_MAX_STEPS } from './compile.js';
export type { CompiledTemplate, TemplateOptions } from './compile.js';
export { assertTemplateColumns, undeclaredColumns } from './columns.js';
export type { TemplateUse, UndeclaredVariable } from './columns.js';
export { MAX_RANGE_LENGTH, TEMPLATE_GLOBALS } from './environment.js';
