// Usage: five cards (licenses, champion, sessions, session time, CI) and the Session Activity
// table of user × service × namespace, with each engineer's team when a directory is imported.

import { h, type Child } from '../dom';
import { barCell, card, chartBox, chip, emptyBlock, isCiUser, targetCell, teamColumns, userCell } from '../components';
import { deferChart, sparkline } from '../charts';
import { formatDuration, formatDurationShort, formatInt } from '../format';
import { dataTable } from '../table';
import { describeRange, rangePhrase } from '../range';
import { intervalSpec } from '../scope';
import type { UserTargetMetric } from '../types';
import type { ViewContext } from './context';
import { sessionsLink } from './sessions';
import { token } from '../theme';

export function renderUsage(ctx: ViewContext): Child {
  return [periodNotice(ctx), cards(ctx), sessionActivity(ctx)];
}

/** When the range holds nothing but older data exists, say so and offer all time. */
function periodNotice(ctx: ViewContext): Child {
  const { periodMetrics, allTimeMetrics, generalMetrics } = ctx.usage;
  if (periodMetrics.sessionCount > 0 || allTimeMetrics.totalSessionCount + allTimeMetrics.totalCiSessionCount === 0) return null;
  return h('div', { class: 'notice', role: 'status' },
    h('p', null, `No sessions in ${describeRange(ctx.range).toLowerCase()}. `,
      generalMetrics.lastOperatorEvent ? `The last operator event arrived ${new Date(generalMetrics.lastOperatorEvent).toUTCString()}.` : ''),
    h('button', { type: 'button', class: 'button', onclick: () => ctx.setRange({ kind: 'preset', preset: 'all' }) }, 'Show all time'),
  );
}

function cards(ctx: ViewContext): HTMLElement {
  const { usage, trends, range } = ctx;
  const p = usage.periodMetrics;
  const seats = usage.generalMetrics.totalLicenses ?? ctx.config.seats;
  const champion = [...usage.userMetrics]
    .filter((u) => !isCiUser(u))
    .sort((a, b) => b.totalSessionTimeSeconds - a.totalSessionTimeSeconds)[0];
  const dates = trends.dailySessions.map((d) => d.date);

  const spark = (id: string, values: number[], format: (v: number) => string, color?: string) => {
    const box = chartBox('sparkline');
    box.dataset.spark = id;
    deferChart(box, `Trend by ${intervalSpec(trends.interval ?? 'day').noun}, ${rangePhrase(range)}`, () => sparkline({ dates, values, format, color: color ? token(color) : undefined }));
    return box;
  };

  // Without a configured seat count the card leads with the seats in use: active developers.
  const seatsKnown = seats !== null && seats !== undefined && seats > 0;
  const seatMeter = seatsKnown
    ? h('div', { class: 'meter', title: `${formatInt(p.activeUsers)} active users of ${formatInt(seats)} seats` },
        h('div', { class: 'meter-track' }, h('div', { class: 'meter-fill', style: { width: `${Math.min(100, (p.activeUsers / seats) * 100)}%` } })),
        h('span', { class: 'meter-label' }, `${formatInt(p.activeUsers)} of ${formatInt(seats)} seats active`))
    : h('div', { class: 'card-note', title: 'Set the seat count with [licenses] seats in the config file' }, 'Seat count not configured');

  return h('div', { class: 'cards', 'data-section': 'cards' },
    card({
      id: 'licenses',
      label: 'Licenses',
      icon: 'license',
      value: seatsKnown ? formatInt(seats) : `${formatInt(p.activeUsers)} in use`,
      raw: seatsKnown ? seats : p.activeUsers,
      title: seatsKnown ? `${formatInt(seats)} seats` : `${formatInt(p.activeUsers)} developers used mirrord in this range`,
      sub: h('span', { 'data-role': 'machines', 'data-raw': String(p.uniqueMachines) }, `${formatInt(p.uniqueMachines)} active unique machines`),
      extra: seatMeter,
    }),
    card({
      id: 'champion',
      label: 'mirrord Champion',
      icon: 'trophy',
      value: champion ? champion.displayName ?? champion.identifier : '—',
      raw: champion?.identifier ?? '',
      title: champion ? champion.identifier : undefined,
      sub: champion
        ? h('span', { 'data-raw': String(champion.totalSessionTimeSeconds) },
            `${formatDuration(champion.totalSessionTimeSeconds)} total · ${formatInt(champion.totalSessionCount)} sessions`)
        : 'No sessions in this range',
    }),
    card({
      id: 'sessions',
      label: 'Total Sessions',
      icon: 'activity',
      value: formatInt(p.sessionCount),
      raw: p.sessionCount,
      sub: rangePhrase(range),
      // The card counts exec and CI sessions; the trend's daily sessions are exec only.
      extra: spark('sessions', trends.dailySessions.map((d, i) => d.count + (trends.dailyCiSessions[i]?.count ?? 0)), (v) => `${formatInt(v)} sessions`),
    }),
    card({
      id: 'time',
      label: 'Session Time',
      icon: 'clock',
      value: formatDurationShort(p.sessionTimeSeconds),
      raw: p.sessionTimeSeconds,
      title: formatDuration(p.sessionTimeSeconds),
      sub: p.sessionCount > 0 ? `avg ${formatDuration(p.sessionTimeSeconds / p.sessionCount)} per session` : rangePhrase(range),
      extra: spark('time', trends.dailySessions.map((d) => d.totalSeconds), (v) => formatDuration(v), 'chart-2'),
    }),
    card({
      id: 'ci',
      label: 'CI Sessions',
      icon: 'ci',
      value: formatInt(p.ciSessionCount),
      raw: p.ciSessionCount,
      sub: h('span', { 'data-role': 'max-concurrency', 'data-raw': String(usage.ciMetrics.maxConcurrentCiSessions) },
        `max ${formatInt(usage.ciMetrics.maxConcurrentCiSessions)} concurrent`,
        usage.ciMetrics.currentRunningSessions > 0 ? ` · ${formatInt(usage.ciMetrics.currentRunningSessions)} running now` : ''),
      extra: spark('ci', trends.dailyCiSessions.map((d) => d.count), (v) => `${formatInt(v)} CI sessions`, 'chart-3'),
    }),
  );
}

