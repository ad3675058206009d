/**
 * A Jinja template editor: the dataset's columns as buttons that insert `{{ column }}`, and the
 * template rendered against the first row by the server, so the preview is exactly what runs.
 */
import { ApiError, templates } from './api.js';
import { debounce, h, replace } from './dom.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface TemplateEditor {
  el: HTMLElement;
  textarea: HTMLTextAreaElement;
  /** The dataset's columns and first row (null before a dataset is chosen). */
  setDataset(columns: readonly string[], row: Record<string, unknown> | null): void;
}

export interface TemplateEditorOptions {
  id: string;
  label: string;
  /** The request field, for error messages that name it. */
  param: string;
  value?: string;
  required?: boolean;
  hint?: string;
  rows?: number;
  /** Render a live preview (the judge's system template does). */
  preview?: boolean;
}

export function templateEditor(opts: TemplateEditorOptions): TemplateEditor {
  const textarea = h('textarea', {
    id: opts.id,
    name: opts.id,
    rows: opts.rows ?? 5,
    required: opts.required ?? false,
    spellcheck: 'false',
    'data-param': opts.param,
    'aria-describedby': `${opts.id}-hint`,
  });
  textarea.value = opts.value ?? '';
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': `Insert a column into ${opts.label.toLowerCase()}` });
  const previewBody = h('pre', { class: 'preview-text', id: `${opts.id}-preview` });
  const previewNote = h('p', { class: 'hint', 'aria-live': 'polite' }, 'Choose a dataset to see the rendered template.');
  const previewBox = opts.preview
    ? h('div', { class: 'preview' }, h('div', { class: 'preview-head' }, h('span', null, 'Preview with the first row'), previewNote), previewBody)
    : null;
  let columns: readonly string[] = [];
  let row: Record<string, unknown> | null = null;
  let inflight: AbortController | null = null;

  const insert = (name: string) => {
    const token = `{{ ${name} }}`;
    const { selectionStart: start, selectionEnd: end, value } = textarea;
    textarea.value = value.slice(0, start) + token + value.slice(end);
    textarea.focus();
    textarea.setSelectionRange(start + token.length, start + token.length);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  };

  const render = debounce(async () => {
    if (!previewBox) return;
    inflight?.abort();
    if (row === null) {
      previewBody.textContent = '';
      previewNote.textContent = 'Choose a dataset to see the rendered template.';
      return;
    }
    const controller = new AbortController();
    inflight = controller;
    try {
      const out = await templates.render(textarea.value, row, controller.signal);
      const unknown = out.variables.filter((v) => !columns.includes(v));
      previewBody.textContent = out.rendered === '' ? '(empty)' : out.rendered;
      previewBody.classList.remove('is-error');
      previewNote.textContent = unknown.length > 0 ? `Not a column: ${unknown.join(', ')}` : '';
      previewNote.classList.toggle('warn', unknown.length > 0);
      textarea.removeAttribute('aria-invalid');
    } catch (err) {
      if (controller.signal.aborted) return;
      previewBody.textContent = err instanceof ApiError ? err.message : `Preview unavailable: ${(err as Error).message}`;
      previewBody.classList.add('is-error');
      previewNote.textContent = '';
      textarea.setAttribute('aria-invalid', 'true');
    }
  }, 250);
  textarea.addEventListener('input', () => render());

  const el = h(
    'div',
    { class: 'field template-field' },
    h('label', { for: opts.id }, opts.label),
    h('p', { class: 'hint', id: `${opts.id}-hint` }, opts.hint ?? 'Jinja2: {{ column }} inserts a value from the row.'),
    chips,
    textarea,
    previewBox,
  );

  return {
    el,
    textarea,
    setDataset(cols, first) {
      columns = cols;
      row = first;
      replace(
        chips,
        cols.length > 0 ? h('span', { class: 'chips-label', 'aria-hidden': 'true' }, 'Columns') : null,
        // Only names Jinja can read as variables are offered.
        ...cols.filter((c) => IDENTIFIER.test(c)).map((c) => h('button', { type: 'button', class: 'chip', onclick: () => insert(c), 'aria-label': `Insert column ${c}` }, `{{ ${c} }}`)),
      );
      render();
    },
  };
}
