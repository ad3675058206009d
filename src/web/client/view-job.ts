/** One job: status and progress, actions, summary charts, parameters and status history. */
import { ApiError, apiKey, download, jobs, TERMINAL, type Job } from './api.js';
import { h, notice, replace, type Child } from './dom.js';
import { ago, count, dateTime, duration, num } from './format.js';
import { summarySections, modelName, type OutcomeCounts } from './job-summary.js';
import { href, type Route } from './router.js';

const POLL_MS = 2000;

export function statusBadge(status: string): HTMLElement {
  const text = status === 'user_error' ? 'stopped' : status;
  return h('span', { class: `badge status-${status}` }, text);
}

async function outcomeCounts(id: string): Promise<OutcomeCounts> {
  const total = (outcome?: string) => {
    const q = new URLSearchParams({ limit: '1' });
    if (outcome) q.set('outcome', outcome);
    return jobs.rows(id, q).then((page) => page.total);
  };
  const [all, ok, invalid, generation_failed, judge_failed] = await Promise.all([total(), total('ok'), total('invalid'), total('generation_failed'), total('judge_failed')]);
  return { total: all, ok, invalid, generation_failed, judge_failed };
}

function progressBlock(job: Job): HTMLElement {
  const p = job.progress;
  if (!p) return h('div', { class: 'progress-block' }, h('p', { class: 'muted' }, 'Waiting to start…'));
  const parts = [`${count(p.rows_done)} of ${count(p.rows_total)} rows`];
  if (p.rows_failed > 0) parts.push(`${count(p.rows_failed)} failed`);
  if (p.rows_per_second !== null) parts.push(`${num(p.rows_per_second, 1)} rows/s`);
  if (p.eta_seconds !== null) parts.push(`about ${duration(p.eta_seconds)} left`);
  return h(
    'div',
    { class: 'progress-block' },
    h('label', { for: 'job-progress', class: 'progress-label' }, parts.join(' · ')),
    h('progress', { id: 'job-progress', max: Math.max(1, p.rows_total), value: p.rows_done }),
    p.waiting_on_rate_limit ? h('p', { class: 'hint' }, 'Holding requests back for a rate limit.') : null,
  );
}

/** Parameters as a nested list; tokens never reach the page (the API drops them, and so does this). */
function paramList(value: Record<string, unknown>): HTMLElement {
  const items: Child[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (/token|secret|api_key/i.test(key)) continue;
    let shown: Child;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) shown = paramList(v as Record<string, unknown>);
    else if (typeof v === 'string' && (v.includes('\n') || v.includes('{{') || v.length > 60)) shown = h('pre', { class: 'code' }, v);
    else shown = h('code', null, Array.isArray(v) ? v.map(String).join(', ') : String(v));
    items.push(h('dt', null, key), h('dd', null, shown));
  }
  return h('dl', { class: 'params' }, ...items);
}

function history(job: Job): HTMLElement {
  return h(
    'ol',
    { class: 'timeline' },
    ...[...job.status_updates].reverse().map((u) => h('li', null, statusBadge(u.status), h('span', { class: 'timeline-msg' }, u.message), h('time', { datetime: u.timestamp, title: dateTime(u.timestamp) }, ago(u.timestamp)))),
  );
}

