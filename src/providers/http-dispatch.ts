/**
 * Where model calls get their connections: undici agents (a keep-alive pool per origin) that
 * follow redirects as `fetch` would (a 301/302 after a POST continues as a GET, a 307/308 repeats
 * the POST), so a server behind a redirect answers as it would to any HTTP client.
 */
import { Agent, interceptors, type Dispatcher } from 'undici';

const MAX_REDIRECTIONS = 5;

/** A reply larger than this is cut off and the call fails: no chat completion is this big. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** Options for every agent that carries model calls. */
export const AGENT_OPTIONS = { maxResponseSize: MAX_REPLY_BYTES } as const;

export function withRedirects(dispatcher: Dispatcher): Dispatcher {
  return dispatcher.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
}

let shared: Dispatcher | undefined;

/** The pools for trusted endpoints (the configured provider), shared by every model of the process. */
export function sharedDispatcher(): Dispatcher {
  return (shared ??= withRedirects(new Agent(AGENT_OPTIONS)));
}
