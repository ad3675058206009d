import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuShares, machineTicks, processTicks, readCpu } from './other-cpu.js';

describe('reading /proc for the CPU other processes used', () => {
  it('counts the busy columns of /proc/stat, not idle or iowait, and steal apart', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    expect(machineTicks('cpu  100 20 30 5000 70 4 6 8 9 0\ncpu0 50 10 15 2500 35 2 3 0 0 0\n')).toEqual({ busy: 160, steal: 8 });
    expect(() => machineTicks('intr 1 2 3\n')).toThrow(/unexpected \/proc\/stat/);
  });

  it("reads a process's parent and ticks, its waited-for children's included, whatever its name", () => {
    // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const stat = '4242 (node (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 40 7 3 20 0 11 0 123 456 789';
    expect(processTicks(stat)).toEqual({ name: 'node (x) y', ppid: 17, ticks: 300 });
  });

  it('puts the shares of the cores others and steal took between two readings', () => {
    const none = new Map<number, { name: string; ticks: number }>();
    const shares = cpuShares({ busyTicks: 1000, stealTicks: 50, ownTicks: 400, others: none }, { busyTicks: 1300, stealTicks: 90, ownTicks: 600, others: none }, 1, 2);
    expect(shares.other).toBeCloseTo(0.5);
    expect(shares.steal).toBeCloseTo(0.2);
    // Never below zero, whatever the rounding of ticks.
    expect(cpuShares({ busyTicks: 1000, stealTicks: 0, ownTicks: 400, others: none }, { busyTicks: 1010, stealTicks: 0, ownTicks: 430, others: none }, 1, 2).other).toBe(0);
  });

  it('names the processes outside the tree that took the most, kernel threads by the name before their number', () => {
    const before = new Map([
      [10, { name: 'kworker/0:1-events', ticks: 100 }],
      [11, { name: 'kworker/1:2H', ticks: 50 }],
      [12, { name: 'postgres', ticks: 400 }],
      [13, { name: 'sshd', ticks: 7 }],
    ]);
    const after = new Map([
      [10, { name: 'kworker/0:1-events', ticks: 112 }],
      [11, { name: 'kworker/1:2H', ticks: 58 }],
      [12, { name: 'postgres', ticks: 430 }],
      [13, { name: 'sshd', ticks: 7 }],
      // Started between the readings: all its ticks count.
      [14, { name: 'tsc', ticks: 5 }],
      [15, { name: 'cron', ticks: 1 }],
    ]);
    const shares = cpuShares({ busyTicks: 0, stealTicks: 0, ownTicks: 0, others: before }, { busyTicks: 100, stealTicks: 0, ownTicks: 40, others: after }, 1, 2);
    expect(shares.other).toBeCloseTo(0.3);
    expect(shares.takers).toEqual([
      { name: 'postgres', share: 0.15 },
      { name: 'kworker', share: 0.1 },
      { name: 'tsc', share: 0.025 },
    ]);
  });

  /**
   * Runs a node that burns `ms` of its own CPU time (a busy machine only makes that take longer)
   * and reads the CPU while it is still alive, so its time is found by walking the tree, not in a
   * parent's count of waited-for children: as a child of this process (`own`), or as an orphan
   * outside this tree.
   */
  async function burn(ms: number, own: boolean): Promise<NonNullable<ReturnType<typeof readCpu>>> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'assay-other-cpu-'));
    const done = path.join(dir, 'done');
    // Burns, says so, then stays until its flag is removed (a minute at most).
    const script = `const fs = require('fs'); const t = Date.now(); const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; while (cpu() < ${ms}); fs.writeFileSync(${JSON.stringify(done)}, ''); setInterval(() => { if (!fs.existsSync(${JSON.stringify(done)}) || Date.now() - t > 60000) process.exit(0); }, 20)`;
    try {
      if (own) {
        spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).unref();
      } else {
        // The shell exits at once, so the node it started in the background is re-parented away.
        const shell = spawn('sh', ['-c', `"${process.execPath}" -e "${script.replace(/"/g, '\\"')}" >/dev/null 2>&1 &`], { stdio: 'ignore' });
        await new Promise((resolve) => shell.once('exit', resolve));
      }
      // Bounded: the burn takes `ms` on an idle core, and a busy machine several times that.
      const until = Date.now() + 30 * ms + 10_000;
      while (!existsSync(done) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(done)).toBe(true);
      return readCpu()!;
    } finally {
      // Removing the flag sends the burner away.
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.runIf(process.platform === 'linux')("counts a child's CPU as this tree's, and an orphan's as another's", async () => {
    const a = readCpu()!;
    const b = await burn(400, true);
    const b2 = readCpu()!;
    const c = await burn(400, false);
    // 400 ms of a core is 40 ticks; this process's polling adds a few of its own.
    expect(b.ownTicks - a.ownTicks).toBeGreaterThanOrEqual(30);
    expect(c.ownTicks - b2.ownTicks).toBeLessThan(c.busyTicks - b2.busyTicks - 25);
    // The orphan is named among the others, with about its 400 ms.
    const orphan = cpuShares(b2, c, 1, 1).takers.find((t) => t.name === 'node');
    expect(orphan?.share).toBeGreaterThanOrEqual(0.3);
  });
});
