/**
 * undici, the HTTP client of model calls: the three parts assay uses, loaded when the first
 * connection pool is made instead of when the process starts.
 *
 * - When: a distributed API node (`serve --no-workers`) makes no model calls at all, so it should
 *   not pay for undici before it listens. A node that runs rows loads it when its engine starts
 *   consuming (see `ModelRegistry.preload`).
 * - What: each part from its own file, not the package's index. The index also loads `fetch`,
 *   WebSocket, EventSource, the cache and cookie APIs and the mock agents, and through them
 *   Node's own copy of undici: 81–133 ms in a fresh process against 39–42 for these three. An
 *   engine thread pays it right after it starts, which is when the first job after a start
 *   arrives. The files are the modules the index re-exports (undici-module.test.ts checks that
 *   they are), so an upgrade that moves them fails that test instead of a model call.
 *
 * The index also gives every dispatcher its `request`, `stream`, `pipeline`, `connect` and
 * `upgrade` methods (it assigns `lib/api` to the Dispatcher prototype); this does the same, so
 * the agents made here have every method undici's types promise (4 ms more).
 *
 * Loaded with `require` because making a pool is synchronous (the model registry hands models out
 * synchronously); undici is a CommonJS package, so these are the same module instances an
 * `import` of it gives.
 */
import { createRequire } from 'node:module';
import type { Agent, buildConnector, interceptors } from 'undici';

export interface Undici {
  Agent: typeof Agent;
  buildConnector: typeof buildConnector;
  redirect: typeof interceptors.redirect;
}

/** Where each part lives inside the package, as its index requires it. */
export const UNDICI_PARTS = {
  Agent: 'undici/lib/dispatcher/agent.js',
  buildConnector: 'undici/lib/core/connect.js',
  redirect: 'undici/lib/interceptor/redirect.js',
} as const satisfies Record<keyof Undici, string>;

let loaded: Undici | undefined;

export function undici(): Undici {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
  Object.assign(dispatcher.prototype, require('undici/lib/api/index.js'));
  loaded = {
    Agent: require(UNDICI_PARTS.Agent) as Undici['Agent'],
    buildConnector: require(UNDICI_PARTS.buildConnector) as Undici['buildConnector'],
    redirect: require(UNDICI_PARTS.redirect) as Undici['redirect'],
  };
  return loaded;
}
