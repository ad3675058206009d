/**
 * The parts of prom-client every thread that records metrics uses, each imported from its own
 * file instead of the package's index.
 *
 * The index loads all of prom-client: the Pushgateway (and with it node:http, node:https and
 * node:zlib), the Summary, the cluster aggregator and the default process metrics. That is
 * 49–52 ms in a fresh process, and the engine thread spends it right after it starts, which is
 * when the first job after a start arrives; these four parts take 5–6 ms. The parts only the thread that
 * answers scrapes needs are imported where they are used: the process metrics in
 * process-metrics.ts, the aggregator when a scrape merges another thread's metrics.
 *
 * prom-client-parts.test.ts checks that each file is the module the index re-exports, so an
 * upgrade that moves one fails that test instead of a scrape.
 */
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

export { Counter, Gauge, Histogram, Registry };
