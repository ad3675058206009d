import { describe, expect, it } from 'vitest';
import { createJobsCache, frozen } from './jobs-cache.js';

describe('jobs cache', () => {
  it('loads a value once per version of the jobs, and again when the version moves', async () => {
    let version = 1;
    const loads: string[] = [];
    const cache = createJobsCache<string>(async () => version, 64);
    const load = (key: string) => async () => {
      loads.push(key);
      return `${key}@${version}`;
    };

    expect(await cache.get('a', load('a'))).toBe('a@1');
    expect(await cache.get('a', load('a'))).toBe('a@1');
    expect(await cache.get('b', load('b'))).toBe('b@1');
    expect(loads).toEqual(['a', 'b']);

    version = 2;
    expect(await cache.get('a', load('a'))).toBe('a@2');
    expect(await cache.get('a', load('a'))).toBe('a@2');
    expect(loads).toEqual(['a', 'b', 'a']);
  });

  it('reads the version before the value, so a change during a load is read again next time', async () => {
    let version = 1;
    let loads = 0;
    const cache = createJobsCache<string>(async () => version, 64);
    // The jobs change while the value is read: the value holds the change, the version read before it does not.
    const racing = async () => {
      loads++;
      version = 2;
      return 'changed';
    };
    await cache.get('a', racing);
    await cache.get('a', racing);
    expect(loads).toBe(2);
  });

  it('keeps an absent job as absent until the jobs change', async () => {
    let version = 1;
    let loads = 0;
    const cache = createJobsCache<string | undefined>(async () => version, 64);
    const load = async () => (loads++, version === 1 ? undefined : 'found');
    expect(await cache.get('x', load)).toBeUndefined();
    expect(await cache.get('x', load)).toBeUndefined();
    expect(loads).toBe(1);
    version = 2;
    expect(await cache.get('x', load)).toBe('found');
  });

  it('keeps at most maxEntries values, dropping the one read longest ago', async () => {
    const loads: string[] = [];
    const cache = createJobsCache<string>(async () => 1, 64);
    const get = (key: string) =>
      cache.get(key, async () => {
        loads.push(key);
        return key;
      });
    for (let i = 0; i < 64; i++) await get(`k${i}`);
    await get('k0'); // read again: now the most recent
    await get('k64'); // one too many: k1 goes
    loads.length = 0;
    await get('k0');
    await get('k2');
    await get('k1');
    expect(loads).toEqual(['k1']);
  });

  it('freezes a kept value all the way down, so a change to it throws instead of reaching the next reader', () => {
    const job = frozen({ status: 'running', statusUpdates: [{ status: 'queued' }], results: { counts: { a: 1 } } });
    expect(() => {
      (job as { status: string }).status = 'completed';
    }).toThrow(TypeError);
    expect(() => job.statusUpdates.push({ status: 'x' })).toThrow(TypeError);
    expect(() => {
      job.results.counts.a = 2;
    }).toThrow(TypeError);
    expect(frozen(undefined)).toBeUndefined();
  });
});
