/**
 * Node's default process metrics (CPU, memory, event loop, handles), for the thread that answers
 * scrapes: recorded once per process. A module of its own so that only that thread loads them
 * (prom-client's collectors load node:perf_hooks, node:v8 and OpenTelemetry's API).
 */
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';
import type { Registry } from 'prom-client';

export function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}
