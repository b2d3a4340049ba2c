// The report range: a preset (7d, 30d, 90d, all) or a custom from/to, kept in the URL so a
// view can be shared as a link. Days are UTC days, like the server's.

export type Preset = '7d' | '30d' | '90d' | 'all';
export type Range = { kind: 'preset'; preset: Preset } | { kind: 'custom'; from: string; to: string };

export const PRESETS: Array<{ preset: Preset; label: string; days: number | null }> = [
  { preset: '7d', label: '7d', days: 7 },
  { preset: '30d', label: '30d', days: 30 },
  { preset: '90d', label: '90d', days: 90 },
  { preset: 'all', label: 'All', days: null },
];

export const DEFAULT_RANGE: Range = { kind: 'preset', preset: '30d' };

/** How many days of trends "All" asks for: the API's cap. Leading empty days are trimmed. */
export const ALL_TIME_DAYS = 3650;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isDate(value: string | null | undefined): value is string {
  return !!value && DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
}

/** Today's date in UTC, `YYYY-MM-DD`. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function parseRange(params: URLSearchParams): Range {
  const from = params.get('from');
  const to = params.get('to');
  if (isDate(from) && isDate(to) && from <= to) return { kind: 'custom', from, to };
  const preset = params.get('range');
  if (PRESETS.some((p) => p.preset === preset)) return { kind: 'preset', preset: preset as Preset };
  return DEFAULT_RANGE;
}

export function writeRange(params: URLSearchParams, range: Range): void {
  params.delete('range');
  params.delete('from');
  params.delete('to');
  if (range.kind === 'custom') {
    params.set('from', range.from);
    params.set('to', range.to);
  } else {
    params.set('range', range.preset);
  }
}

function presetDays(preset: Preset): number | null {
  return PRESETS.find((p) => p.preset === preset)?.days ?? null;
}

/** Query parameters for the usage report: a preset ends now, a custom range spans whole days. */
export function usageQuery(range: Range, now: Date = new Date()): Record<string, string> {
  if (range.kind === 'custom') return { from: range.from, to: range.to };
  const days = presetDays(range.preset);
  return days === null ? {} : { from: addDays(todayUtc(now), -(days - 1)) };
}

export function trendsQuery(range: Range): Record<string, string> {
  // `start`/`end` are the API's own: its trends ignore `from`/`to`, as the vendor's do.
  if (range.kind === 'custom') return { start: range.from, end: range.to };
  return { days: String(presetDays(range.preset) ?? ALL_TIME_DAYS) };
}

export function sameRange(a: Range, b: Range): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const shortDate = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });

export function formatDay(date: string): string {
  return shortDate.format(new Date(`${date}T00:00:00Z`));
}

/** "Last 30 days", "All time", "Jan 3, 2026 – Feb 1, 2026". */
export function describeRange(range: Range): string {
  if (range.kind === 'custom') return `${formatDay(range.from)} – ${formatDay(range.to)}`;
  const days = presetDays(range.preset);
  return days === null ? 'All time' : `Last ${days} days`;
}

/** The lower-case phrase cards use under their number: "in the last 30 days". */
export function rangePhrase(range: Range): string {
  if (range.kind === 'custom') return `${formatDay(range.from)} – ${formatDay(range.to)}`;
  const days = presetDays(range.preset);
  return days === null ? 'all time' : `last ${days} days`;
}
