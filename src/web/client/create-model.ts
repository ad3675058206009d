/** Form parts for model endpoints: the judge, and where a judged response comes from. */
import { field, h, replace } from './dom.js';
import { templateEditor, type TemplateEditor } from './create-template.js';

export const MODEL_OPTIONS_ID = 'model-options';

export interface Endpoint {
  el: HTMLElement;
  /** The request fields: model, model_source and, for external models, base URL and token. */
  value(): Record<string, unknown>;
}

/** Model name, source, and (for external models) base URL and a write-only token. */
export function endpointFields(prefix: string, param: string, defaults: { model?: string } = {}): Endpoint {
  const model = h('input', { id: `${prefix}-model`, name: `${prefix}-model`, required: true, list: MODEL_OPTIONS_ID, autocomplete: 'off', spellcheck: 'false', 'data-param': `${param}.model`, value: defaults.model ?? '' });
  const source = h(
    'select',
    { id: `${prefix}-source`, name: `${prefix}-source`, 'data-param': `${param}.model_source` },
    h('option', { value: 'serverless' }, 'serverless (the server’s provider)'),
    h('option', { value: 'dedicated' }, 'dedicated endpoint'),
    h('option', { value: 'external' }, 'external (any OpenAI-compatible API)'),
  );
  const baseUrl = h('input', { id: `${prefix}-base-url`, name: `${prefix}-base-url`, type: 'url', placeholder: 'https://api.example.com/v1', autocomplete: 'off', spellcheck: 'false', 'data-param': `${param}.external_base_url` });
  // Tokens are write-only: never prefilled, never shown back, not kept by the browser.
  const token = h('input', { id: `${prefix}-token`, name: `${prefix}-token`, type: 'password', autocomplete: 'new-password', spellcheck: 'false', 'data-param': `${param}.external_api_token` });
  const external = h(
    'div',
    { class: 'external-fields grid-2' },
    field('Base URL', baseUrl, 'Leave empty for a known provider prefix such as openai/…'),
    field('API token', token, 'Used while the job runs, then forgotten; never shown again.'),
  );
  const sync = () => {
    external.hidden = source.value !== 'external';
  };
  source.addEventListener('change', sync);
  sync();
  return {
    el: h('div', { class: 'endpoint' }, h('div', { class: 'grid-2' }, field('Model', model), field('Model source', source)), external),
    value() {
      const out: Record<string, unknown> = { model: model.value.trim(), model_source: source.value };
      if (source.value === 'external') {
        if (baseUrl.value.trim()) out.external_base_url = baseUrl.value.trim();
        if (token.value) out.external_api_token = token.value;
      }
      return out;
    },
  };
}

export interface ResponseSourceForm {
  el: HTMLElement;
  /** A column name, or a model config that generates the response. */
  value(): string | Record<string, unknown>;
  setDataset(columns: readonly string[], row: Record<string, unknown> | null): void;
}

/** "Judge a dataset column" or "generate with a model", for the model under test or model A/B. */
export function responseSource(prefix: string, param: string, legend: string, prefer: readonly string[] = []): ResponseSourceForm {
  const name = `${prefix}-kind`;
  const columnRadio = h('input', { type: 'radio', name, id: `${prefix}-kind-column`, value: 'column', checked: true });
  const generateRadio = h('input', { type: 'radio', name, id: `${prefix}-kind-generate`, value: 'generate' });
  const column = h('select', { id: `${prefix}-column`, name: `${prefix}-column`, required: true, 'data-param': param }, h('option', { value: '' }, 'Choose a dataset first'));
  const columnPart = h('div', { class: 'kind-body' }, h('div', { class: 'field' }, h('label', { for: column.id }, 'Response column'), column));

  let generator: { endpoint: Endpoint; input: TemplateEditor; system: TemplateEditor } | null = null;
  const generatePart = h('div', { class: 'kind-body' });
  let dataset: { columns: readonly string[]; row: Record<string, unknown> | null } = { columns: [], row: null };

  const sync = () => {
    const generate = generateRadio.checked;
    if (generate && !generator) {
      generator = {
        endpoint: endpointFields(`${prefix}-gen`, param),
        input: templateEditor({ id: `${prefix}-input-template`, label: 'Input template', param: `${param}.input_template`, required: true, rows: 3, hint: 'The user message the model receives, e.g. {{ question }}.' }),
        system: templateEditor({ id: `${prefix}-system-template`, label: 'System template (optional)', param: `${param}.system_template`, rows: 2 }),
      };
      generator.input.setDataset(dataset.columns, dataset.row);
      generator.system.setDataset(dataset.columns, dataset.row);
      replace(generatePart, generator.endpoint.el, generator.input.el, generator.system.el);
    }
    // Hidden parts leave the form, so their required fields do not block submitting.
    if (generate) {
      columnPart.remove();
      body.replaceChildren(generatePart);
    } else {
      generatePart.remove();
      body.replaceChildren(columnPart);
    }
  };
  const body = h('div');
  columnRadio.addEventListener('change', sync);
  generateRadio.addEventListener('change', sync);

  const el = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', null, legend),
    h(
      'div',
      { class: 'segmented', role: 'radiogroup', 'aria-label': `${legend}: source` },
      h('label', { for: columnRadio.id }, columnRadio, h('span', null, 'Dataset column')),
      h('label', { for: generateRadio.id }, generateRadio, h('span', null, 'Generate with a model')),
    ),
    body,
  );
  sync();

  return {
    el,
    value() {
      if (!generateRadio.checked || !generator) return column.value;
      const out: Record<string, unknown> = { ...generator.endpoint.value(), input_template: generator.input.textarea.value };
      if (generator.system.textarea.value.trim()) out.system_template = generator.system.textarea.value;
      return out;
    },
    setDataset(columns, row) {
      dataset = { columns, row };
      const previous = column.value;
      replace(column, h('option', { value: '' }, columns.length ? 'Choose a column' : 'Choose a dataset first'), ...columns.map((c) => h('option', { value: c }, c)));
      column.value = columns.includes(previous) ? previous : (prefer.find((c) => columns.includes(c)) ?? '');
      generator?.input.setDataset(columns, row);
      generator?.system.setDataset(columns, row);
    },
  };
}
