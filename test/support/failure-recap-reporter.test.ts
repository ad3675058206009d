/**
 * The recap reporter in a real vitest run (a child process on the fixtures in test/fixtures/recap):
 * a failed run ends with one line per unhandled error and per failed test; a passing run prints
 * no recap.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../fixtures/recap/', import.meta.url));
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

const cacheDir = mkdtempSync(path.join(tmpdir(), 'assay-recap-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

async function run(fixture: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [vitest, 'run', '--root', root], {
      env: { ...process.env, RECAP_FIXTURE: fixture, RECAP_CACHE_DIR: cacheDir, NO_COLOR: '1', FORCE_COLOR: '0' },
      timeout: 60_000,
    });
    return { code: 0, stdout };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '' };
  }
}

describe('the failure recap reporter', () => {
  it('ends a failed run with what failed: the unhandled error with its file, then the failed test', async () => {
    const { code, stdout } = await run('failing.fixture.ts');
    expect(code).toBe(1);
    const tail = stdout.trimEnd().split('\n').slice(-3);
    expect(tail[0]).toBe('recap of what failed:');
    expect(tail[1]).toMatch(/^ {2}unhandled \(while failing\.fixture\.ts ran\): Error: thrown after the tests \[.*failing\.fixture\.ts:\d+:\d+/);
    expect(tail[2]).toMatch(/^ {2}failed failing\.fixture\.ts > adds up: AssertionError: expected 2 to be 3/);
  });

  it('prints nothing more when the run passes', async () => {
    const { code, stdout } = await run('passing.fixture.ts');
    expect(code).toBe(0);
    expect(stdout).not.toContain('recap of what failed');
  });
});
