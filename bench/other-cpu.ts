/**
 * How much CPU the machine spent outside the benchmark's own processes while a job ran. On two
 * cores, a compiler or a test suite running alongside takes 0.03-0.3 off a job's efficiency (one
 * full run had a warm job at 0.658 that way), and the table alone cannot tell such a run from a
 * slow hour. So each job records the share of the cores that went elsewhere, and the benchmark
 * names the jobs where it is large. Linux only (`/proc`); elsewhere nothing is measured.
 *
 * The benchmark's own processes are this process and everything it started (the fake judge, the
 * server and worker, the API client, PostgreSQL), found by their parent ids. A process of the tree
 * that has exited and been waited for has its CPU in its parent's `cutime`/`cstime`, so those are
 * counted too. Work the kernel does outside any process (interrupts, for one) counts as elsewhere.
 *
 * Steal time (the hypervisor running another guest on this machine's virtual CPU) is read apart:
 * on some hosts it is where a slow run's time went, with no process here to blame. The AMD EPYC
 * host of earlier measurements reported none; the Intel Xeon host reports it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Clock ticks of CPU time: the machine's busy time (steal excluded), its steal time, and this process tree's. */
export interface CpuReading {
  busyTicks: number;
  stealTicks: number;
  ownTicks: number;
  /** Each process outside the tree (kernel threads included), by pid: its name and ticks. */
  others: Map<number, { name: string; ticks: number }>;
}

/** One name among the processes outside the tree, and the share of the cores it took. */
export interface CpuTaker {
  name: string;
  share: number;
}

/** How many of the largest takers a reading names. */
export const NAMED_TAKERS = 3;

/** A job that left this share of the cores (or more) to other processes or to steal is named under the table. */
export const OTHER_CPU_WARNING_SHARE = 0.05;

/** The busy ticks (steal excluded) and steal ticks of all CPUs together, from the first line of `/proc/stat`. */
export function machineTicks(procStat: string): { busy: number; steal: number } {
  const line = procStat.split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== 'cpu') throw new Error(`unexpected /proc/stat: ${line}`);
  // user nice system idle iowait irq softirq steal (guest time is already part of user).
  const [user, nice, system, , , irq, softirq, steal] = fields.slice(1).map(Number);
  return { busy: [user, nice, system, irq, softirq].reduce<number>((sum, x) => sum + (x ?? 0), 0), steal: steal ?? 0 };
}

/** A process's name, parent and CPU ticks, its waited-for children's included, from `/proc/<pid>/stat`. */
export function processTicks(stat: string): { name: string; ppid: number; ticks: number } {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const close = stat.lastIndexOf(')');
  const rest = stat.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  return { name: stat.slice(stat.indexOf('(') + 1, close), ppid: field(4), ticks: field(14) + field(15) + field(16) + field(17) };
}

/** Reads the machine's busy ticks and those of the process tree under `root`; null without `/proc`. */
export function readCpu(root: number = process.pid, procDir = '/proc'): CpuReading | null {
  let machine: { busy: number; steal: number };
  try {
    machine = machineTicks(readFileSync(`${procDir}/stat`, 'utf8'));
  } catch {
    return null;
  }
  const processes = new Map<number, { name: string; ppid: number; ticks: number }>();
  for (const name of readdirSync(procDir)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      processes.set(pid, processTicks(readFileSync(`${procDir}/${name}/stat`, 'utf8')));
    } catch {
      // It exited meanwhile: its time is in its parent's once waited for.
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of processes) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let own = 0;
  const others = new Map(processes);
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    own += processes.get(pid)?.ticks ?? 0;
    others.delete(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return { busyTicks: machine.busy, stealTicks: machine.steal, ownTicks: own, others };
}

/**
 * The shares of all cores' time between two readings that went to processes outside the tree and
 * to steal, and the processes outside the tree that took the most, by name (kernel threads with a
 * number in their name, `kworker/1:2` and the like, go under the name before the `/`). What no
 * process was charged with (interrupts, and kernel work done on behalf of no process) is the
 * difference between `other` and the takers.
 */
export function cpuShares(
  before: CpuReading,
  after: CpuReading,
  wallS: number,
  cores: number = os.cpus().length,
): { other: number; steal: number; takers: CpuTaker[] } {
  if (wallS <= 0) return { other: 0, steal: 0, takers: [] };
  const ticksPerS = 100; // USER_HZ, 100 on Linux
  const share = (ticks: number): number => Math.max(0, ticks / ticksPerS / (wallS * cores));
  const byName = new Map<string, number>();
  for (const [pid, now] of after.others) {
    // A process that started between the readings is charged with all its ticks.
    const ticks = now.ticks - (before.others.get(pid)?.ticks ?? 0);
    if (ticks <= 0) continue;
    const name = now.name.split('/')[0]!;
    byName.set(name, (byName.get(name) ?? 0) + ticks);
  }
  const takers = [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, NAMED_TAKERS)
    .map(([name, ticks]) => ({ name, share: share(ticks) }));
  return {
    other: share(after.busyTicks - before.busyTicks - (after.ownTicks - before.ownTicks)),
    steal: share(after.stealTicks - before.stealTicks),
    takers,
  };
}
