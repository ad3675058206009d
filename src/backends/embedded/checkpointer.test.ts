import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
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
    const file = path.join(dir, 'assay.db');
    const store = openSqliteStore(file, { backgroundCheckpoints: true });
    await store.insertJob(jobRecord('eval-1', { rowCount: 3_000 }), {});
    const checkpointer = startCheckpointer(file, { entry });
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
  });

  it('is not started from TypeScript sources without a compiled script', async () => {
    const missing = new URL('./no-such-checkpointer.js', import.meta.url);
    const checkpointer = startCheckpointer(path.join(dir, 'other.db'), { entry: missing });
    await checkpointer.close();
  });
});
