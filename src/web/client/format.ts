/** Number, time and text formatting for display. */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function count(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? integer.format(n) : '–';
}

/** A number with at most `digits` decimals. */
export function num(n: number | null | undefined, digits = 2): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return n.toLocaleString(undefined, { maximumFractionDigits: digits });
}

/** A share in 0..1 as a percentage. */
export function pct(share: number | null | undefined, digits = 1): string {
  return typeof share === 'number' && Number.isFinite(share) ? `${num(share * 100, digits)}%` : '–';
}

/** A percentage already in 0..100. */
export function pct100(value: number | null | undefined, digits = 1): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${num(value, digits)}%` : '–';
}

export function pValue(p: number | null | undefined): string {
  if (typeof p !== 'number' || !Number.isFinite(p)) return '–';
  if (p < 0.0001) return '< 0.0001';
  return num(p, 4);
}

export function money(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: n < 1 ? 4 : 2 });
}

export function dateTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const date = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago" for recent times, a date for older ones. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return relative.format(seconds, 'second');
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86400) return relative.format(Math.round(seconds / 86400), 'day');
  return dateTime(iso);
}

export function duration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${num(n / 1024, 1)} KB`;
  return `${num(n / (1024 * 1024), 1)} MB`;
}

/** Any value as readable text: strings as they are, everything else as indented JSON. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

/** One line of at most `max` characters, for list previews. */
export function snippet(value: unknown, max = 140): string {
  const line = text(value).replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
