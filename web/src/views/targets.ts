// Services: Service Adoption (sessions vs. unique users), Sessions by Namespace, Service
// Metrics. The UI says "service" for what mirrord and the API call a target (`target*` fields).

import { h, type Child } from '../dom';
import { barCell, chartBox, chip, emptyBlock, panel, targetCell } from '../components';
import { bubble, deferChart, horizontalBars } from '../charts';
import { formatDuration, formatInt } from '../format';
import { dataTable } from '../table';
import type { TargetMetric } from '../types';
import type { ViewContext } from './context';
import { sessionsLink } from './sessions';

/** Namespaces beyond this many are summed into one "other" bar. */
const NAMESPACE_BARS = 10;

export function renderTargets(ctx: ViewContext): Child {
  return [h('div', { class: 'grid-2' }, adoption(ctx), namespaces(ctx)), targetMetrics(ctx)];
}

/** The adoption chart draws at most this many services (those with the most sessions). */
const DRAWN = 400;

function adoption(ctx: ViewContext): HTMLElement {
  const all = ctx.usage.targetMetrics;
  const targets = all.length > DRAWN ? [...all].sort((a, b) => b.sessions - a.sessions).slice(0, DRAWN) : all;
  if (targets.length === 0) {
    return panel({ id: 'target-adoption', title: 'Service Adoption' }, emptyBlock({ icon: 'target', title: 'No services in this range' }));
  }
  const box = chartBox('chart-md');
  deferChart(box, `Bubble chart of ${targets.length} services: sessions against unique users`, () =>
    bubble({
      xName: 'Sessions',
      yName: 'Unique users',
      formatX: (v) => formatInt(v),
      formatY: (v) => formatInt(v),
      points: targets.map((t) => ({
        x: t.sessions,
        y: t.uniqueUsers,
        size: t.totalSessionTimeSeconds,
        label: t.target,
        detail: [
          [t.targetType, t.namespace].filter(Boolean).join(' in '),
          `${formatInt(t.sessions)} sessions · ${formatInt(t.uniqueUsers)} users`,
          `${formatDuration(t.totalSessionTimeSeconds)} total`,
        ].filter(Boolean),
      })),
    }),
  );
  const subtitle = all.length > DRAWN
    ? `The ${DRAWN} busiest of ${formatInt(all.length)} services. Broadly adopted ones sit high, heavily used ones right.`
    : 'Broadly adopted services sit high; heavily used ones sit right. Bubble size is total time.';
  return panel({ id: 'target-adoption', title: 'Service Adoption', subtitle }, box);
}

function namespaces(ctx: ViewContext): HTMLElement {
  const all = [...ctx.usage.namespaceMetrics].sort((a, b) => b.sessions - a.sessions);
  if (all.length === 0) {
    return panel({ id: 'namespaces', title: 'Sessions by Namespace' }, emptyBlock({ icon: 'target', title: 'No namespaces in this range' }));
  }
  const shown = all.slice(0, NAMESPACE_BARS);
  const rest = all.slice(NAMESPACE_BARS);
  const categories = shown.map((n) => n.namespace);
  const values = shown.map((n) => n.sessions);
  const details = shown.map((n) => `${formatInt(n.uniqueUsers)} users · ${formatDuration(n.totalSessionTimeSeconds)}`);
  if (rest.length > 0) {
    categories.push(`${rest.length} other namespaces`);
    values.push(rest.reduce((sum, n) => sum + n.sessions, 0));
    details.push(rest.map((n) => n.namespace).slice(0, 8).join(', ') + (rest.length > 8 ? ', …' : ''));
  }
  const box = chartBox('chart-md');
  box.style.height = `${Math.max(180, categories.length * 36 + 40)}px`;
  deferChart(box, `Bar chart of sessions in ${all.length} namespaces`, () =>
    horizontalBars({ categories, values, details, format: (v) => formatInt(v) }),
  );
  return panel({ id: 'namespaces', title: 'Sessions by Namespace', subtitle: `${formatInt(all.length)} namespaces` }, box);
}

function targetMetrics(ctx: ViewContext): HTMLElement {
  const rows = ctx.usage.targetMetrics;
  let max = 0;
  for (const r of rows) if (r.sessions > max) max = r.sessions;
  return dataTable<TargetMetric>({
    id: 'target-metrics',
    title: 'Service Metrics',
    rows,
    searchLabel: 'Search services, namespaces…',
    search: (t) => `${t.target} ${t.namespace ?? ''} ${t.targetType ?? ''}`,
    defaultSort: { column: 'sessions', direction: 'desc' },
    columns: [
      { id: 'target', label: 'Service', sort: (t) => t.target, render: (t) => sessionsLink(ctx, { target: t.target, title: t.target }, targetCell(t.target, t.targetType)) },
      { id: 'namespace', label: 'Namespace', sort: (t) => t.namespace ?? '', render: (t) => chip(t.namespace) },
      { id: 'sessions', label: 'Sessions', numeric: true, className: 'bar-column', sort: (t) => t.sessions, render: (t) => barCell(t.sessions, max, formatInt(t.sessions)) },
      { id: 'time', label: 'Total Time', numeric: true, sort: (t) => t.totalSessionTimeSeconds, render: (t) => formatDuration(t.totalSessionTimeSeconds) },
      { id: 'users', label: 'Unique Users', numeric: true, sort: (t) => t.uniqueUsers, render: (t) => formatInt(t.uniqueUsers) },
    ],
    empty: () => emptyBlock({ icon: 'target', title: 'No services in this range' }),
  });
}
