// Users: Session Duration vs. Count (bubble size = total time), the User Timeline, and the
// User Metrics table (with each engineer's team when a directory is imported) and its CSV and
// Excel exports.

import { h, type Child } from '../dom';
import { chartBox, chip, emptyBlock, isCiUser, panel, relativeTime, teamColumns, userCell } from '../components';
import { bubble, deferChart } from '../charts';
import { formatDecimal, formatDuration, formatExact, formatInt, formatRelative, parseTime } from '../format';
import { dataTable } from '../table';
import type { UserMetric } from '../types';
import type { ViewContext } from './context';
import { exportButtons } from './exports';
import { sessionsLink } from './sessions';

export function renderUsers(ctx: ViewContext): Child {
  return [h('div', { class: 'grid-2' }, durationVsCount(ctx), timeline(ctx)), userMetrics(ctx)];
}

/** Charts and lists draw at most this many users (those with the most time); tables show all. */
const DRAWN = 400;

function durationVsCount(ctx: ViewContext): HTMLElement {
  const all = ctx.usage.userMetrics;
  const users = all.length > DRAWN ? [...all].sort((a, b) => b.totalSessionTimeSeconds - a.totalSessionTimeSeconds).slice(0, DRAWN) : all;
  const box = chartBox('chart-md');
  if (users.length === 0) {
    return panel({ id: 'duration-vs-count', title: 'Session Duration vs. Count' },
      emptyBlock({ icon: 'users', title: 'No users in this range' }));
  }
  deferChart(box, `Bubble chart of ${users.length} users: sessions against average session duration`, () =>
    bubble({
      xName: 'Sessions',
      yName: 'Average session (min)',
      formatX: (v) => formatInt(v),
      formatY: (v) => `${formatInt(v)}m`,
      points: users.map((u) => ({
        x: u.totalSessionCount,
        y: u.averageSessionDurationSeconds / 60,
        size: u.totalSessionTimeSeconds,
        label: u.displayName ?? u.identifier,
        detail: [
          `${formatInt(u.totalSessionCount)} sessions`,
          `avg ${formatDuration(u.averageSessionDurationSeconds)}`,
          `${formatDuration(u.totalSessionTimeSeconds)} total`,
        ],
      })),
    }),
  );
  const subtitle = all.length > DRAWN
    ? `The ${DRAWN} users with the most session time of ${formatInt(all.length)}; a bigger bubble means more total time.`
    : 'Each bubble is a user; a bigger bubble means more total session time.';
  return panel({ id: 'duration-vs-count', title: 'Session Duration vs. Count', subtitle }, box);
}

function timeline(ctx: ViewContext): HTMLElement {
  const all = ctx.usage.userMetrics;
  const users = [...all].sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? '')).slice(0, DRAWN);
  if (users.length === 0) {
    return panel({ id: 'user-timeline', title: 'User Timeline' }, emptyBlock({ icon: 'clock', title: 'No users in this range' }));
  }
  // Each user's span from first to last seen, drawn on a shared axis from the earliest first-seen to now.
  const start = Math.min(...users.map((u) => parseTime(u.firstActive)?.getTime() ?? ctx.now.getTime()));
  const span = Math.max(1, ctx.now.getTime() - start);
  const pos = (ts: string | null) => (((parseTime(ts)?.getTime() ?? start) - start) / span) * 100;
  const list = h('ol', { class: 'timeline', tabindex: '0', 'aria-label': 'Users by most recent activity' },
    users.map((u) =>
      h('li', { class: 'timeline-item', 'data-user': u.identifier },
        h('div', { class: 'timeline-text' },
          h('span', { class: 'timeline-name', title: u.identifier }, u.displayName ?? u.identifier),
          h('span', { class: 'timeline-first' }, 'first seen ', relativeTime(u.firstActive, ctx.now)),
        ),
        h('div', { class: 'timeline-last' }, relativeTime(u.lastSeen, ctx.now)),
        h('div', {
          class: 'timeline-span',
          'aria-hidden': 'true',
          title: `${formatExact(u.firstActive)} → ${formatExact(u.lastSeen)}`,
        }, h('span', { class: 'timeline-bar', style: { left: `${pos(u.firstActive)}%`, width: `${Math.max(1.5, pos(u.lastSeen) - pos(u.firstActive))}%` } })),
      ),
    ),
  );
  const more = all.length - users.length;
  return panel({
    id: 'user-timeline',
    title: 'User Timeline',
    subtitle: `First and last seen; hover a time for the exact moment. The bars span ${formatRelative(new Date(start), ctx.now)} to now.`,
  }, list, more > 0 ? h('p', { class: 'panel-footnote' }, `The ${formatInt(users.length)} most recent users; ${formatInt(more)} more are in the table below.`) : null);
}

function userMetrics(ctx: ViewContext): HTMLElement {
  return dataTable<UserMetric>({
    id: 'user-metrics',
    title: 'User Metrics',
    rows: ctx.usage.userMetrics,
    searchLabel: 'Search users, teams…',
    search: (u) => `${u.identifier} ${u.displayName ?? ''} ${u.clientUser ?? ''} ${u.hostname ?? ''} ${u.personName ?? ''} ${u.team ?? ''}`,
    defaultSort: { column: 'sessions', direction: 'desc' },
    actions: exportButtons(ctx),
    columns: [
      {
        id: 'identifier',
        label: 'Identifier',
        sort: (u) => u.displayName ?? u.identifier,
        render: (u) => [
          sessionsLink(ctx, { user: u.identifier, title: u.displayName ?? u.identifier }, userCell(u.identifier, u.displayName, u.hostname)),
          isCiUser(u) ? chip('CI', 'chip-ci') : null,
        ],
      },
      ...teamColumns<UserMetric>(ctx.directory, (u) => u.displayName ?? u.identifier),
      { id: 'first', label: 'First Active', sort: (u) => u.firstActive ?? '', render: (u) => relativeTime(u.firstActive, ctx.now) },
      { id: 'last', label: 'Last Seen', sort: (u) => u.lastSeen ?? '', render: (u) => relativeTime(u.lastSeen, ctx.now) },
      { id: 'sessions', label: 'Sessions', numeric: true, sort: (u) => u.totalSessionCount, render: (u) => h('strong', null, formatInt(u.totalSessionCount)) },
      { id: 'time', label: 'Total Time', numeric: true, sort: (u) => u.totalSessionTimeSeconds, render: (u) => formatDuration(u.totalSessionTimeSeconds) },
      { id: 'avg', label: 'Avg Duration', numeric: true, sort: (u) => u.averageSessionDurationSeconds, render: (u) => formatDuration(u.averageSessionDurationSeconds) },
      { id: 'daily', label: 'Avg Daily', numeric: true, sort: (u) => u.averageDailySessions, render: (u) => formatDecimal(u.averageDailySessions) },
    ],
    empty: () => emptyBlock({ icon: 'users', title: 'No users in this range' }),
  });
}
