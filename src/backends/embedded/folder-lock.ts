/**
 * One process at a time runs the jobs of an embedded data folder. A second server (or `assay run`)
 * started on the same folder would resume the same unfinished jobs, and every row of them would
 * call its models twice. The lock is SQLite's exclusive lock on a file of its own, `runner.lock`,
 * held for as long as the process keeps that file open: the operating system drops it when the
 * process ends, however it ends, so a crash leaves no stale lock behind. Commands that only manage
 * the folder (`assay keys`) take no lock and may run beside a server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Database } from './sqlite-module.js';
import { AssayError } from '../../domain/errors.js';

export const FOLDER_LOCK_FILE = 'runner.lock';

/**
 * The open lock files, until released. better-sqlite3 closes a connection that is garbage
 * collected, which would drop the lock while the process still runs: a caller that let go of its
 * `FolderLock` object (it has nothing to call on it until it releases) must not lose the folder.
 */
const held = new Set<InstanceType<typeof Database>>();

export interface FolderLock {
  /** Lets another process take the folder. */
  release(): void;
}

/** Takes the folder's lock, or throws `data_folder_in_use` at once if another process holds it. */
export function lockDataFolder(dir: string): FolderLock {
  fs.mkdirSync(dir, { recursive: true });
  // No waiting for a holder to let go: a server still running is told about at once.
  const db = new Database(path.join(dir, FOLDER_LOCK_FILE), { timeout: 0 });
  try {
    // In exclusive locking mode a connection keeps the locks it takes until it closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
    throw new AssayError(
      `the data folder ${dir} is in use by another assay server or \`assay run\`: stop that one first, or give this one a folder of its own`,
      { code: 'data_folder_in_use', cause: err },
    );
  }
  held.add(db);
  return {
    release: () => {
      held.delete(db);
      if (db.open) db.close();
    },
  };
}
