/** Hash routing: `#/jobs/eval-1/rows?pass=false` is path ['jobs', 'eval-1', 'rows'] and its query. */

export interface Route {
  path: string[];
  query: URLSearchParams;
}

/** What a view returns: a function that stops its timers and requests when the view is left. */
export type Cleanup = () => void;
export type View = (root: HTMLElement, route: Route) => Cleanup | void;

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const cut = raw.indexOf('?');
  const path = cut === -1 ? raw : raw.slice(0, cut);
  const query = cut === -1 ? '' : raw.slice(cut + 1);
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

/** A hash link target for a path and optional query. */
export function href(path: readonly string[], query?: URLSearchParams): string {
  const q = query?.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`;
}

export function go(path: readonly string[], query?: URLSearchParams): void {
  location.hash = href(path, query);
}

/** Updates the address (for reload and sharing) without re-rendering the view. */
export function replaceQuery(path: readonly string[], query: URLSearchParams): void {
  history.replaceState(history.state, '', href(path, query));
}
