import { describe, expect, it } from 'vitest';

import { compileTemplate } from './compile.js';

function vars(source: string): string[] {
  return [...compileTemplate(source, 'parameters.judge.system_template').variables];
}

describe('CompiledTemplate.variables', () => {
  it('lists top-level names in order of first use, once each', () => {
    expect(vars('{{ prompt }} {{ answer }} {{ prompt }}')).toEqual(['prompt', 'answer']);
    expect(vars('no variables here')).toEqual([]);
  });

  it('counts only the top-level name of member access and subscripts', () => {
    expect(vars('{{ info.question }}')).toEqual(['info']);
    expect(vars("{{ info['question'] }}")).toEqual(['info']);
    expect(vars('{{ info.meta.tags[0].name }}')).toEqual(['info']);
    expect(vars('{{ info[key] }}')).toEqual(['info', 'key']);
    expect(vars('{{ items[start:stop] }}')).toEqual(['items', 'start', 'stop']);
    expect(vars('{{ info.get("q") }}')).toEqual(['info']);
  });

  it('excludes loop variables, loop and names bound by set', () => {
    expect(vars('{% for m in messages %}{{ m.content }} {{ loop.index }}{% endfor %}')).toEqual(['messages']);
    expect(vars('{% for k, v in data.items() %}{{ k }}={{ v }}{{ sep }}{% endfor %}')).toEqual(['data', 'sep']);
    expect(vars('{% set greeting = "hi " ~ name %}{{ greeting }}')).toEqual(['name']);
    expect(vars('{% set a, b = pair %}{{ a }}{{ b }}')).toEqual(['pair']);
    expect(vars('{% set block %}{{ body }}{% endset %}{{ block }}')).toEqual(['body']);
  });

  it('reports a name read before it is set', () => {
    expect(vars('{{ x }}{% set x = 1 %}{{ x }}')).toEqual(['x']);
  });

  it('scopes loop variables and sets inside loops to the loop', () => {
    expect(vars('{% for x in xs %}{% set y = x %}{% endfor %}{{ x }}{{ y }}')).toEqual(['xs', 'x', 'y']);
    expect(vars('{% for x in xs %}{{ x }}{% else %}{{ x }}{% endfor %}')).toEqual(['xs', 'x']);
  });

  it('sees the loop variable in a loop filter', () => {
    expect(vars('{% for x in xs if x.ok and wanted %}{{ x }}{% endfor %}')).toEqual(['xs', 'wanted']);
  });

  it('handles conditionals, with sets binding after the if', () => {
    expect(vars('{% if a %}{{ b }}{% elif c %}{{ d }}{% else %}{{ e }}{% endif %}')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(vars('{% if a %}{% set x = 1 %}{% else %}{{ x }}{% endif %}{{ x }}')).toEqual(['a', 'x']);
    expect(vars('{% if a %}{% set x = 1 %}{% endif %}{{ x }}')).toEqual(['a']);
  });

  it('does not count filter and test names, but counts their arguments', () => {
    expect(vars('{{ name | upper | default(fallback) }}')).toEqual(['name', 'fallback']);
    expect(vars('{{ xs | join(sep) }}')).toEqual(['xs', 'sep']);
    expect(vars('{% if x is defined and y is not none %}{% endif %}')).toEqual(['x', 'y']);
    expect(vars('{% filter upper %}{{ body }}{% endfilter %}')).toEqual(['body']);
    expect(vars('{{ f(key=value) }}')).toEqual(['f', 'value']);
  });

  it('excludes globals and constants', () => {
    expect(vars('{% for i in range(n) %}{% endfor %}{{ true }}{{ false }}{{ none }}{{ True }}{{ None }}')).toEqual([
      'n',
    ]);
    expect(vars('{% set ns = namespace(total=0) %}{% set ns.total = ns.total + 1 %}{{ ns.total }}')).toEqual([]);
  });

  it('binds macro names and parameters', () => {
    const source = [
      '{% macro show(item, prefix="> " ~ marker, sep=prefix) %}{{ prefix }}{{ item }}{{ sep }}{{ suffix }}',
      '{{ varargs }}{{ kwargs }}{% endmacro %}',
      '{{ show(answer) }}',
    ].join('');
    expect(vars(source)).toEqual(['marker', 'suffix', 'answer']);
    expect(vars('{% macro r(n) %}{% if n > 0 %}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(depth) }}')).toEqual([
      'depth',
    ]);
  });

  it('binds call-block parameters and caller', () => {
    const source =
      '{% macro wrap() %}[{{ caller(tag) }}]{% endmacro %}{% call(t) wrap() %}{{ t }}{{ body }}{% endcall %}';
    expect(vars(source)).toEqual(['tag', 'body']);
  });

  it('walks literals, ternaries and operators', () => {
    expect(vars('{{ [a, (b, c), {"k": d, e: 1}] }}')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(vars('{{ x if cond else y }}{{ -n }}{{ not m }}{{ p ~ q }}{{ r in s }}')).toEqual([
      'cond',
      'x',
      'y',
      'n',
      'm',
      'p',
      'q',
      'r',
      's',
    ]);
  });

  it('ignores comments and text', () => {
    expect(vars('{# {{ hidden }} #}Plain {text} here')).toEqual([]);
  });
});
