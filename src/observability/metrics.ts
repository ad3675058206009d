/**
 * Prometheus metrics through prom-client, on a registry of their own (no global state), so an API
 * node and a worker in one test process do not share counters.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { JobStatus, RowResult } from '../domain/types.js';
import type { ChatModel } from '../providers/chat-model.js';
import { Counter, Gauge, Histogram, Registry } from './prom-client-parts.js';

export interface MetricsSources {
  /** Jobs per status, read at scrape time. */
  jobsByStatus?: () => Promise<Partial<Record<JobStatus, number>>>;
  /** Queued and running row chunks, read at scrape time. */
  queueDepth?: () => Promise<number>;
  /** The model endpoints this process calls, for their scheduler state. */
  endpoints?: () => readonly ChatModel[];
  /**
   * The label an endpoint is shown under (default: its own, `model at base URL`). A server shared
   * by several API key owners shows coarse labels, so metrics tell no one about others' models.
   */
  endpointLabel?: (label: string) => string;
}

/** Metrics of another thread, as prom-client's JSON, merged into this registry's answer. */
export type RemoteMetrics = () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;

export interface Metrics {
  registry: Registry;
  /** The text a scrape answers: this registry's metrics, merged with the remote ones if any. */
  render(): Promise<string>;
  /** Adds the metrics kept by another thread (the embedded engine's) to every scrape. */
  setRemote(remote: RemoteMetrics): void;
  rowFinished(outcome: RowResult['outcome']): void;
  /** A block of the event loop that runs rows, of `ms` milliseconds (see loop-stalls.ts). */
  loopStalled(ms: number): void;
  providerCall(endpoint: string, seconds: number, result: 'ok' | 'error', attempts: number): void;
  setSources(sources: MetricsSources): void;
  /** Forgets the per-endpoint series recorded so far (when endpoint labels change meaning). */
  resetEndpointSeries(): void;
}

/**
 * @param opts.processMetrics adds Node's default process metrics (CPU, memory, event loop) to the
 *   registry: `processMetrics` from process-metrics.ts, given by the thread that answers scrapes.
 *   Left out in a thread whose metrics are merged into its process's, so they are not counted
 *   twice (and that thread does not load them).
 */
export function createMetrics(opts: { processMetrics?: (registry: Registry) => void } = {}): Metrics {
  const registry = new Registry();
  opts.processMetrics?.(registry);
  let sources: MetricsSources = {};
  let remote: RemoteMetrics | null = null;
  const labelOf = (label: string) => sources.endpointLabel?.(label) ?? label;

  const rows = new Counter({ name: 'assay_rows_total', help: 'Rows finished, by outcome', labelNames: ['outcome'], registers: [registry] });
  const latency = new Histogram({
    name: 'assay_provider_call_seconds',
    help: 'Duration of model calls including retries',
    labelNames: ['endpoint', 'result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const retries = new Counter({ name: 'assay_provider_retries_total', help: 'Model call attempts beyond the first', labelNames: ['endpoint'], registers: [registry] });
  const stalls = new Counter({ name: 'assay_engine_loop_stalls_total', help: 'Blocks of a second or more of the event loop that runs rows', registers: [registry] });
  const stalled = new Counter({ name: 'assay_engine_loop_stalled_seconds_total', help: 'Time the event loop that runs rows spent in such blocks (at least)', registers: [registry] });
  /** A gauge per endpoint label, summing one scheduler figure over the endpoints shown under it. */
  const endpointGauge = (name: string, help: string, figure: (state: ReturnType<ChatModel['state']>) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['endpoint'],
      registers: [registry],
      collect() {
        this.reset();
        const totals = new Map<string, number>();
        for (const model of sources.endpoints?.() ?? []) {
          const label = labelOf(model.label);
          totals.set(label, (totals.get(label) ?? 0) + figure(model.state()));
        }
        for (const [endpoint, n] of totals) this.set({ endpoint }, n);
      },
    });
  };
  endpointGauge('assay_provider_rate_limited_total', 'HTTP 429 answers received, per endpoint (cumulative since start)', (state) => state.rateLimited429s);
  endpointGauge('assay_provider_concurrency_limit', 'Current adaptive concurrency limit per endpoint', (state) => state.limit);
  new Gauge({
    name: 'assay_jobs',
    help: 'Jobs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = (await sources.jobsByStatus?.()) ?? {};
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n ?? 0);
    },
  });
  new Gauge({
    name: 'assay_queue_depth',
    help: 'Row chunks queued or running',
    registers: [registry],
    async collect() {
      if (sources.queueDepth) this.set(await sources.queueDepth());
    },
  });

  return {
    registry,
    async render() {
      if (remote === null) return registry.metrics();
      // Disjoint metric names on each side, so the default aggregation (a sum) merges them as they are.
      const [own, other, { default: AggregatorRegistry }] = await Promise.all([
        registry.getMetricsAsJSON(),
        remote().catch(() => []),
        import('prom-client/lib/cluster.js'),
      ]);
      return AggregatorRegistry.aggregate([own, other]).metrics();
    },
    setRemote(next) {
      remote = next;
    },
    rowFinished: (outcome) => rows.inc({ outcome }),
    loopStalled(ms) {
      stalls.inc();
      stalled.inc(ms / 1000);
    },
    providerCall(model, seconds, result, attempts) {
      const endpoint = labelOf(model);
      latency.observe({ endpoint, result }, seconds);
      if (attempts > 1) retries.inc({ endpoint }, attempts - 1);
    },
    setSources(next) {
      sources = next;
    },
    resetEndpointSeries() {
      latency.reset();
      retries.reset();
    },
  };
}

/** Wraps a model so every call is timed and its retries counted. */
export function instrumentModel(model: ChatModel, metrics: Metrics): ChatModel {
  return {
    label: model.label,
    state: () => model.state(),
    async complete(request) {
      const started = performance.now();
      try {
        const result = await model.complete(request);
        metrics.providerCall(model.label, (performance.now() - started) / 1000, 'ok', result.attempts);
        return result;
      } catch (err) {
        const attempts = (err as { attempts?: unknown }).attempts;
        metrics.providerCall(model.label, (performance.now() - started) / 1000, 'error', typeof attempts === 'number' ? attempts : 1);
        throw err;
      }
    },
  };
}