export function jobView(root: HTMLElement, route: Route): () => void {
  const id = route.path[1]!;
  let stopped = false;
  let timer: number | undefined;
  let shownStatus = '';
  // The heading stays in place across redraws, so focus on it is never lost.
  const title = h('h1', { tabindex: '-1' }, id);
  const badge = h('span');
  const meta = h('p', { class: 'meta' });
  const actionSlot = h('div');
  const head = h(
    'div',
    { class: 'page-head' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/jobs' }, 'Evaluations'), h('span', { 'aria-hidden': 'true' }, ' / ')),
    h('div', { class: 'title-row' }, title, badge),
    meta,
    actionSlot,
  );
  const live = h('div');
  const body = h('div', { class: 'stack' });
  const messages = h('div');
  root.append(h('section', { class: 'page' }, head, messages, live, body));

  const act = async (button: HTMLButtonElement, run: () => Promise<unknown>) => {
    button.disabled = true;
    replace(messages);
    try {
      await run();
      await refresh(true);
    } catch (err) {
      replace(messages, notice('error', (err as Error).message));
      button.disabled = false;
    }
  };

  function actions(job: Job, counts: OutcomeCounts | null): HTMLElement {
    const resultFile = typeof job.results?.result_file_id === 'string' ? job.results.result_file_id : null;
    const finished = TERMINAL.has(job.status);
    const retryable = finished && resultFile !== null && counts !== null && (counts.generation_failed + counts.judge_failed > 0 || job.results?.cancelled === true);
    const cancel = h('button', { type: 'button', class: 'button danger', onclick: () => void act(cancel, () => jobs.cancel(id)) }, 'Cancel job');
    const retry = h('button', { type: 'button', class: 'button', onclick: () => void act(retry, () => jobs.retryFailed(id)) }, 'Retry failed rows');
    const dl = h('a', { class: 'button', href: resultFile ? `/v1/files/${encodeURIComponent(resultFile)}/content` : '#', download: `${id}-results.jsonl` }, 'Download results');
    // A plain link downloads natively; with an API key the bytes must go through fetch to carry it.
    dl.addEventListener('click', (event) => {
      if (!resultFile || !apiKey()) return;
      event.preventDefault();
      download(resultFile, `${id}-results.jsonl`).catch((err: Error) => replace(messages, notice('error', err.message)));
    });
    return h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button primary', href: href(['jobs', id, 'rows']) }, 'Browse rows'),
      resultFile ? dl : null,
      finished ? null : cancel,
      retryable ? retry : null,
    );
  }

  function header(job: Job, counts: OutcomeCounts | null): void {
    const judge = job.parameters.judge as Record<string, unknown> | undefined;
    replace(badge, statusBadge(job.status));
    replace(
      meta,
      h('span', { class: `badge type-${job.type}` }, job.type),
      h('span', null, 'judge ', h('strong', null, modelName(judge))),
      h('span', null, 'dataset ', h('code', null, String(job.parameters.input_data_file_path ?? '–'))),
      h('span', null, 'created ', h('time', { datetime: job.created_at, title: dateTime(job.created_at) }, ago(job.created_at))),
    );
    replace(actionSlot, actions(job, counts));
  }

  async function refresh(force = false): Promise<void> {
    let job: Job;
    try {
      job = await jobs.get(id);
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && err.status === 404) {
        title.textContent = 'Evaluation not found';
        replace(meta, 'No evaluation with id ', h('code', null, id), '. ', h('a', { href: '#/jobs' }, 'See all evaluations'));
        return;
      }
      replace(messages, notice('error', `Could not load the job: ${(err as Error).message}`));
      schedule();
      return;
    }
    if (stopped) return;
    const finished = TERMINAL.has(job.status);
    if (force || job.status !== shownStatus) {
      shownStatus = job.status;
      const counts = job.results ? await outcomeCounts(id).catch(() => null) : null;
      if (stopped) return;
      const focused = document.activeElement instanceof HTMLElement && root.contains(document.activeElement) ? document.activeElement.textContent : null;
      header(job, counts);
      const error = typeof job.results?.error === 'string' ? job.results.error : null;
      replace(
        body,
        error ? notice(job.results?.cancelled === true ? 'info' : 'error', error) : null,
        job.results && counts ? summarySections(job, counts) : null,
        h('div', { class: 'grid-2' }, h('section', { class: 'card' }, h('h2', null, 'Parameters'), paramList(job.parameters)), h('section', { class: 'card' }, h('h2', null, 'Status history'), history(job))),
      );
      // Keep keyboard focus on the same action after the page is redrawn.
      if (focused) [...root.querySelectorAll<HTMLElement>('.actions .button')].find((b) => b.textContent === focused)?.focus();
    }
    replace(live, finished ? null : progressBlock(job));
    if (!finished) schedule();
  }

  function schedule(): void {
    window.clearTimeout(timer);
    if (!stopped) timer = window.setTimeout(() => void refresh(), POLL_MS);
  }

  void refresh();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
