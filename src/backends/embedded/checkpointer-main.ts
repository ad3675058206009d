/** The checkpointer thread (see checkpointer.ts): its own connection, a PASSIVE checkpoint at a time. */
import { Database } from './sqlite-module.js';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerOwnPriority, nameOwnThread } from '../../runtime/thread-priority.js';

/** Often enough that no commit meets a WAL of 1,000 new pages (4 MB) at the rates assay writes. */
const CHECKPOINT_EVERY_MS = 250;

lowerOwnPriority();
// Named once lowered, so that a thread with this name is known to run at the lower priority.
nameOwnThread('assay-checkpt');
const { databaseFile } = workerData as { databaseFile: string };
const db = new Database(databaseFile);
db.pragma('busy_timeout = 5000');
// This connection writes nothing, so it would never checkpoint on its own account either.
db.pragma('wal_autocheckpoint = 0');

const timer = setInterval(() => {
  try {
    // PASSIVE copies what it can without waiting on readers or writers; with nothing new in the
    // WAL it returns at once, without a sync.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or briefly locked: the next round catches up.
  }
}, CHECKPOINT_EVERY_MS);

parentPort?.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  // Nothing is left to run: the thread ends.
  parentPort?.close();
});
