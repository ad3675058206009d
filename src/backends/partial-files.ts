/**
 * Files written under a temporary name carrying the writer's process id and renamed into place
 * when complete (result files, uploads): those whose writer died are removed when a blob store
 * opens its folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UPLOAD_PARTIAL } from '../datasets/ingest.js';

/** A file being written by process PID (see result-file.ts), renamed into place when complete. */
const PARTIAL = /\.tmp-(\d+)$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes partial files left by a process that died while writing them (a result file written as
 * a job's rows finished, or an upload): nothing will ever complete them, and they can be as large
 * as a job's results or a dataset. Files of other live processes are theirs to finish. The store
 * is opened before any job runs in a process (or in a restarted engine thread), so a partial
 * result file carrying this process's id is a dead thread's, or a dead process's whose id came
 * round again (a container's PID 1).
 */
export function removeAbandonedPartials(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(PARTIAL.exec(name)?.[1] ?? 0);
    if (pid > 0 && (pid === process.pid || !isAlive(pid))) fs.rmSync(path.join(dir, name), { force: true });
    // Uploads are written by the API thread, which a restarted engine thread opening its store
    // must leave alone: only those of dead processes go.
    const uploader = Number(UPLOAD_PARTIAL.exec(name)?.[1] ?? 0);
    if (uploader > 0 && uploader !== process.pid && !isAlive(uploader)) fs.rmSync(path.join(dir, name), { force: true });
  }
}
