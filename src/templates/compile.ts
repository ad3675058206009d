/**
 * Jinja2 templates for assay: compile once per job, render once per row.
 *
 * Rendering uses `@huggingface/jinja`, a Jinja interpreter written in TypeScript. It never turns a
 * template into JavaScript: every value a template touches is an interpreter value held in a `Map`,
 * so `{{ ''.constructor }}`, `{{ x.__proto__ }}` and friends look up nothing and render empty.
 * The template sees the row's columns plus a few globals (see `environment.ts`) and nothing else.
 *
 * Whitespace follows Jinja2's defaults (`trim_blocks=False`, `lstrip_blocks=False`,
 * `keep_trailing_newline=False`), not the trimmed chat-template mode the library's own `Template`
 * class uses:
 * - one trailing newline at the very end of the template is dropped, everything else is kept;
 * - the newline after a `{% ... %}` tag is kept (`"a\n{% if x %}\nb\n{% endif %}\n"` renders
 *   `"a\n\nb\n"`), so write `{%- ... -%}` to strip whitespace around a tag.
 *
 * Known differences from Python Jinja2, all lenient:
 * - an undefined value renders as `""` even when you read through it (`{{ missing.attr }}`);
 * - `none`/`null` renders as `""` (Python prints `None`), booleans as `true`/`false`;
 * - mappings and lists print as JSON (`{"a": 1}`), not as Python reprs;
 * - JSON numbers carry no int/float distinction, so a dataset value `1.0` renders `1`.
 */
import { ValidationError } from '../domain/errors.js';
import { rowEnvironment } from './environment.js';
import { Interpreter, parse, tokenize } from './jinja.js';
import type { JinjaEnvironment, JinjaNode, JinjaProgram, JinjaValue } from './jinja.js';
import { collectVariables } from './variables.js';

export interface TemplateOptions {
  /**
   * Longest rendered output, in UTF-16 code units. Also applies to every intermediate string, so a
   * template cannot build a huge value it later discards. Default 1,000,000.
   */
  maxOutputChars?: number;
  /**
   * Work allowed per render: one step per node evaluated plus one per item of each list or mapping
   * produced. Bounds loops and recursion; the worst case is about a second. Default 250,000.
   */
  maxSteps?: number;
}

export interface CompiledTemplate {
  /** The request field the template came from, e.g. `parameters.judge.system_template`. */
  readonly param: string;
  readonly source: string;
  /** Top-level row names the template reads (`{{ info.question }}` reads `info`), in order of first use. */
  readonly variables: ReadonlySet<string>;
  /**
   * Render against one row. Throws a `ValidationError` with `param` set and code
   * `template_output_too_large` or `template_render_error`.
   */
  render(row: Record<string, unknown>): string;
}

export const DEFAULT_MAX_OUTPUT_CHARS = 1_000_000;
export const DEFAULT_MAX_STEPS = 250_000;

/**
 * Parse `source` once. A syntax error becomes a `ValidationError` (code `invalid_template`) whose
 * message names `param` and the parser's complaint. The parser reports no line or column.
 *
 * @example
 * const t = compileTemplate('Q: {{ info.question }}', 'parameters.judge.system_template');
 * t.variables; // Set { 'info' }
 * t.render({ info: { question: 'Why?' } }); // 'Q: Why?'
 */
export function compileTemplate(source: string, param: string, options: TemplateOptions = {}): CompiledTemplate {
  const maxOutputChars = options.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;

  let program: JinjaProgram;
  try {
    program = parse(tokenize(source, { trim_blocks: false, lstrip_blocks: false }));
  } catch (err) {
    const message = `template ${param} has a syntax error: ${describeSyntaxError(err)}`;
    throw new ValidationError(message, param, 'invalid_template');
  }
  const variables: ReadonlySet<string> = collectVariables(program);

  function render(row: Record<string, unknown>): string {
    let output: JinjaValue;
    try {
      const interpreter = new BoundedInterpreter(rowEnvironment(row), param, maxOutputChars, maxSteps);
      output = interpreter.run(program);
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      if (err instanceof RangeError && /string length/i.test(err.message)) throw tooLarge(param, maxOutputChars);
      const message = `template ${param} failed to render: ${messageOf(err)}`;
      throw new ValidationError(message, param, 'template_render_error');
    }
    const text = String(output.value ?? '');
    if (text.length > maxOutputChars) throw tooLarge(param, maxOutputChars);
    return text;
  }

  return { param, source, variables, render };
}

/**
 * Counts work and checks every string value as it is produced. A step is one node evaluated, plus
 * one per item of every list or mapping a node yields, so a loop is charged for its iterations even
 * when its body is empty.
 */
class BoundedInterpreter extends Interpreter {
  private steps = 0;

  constructor(
    env: JinjaEnvironment,
    private readonly param: string,
    private readonly maxOutputChars: number,
    private readonly maxSteps: number,
  ) {
    super(env);
  }

  override evaluate(statement: JinjaNode | undefined, environment: JinjaEnvironment): JinjaValue {
    this.charge(1);
    const value = super.evaluate(statement, environment);
    const inner = value.value;
    if (typeof inner === 'string') {
      if (inner.length > this.maxOutputChars) throw tooLarge(this.param, this.maxOutputChars);
    } else if (Array.isArray(inner)) {
      this.charge(inner.length);
    } else if (inner instanceof Map) {
      this.charge(inner.size);
    }
    return value;
  }

  private charge(steps: number): void {
    this.steps += steps;
    if (this.steps > this.maxSteps) {
      throw new ValidationError(
        `template ${this.param} failed to render: it took more than ${this.maxSteps} steps (a loop too long?)`,
        this.param,
        'template_render_error',
      );
    }
  }
}

function tooLarge(param: string, maxOutputChars: number): ValidationError {
  return new ValidationError(
    `template ${param} rendered more than ${maxOutputChars} characters`,
    param,
    'template_output_too_large',
  );
}

function describeSyntaxError(err: unknown): string {
  // The parser reads past its last token when a block or expression is left open.
  if (err instanceof TypeError) return 'unexpected end of template (is a {% ... %} block missing its end tag?)';
  return messageOf(err);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
