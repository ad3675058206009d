import { describe, expect, it } from 'vitest';
import { createJobListCache } from './job-list-cache.js';

describe('job list cache', () => {
  it('loads a list once per version of the jobs, and again when the version moves', async () => {
    let version = 1;
    const loads: string[] = [];
    const cache = createJobListCache(async () => version);
    const load = (key: string) => async () => {
      loads.push(key);
      return [{ key, version }];
    };

    expect(await cache.answer('a', load('a'))).toBe('[{"key":"a","version":1}]');
    expect(await cache.answer('a', load('a'))).toBe('[{"key":"a","version":1}]');
    expect(await cache.answer('b', load('b'))).toBe('[{"key":"b","version":1}]');
    expect(loads).toEqual(['a', 'b']);

    version = 2;
    expect(await cache.answer('a', load('a'))).toBe('[{"key":"a","version":2}]');
    expect(await cache.answer('a', load('a'))).toBe('[{"key":"a","version":2}]');
    expect(loads).toEqual(['a', 'b', 'a']);
  });

  it('reads the version before the list, so a change during a load is read again next time', async () => {
    let version = 1;
    let loads = 0;
    const cache = createJobListCache(async () => version);
    // The jobs change while the list is read: the answer holds the change, the version read before it does not.
    const racing = async () => {
      loads++;
      version = 2;
      return ['changed'];
    };
    await cache.answer('a', racing);
    await cache.answer('a', racing);
    expect(loads).toBe(2);
  });

  it('keeps at most 64 answers, dropping the one read longest ago', async () => {
    const loads: string[] = [];
    const cache = createJobListCache(async () => 1);
    const answer = (key: string) =>
      cache.answer(key, async () => {
        loads.push(key);
        return key;
      });
    for (let i = 0; i < 64; i++) await answer(`k${i}`);
    await answer('k0'); // read again: now the most recent
    await answer('k64'); // one too many: k1 goes
    loads.length = 0;
    await answer('k0');
    await answer('k2');
    await answer('k1');
    expect(loads).toEqual(['k1']);
  });
});
