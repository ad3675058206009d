import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { jobRecord } from '../../../test/contract/store-contract.js';
import { waitFor } from '../../../test/support/server-process.js';
import { startCheckpointer } from './checkpointer.js';
import { openSqliteStore } from './sqlite-store.js';

// The thread runs compiled code, as it does in the server (`npm test` builds first).
const entry = new URL('../../../dist/backends/embedded/checkpointer-main.js', import.meta.url);
const dir = mkdtempSync(path.join(tmpdir(), 'assay-checkpointer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the checkpointer thread', () => {
  it('copies the WAL into the database file while the writing connection never checkpoints', async () => {
    await expectBackgroundCheckpoints(path.join(dir, 'assay.db'), entry);
  });

  it('starts a new thread when one stops', async () => {
    // A script whose first thread stops at once; the one after it is the real checkpointer.
    const marker = path.join(dir, 'stopped-once');
    const flaky = path.join(dir, 'flaky-checkpointer.mjs');
    writeFileSync(
      flaky,
      `import { existsSync, writeFileSync } from 'node:fs';\n` +
        `if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, 'yes'); process.exit(1); }\n` +
        `await import(${JSON.stringify(entry.href)});\n`,
    );
    const errors: Error[] = [];
    await expectBackgroundCheckpoints(path.join(dir, 'restarted.db'), pathToFileURL(flaky), (err) => errors.push(err));
    expect(errors).toEqual([]);
  });

  it('gives up on a thread that keeps stopping right after it starts, and says so', async () => {
    const broken = path.join(dir, 'broken-checkpointer.mjs');
    writeFileSync(broken, `process.exit(1);\n`);
    const errors: Error[] = [];
    const checkpointer = startCheckpointer(path.join(dir, 'broken.db'), { entry: pathToFileURL(broken), onError: (err) => errors.push(err) });
    await waitFor(() => errors.length > 0, { what: 'the checkpointer given up', timeoutMs: 10_000 });
    expect(errors.map((e) => e.message)).toEqual(['the checkpointer thread stopped 3 times right after starting; it is not started again']);
    await checkpointer.close();
  });

  it('is not started from TypeScript sources without a compiled script', async () => {
    const missing = new URL('./no-such-checkpointer.js', import.meta.url);
    const checkpointer = startCheckpointer(path.join(dir, 'other.db'), { entry: missing });
    await checkpointer.close();
  });
});

/** Writes 3,000 rows through a connection that never checkpoints, and waits for a checkpointer thread to copy them into the file. */
async function expectBackgroundCheckpoints(file: string, script: URL, onError?: (err: Error) => void): Promise<void> {
  const store = openSqliteStore(file, { backgroundCheckpoints: true });
  await store.insertJob(jobRecord('eval-1', { rowCount: 3_000 }), {});
  const checkpointer = startCheckpointer(file, { entry: script, ...(onError ? { onError } : {}) });
  const before = statSync(file).size;
  // Far below the writer's own threshold (16,384 pages), so only the thread can checkpoint.
  for (let start = 0; start < 3_000; start += 100) {
    const rows = Array.from({ length: 100 }, (_, k) => ({
      rowIndex: start + k,
      outcome: 'ok' as const,
      label: 'a',
      score: null,
      choice: null,
      generationFailures: 0,
      judgeFailures: 0,
      usage: {},
      fields: { feedback: 'x'.repeat(200) },
    }));
    await store.saveRows('eval-1', rows);
  }
  // The rows reach the database file with the writer still open (closing it would checkpoint).
  await waitFor(() => statSync(file).size > before + 500_000, { what: 'the WAL copied into the database file', timeoutMs: 10_000 });
  await checkpointer.close();
  await store.close();
}
