/**
 * Job list answers kept until the jobs change.
 *
 * A list of ten jobs is the API's most expensive answer: every job's row read and its JSON
 * columns parsed, then the whole written out again (350–460 µs of the API thread's CPU against
 * about 100 µs for a job's status, measured with a job running). SDKs, the CLI and the web UI
 * poll it, and while a job runs the list does not change for seconds at a time. Where the store
 * versions its jobs (`Store.jobsVersion`), the serialized answer is kept with the version it was
 * read at and given again while the version stays; any change to a listed job, by any connection
 * or process, moves the version.
 *
 * The version is read before the list: a change in between leaves a newer answer kept under the
 * older version, which the next request reads again, never an older answer under a newer one.
 */

/** Answers kept at most, by query: a server with many callers keeps the most recently read. */
const MAX_ENTRIES = 64;

export interface JobListCache {
  /**
   * The JSON answer for `key` (owner and query): the kept one while the jobs' version is the one
   * it was read at, else `load()`'s, serialized and kept.
   */
  answer(key: string, load: () => Promise<unknown>): Promise<string>;
}

export function createJobListCache(version: () => Promise<number>): JobListCache {
  const kept = new Map<string, { version: number; json: string }>();
  return {
    async answer(key, load) {
      const now = await version();
      const hit = kept.get(key);
      if (hit && hit.version === now) {
        // Most recently read last, so the first entry is the one to drop.
        kept.delete(key);
        kept.set(key, hit);
        return hit.json;
      }
      const json = JSON.stringify(await load());
      kept.delete(key);
      kept.set(key, { version: now, json });
      if (kept.size > MAX_ENTRIES) kept.delete(kept.keys().next().value!);
      return json;
    },
  };
}
