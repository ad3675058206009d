import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestDataset, UPLOAD_PARTIAL } from '../../datasets/ingest.js';
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

  it('removes uploads a dead process left half written, and leaves those still being written', async () => {
    const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
    // An upload under way here, as the API thread writes it while an engine thread opens its store.
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    async function* source() {
      yield Buffer.from('{"a": 1}\n');
      await held;
    }
    const ingest = ingestDataset(source(), path.join(dir, 'file-live'), { format: 'jsonl' });
    const file = (name: string) => path.join(dir, name);
    let ours: string | undefined;
    for (let tries = 0; ours === undefined && tries < 1000; tries++) {
      await new Promise((resolve) => setImmediate(resolve));
      ours = readdirSync(dir).find((name) => UPLOAD_PARTIAL.exec(name)?.[1] === String(process.pid));
    }
    expect(ours).toBeDefined();
    writeFileSync(file(`.file-x.0123456789ab.upload-${dead}`), 'half an upload');
    writeFileSync(file(`.file-y.0123456789ab.upload-${process.ppid}`), 'an upload of a live process');
    openLocalBlobStore(dir);
    expect(existsSync(file(`.file-x.0123456789ab.upload-${dead}`))).toBe(false);
    expect(existsSync(file(`.file-y.0123456789ab.upload-${process.ppid}`))).toBe(true);
    expect(existsSync(file(ours!))).toBe(true);
    finish();
    expect((await ingest).lineCount).toBe(1);
    expect(existsSync(file('file-live'))).toBe(true);
  });
});
