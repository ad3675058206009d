import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from './prom-client-parts.js';

describe('prom-client, imported by parts', () => {
  it('gives the very modules the package index exports, so an upgrade that moves them fails here', async () => {
    const index = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
    expect(Counter).toBe(index.Counter);
    expect(Gauge).toBe(index.Gauge);
    expect(Histogram).toBe(index.Histogram);
    expect(Registry).toBe(index.Registry);
    expect((await import('prom-client/lib/cluster.js')).default).toBe(index.AggregatorRegistry);
    expect((await import('prom-client/lib/defaultMetrics.js')).default).toBe(index.collectDefaultMetrics);
  });
});
