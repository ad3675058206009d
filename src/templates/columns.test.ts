import { describe, expect, it } from 'vitest';

import { ValidationError } from '../domain/errors.js';
import { assertTemplateColumns, undeclaredColumns } from './columns.js';
import { compileTemplate } from './compile.js';

const JUDGE = 'parameters.judge.system_template';
const INPUT = 'parameters.model_to_evaluate.input_template';

function uses(...pairs: Array<[string, string]>) {
  return pairs.map(([source, param]) => ({ template: compileTemplate(source, param), param }));
}

describe('undeclaredColumns', () => {
  it('returns nothing when every variable is a column', () => {
    const templates = uses(['{{ prompt }} {{ info.question }}', JUDGE], ['{{ prompt }}', INPUT]);
    expect(undeclaredColumns(templates, ['prompt', 'info', 'unused'])).toEqual([]);
  });

  it('names each missing variable with the template it comes from', () => {
    const templates = uses(['{{ prompt }} {{ foo }}', JUDGE], ['{{ bar }}{% for x in xs %}{{ x }}{% endfor %}', INPUT]);
    expect(undeclaredColumns(templates, new Set(['prompt']))).toEqual([
      { variable: 'foo', param: JUDGE },
      { variable: 'bar', param: INPUT },
      { variable: 'xs', param: INPUT },
    ]);
  });

  it('accepts any iterable of columns, including a generator', () => {
    function* columns() {
      yield 'a';
    }
    expect(undeclaredColumns(uses(['{{ a }}{{ b }}', JUDGE]), columns())).toEqual([{ variable: 'b', param: JUDGE }]);
  });
});

describe('assertTemplateColumns', () => {
  it('passes when all variables are columns', () => {
    expect(() => assertTemplateColumns(uses(['{{ a }}', JUDGE]), ['a', 'b'])).not.toThrow();
  });

  it('throws a 400 naming the template, the variable and the columns', () => {
    let err: unknown;
    try {
      assertTemplateColumns(uses(['{{ a }}{{ foo }}', JUDGE]), ['a', 'b']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    expect(v.message).toBe(`template ${JUDGE} uses {{foo}} but the dataset has no column 'foo' (columns: a, b)`);
    expect(v.param).toBe(JUDGE);
    expect(v.code).toBe('missing_column');
    expect(v.httpStatus).toBe(400);
  });

  it('mentions further unknown variables', () => {
    expect(() => assertTemplateColumns(uses(['{{ foo }}{{ bar }}', JUDGE], ['{{ baz }}', INPUT]), [])).toThrow(
      "uses {{foo}} but the dataset has no column 'foo' (columns: none); 2 more unknown: bar, baz",
    );
  });
});
