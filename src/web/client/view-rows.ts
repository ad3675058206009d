/** The row browser: a job's rows, 50 a page from the server, filtered and searched; a row opens in a dialog. */
import { jobs, type EvalType, type Job, type RowItem } from './api.js';
import { field, h, notice, replace } from './dom.js';
import { count, snippet } from './format.js';
import { outcomeBadge, showRow, verdictText } from './row-detail.js';
import { href, replaceQuery, type Route } from './router.js';

const PAGE = 50;

/** The "Show" choices and the API filter each stands for. */
function showOptions(type: EvalType): Array<[string, string, Record<string, string>]> {
  const pass: Array<[string, string, Record<string, string>]> =
    type === 'compare' ? [] : [['pass', 'Passing', { pass: 'true' }], ['fail', 'Not passing', { pass: 'false' }]];
  return [
    ['', 'All rows', {}],
    ...pass,
    ['valid', 'Valid verdicts', { outcome: 'ok' }],
    ['invalid', 'Invalid verdicts', { outcome: 'invalid' }],
    ['failed', 'Failed (any)', { outcome: 'failed' }],
    ['generation_failed', 'Generation failed', { outcome: 'generation_failed' }],
    ['judge_failed', 'Judge failed', { outcome: 'judge_failed' }],
  ];
}

function inputSnippet(row: RowItem): string {
  if (!row.input) return '';
  return Object.entries(row.input)
    .slice(0, 3)
    .map(([k, v]) => `${k}: ${snippet(v, 60)}`)
    .join(' · ');
}

/** Whether a row's verdict passes: its label is a pass label, or its score reaches the threshold. */
function passes(job: Job, row: RowItem): boolean | null {
  const p = job.parameters;
  if (job.type === 'classify' && typeof row.result.label === 'string') return Array.isArray(p.pass_labels) && p.pass_labels.includes(row.result.label);
  if (job.type === 'score' && typeof row.result.score === 'number' && typeof p.pass_threshold === 'number') return row.result.score >= p.pass_threshold;
  return null;
}

function item(job: Job, row: RowItem, open: (row: RowItem, button: HTMLButtonElement) => void): HTMLElement {
  const type = job.type;
  const verdict = verdictText(type, row);
  const pass = passes(job, row);
  const r = row.result;
  const feedback = r.feedback ?? r.judge_feedback_original_order ?? r.invalid_reason ?? r.error;
  const button = h(
    'button',
    { type: 'button', class: 'row-item', 'data-row': row.row_index },
    h('span', { class: 'row-index' }, `#${row.row_index + 1}`),
    h('span', { class: 'row-tags' }, outcomeBadge(row.outcome), verdict ? h('span', { class: `verdict${pass === null ? '' : pass ? ' is-pass' : ' is-fail'}` }, verdict) : null),
    h('span', { class: 'row-text' }, h('span', { class: 'row-input' }, inputSnippet(row)), feedback ? h('span', { class: 'row-feedback' }, snippet(feedback, 160)) : null),
  );
  button.addEventListener('click', () => open(row, button));
  return h('li', null, button);
}

