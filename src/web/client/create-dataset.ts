/** Choosing the dataset: upload a file or pick an uploaded one, then see its columns and first rows. */
import { files, type FileInfo, type Preview } from './api.js';
import { h, notice, replace } from './dom.js';
import { bytes, count, dateTime, snippet } from './format.js';

export interface Dataset {
  file: FileInfo;
  preview: Preview;
}

export interface DatasetPicker {
  el: HTMLElement;
  current(): Dataset | null;
}

const PREVIEW_ROWS = 5;

function previewTable(preview: Preview): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap preview-table', tabindex: '0', role: 'region', 'aria-label': 'First rows of the dataset' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, '#'), ...preview.columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, ...preview.rows.map((row, i) => h('tr', null, h('td', { class: 'muted' }, String(i + 1)), ...preview.columns.map((c) => h('td', null, snippet(row[c], 80)))))),
    ),
  );
}

export function datasetPicker(onChange: (dataset: Dataset | null) => void): DatasetPicker {
  let current: Dataset | null = null;
  const input = h('input', { id: 'dataset-upload', name: 'dataset-upload', type: 'file', accept: '.jsonl,.json,.csv,application/json,text/csv', 'data-param': 'file' });
  const select = h('select', { id: 'dataset-existing', name: 'dataset-existing', 'data-param': 'parameters.input_data_file_path' }, h('option', { value: '' }, 'Loading files…'));
  const status = h('div', { 'aria-live': 'polite' });
  const details = h('div');

  const optionText = (f: FileInfo) => `${f.filename} · ${count(f.LineCount)} rows · ${dateTime(f.created_at)}`;

  async function loadList(selected?: string): Promise<void> {
    try {
      const list = (await files.list()).data.filter((f) => f.purpose === 'eval');
      replace(select, h('option', { value: '' }, list.length ? 'Choose an uploaded file' : 'No uploaded files yet'), ...list.map((f) => h('option', { value: f.id }, optionText(f))));
      select.value = selected ?? current?.file.id ?? '';
    } catch (err) {
      replace(select, h('option', { value: '' }, 'Could not list files'));
      replace(status, notice('error', (err as Error).message));
    }
  }

  async function choose(file: FileInfo | null): Promise<void> {
    replace(details);
    current = null;
    if (!file) return onChange(null);
    replace(status, h('p', { class: 'hint' }, `Reading ${file.filename}…`));
    try {
      const preview = await files.preview(file.id, PREVIEW_ROWS);
      current = { file, preview };
      replace(status);
      replace(
        details,
        h(
          'div',
          { class: 'dataset-summary' },
          h('p', null, h('strong', null, file.filename), ` · ${count(preview.line_count)} rows · ${bytes(file.bytes)} · `, h('code', null, file.id)),
          h('p', { class: 'columns' }, 'Columns: ', ...preview.columns.map((c) => h('code', { class: 'col' }, c))),
          previewTable(preview),
        ),
      );
      onChange(current);
    } catch (err) {
      replace(status, notice('error', `Could not read ${file.filename}: ${(err as Error).message}`));
      onChange(null);
    }
  }

  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    replace(status, h('p', { class: 'hint' }, `Uploading ${file.name}…`));
    try {
      const uploaded = await files.upload(file);
      input.value = '';
      await loadList(uploaded.id);
      await choose(uploaded);
    } catch (err) {
      replace(status, notice('error', `Upload failed: ${(err as Error).message}`));
    }
  });
  select.addEventListener('change', async () => {
    if (!select.value) return void choose(null);
    try {
      await choose(await files.get(select.value));
    } catch (err) {
      replace(status, notice('error', (err as Error).message));
    }
  });
  void loadList();

  const el = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', null, 'Dataset'),
    h(
      'div',
      { class: 'grid-2' },
      h('div', { class: 'field' }, h('label', { for: input.id }, 'Upload a JSONL or CSV file'), input),
      h('div', { class: 'field' }, h('label', { for: select.id }, 'Or use an uploaded file'), select),
    ),
    status,
    details,
  );
  return { el, current: () => current };
}
