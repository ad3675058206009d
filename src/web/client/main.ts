/** The UI shell: routes hash changes to views, marks the current nav link, asks for an API key. */
import { onKeyNeeded, setApiKey } from './api.js';
import { byId, h, replace } from './dom.js';
import { currentRoute, type Cleanup, type Route, type View } from './router.js';
import { createView } from './view-create.js';
import { jobView } from './view-job.js';
import { jobsView } from './view-jobs.js';
import { rowsView } from './view-rows.js';

function pick(route: Route): View | null {
  const [first, id, sub, ...rest] = route.path;
  if (first === undefined || (first === 'jobs' && id === undefined)) return jobsView;
  if (first === 'new' && id === undefined) return createView;
  if (first === 'jobs' && id !== undefined && rest.length === 0) {
    if (sub === undefined) return jobView;
    if (sub === 'rows') return rowsView;
  }
  return null;
}

function notFound(root: HTMLElement): void {
  replace(
    root,
    h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, h('a', { href: '#/' }, 'Back to evaluations'))),
  );
}

function markNav(route: Route): void {
  const section = route.path[0] === 'new' ? 'new' : 'jobs';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

let cleanup: Cleanup | void;
/** The path shown last; null before the first render, which leaves focus where the browser puts it. */
let lastPath: string | null = null;

function render(): void {
  const route = currentRoute();
  const path = route.path.join('/');
  const root = byId<HTMLElement>('main');
  const view = pick(route);
  cleanup?.();
  cleanup = undefined;
  root.replaceChildren();
  markNav(route);
  if (view) cleanup = view(root, route);
  else notFound(root);
  // Moving to another page puts focus on its heading, as a page load would.
  if (lastPath !== null && path !== lastPath) {
    const heading = root.querySelector<HTMLElement>('h1');
    heading?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  lastPath = path;
}

/** The API key dialog: shown when the server answers 401; resolves true once a key is saved. */
function setupKeyDialog(): void {
  const dialog = byId<HTMLDialogElement>('key-dialog');
  const input = byId<HTMLInputElement>('key-input');
  const reason = byId<HTMLElement>('key-reason');
  onKeyNeeded(
    (message) =>
      new Promise<boolean>((resolve) => {
        reason.textContent = message;
        input.value = '';
        dialog.returnValue = '';
        dialog.addEventListener(
          'close',
          () => {
            const saved = dialog.returnValue === 'save' && input.value.trim() !== '';
            if (saved) setApiKey(input.value.trim());
            input.value = '';
            resolve(saved);
          },
          { once: true },
        );
        dialog.showModal();
      }),
  );
}

setupKeyDialog();
window.addEventListener('hashchange', render);
render();
