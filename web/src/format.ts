// How numbers, durations and times read on screen. One place, so every view agrees.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatInt(n: number): string {
  return integer.format(n);
}

export function formatDecimal(n: number): string {
  return decimal.format(n);
}

/** Seconds as "45s", "12m", "6h 33m", "1,204h 5m": hours never roll into days, as in reports. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0m';
  if (s < 60) return `${s}s`;
  const totalMinutes = Math.round(s / 60);
  const h = Math.floor(totalMinutes / 60);
  const m = totalMinutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${formatInt(h)}h` : `${formatInt(h)}h ${m}m`;
}

/** A compact duration for big card numbers: whole hours from 10 h on. */
export function formatDurationShort(seconds: number): string {
  if (seconds >= 36_000) return `${formatInt(Math.round(seconds / 3600))}h`;
  return formatDuration(seconds);
}

export function formatHours(hours: number): string {
  return `${decimal.format(hours)} h`;
}

export function formatMoney(amount: number, fractionDigits = 0): string {
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(amount);
}

export function formatPercent(value: number): string {
  return `${decimal.format(value)}%`;
}

const exact = new Intl.DateTimeFormat('en-US', {
  year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
});
const dateOnly = new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'short', day: 'numeric' });
const timeOnly = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', hour12: false });

export function parseTime(ts: string | null | undefined): Date | null {
  if (!ts) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The full, unambiguous time shown on hover: "Feb 24, 2026, 09:56:12 UTC". */
export function formatExact(ts: string | Date | null | undefined): string {
  const d = ts instanceof Date ? ts : parseTime(ts);
  return d ? exact.format(d) : '—';
}

export function formatDate(ts: string | null | undefined): string {
  const d = parseTime(ts);
  return d ? dateOnly.format(d) : '—';
}

export function formatClock(d: Date): string {
  return timeOnly.format(d);
}

const relative = new Intl.RelativeTimeFormat('en-US', { numeric: 'auto' });
const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

/** "3 hours ago", "yesterday", "just now". */
export function formatRelative(ts: string | Date | null | undefined, now: Date = new Date()): string {
  const d = ts instanceof Date ? ts : parseTime(ts);
  if (!d) return '—';
  const diff = (d.getTime() - now.getTime()) / 1000;
  if (Math.abs(diff) < 45) return 'just now';
  for (const [unit, seconds] of UNITS) {
    if (Math.abs(diff) >= seconds) return relative.format(Math.round(diff / seconds), unit);
  }
  return relative.format(Math.round(diff / 60), 'minute');
}
