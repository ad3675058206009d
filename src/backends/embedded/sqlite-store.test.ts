import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStoreContract, jobRecord } from '../../../test/contract/store-contract.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-sqlite-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreContract('sqlite', async () => openSqliteStore(path.join(dir, `store-${n++}.db`)));

describe('sqlite store on disk', () => {
  it('keeps everything across a reopen of the same file', async () => {
    const file = path.join(dir, 'reopen.db');
    const first = openSqliteStore(file);
    await first.insertJob(jobRecord('eval-1'), { judge: 'k' });
    await first.close();
    const second = openSqliteStore(file);
    expect((await second.getJob('eval-1'))?.id).toBe('eval-1');
    expect(await second.getJobSecrets('eval-1')).toEqual({ judge: 'k' });
    await second.close();
  });
});
