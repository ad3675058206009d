import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { undici, UNDICI_PARTS } from './undici-module.js';

const require = createRequire(import.meta.url);
const indexLoaded = (): boolean => Object.keys(require.cache).some((file) => file.endsWith(`${sep}node_modules${sep}undici${sep}index.js`));

describe('undici, loaded by parts', () => {
  // First, while this test file's process has not loaded the package's index.
  it('gives its agents the methods the index adds to every dispatcher, without loading the index', async () => {
    expect(indexLoaded()).toBe(false);
    const agent = new (undici().Agent)();
    for (const method of ['request', 'stream', 'pipeline', 'connect', 'upgrade'] as const) expect(typeof agent[method], method).toBe('function');
    await agent.close();
    expect(indexLoaded()).toBe(false);
  });

  it('gives the very modules the package index exports, so an upgrade that moves them fails here', () => {
    const index = require('undici') as typeof import('undici');
    const parts = undici();
    expect(parts.Agent).toBe(index.Agent);
    expect(parts.buildConnector).toBe(index.buildConnector);
    expect(parts.redirect).toBe(index.interceptors.redirect);
    expect(Object.keys(parts).sort()).toEqual(Object.keys(UNDICI_PARTS).sort());
  });
});
