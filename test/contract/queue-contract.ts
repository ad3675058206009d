/** The TaskQueue contract, as one suite any adapter runs. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RowChunk, TaskQueue } from '../../src/engine/contracts.js';

/** A promise with its resolver exposed, to hold handlers until the test lets them go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const chunk = (jobId: string, start: number): RowChunk => ({ jobId, start, end: start + 10 });

export function describeQueueContract(name: string, open: () => Promise<TaskQueue>): void {
  describe(`TaskQueue contract: ${name}`, () => {
    let queue: TaskQueue | undefined;
    afterEach(async () => {
      await queue?.close();
      queue = undefined;
    });

    it('delivers every task once, never more than `concurrency` at a time', async () => {
      queue = await open();
      const seen: string[] = [];
      let running = 0;
      let peak = 0;
      const release = gate();
      queue.consume(
        async (task) => {
          running++;
          peak = Math.max(peak, running);
          await release.opened;
          seen.push(`${task.jobId}:${task.start}`);
          running--;
        },
        { concurrency: 3 },
      );
      await queue.enqueue([0, 10, 20, 30, 40].map((s) => chunk('j1', s)));
      await until(() => running === 3, 'three running');
      release.open();
      await until(() => seen.length === 5, 'all delivered');
      expect(peak).toBe(3);
      expect(seen.sort()).toEqual(['j1:0', 'j1:10', 'j1:20', 'j1:30', 'j1:40']);
    });

    it('does not add a task whose key is already queued, and counts pending per job', async () => {
      queue = await open();
      await queue.enqueue([chunk('j1', 0), chunk('j1', 0), chunk('j1', 10), chunk('j2', 0)]);
      expect(await queue.pending('j1')).toBe(2);
      expect(await queue.pending('j2')).toBe(1);
      expect(await queue.pending('j3')).toBe(0);
      expect(await queue.size()).toBe(3);
    });

    it('drops a cancelled job’s waiting tasks', async () => {
      queue = await open();
      await queue.enqueue([chunk('j1', 0), chunk('j1', 10), chunk('j2', 0)]);
      await queue.cancel('j1');
      expect(await queue.pending('j1')).toBe(0);
      const seen: string[] = [];
      queue.consume(async (t) => void seen.push(t.jobId), { concurrency: 2 });
      await until(() => seen.length === 1, 'j2 delivered');
      expect(seen).toEqual(['j2']);
    });

    it('close() waits for running handlers', async () => {
      queue = await open();
      const release = gate();
      let started = false;
      let finished = false;
      queue.consume(async () => {
        started = true;
        await release.opened;
        finished = true;
      }, { concurrency: 1 });
      await queue.enqueue([chunk('j1', 0)]);
      await until(() => started, 'task started');
      expect(await queue.pending('j1')).toBe(1);
      const closed = queue.close();
      release.open();
      await closed;
      expect(finished).toBe(true);
      queue = undefined;
    });
  });
}
