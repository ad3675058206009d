/**
 * `assay serve` runs its background threads at a lower OS priority than the API's thread and the
 * engine thread (runtime/thread-priority.ts), so that on busy cores neither a status request nor a
 * row's next call waits behind V8's helper threads, libuv's pool or the checkpointer. Checked on
 * the real server process through Linux's per-thread accounting; the engine thread and the
 * checkpointer are told apart by the names they give themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, waitFor, type ServerProcess } from '../support/server-process.js';

/** A thread's nice value: the 19th field of its stat line, counted after the name in brackets. */
function niceOf(pid: number, threadId: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${threadId}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

interface ThreadInfo {
  threadId: number;
  name: string;
  nice: number;
}

function threads(pid: number): ThreadInfo[] {
  const found: ThreadInfo[] = [];
  for (const threadId of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${threadId}/comm`, 'utf8').trim();
      found.push({ threadId: Number(threadId), name, nice: niceOf(pid, threadId) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return found;
}

describe.runIf(process.platform === 'linux')('thread priorities of assay serve', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('keeps the API thread and the engine thread at the process priority and lowers every other thread', async () => {
    const pid = server.proc.pid!;
    // The engine thread is ready once it has loaded its modules, after the server already answers.
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, { what: 'the engine to be ready' });
    // An upload and a listing use the thread pool, which must not bring threads at full priority.
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file', new Blob(['{"q":"a","answer":"b"}\n']), 'data.jsonl');
    expect((await fetch(`${server.baseUrl}/files/upload`, { method: 'POST', body: form })).ok).toBe(true);
    expect((await fetch(`${server.baseUrl}/files`)).ok).toBe(true);

    // The checkpointer starts with the engine thread's store and names itself as it boots.
    const named = (all: ThreadInfo[]) => ['assay-engine', 'assay-checkpt'].every((name) => all.some((t) => t.name === name));
    await waitFor(() => named(threads(pid)), { what: 'the engine thread and the checkpointer to name themselves' });
    const all = threads(pid);
    const api = all.find((t) => t.threadId === pid)!;
    const engine = all.filter((t) => t.name === 'assay-engine');
    const checkpointer = all.filter((t) => t.name === 'assay-checkpt');
    expect(engine).toHaveLength(1);
    expect(checkpointer).toHaveLength(1);
    expect(engine[0]!.nice).toBe(api.nice);
    const background = all.filter((t) => t.threadId !== pid && t.name !== 'assay-engine');
    // V8's helper threads, libuv's pool and the checkpointer, at the least.
    expect(background.length).toBeGreaterThanOrEqual(6);
    for (const { threadId, name, nice } of background) expect({ threadId, name, nice }).toEqual({ threadId, name, nice: Math.max(api.nice, 10) });
  });
});
