/** Polls a job on a server until it ends, drawing its progress on stderr. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, EvaluationStatus } from './client.js';
import type { CommandContext } from './context.js';
import { createProgressBar, progressStateOf, type ProgressState } from './format.js';

export const TERMINAL = new Set(['completed', 'error', 'user_error']);

export function progressState(s: EvaluationStatus): ProgressState {
  const p = s.progress;
  if (!p) return { done: 0, total: 0, failed: 0, rowsPerSecond: null, etaSeconds: null, status: s.status };
  return progressStateOf(p, s.status);
}

export async function watchJob(ctx: CommandContext, client: Client, id: string, intervalMs: number): Promise<EvaluationStatus> {
  const bar = createProgressBar(ctx.io.stderr, { enabled: !ctx.json, label: id });
  try {
    for (;;) {
      const status = await client.evals.status(id);
      if (TERMINAL.has(status.status)) {
        bar.stop();
        return status;
      }
      bar.update(progressState(status));
      await sleep(intervalMs);
    }
  } catch (err) {
    bar.stop();
    throw err;
  }
}
