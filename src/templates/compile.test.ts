import { describe, expect, it } from 'vitest';

import { ValidationError } from '../domain/errors.js';
import { compileTemplate, type TemplateOptions } from './compile.js';

const PARAM = 'parameters.judge.system_template';

function render(source: string, row: Record<string, unknown> = {}, options?: TemplateOptions): string {
  return compileTemplate(source, PARAM, options).render(row);
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('compileTemplate: lookups', () => {
  it('renders top-level columns', () => {
    expect(render('Q: {{prompt}}', { prompt: 'Why?' })).toBe('Q: Why?');
    expect(render('{{ a }} and {{ b }}', { a: 1, b: 'two' })).toBe('1 and two');
  });

  it('renders nested members with dots and subscripts', () => {
    const row = { info: { question: 'q?', meta: { tags: ['x', 'y'] } } };
    expect(render('{{info.question}}', row)).toBe('q?');
    expect(render("{{ info['question'] }}", row)).toBe('q?');
    expect(render('{{ info.meta.tags[1] }}', row)).toBe('y');
    expect(render('{{ info.meta.tags.0 }}', row)).toBe('x');
  });

  it('renders undefined names and members as empty strings', () => {
    expect(render('[{{ missing }}]')).toBe('[]');
    expect(render('[{{ info.missing }}]', { info: {} })).toBe('[]');
    expect(render('[{{ missing.deeper }}]')).toBe('[]');
    expect(render('[{{ x }}]', { x: null })).toBe('[]');
  });

  it('renders numbers, booleans and containers', () => {
    expect(render('{{ n }} {{ f }} {{ b }}', { n: 3, f: 2.5, b: true })).toBe('3 2.5 true');
    expect(render('{{ o }}', { o: { a: 1, b: 'q' } })).toBe('{"a": 1, "b": "q"}');
    expect(render('{{ l }}', { l: [1, 'a'] })).toBe('[1, "a"]');
  });

  it('supports conditionals, loops, filters and set', () => {
    expect(render('{% if x %}yes{% else %}no{% endif %}', { x: false })).toBe('no');
    expect(render('{% for t in tags %}{{ loop.index }}={{ t | upper }};{% endfor %}', { tags: ['a', 'b'] })).toBe(
      '1=A;2=B;',
    );
    expect(render('{% set n = items | length %}{{ n }}', { items: [1, 2, 3] })).toBe('3');
    expect(render("{{ name | default('anon') }}")).toBe('anon');
    expect(render('{{ items | join(", ") }}', { items: ['a', 'b'] })).toBe('a, b');
    expect(render('{% for i in range(3) %}{{ i }}{% endfor %}')).toBe('012');
  });

  it('lets a column shadow range and namespace but not true/false/none', () => {
    expect(render('{{ range }}|{{ namespace }}', { range: 'r', namespace: 'n' })).toBe('r|n');
    expect(render('{% if true %}t{% endif %}', { true: false })).toBe('t');
  });

  it('renders the same compiled template for many rows without leaking state', () => {
    const t = compileTemplate('{% set seen = (seen or "") ~ x %}{{ seen }}', PARAM);
    expect(t.render({ x: 'a' })).toBe('a');
    expect(t.render({ x: 'b' })).toBe('b');
  });
});

describe('compileTemplate: whitespace (Jinja2 defaults)', () => {
  it('drops exactly one trailing newline', () => {
    expect(render('Hello {{ name }}\n', { name: 'X' })).toBe('Hello X');
    expect(render('Hello\n\n')).toBe('Hello\n');
    expect(render('  padded  ')).toBe('  padded  ');
  });

  it('keeps the newline after block tags (no trim_blocks / lstrip_blocks)', () => {
    expect(render('a\n{% if true %}\nyes\n{% endif %}\nb\n')).toBe('a\n\nyes\n\nb');
    expect(render('a\n  {% if true %}x{% endif %}')).toBe('a\n  x');
  });

  it('strips whitespace around tags written with dashes', () => {
    expect(render('a\n{%- if true -%}\nyes\n{%- endif -%}\nb')).toBe('ayesb');
    expect(render('a   {{- x -}}   b', { x: '!' })).toBe('a!b');
  });

  it('keeps the newline after an expression', () => {
    expect(render('{{ a }}\n{{ b }}', { a: 1, b: 2 })).toBe('1\n2');
  });
});

describe('compileTemplate: errors', () => {
  it('reports syntax errors with the param and the cause', () => {
    for (const source of ['{{ a b }}', '{% if x %}open', '{{ }}', '{% endif %}', '{# open', '{% frobnicate %}']) {
      const err = thrown(() => compileTemplate(source, PARAM));
      expect(err.code).toBe('invalid_template');
      expect(err.param).toBe(PARAM);
      expect(err.httpStatus).toBe(400);
      expect(err.message).toContain(`template ${PARAM} has a syntax error: `);
    }
    expect(thrown(() => compileTemplate('{% if x %}open', PARAM)).message).toContain('unexpected end of template');
    expect(thrown(() => compileTemplate('{% frobnicate %}', PARAM)).message).toContain('frobnicate');
  });

  it('reports render failures as template_render_error', () => {
    const err = thrown(() => render('{{ nothing() }}'));
    expect(err.code).toBe('template_render_error');
    expect(err.param).toBe(PARAM);
  });

  it('reports a row value the renderer cannot hold as a render error', () => {
    expect(thrown(() => render('{{ n }}', { n: 10n })).code).toBe('template_render_error');
  });

  it('reports runaway recursion as a render error', () => {
    const err = thrown(() => render('{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}'));
    expect(err.code).toBe('template_render_error');
  });

  it('bounds the rendered output', () => {
    const t = compileTemplate('{{ text }}', PARAM, { maxOutputChars: 10 });
    expect(t.render({ text: '0123456789' })).toBe('0123456789');
    const err = thrown(() => t.render({ text: '0123456789x' }));
    expect(err.code).toBe('template_output_too_large');
    expect(err.param).toBe(PARAM);
  });

  it('bounds output built up by a loop and intermediate strings', () => {
    const loop = '{% for i in range(1000) %}{{ text }}{% endfor %}';
    expect(thrown(() => render(loop, { text: 'x'.repeat(100) }, { maxOutputChars: 50_000 })).code).toBe(
      'template_output_too_large',
    );
    const doubling =
      '{% set ns = namespace(s="ab") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}x';
    expect(thrown(() => render(doubling)).code).toBe('template_output_too_large');
  });

  it('bounds work per render', () => {
    const nested = '{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}';
    const err = thrown(() => render(nested, {}, { maxSteps: 10_000 }));
    expect(err.code).toBe('template_render_error');
    expect(err.message).toContain('steps');
    expect(thrown(() => render('{{ range(100000000) | length }}')).message).toContain('over the limit');
  });
});

describe('compileTemplate: sandbox', () => {
  const probes = [
    "{{ ''.constructor }}",
    "{{ ''.constructor.constructor('return process')() }}",
    '{{ x.constructor }}',
    '{{ x.__proto__ }}',
    "{{ x['__proto__'] }}",
    '{{ x.toString }}',
    '{{ range.constructor }}',
    '{{ namespace.call }}',
    '{{ process }}',
    '{{ globalThis }}',
    '{{ require }}',
    '{{ [].constructor }}',
    '{{ (1).constructor }}',
  ];

  it.each(probes)('%s reaches nothing of the JavaScript runtime', (source) => {
    let out: string;
    try {
      out = render(source, { x: { a: 1 } });
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      return;
    }
    expect(out).toBe('');
  });

  it('does not expose host globals or functions as values', () => {
    expect(render('{{ x is defined }}|{{ process is defined }}', { x: 1 })).toBe('true|false');
  });

  it('treats a __proto__ column as plain data', () => {
    const row = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": "ok"}') as Record<string, unknown>;
    expect(render('{{ a }}{{ polluted }}', row)).toBe('ok');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('renders share no state', () => {
  it('an assignment in one render, even to a global name, is not seen by the next', () => {
    const shadow = compileTemplate("{% set range = 'mine' %}{% set n = row_value %}{{ range }} {{ n }}", 'p');
    const uses = compileTemplate('{{ range(3) | join(",") }} {{ n }}', 'p');
    expect(shadow.render({ row_value: 1 })).toBe('mine 1');
    expect(uses.render({})).toBe('0,1,2 ');
    expect(shadow.render({ row_value: 2 })).toBe('mine 2');
  });
});
