// The scope and the interval: which directory group the reports count (`group=`) and how the
// trends and the adoption report group days (`interval=`). Both live in the URL beside the
// range, so a link reopens the same team at the same grain.

import type { DirectoryGroup, DirectoryOverview, Interval } from './types';

export const INTERVALS: Array<{ interval: Interval; label: string; noun: string; plural: string; title: string }> = [
  { interval: 'day', label: 'Day', noun: 'day', plural: 'days', title: 'Day' },
  { interval: 'week', label: 'Week', noun: 'week', plural: 'weeks', title: 'Week' },
  { interval: '2week', label: '2 weeks', noun: 'two weeks', plural: 'two-week periods', title: '2 Weeks' },
  { interval: 'month', label: 'Month', noun: 'month', plural: 'months', title: 'Month' },
];

export function intervalSpec(interval: Interval): (typeof INTERVALS)[number] {
  return INTERVALS.find((i) => i.interval === interval) ?? INTERVALS[0]!;
}

const day = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const month = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });

/** The interval that starts on `date` (`YYYY-MM-DD`), as a tooltip names it: "Week of Sep 7, 2026". */
export function describeInterval(date: string, interval: Interval): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  switch (interval) {
    case 'day':
      return day.format(d);
    case 'week':
      return `Week of ${day.format(d)}`;
    case '2week':
      return `Two weeks from ${day.format(d)}`;
    case 'month':
      return month.format(d);
  }
}

/** The interval the URL names, or null (each view then uses its own default). */
export function parseInterval(params: URLSearchParams): Interval | null {
  const value = params.get('interval');
  return INTERVALS.some((i) => i.interval === value) ? (value as Interval) : null;
}

export function parseGroup(params: URLSearchParams): string | null {
  return params.get('group') || null;
}

export function writeScope(params: URLSearchParams, group: string | null, interval: Interval | null): void {
  if (group) params.set('group', group);
  else params.delete('group');
  if (interval) params.set('interval', interval);
  else params.delete('interval');
}

/** `group=` for every report; nothing for everyone. */
export function groupQuery(group: string | null): Record<string, string> {
  return group ? { group } : {};
}

/** `interval=` for the trends: a day is left out, so the series stay the vendor's UTC days. */
export function trendsIntervalQuery(interval: Interval | null): Record<string, string> {
  return interval && interval !== 'day' ? { interval } : {};
}

/** A directory is imported when it has a snapshot; before that there is nothing to scope to. */
export function hasDirectory(directory: DirectoryOverview | null): directory is DirectoryOverview & { snapshot: object } {
  return !!directory?.snapshot;
}

/** The groups in tree order (each parent before its children, siblings by name), with their depth. */
export function groupTree(groups: DirectoryGroup[]): Array<{ group: DirectoryGroup; depth: number }> {
  const ids = new Set(groups.map((g) => g.id));
  const children = new Map<string | null, DirectoryGroup[]>();
  for (const g of groups) {
    const parent = g.parent && ids.has(g.parent) ? g.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), g]);
  }
  const out: Array<{ group: DirectoryGroup; depth: number }> = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    const list = [...(children.get(parent) ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    for (const group of list) {
      if (seen.has(group.id)) continue; // a cycle in a hand-written file must not hang the page
      seen.add(group.id);
      out.push({ group, depth });
      walk(group.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
