/** The list of jobs, newest first, with live status and progress; filters by status and type. */
import { jobs, TERMINAL, type Job, type Progress } from './api.js';
import { field, h, notice, replace } from './dom.js';
import { ago, count, dateTime, num, pct, pct100 } from './format.js';
import { modelName } from './job-summary.js';
import { href, replaceQuery, type Route } from './router.js';
import { statusBadge } from './view-job.js';

const POLL_MS = 2000;
const STATUSES = ['pending', 'queued', 'running', 'completed', 'error', 'user_error'];
const TYPES = ['classify', 'score', 'compare'];

/** The job's headline figure, or its progress while it runs. */
function headline(job: Job, progress: Progress | undefined): HTMLElement {
  if (!TERMINAL.has(job.status)) {
    if (!progress) return h('span', { class: 'muted' }, 'waiting');
    const share = progress.rows_total === 0 ? 0 : progress.rows_done / progress.rows_total;
    return h(
      'span',
      { class: 'mini-progress' },
      h('progress', { max: Math.max(1, progress.rows_total), value: progress.rows_done, 'aria-label': `${job.workflow_id} progress` }),
      h('span', null, `${pct(share, 0)} · ${count(progress.rows_done)}/${count(progress.rows_total)}`),
    );
  }
  const r = job.results ?? {};
  const n = (v: unknown) => (typeof v === 'number' ? v : null);
  if (job.type === 'classify') return h('span', null, h('strong', null, pct100(n(r.pass_percentage))), ' pass');
  if (job.type === 'score') {
    const agg = (r.aggregated_scores ?? {}) as Record<string, unknown>;
    return h('span', null, 'mean ', h('strong', null, num(n(agg.mean_score))), ` · ${pct100(n(agg.pass_percentage), 0)} pass`);
  }
  return h('span', null, 'A win rate ', h('strong', null, pct(n(r.win_rate_a))));
}

function row(job: Job, progress: Progress | undefined): HTMLElement {
  const link = href(['jobs', job.workflow_id]);
  return h(
    'tr',
    null,
    h('td', { 'data-label': 'Job' }, h('a', { href: link, class: 'job-link', 'data-key': job.workflow_id }, job.workflow_id)),
    h('td', { 'data-label': 'Type' }, h('span', { class: `badge type-${job.type}` }, job.type)),
    h('td', { 'data-label': 'Status' }, statusBadge(job.status)),
    h('td', { 'data-label': 'Judge', class: 'truncate' }, modelName(job.parameters.judge)),
    h('td', { 'data-label': 'Result' }, headline(job, progress)),
    h('td', { 'data-label': 'Created' }, h('time', { datetime: job.created_at, title: dateTime(job.created_at) }, ago(job.created_at))),
  );
}

export function jobsView(root: HTMLElement, route: Route): () => void {
  let stopped = false;
  let timer: number | undefined;
  const status = h('select', { id: 'filter-status', name: 'status' }, h('option', { value: '' }, 'Any status'), ...STATUSES.map((s) => h('option', { value: s }, s === 'user_error' ? 'stopped (user_error)' : s)));
  const type = h('select', { id: 'filter-type', name: 'type' }, h('option', { value: '' }, 'Any type'), ...TYPES.map((t) => h('option', { value: t }, t)));
  status.value = STATUSES.includes(route.query.get('status') ?? '') ? route.query.get('status')! : '';
  type.value = TYPES.includes(route.query.get('type') ?? '') ? route.query.get('type')! : '';
  const list = h('div', { class: 'list-region' });
  const messages = h('div');
  let lastHtml = '';

  root.append(
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, 'Evaluations'), h('a', { class: 'button primary', href: '#/new' }, 'New evaluation')),
      h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter evaluations', onsubmit: (e: Event) => e.preventDefault() }, field('Status', status), field('Type', type)),
      messages,
      list,
    ),
  );

  async function refresh(): Promise<void> {
    window.clearTimeout(timer);
    try {
      const all = await jobs.list(status.value || undefined);
      const shown = all.filter((j) => !type.value || j.type === type.value);
      const progress = new Map<string, Progress | undefined>();
      await Promise.all(
        shown.filter((j) => !TERMINAL.has(j.status)).map(async (j) => {
          const full = await jobs.get(j.workflow_id).catch(() => j);
          progress.set(j.workflow_id, full.progress);
          Object.assign(j, { status: full.status, results: full.results });
        }),
      );
      if (stopped) return;
      replace(messages);
      const content = shown.length === 0 ? empty() : table(shown, progress);
      // Redraw only when something changed, and keep focus on the link that had it.
      if (content.outerHTML !== lastHtml) {
        lastHtml = content.outerHTML;
        const key = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
        replace(list, content);
        if (key) list.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
      }
    } catch (err) {
      if (!stopped) replace(messages, notice('error', `Could not load evaluations: ${(err as Error).message}`));
    }
    if (!stopped) timer = window.setTimeout(() => void refresh(), POLL_MS);
  }

  function empty(): HTMLElement {
    const filtered = status.value !== '' || type.value !== '';
    return h(
      'div',
      { class: 'empty card' },
      h('p', null, filtered ? 'No evaluations match these filters.' : 'No evaluations yet.'),
      filtered ? null : h('p', null, h('a', { class: 'button primary', href: '#/new' }, 'Create your first evaluation')),
    );
  }

  function table(shown: Job[], progress: Map<string, Progress | undefined>): HTMLElement {
    return h(
      'div',
      { class: 'table-wrap card flush' },
      h(
        'table',
        { class: 'jobs-table' },
        h('caption', { class: 'visually-hidden' }, 'Evaluations, newest first'),
        h('thead', null, h('tr', null, ...['Job', 'Type', 'Status', 'Judge', 'Result', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, ...shown.map((j) => row(j, progress.get(j.workflow_id)))),
      ),
    );
  }

  const onFilter = () => {
    const q = new URLSearchParams();
    if (status.value) q.set('status', status.value);
    if (type.value) q.set('type', type.value);
    replaceQuery(['jobs'], q);
    lastHtml = '';
    void refresh();
  };
  status.addEventListener('change', onFilter);
  type.addEventListener('change', onFilter);
  void refresh();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
