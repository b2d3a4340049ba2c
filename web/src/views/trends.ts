// Trends: sessions (with session hours), active users, CI sessions and cumulative adoption over
// the range, by day, week, two weeks or month (the interval picker, `interval=` in the URL).
// Beyond the vendor's dashboard, from the same trends endpoint; by day its series are the
// vendor's UTC days.

import { h, type Child } from '../dom';
import { chartBox, intervalPicker, panel } from '../components';
import { deferChart, timeSeries } from '../charts';
import { formatDecimal, formatInt } from '../format';
import { formatDay } from '../range';
import { describeInterval, intervalSpec } from '../scope';
import type { ViewContext } from './context';

export function renderTrends(ctx: ViewContext): Child {
  const t = ctx.trends;
  const interval = t.interval ?? 'day';
  const { noun, plural, title } = intervalSpec(interval);
  const dates = t.dailySessions.map((d) => d.date);
  const sessions = t.dailySessions.map((d) => d.count);
  const hours = t.dailySessions.map((d) => d.totalSeconds / 3600);
  const dau = t.dailyActiveUsers.map((d) => d.count);
  const ci = t.dailyCiSessions.map((d) => d.count);
  const cumulative = t.userAdoption.map((d) => d.cumulativeUsers);
  const newUsers = t.userAdoption.map((d) => d.newUsers);

  const total = sessions.reduce((a, b) => a + b, 0);
  const busiest = sessions.reduce((best, v, i) => (v > (sessions[best] ?? -1) ? i : best), 0);
  const avgDau = dau.length ? dau.reduce((a, b) => a + b, 0) / dau.length : 0;
  const added = newUsers.reduce((a, b) => a + b, 0);

  const chart = (id: string, heading: string, subtitle: string, label: string, build: Parameters<typeof timeSeries>[0]) => {
    const box = chartBox('chart-md');
    box.dataset.points = String(build.dates.length);
    deferChart(box, `${label}, by ${noun}`, () => timeSeries({ ...build, formatDate: (d) => describeInterval(d, interval) }));
    return panel({ id, title: heading, subtitle }, box);
  };
  const stat = (id: string, label: string, value: string, note: string) =>
    h('div', { class: 'stat', 'data-stat': id }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-note' }, note));

  return [
    intervalPicker(ctx.interval ?? 'day', ctx.chooseInterval),
    h('div', { class: 'stats', 'data-section': 'trend-stats' },
      stat('sessions', 'Sessions', formatInt(total), `${formatDay(t.from)} – ${formatDay(t.to)}`),
      stat('busiest', `Busiest ${noun}`, total > 0 ? formatInt(sessions[busiest] ?? 0) : '—', total > 0 ? describeInterval(dates[busiest] ?? t.to, interval) : 'no sessions'),
      stat('dau', `Average users per ${noun}`, formatDecimal(avgDau), `over ${formatInt(dates.length)} ${plural}`),
      stat('new', 'New users', formatInt(added), `${formatInt(cumulative[cumulative.length - 1] ?? 0)} in total`),
    ),
    h('div', { class: 'grid-2' },
      chart('daily-sessions', `Sessions per ${title}`, `Sessions started each ${noun}, and the hours they ran.`, 'Sessions and session hours', {
        dates,
        series: [
          { name: 'Sessions', kind: 'bar', values: sessions, colorIndex: 0 },
          { name: 'Hours', kind: 'line', values: hours, axis: 1, colorIndex: 1 },
        ],
        formatLeft: (v) => formatInt(v),
        formatRight: (v) => `${formatDecimal(v)}h`,
      }),
      chart('daily-active-users', `Active Users per ${title}`, `Distinct people with at least one session in the ${noun}.`, 'Active users', {
        dates,
        series: [{ name: 'Active users', kind: 'area', values: dau, colorIndex: 1 }],
        formatLeft: (v) => formatInt(v),
      }),
      chart('daily-ci', 'CI Sessions', `Sessions started by CI pipelines each ${noun}.`, 'CI sessions', {
        dates,
        series: [{ name: 'CI sessions', kind: 'bar', values: ci, colorIndex: 2 }],
        formatLeft: (v) => formatInt(v),
      }),
      chart('adoption', 'Adoption', `People who have used mirrord, and who started each ${noun}.`, 'Cumulative users and new users', {
        dates,
        series: [
          { name: 'All users', kind: 'area', values: cumulative, colorIndex: 0 },
          { name: 'New users', kind: 'bar', values: newUsers, colorIndex: 3 },
        ],
        formatLeft: (v) => formatInt(v),
      }),
    ),
  ];
}
