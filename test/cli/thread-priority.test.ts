/**
 * `assay serve` runs every thread but the API's at a lower OS priority (runtime/thread-priority.ts),
 * so that on busy cores a status request does not wait behind the engine or V8's helper threads.
 * Checked on the real server process through Linux's per-thread accounting.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, waitFor, type ServerProcess } from '../support/server-process.js';

/** A thread's nice value: the 19th field of its stat line, counted after the name in brackets. */
function niceOf(pid: number, threadId: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${threadId}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function threadNices(pid: number): Map<number, number> {
  const nices = new Map<number, number>();
  for (const threadId of readdirSync(`/proc/${pid}/task`)) {
    try {
      nices.set(Number(threadId), niceOf(pid, threadId));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return nices;
}

describe.runIf(process.platform === 'linux')('thread priorities of assay serve', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('keeps the API thread at the process priority and lowers every other thread', async () => {
    const pid = server.proc.pid!;
    // The engine thread lowers itself as it boots, after the server already answers.
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, { what: 'the engine to be ready' });
    // An upload and a listing use the thread pool, which must not bring threads at full priority.
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file', new Blob(['{"q":"a","answer":"b"}\n']), 'data.jsonl');
    expect((await fetch(`${server.baseUrl}/files/upload`, { method: 'POST', body: form })).ok).toBe(true);

    const nices = threadNices(pid);
    const api = nices.get(pid)!;
    const others = [...nices].filter(([threadId]) => threadId !== pid);
    // V8's helper threads, libuv's pool, the engine thread and the checkpointer, at the least.
    expect(others.length).toBeGreaterThanOrEqual(6);
    for (const [threadId, nice] of others) expect({ threadId, nice }).toEqual({ threadId, nice: Math.max(api, 10) });
  });
});