export function rowsView(root: HTMLElement, route: Route): () => void {
  const id = route.path[1]!;
  const q = route.query;
  let page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
  let job: Job | null = null;
  let controller: AbortController | null = null;
  let stopped = false;

  const show = h('select', { id: 'rows-show', name: 'show' });
  const label = h('select', { id: 'rows-label', name: 'label' });
  const winner = h('select', { id: 'rows-winner', name: 'winner' }, ...[['', 'Any decision'], ['A', 'A wins'], ['B', 'B wins'], ['Tie', 'Tie']].map(([v, t]) => h('option', { value: v! }, t!)));
  const search = h('input', { id: 'rows-search', name: 'q', type: 'search', placeholder: 'Text in inputs, responses or feedback', value: q.get('q') ?? '', autocomplete: 'off' });
  const filters = h('div', { class: 'filter-fields' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter rows' }, filters);
  const summary = h('p', { class: 'result-count', role: 'status' });
  const list = h('ul', { class: 'row-list', 'aria-label': 'Rows' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const messages = h('div');
  const dialog = h('dialog', { class: 'row-dialog', id: 'row-dialog' });
  const title = h('h1', { tabindex: '-1' }, 'Rows');
  const back = h('a', { class: 'button', href: href(['jobs', id]) }, 'Back to summary');
  const head = h(
    'div',
    null,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/jobs' }, 'Evaluations'), ' / ', h('a', { href: href(['jobs', id]) }, id), h('span', { 'aria-hidden': 'true' }, ' / ')),
    h('div', { class: 'title-row' }, title, back),
  );
  let opener: HTMLElement | null = null;
  dialog.addEventListener('close', () => opener?.focus());
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close(); // a click on the backdrop
  });

  root.append(h('section', { class: 'page' }, head, form, messages, summary, list, pager, dialog));

  const query = () => {
    const out = new URLSearchParams({ offset: String((page - 1) * PAGE), limit: String(PAGE) });
    const chosen = job ? showOptions(job.type).find(([key]) => key === show.value) : undefined;
    for (const [k, v] of Object.entries(chosen?.[2] ?? {})) out.set(k, v);
    if (job?.type === 'classify' && label.value) out.set('label', label.value);
    if (job?.type === 'compare' && winner.value) out.set('winner', winner.value);
    if (search.value.trim()) out.set('q', search.value.trim());
    return out;
  };

  const remember = () => {
    const state = new URLSearchParams();
    if (show.value) state.set('show', show.value);
    if (label.value) state.set('label', label.value);
    if (winner.value) state.set('winner', winner.value);
    if (search.value.trim()) state.set('q', search.value.trim());
    if (page > 1) state.set('page', String(page));
    replaceQuery(['jobs', id, 'rows'], state);
  };

  async function load(): Promise<void> {
    if (!job) return;
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    remember();
    list.setAttribute('aria-busy', 'true');
    try {
      const res = await jobs.rows(id, query(), mine.signal);
      if (stopped || mine.signal.aborted) return;
      replace(messages);
      const first = res.total === 0 ? 0 : res.offset + 1;
      const last = res.offset + res.data.length;
      summary.textContent = res.total === 0 ? 'No rows match.' : `Rows ${count(first)}–${count(last)} of ${count(res.total)}`;
      replace(list, ...res.data.map((row) => item(job!, row, open)));
      const pages = Math.max(1, Math.ceil(res.total / PAGE));
      const prev = h('button', { type: 'button', class: 'button', disabled: page <= 1, onclick: () => turn(page - 1) }, '← Previous');
      const next = h('button', { type: 'button', class: 'button', disabled: page >= pages, onclick: () => turn(page + 1) }, 'Next →');
      replace(pager, prev, h('span', { class: 'muted' }, `Page ${count(page)} of ${count(pages)}`), next);
    } catch (err) {
      if (!mine.signal.aborted && !stopped) replace(messages, notice('error', (err as Error).message));
    } finally {
      if (controller === mine) list.removeAttribute('aria-busy');
    }
  }

  const turn = (to: number) => {
    page = to;
    void load().then(() => summary.scrollIntoView({ block: 'nearest' }));
  };
  const open = (row: RowItem, button: HTMLButtonElement) => {
    opener = button;
    showRow(dialog, job!, row);
  };
  const refilter = () => {
    page = 1;
    void load();
  };

  function setup(j: Job): void {
    job = j;
    replace(show, ...showOptions(j.type).map(([key, text]) => h('option', { value: key }, text)));
    show.value = q.get('show') ?? '';
    if (show.selectedIndex < 0) show.value = '';
    const labels = Array.isArray(j.parameters.labels) ? (j.parameters.labels as unknown[]).map(String) : [];
    replace(label, h('option', { value: '' }, 'Any label'), ...labels.map((l) => h('option', { value: l }, l)));
    label.value = labels.includes(q.get('label') ?? '') ? q.get('label')! : '';
    winner.value = ['A', 'B', 'Tie'].includes(q.get('winner') ?? '') ? q.get('winner')! : '';
    replace(
      filters,
      field('Show', show),
      j.type === 'classify' ? field('Label', label) : null,
      j.type === 'compare' ? field('Decision', winner) : null,
      h('div', { class: 'field grow' }, h('label', { for: search.id }, 'Search'), h('div', { class: 'search-box' }, search, h('button', { type: 'submit', class: 'button' }, 'Search'))),
    );
    void load();
  }

  for (const select of [show, label, winner]) select.addEventListener('change', refilter);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    refilter();
  });
  search.addEventListener('search', refilter); // the clear button of a search field

  jobs
    .get(id)
    .then(setup)
    .catch((err: Error) => replace(messages, notice('error', `Could not load the job: ${err.message}`)));

  return () => {
    stopped = true;
    controller?.abort();
    if (dialog.open) dialog.close();
  };
}
