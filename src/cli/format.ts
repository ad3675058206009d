/**
 * Text output for people: aligned tables, numbers, durations, and a progress bar that redraws
 * itself on a terminal and falls back to a plain line every few seconds elsewhere.
 */
import type { JobProgress } from './client.js';

/** Left-aligned columns separated by two spaces; cells that look numeric are right-aligned. */
export function table(rows: readonly (readonly string[])[], opts: { header?: readonly string[]; indent?: string } = {}): string {
  const all = opts.header ? [opts.header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  const numeric = widths.map((_, i) => rows.length > 0 && rows.every((row) => /^[-+]?[\d,.]+%?$|^$|^–$/.test(row[i] ?? '')));
  const indent = opts.indent ?? '';
  return all
    .map((row) =>
      (
        indent +
        row
          .map((cell, i) => {
            const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(cell)));
            if (i === row.length - 1 && !numeric[i]) return cell;
            return numeric[i] ? pad + cell : cell + pad;
          })
          .join('  ')
      ).trimEnd(),
    )
    .join('\n');
}

function visibleLength(s: string): number {
  return [...s].length;
}

/** `1234567` → `1,234,567`. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A 0–100 number as `86.5%` (one decimal, none for whole numbers). */
export function percent(p: number): string {
  const rounded = Math.round(p * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)}%`;
}

/** A number with up to `digits` significant decimals and no trailing zeros. */
export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  return Number(x.toFixed(digits)).toString();
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Unix seconds or an ISO string as `2026-01-31 12:34` (UTC). */
export function when(value: number | string | undefined): string {
  if (value === undefined) return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}`;
}

export interface ProgressState {
  done: number;
  total: number;
  failed: number;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  waitingOnRateLimit?: boolean;
  /** Shown when there are no row counts (a server that reports only a status). */
  status?: string;
}

/** ProgressState of progress as the API reports it (a status answer's, or the local engine's). */
export function progressStateOf(p: JobProgress, status?: string): ProgressState {
  return {
    done: p.rows_done,
    total: p.rows_total,
    failed: p.rows_failed,
    rowsPerSecond: p.rows_per_second,
    etaSeconds: p.eta_seconds,
    waitingOnRateLimit: p.waiting_on_rate_limit === true,
    ...(status !== undefined ? { status } : {}),
  };
}

/** One line of progress text without the bar: `520/1000 rows (52%) · 38.5 rows/s · ETA 12s · 3 failed`. */
export function progressText(p: ProgressState): string {
  const parts: string[] = [];
  if (p.total > 0) {
    parts.push(`${count(p.done)}/${count(p.total)} rows (${percent((100 * p.done) / p.total)})`);
    if (p.rowsPerSecond !== null) parts.push(`${num(p.rowsPerSecond, 1)} rows/s`);
    if (p.etaSeconds !== null && p.done < p.total) parts.push(`ETA ${duration(p.etaSeconds)}`);
    if (p.failed > 0) parts.push(`${count(p.failed)} failed`);
    if (p.waitingOnRateLimit) parts.push('waiting on rate limit');
  }
  if (p.status) parts.unshift(p.status);
  return parts.join(' · ');
}

export interface ProgressBar {
  /** Redraws (terminal) or prints a line when one is due; `force` prints one now (the last state). */
  update(p: ProgressState, force?: boolean): void;
  /** Shows the last state for good: the bar stays on screen (terminal) or one last line is printed. */
  finish(p: ProgressState): void;
  /** Clears a drawn bar (on a terminal) so the next output starts on a clean line. */
  stop(): void;
}

/**
 * Progress on `stream`: a redrawn bar on a terminal (at most ten times a second), a plain line every
 * `plainEverySeconds` otherwise, nothing at all when `enabled` is false (`--json`).
 */
export function createProgressBar(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  opts: { enabled: boolean; plainEverySeconds?: number; label?: string; now?: () => number },
): ProgressBar {
  const now = opts.now ?? Date.now;
  const tty = stream.isTTY === true;
  const every = (opts.plainEverySeconds ?? 5) * 1000;
  let lastDraw = 0;
  let drawn = false;
  let lastPlain = '';
  const label = opts.label ? `${opts.label} ` : '';
  function update(p: ProgressState, force = false): void {
    if (!opts.enabled) return;
    const t = now();
    if (tty) {
      if (!force && t - lastDraw < 100 && p.done < p.total) return;
      lastDraw = t;
      const text = progressText(p);
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - text.length - label.length - 4));
      const share = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
      const filled = Math.round(share * width);
      const bar = p.total > 0 ? `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ` : '';
      stream.write(`\r\x1b[2K${label}${bar}${text}`);
      drawn = true;
      return;
    }
    const text = progressText(p);
    if (text === lastPlain || (!force && t - lastDraw < every)) return;
    lastDraw = t;
    lastPlain = text;
    stream.write(`${label}${text}\n`);
  }
  return {
    update,
    finish(p) {
      if (!opts.enabled) return;
      update(p, true);
      if (drawn) stream.write('\n');
      drawn = false;
    },
    stop() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
