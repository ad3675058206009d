/** Creating an evaluation: dataset, type, judge, type-specific settings; submits and opens the job. */
import { ApiError, jobs, type EvalType } from './api.js';
import { datasetPicker, type Dataset } from './create-dataset.js';
import { endpointFields, MODEL_OPTIONS_ID } from './create-model.js';
import { templateEditor } from './create-template.js';
import { JUDGE_TEMPLATES, typeSection, type TypeSection } from './create-type.js';
import { h, notice, replace } from './dom.js';
import { go } from './router.js';

const TYPES: Array<{ type: EvalType; title: string; text: string }> = [
  { type: 'classify', title: 'Classify', text: 'The judge picks one of your labels; some labels pass.' },
  { type: 'score', title: 'Score', text: 'The judge gives a number in a range; a threshold passes.' },
  { type: 'compare', title: 'Compare', text: 'The judge picks the better of two responses.' },
];

/** Marks the control the server's error names, and moves focus there. */
function showFieldError(form: HTMLElement, param: string | null): void {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  if (!param) return;
  const candidates = [...form.querySelectorAll<HTMLElement>('[data-param]')];
  const target = candidates.find((el) => el.dataset.param === param) ?? candidates.find((el) => param.startsWith(`${el.dataset.param ?? '\u0000'}.`));
  if (!target) return;
  target.setAttribute('aria-invalid', 'true');
  const focusable = target.matches('input, select, textarea') ? target : target.querySelector<HTMLElement>('input, select, textarea');
  focusable?.focus();
}

export function createView(root: HTMLElement): () => void {
  let type: EvalType = 'classify';
  let dataset: Dataset | null = null;
  let section: TypeSection = typeSection(type);
  const sectionSlot = h('div', null, section.el);
  const messages = h('div');
  const models = h('datalist', { id: MODEL_OPTIONS_ID });
  jobs
    .models()
    .then((m) => replace(models, ...m.model_list.map((name) => h('option', { value: name }))))
    .catch(() => undefined);

  const judge = endpointFields('judge', 'parameters.judge');
  const judgeTemplate = templateEditor({
    id: 'judge-template',
    label: 'Judge instructions (system template)',
    param: 'parameters.judge.system_template',
    value: JUDGE_TEMPLATES[type],
    rows: 6,
    preview: true,
    hint: 'What the judge is asked. Jinja2: {{ column }} inserts a value from the row; the response and the output format are added by assay.',
  });

  const setDataset = (d: Dataset | null) => {
    dataset = d;
    const columns = d?.preview.columns ?? [];
    const row = d?.preview.rows[0] ?? null;
    judgeTemplate.setDataset(columns, row);
    section.setDataset(columns, row);
  };
  const picker = datasetPicker(setDataset);

  const typeRadios = TYPES.map((t) => {
    const radio = h('input', { type: 'radio', name: 'type', id: `type-${t.type}`, value: t.type, checked: t.type === type });
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      if (judgeTemplate.textarea.value === JUDGE_TEMPLATES[type]) {
        judgeTemplate.textarea.value = JUDGE_TEMPLATES[t.type];
        judgeTemplate.textarea.dispatchEvent(new Event('input'));
      }
      type = t.type;
      section = typeSection(type);
      section.setDataset(dataset?.preview.columns ?? [], dataset?.preview.rows[0] ?? null);
      replace(sectionSlot, section.el);
    });
    return h('label', { class: 'type-card', for: radio.id }, radio, h('span', { class: 'type-title' }, t.title), h('span', { class: 'type-text' }, t.text));
  });

  const submit = h('button', { type: 'submit', class: 'button primary large' }, 'Start evaluation');
  const form = h(
    'form',
    { class: 'create-form stack', 'aria-labelledby': 'create-title' },
    picker.el,
    h('fieldset', { class: 'fieldset' }, h('legend', null, 'Evaluation type'), h('div', { class: 'type-cards', 'data-param': 'type' }, ...typeRadios)),
    h('fieldset', { class: 'fieldset' }, h('legend', null, 'Judge'), judge.el, judgeTemplate.el),
    sectionSlot,
    messages,
    h('div', { class: 'form-actions' }, submit, h('a', { class: 'button ghost', href: '#/jobs' }, 'Cancel')),
    models,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(messages);
    if (!dataset) {
      replace(messages, notice('error', 'Choose a dataset: upload a file or pick an uploaded one.'));
      document.getElementById('dataset-upload')?.focus();
      return;
    }
    if (!form.reportValidity()) return;
    const body = {
      type,
      parameters: {
        input_data_file_path: dataset.file.id,
        judge: { ...judge.value(), system_template: judgeTemplate.textarea.value },
        ...section.value(),
      },
    };
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const created = await jobs.create(body);
      go(['jobs', created.workflow_id]);
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Start evaluation';
      const message = err instanceof ApiError ? err.message : `Could not create the evaluation: ${(err as Error).message}`;
      replace(messages, notice('error', message));
      showFieldError(form, err instanceof ApiError ? err.param : null);
    }
  });

  root.append(
    h(
      'section',
      { class: 'page narrow' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/jobs' }, 'Evaluations'), h('span', { 'aria-hidden': 'true' }, ' / ')),
      h('h1', { id: 'create-title', tabindex: '-1' }, 'New evaluation'),
      form,
    ),
  );
  return () => undefined;
}