function sessionActivity(ctx: ViewContext): HTMLElement {
  const rows = ctx.usage.userTargetMetrics;
  let max = 0;
  for (const r of rows) if (r.sessions > max) max = r.sessions;
  return dataTable<UserTargetMetric>({
    id: 'session-activity',
    title: 'Session Activity',
    description: 'Who works against which service, by sessions started in the range. Pick a user for their sessions.',
    rows,
    searchLabel: 'Search users, teams, services, namespaces…',
    search: (r) => `${r.identifier} ${r.displayName ?? ''} ${r.personName ?? ''} ${r.team ?? ''} ${r.target} ${r.namespace ?? ''} ${r.targetType ?? ''}`,
    defaultSort: { column: 'sessions', direction: 'desc' },
    columns: [
      {
        id: 'user',
        label: 'User',
        sort: (r) => r.displayName ?? r.identifier,
        render: (r) => sessionsLink(ctx, { user: r.identifier, target: r.target, title: `${r.displayName ?? r.identifier} on ${r.target}` }, userCell(r.identifier, r.displayName)),
      },
      ...teamColumns<UserTargetMetric>(ctx.directory, (r) => r.displayName ?? r.identifier),
      { id: 'target', label: 'Service', sort: (r) => r.target, render: (r) => targetCell(r.target, r.targetType) },
      { id: 'namespace', label: 'Namespace', sort: (r) => r.namespace ?? '', render: (r) => chip(r.namespace) },
      { id: 'sessions', label: 'Sessions', numeric: true, className: 'bar-column', sort: (r) => r.sessions, render: (r) => barCell(r.sessions, max, formatInt(r.sessions)) },
      { id: 'time', label: 'Total Time', numeric: true, sort: (r) => r.totalSessionTimeSeconds, render: (r) => formatDuration(r.totalSessionTimeSeconds) },
    ],
    empty: () => emptyBlock({ icon: 'inbox', title: 'No sessions in this range', body: 'Pick a longer range to see older activity.' }),
  });
}
