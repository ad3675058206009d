/**
 * A caller's own limit on its calls to a model server (a job's `num_workers`), applied to the
 * call itself, after the shared call cache was asked: a reply from the cache takes no place in it,
 * and a row waiting for a place has its lookup done by the time one frees, so the next call leaves
 * at once instead of after a lookup. In the distributed shape a lookup is a round trip to
 * PostgreSQL; taken inside the limit, it lay between every reply and the call that reply freed
 * (docs/benchmarks.md, step 36).
 */
import type { ChatModel } from './chat-model.js';

/** Runs the request's call within `request.underLimit`, when the caller gave one. */
export function withCallerLimit(model: ChatModel): ChatModel {
  return {
    label: model.label,
    state: () => model.state(),
    complete(request) {
      const { underLimit } = request;
      return underLimit ? underLimit(() => model.complete(request)) : model.complete(request);
    },
  };
}
