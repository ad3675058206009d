/**
 * What the API reads from the jobs table, kept until the jobs change.
 *
 * SDKs, the CLI and the web UI poll a job's status and the job list, and while a job runs neither
 * changes for seconds at a time. A list of ten jobs was the API's most expensive answer (every
 * job's row read and its JSON columns parsed, then the whole written out again: 350–460 µs of the
 * API thread's CPU, measured with a job running, against 42–70 µs kept), and reading one job is
 * about half of what a status costs. Where the store versions its jobs
 * (`Store.jobsVersion`: any change to a job a list or a status shows, by any connection or
 * process, moves it), a value is kept with the version it was read at and given again while the
 * version stays. Row progress is not in the version; the status route adds it live.
 *
 * The version is read before the value: a change in between leaves a newer value kept under the
 * older version, which the next request reads again, never an older value under a newer one.
 */

export interface JobsCache<T> {
  /** The value for `key`: the kept one while the jobs' version is the one it was read at, else `load()`'s, kept. */
  get(key: string, load: () => Promise<T>): Promise<T>;
}

/**
 * @param maxEntries values kept at most; past it, the one read longest ago goes.
 */
export function createJobsCache<T>(version: () => Promise<number>, maxEntries: number): JobsCache<T> {
  const kept = new Map<string, { version: number; value: T }>();
  return {
    async get(key, load) {
      const now = await version();
      const hit = kept.get(key);
      // Most recently read last, so the first entry is the one to drop.
      kept.delete(key);
      if (hit && hit.version === now) {
        kept.set(key, hit);
        return hit.value;
      }
      const value = await load();
      kept.set(key, { version: now, value });
      if (kept.size > maxEntries) kept.delete(kept.keys().next().value!);
      return value;
    },
  };
}

/**
 * `value` with every object in it frozen, for values kept and shared between requests: code that
 * changes a kept job (instead of a copy) throws at once rather than changing what the next
 * request reads.
 */
export function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) frozen(inner);
    Object.freeze(value);
  }
  return value;
}
