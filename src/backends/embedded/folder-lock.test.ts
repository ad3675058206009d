import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AssayError } from '../../domain/errors.js';
import { FOLDER_LOCK_FILE, lockDataFolder } from './folder-lock.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-folder-lock-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function refusal(folder: string): unknown {
  try {
    lockDataFolder(folder).release();
  } catch (err) {
    return err;
  }
  return null;
}

describe('the data folder lock', () => {
  it('lets one holder in at a time, and the next one in once it lets go', () => {
    const folder = path.join(dir, 'one-at-a-time');
    const first = lockDataFolder(folder);
    const refused = refusal(folder);
    expect(refused).toBeInstanceOf(AssayError);
    expect(refused).toMatchObject({ code: 'data_folder_in_use' });
    expect((refused as Error).message).toContain(folder);
    first.release();
    first.release(); // twice is harmless
    const second = lockDataFolder(folder);
    second.release();
    expect(fs.existsSync(path.join(folder, FOLDER_LOCK_FILE))).toBe(true);
  });

  it('is held by another process until that process dies, and leaves nothing stale behind', async () => {
    const folder = path.join(dir, 'other-process');
    const lockModule = new URL('../../../dist/backends/embedded/folder-lock.js', import.meta.url).href;
    const holder = spawn(
      process.execPath,
      // The holder drops its FolderLock object and collects garbage: the lock is the process's.
      ['--expose-gc', '--input-type=module', '-e', `import { lockDataFolder } from ${JSON.stringify(lockModule)}; lockDataFolder(process.argv[1]); globalThis.gc(); process.stdout.write('held'); setInterval(() => {}, 1000);`, folder],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [first] = (await once(holder.stdout, 'data')) as [Buffer];
      expect(first.toString()).toBe('held');
      expect(refusal(folder)).toMatchObject({ code: 'data_folder_in_use' });
    } finally {
      // Killed outright: no chance to release, as in a crash.
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    expect(refusal(folder)).toBeNull();
  });
});
