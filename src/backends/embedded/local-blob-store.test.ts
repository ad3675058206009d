import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalBlobStore } from './local-blob-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'assay-blobs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the local blob store', () => {
  it('removes partial files of processes that died, and keeps those of live ones and finished files', () => {
    // A process that has surely exited: its id is free (or reused by an unrelated process, which
    // only delays the clean-up to a later start).
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const parentPid = process.ppid;
    const file = (name: string) => path.join(dir, name);
    writeFileSync(file(`file-a.tmp-${deadPid}`), 'partial');
    writeFileSync(file(`file-b.tmp-${process.pid}`), 'partial, of a dead thread of this process');
    writeFileSync(file(`file-c.tmp-${parentPid}`), 'partial, still being written');
    writeFileSync(file('file-d'), 'finished');
    openLocalBlobStore(dir);
    expect(existsSync(file(`file-a.tmp-${deadPid}`))).toBe(false);
    expect(existsSync(file(`file-b.tmp-${process.pid}`))).toBe(false);
    expect(existsSync(file(`file-c.tmp-${parentPid}`))).toBe(true);
    expect(existsSync(file('file-d'))).toBe(true);
  });
});
