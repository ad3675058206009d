/**
 * The engine and the model registry it calls through, wired the same way wherever jobs run: an
 * API node, a worker node, the embedded server's engine thread, and `assay run`.
 */
import type { Config } from '../config/config.js';
import type { BlobStore, Store, TaskQueue } from '../engine/contracts.js';
import { createEngine, type Engine, type EngineDeps } from '../engine/engine.js';
import { instrumentModel, type Metrics } from '../observability/metrics.js';
import { reportAtMostEvery } from '../providers/call-cache.js';
import { createModelRegistry, type ModelRegistry } from '../providers/registry.js';
import { createEndpointGuard } from '../security/endpoint-guard.js';
import type { Security } from './security.js';

export interface EngineNodeDeps {
  store: Store;
  blobs: BlobStore;
  queue: TaskQueue;
  /** This process's share of every endpoint's budgets (distributed workers split them). */
  share?: () => number;
  /** Times model calls and counts finished rows, when given. */
  metrics?: Metrics;
  /** With it, user-named endpoints pass the SSRF guard while the server is shared. */
  security?: Security;
  log?: EngineDeps['log'];
}

const CACHE_ERROR_REPORT_EVERY_MS = 60_000;

/** A cache failure costs calls, not rows: a warning, once a minute at most, with how many were not logged. */
function cacheErrorLog(log: NonNullable<EngineDeps['log']>): (err: unknown, op: 'read' | 'write') => void {
  return reportAtMostEvery(CACHE_ERROR_REPORT_EVERY_MS, (skipped, err: unknown, op: 'read' | 'write') =>
    log('warn', `the call cache could not be ${op === 'read' ? 'read' : 'written'}; calls go on without it`, {
      err: err instanceof Error ? err.message : String(err),
      ...(skipped > 0 ? { failuresNotLogged: skipped } : {}),
    }),
  );
}

export function createEngineNode(config: Config, deps: EngineNodeDeps): { engine: Engine; models: ModelRegistry } {
  const { store, metrics, security } = deps;
  const guard = security ? createEndpointGuard({ allow: config.allowedHosts, active: security.shared }) : undefined;
  const models = createModelRegistry(config, {
    timeoutMs: config.providerTimeoutMs,
    maxRetries: config.providerMaxRetries,
    limits: config.endpointLimits,
    ...(deps.share ? { share: deps.share } : {}),
    ...(config.cacheEnabled ? { cache: { store, maxEntries: config.cacheMaxEntries, ...(deps.log ? { onError: cacheErrorLog(deps.log) } : {}) } } : {}),
    ...(metrics ? { wrap: (model) => instrumentModel(model, metrics) } : {}),
    ...(guard ? { externalDispatcher: guard.dispatcher } : {}),
  });
  const engine = createEngine({
    store,
    blobs: deps.blobs,
    queue: deps.queue,
    models,
    config,
    ...(deps.log ? { log: deps.log } : {}),
    ...(metrics ? { onRowFinished: metrics.rowFinished, onLoopStall: metrics.loopStalled } : {}),
    ...(guard ? { endpointGuard: guard } : {}),
  });
  return { engine, models };
}
