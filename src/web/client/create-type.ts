/** The parts of the create form that depend on the evaluation type. */
import type { EvalType } from './api.js';
import { field, h, replace } from './dom.js';
import { responseSource, type ResponseSourceForm } from './create-model.js';

export interface TypeSection {
  el: HTMLElement;
  /** This type's request parameters. */
  value(): Record<string, unknown>;
  setDataset(columns: readonly string[], row: Record<string, unknown> | null): void;
}

const RESPONSE_COLUMNS = ['response', 'answer', 'output', 'completion', 'model_output'];

export const JUDGE_TEMPLATES: Record<EvalType, string> = {
  classify: 'You are a careful grader. Decide whether the response answers the input correctly.',
  score: 'You are a careful grader. Rate how well the response answers the input.',
  compare: 'You are a careful grader. Decide which response answers the input better.',
};

function splitLabels(text: string): string[] {
  return [...new Set(text.split(',').map((l) => l.trim()).filter(Boolean))];
}

function classifySection(target: ResponseSourceForm): TypeSection {
  const labels = h('input', { id: 'labels', name: 'labels', required: true, value: 'correct, incorrect', autocomplete: 'off', 'data-param': 'parameters.labels' });
  const passBox = h('div', { class: 'checks', id: 'pass-labels', 'data-param': 'parameters.pass_labels' });
  const checked = new Set(['correct']);
  const drawPass = () => {
    const list = splitLabels(labels.value);
    replace(
      passBox,
      ...list.map((label, i) => {
        const box = h('input', { type: 'checkbox', id: `pass-${i}`, value: label, checked: checked.has(label) });
        box.addEventListener('change', () => (box.checked ? checked.add(label) : checked.delete(label)));
        return h('label', { class: 'check', for: box.id }, box, h('span', null, label));
      }),
    );
  };
  labels.addEventListener('input', drawPass);
  drawPass();
  const el = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', null, 'Labels'),
    field('Labels', labels, 'Comma-separated; the judge picks exactly one per row.'),
    h('fieldset', { class: 'inner' }, h('legend', null, 'Labels that count as a pass'), passBox),
  );
  return {
    el: h('div', { class: 'stack' }, el, target.el),
    value: () => ({
      labels: splitLabels(labels.value),
      pass_labels: splitLabels(labels.value).filter((l) => checked.has(l)),
      model_to_evaluate: target.value(),
    }),
    setDataset: (c, r) => target.setDataset(c, r),
  };
}

function scoreSection(target: ResponseSourceForm): TypeSection {
  const number = (id: string, value: string, param: string) => h('input', { id, name: id, type: 'number', step: 'any', required: true, value, inputmode: 'decimal', 'data-param': param });
  const min = number('min-score', '1', 'parameters.min_score');
  const max = number('max-score', '10', 'parameters.max_score');
  const threshold = number('pass-threshold', '7', 'parameters.pass_threshold');
  const el = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', null, 'Score range'),
    h('div', { class: 'grid-3' }, field('Lowest score', min), field('Highest score', max), field('Pass threshold', threshold, 'Scores at or above pass.')),
  );
  return {
    el: h('div', { class: 'stack' }, el, target.el),
    value: () => ({ min_score: Number(min.value), max_score: Number(max.value), pass_threshold: Number(threshold.value), model_to_evaluate: target.value() }),
    setDataset: (c, r) => target.setDataset(c, r),
  };
}

function compareSection(): TypeSection {
  const a = responseSource('model-a', 'parameters.model_a', 'Model A', ['response_a', 'answer_a', 'a']);
  const b = responseSource('model-b', 'parameters.model_b', 'Model B', ['response_b', 'answer_b', 'b']);
  const both = h('input', { type: 'checkbox', id: 'position-bias', name: 'position-bias', role: 'switch', checked: true, 'data-param': 'parameters.disable_position_bias_correction' });
  const el = h(
    'div',
    { class: 'stack' },
    a.el,
    b.el,
    h(
      'fieldset',
      { class: 'fieldset switch-row' },
      h('legend', null, 'Position bias'),
      h('label', { class: 'switch', for: both.id }, both, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), h('span', null, 'Ask the judge in both orders')),
      h('p', { class: 'hint' }, 'Each row is judged twice with the responses swapped, so the judge’s preference for a position cannot decide the result. Doubles judge calls.'),
    ),
  );
  return {
    el,
    value: () => ({ model_a: a.value(), model_b: b.value(), disable_position_bias_correction: !both.checked }),
    setDataset: (c, r) => {
      a.setDataset(c, r);
      b.setDataset(c, r);
    },
  };
}

export function typeSection(type: EvalType): TypeSection {
  if (type === 'compare') return compareSection();
  const target = responseSource('target', 'parameters.model_to_evaluate', 'Response to judge', RESPONSE_COLUMNS);
  return type === 'classify' ? classifySection(target) : scoreSection(target);
}
