// Adoption: who in the scoped group uses mirrord and who does not, from
// GET /api/v1/reports/adoption (docs/adoption.md). Counts, the funnel from the directory to
// champions, the share active per interval, a heatmap of groups by week, the people who never
// started and those going cold, champions, the services each team uses, and suggested actions
// (a dismissal is remembered in localStorage by the action's stable id). Without an imported
// directory there is nothing to compare the sessions with: the view says how to import one.

import { h, replaceChildren, type Child } from '../dom';
import { chartBox, emptyBlock, intervalPicker, panel, relativeTime } from '../components';
import { deferChart, heatmap, mountPendingCharts, timeSeries } from '../charts';
import { formatDate, formatInt, formatPercent } from '../format';
import { icon, type IconName } from '../icons';
import { describeInterval, hasDirectory } from '../scope';
import { dataTable } from '../table';
import type { AdoptionReport, FunnelStage, UiConfig } from '../types';
import type { ViewContext } from './context';
import { errorPanel, skeletonCards, skeletonTable, snippet } from './states';

type Report = AdoptionReport;

export function renderAdoption(ctx: ViewContext): Child {
  if (!hasDirectory(ctx.directory)) return noDirectory(ctx.config);
  const host = h('div', { class: 'adoption', 'data-section': 'adoption', 'aria-busy': 'true' });
  const load = () => {
    replaceChildren(host, skeletonCards(), skeletonTable());
    host.setAttribute('aria-busy', 'true');
    // Null while the other reports reload: the view is drawn again once they are in.
    ctx.adoption()?.then(
      (report) => show(host, adoptionBody(ctx, report)),
      (error: Error) => show(host, errorPanel(error, load)),
    );
  };
  load();
  return [intervalPicker(ctx.interval ?? 'week', ctx.chooseInterval), host];
}

function show(host: HTMLElement, body: Child): void {
  replaceChildren(host, body);
  host.setAttribute('aria-busy', 'false');
  mountPendingCharts();
}

function adoptionBody(ctx: ViewContext, r: Report): Child {
  return [
    scopeLine(r),
    counts(r),
    suggestions(ctx, r),
    h('div', { class: 'grid-2' }, funnel(r), activeOverTime(r)),
    groupHeatmap(r),
    h('div', { class: 'grid-2' }, neverStarted(r), champions(r)),
    goingCold(ctx, r),
    servicesPerTeam(r),
  ];
}

// ---------------------------------------------------------------- scope and counts

/** "Engineering › Payments · directory snapshot 3 (people.csv), imported Dec 1, 2026 · days in UTC". */
function scopeLine(r: Report): HTMLElement {
  const path = [...r.scope.path];
  if (r.scope.group && path[path.length - 1]?.id !== r.scope.group.id) path.push(r.scope.group);
  const snapshot = r.snapshot
    ? `directory snapshot ${r.snapshot.snapshot}${r.snapshot.source ? ` (${r.snapshot.source})` : ''}, imported ${formatDate(r.snapshot.importedAt)}`
    : 'no directory snapshot';
  return h('p', { class: 'scope-line', 'data-role': 'scope-path' },
    h('span', { class: 'scope-path' }, path.length ? path.map((g) => g.name).join(' › ') : 'Everyone in the directory'),
    h('span', { class: 'muted' }, ` · ${snapshot} · days in ${r.timeZone}`));
}

function stageCount(r: Report, stage: FunnelStage): number {
  return r.funnel.find((f) => f.stage === stage)?.count ?? 0;
}

function share(part: number, whole: number): string {
  return formatPercent(whole > 0 ? (100 * part) / whole : 0);
}

function counts(r: Report): HTMLElement {
  const active = stageCount(r, 'active');
  const stat = (id: string, label: string, value: number, note: string) =>
    h('div', { class: 'stat', 'data-stat': id, 'data-raw': String(value) },
      h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, formatInt(value)), h('span', { class: 'stat-note' }, note));
  return h('div', { class: 'stats', 'data-section': 'adoption-counts' },
    stat('engineers', 'Engineers', r.counts.engineers, r.scope.group ? `in ${r.scope.group.name} and below` : 'in the directory'),
    stat('active', 'Active', active, `${share(active, r.counts.engineers)} of engineers, in the range`),
    stat('services', 'Services', r.counts.services, 'used in the range'),
    stat('teams', 'Teams', r.counts.teams, 'in scope'),
  );
}

// ---------------------------------------------------------------- suggested actions

const DISMISSED = 'mirrord-usage.dismissed-actions';

function readDismissed(): Set<string> {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(DISMISSED) ?? '[]');
    return new Set(Array.isArray(list) ? list.filter((id): id is string => typeof id === 'string') : []);
  } catch {
    return new Set();
  }
}

function writeDismissed(ids: Set<string>): void {
  try {
    localStorage.setItem(DISMISSED, JSON.stringify([...ids]));
  } catch {
    /* storage disabled: the dismissal lasts until the view is drawn again */
  }
}

const ACTION_ICONS: Record<string, IconName> = { teamNoStarts: 'users', teamGoingCold: 'clock', teamLowActive: 'activity' };

function suggestions(ctx: ViewContext, r: Report): HTMLElement | null {
  const actions = r.suggestedActions;
  if (actions.length === 0) return null;
  const dismissed = readDismissed();
  const body = h('div');
  const draw = (focusIndex: number | null) => {
    const open = actions.filter((a) => !dismissed.has(a.id));
    const hidden = actions.length - open.length;
    const list = open.length
      ? h('ul', { class: 'suggestions', 'data-list': 'suggested-actions' }, open.map((action, i) =>
          h('li', { class: 'suggestion', 'data-suggestion': action.id },
            icon(ACTION_ICONS[action.kind] ?? 'bulb', 'icon suggestion-icon'),
            h('p', { class: 'suggestion-message' }, action.message),
            h('div', { class: 'suggestion-buttons' },
              action.groupId && action.groupId !== ctx.group
                ? h('button', { type: 'button', class: 'button button-ghost', onclick: () => ctx.chooseGroup(action.groupId) }, 'Show this team')
                : null,
              h('button', {
                type: 'button',
                class: 'button button-ghost',
                'data-dismiss': action.id,
                'aria-label': `Dismiss: ${action.message}`,
                onclick: () => {
                  dismissed.add(action.id);
                  writeDismissed(dismissed);
                  draw(i);
                },
              }, icon('x'), 'Dismiss')))))
      : h('p', { class: 'muted' }, 'No suggestions left.');
    const restore = hidden
      ? h('button', {
          type: 'button',
          class: 'link-button',
          'data-action-restore': 'true',
          onclick: () => {
            for (const a of actions) dismissed.delete(a.id);
            writeDismissed(dismissed);
            draw(0);
          },
        }, `Show ${formatInt(hidden)} dismissed`)
      : null;
    replaceChildren(body, list, restore ? h('p', { class: 'panel-footnote' }, restore) : null);
    if (focusIndex !== null) {
      const buttons = body.querySelectorAll<HTMLElement>('[data-dismiss]');
      (buttons[Math.min(focusIndex, buttons.length - 1)] ?? body.querySelector<HTMLElement>('[data-action-restore]'))?.focus();
    }
  };
  draw(null);
  return panel({ id: 'suggested-actions', title: 'Suggested actions', subtitle: 'Teams to talk to. A dismissed suggestion stays dismissed in this browser.', className: 'panel-accent' }, body);
}

// ---------------------------------------------------------------- funnel and active over time

const STAGES: Array<{ stage: FunnelStage; label: string; note: (t: Report['thresholds']) => string }> = [
  { stage: 'inDirectory', label: 'In the directory', note: () => 'Everyone in scope' },
  { stage: 'everStarted', label: 'Ever started', note: () => 'A mirrord session before the end of the range' },
  { stage: 'active', label: 'Active', note: () => 'A session in the range' },
  { stage: 'regular', label: 'Regular', note: (t) => `Active on ${t.regularActiveDays} or more days of the range` },
  { stage: 'champion', label: 'Champion', note: (t) => `Active on ${t.championActiveDays} or more days of the range` },
];

function funnel(r: Report): HTMLElement {
  const top = stageCount(r, 'inDirectory');
  const list = h('ol', { class: 'funnel', 'data-section': 'funnel' },
    STAGES.map(({ stage, label, note }) => {
      const count = stageCount(r, stage);
      const pct = top > 0 ? (100 * count) / top : 0;
      return h('li', { class: 'funnel-stage', 'data-stage': stage, title: `${label}: ${note(r.thresholds)}` },
        h('div', { class: 'funnel-text' },
          h('span', { class: 'funnel-label' }, label),
          h('span', { class: 'funnel-note' }, note(r.thresholds))),
        h('span', { class: 'funnel-track', 'aria-hidden': 'true' }, h('span', { class: 'funnel-fill', style: { width: `${count > 0 ? Math.max(1.5, pct) : 0}%` } })),
        h('span', { class: 'funnel-count', 'data-raw': String(count) }, formatInt(count)),
        h('span', { class: 'funnel-share' }, formatPercent(pct)));
    }));
  return panel({ id: 'funnel', title: 'Adoption funnel', subtitle: 'Each stage is a subset of the one before; shares are of everyone in scope.' }, list);
}

function activeOverTime(r: Report): HTMLElement {
  const points = r.activeOverTime;
  const title = '% Active over time';
  if (points.length === 0) return panel({ id: 'active-over-time', title }, emptyBlock({ icon: 'trends', title: 'No intervals in this range' }));
  const dates = points.map((p) => p.start);
  const box = chartBox('chart-md');
  box.dataset.points = String(points.length);
  deferChart(box, `Line chart of the share of engineers active, by ${r.interval === '2week' ? 'two weeks' : r.interval}`, () =>
    timeSeries({
      dates,
      series: [{ name: 'Active', kind: 'area', values: points.map((p) => p.percent), colorIndex: 1 }],
      formatLeft: (v) => formatPercent(v),
      formatDate: (d) => describeInterval(d, r.interval),
      detail: (i) => `${formatInt(points[i]?.active ?? 0)} of ${formatInt(points[i]?.engineers ?? 0)} engineers`,
      maxLeft: 100,
    }));
  return panel({ id: 'active-over-time', title, subtitle: 'Engineers in scope with a session in each interval.' }, box);
}

// ---------------------------------------------------------------- heatmap

function groupHeatmap(r: Report): HTMLElement {
  const { weeks, groups } = r.heatmap;
  const title = 'Active engineers by group and week';
  if (weeks.length === 0 || groups.length === 0) {
    return panel({ id: 'heatmap', title }, emptyBlock({ icon: 'users', title: 'No groups to compare in this scope' }));
  }
  const percent = (active: number, engineers: number) => (engineers > 0 ? (100 * active) / engineers : 0);
  const box = chartBox('chart-heatmap');
  box.style.height = `${Math.max(140, groups.length * 32 + 48)}px`;
  box.dataset.rows = String(groups.length);
  box.dataset.columns = String(weeks.length);
  deferChart(box, `Heatmap of ${groups.length} groups over ${weeks.length} weeks: the share of each group's engineers active each week`, () =>
    heatmap({
      columns: weeks,
      rows: groups.map((g) => g.name),
      values: groups.map((g) => weeks.map((_, i) => percent(g.active[i] ?? 0, g.engineers))),
      max: 100,
      describe: (row, column) => {
        const g = groups[row]!;
        const active = g.active[column] ?? 0;
        return [g.name, describeInterval(weeks[column] ?? '', 'week'), `${formatInt(active)} of ${formatInt(g.engineers)} engineers active (${share(active, g.engineers)})`];
      },
    }));
  const subtitle = r.scope.group ? `The groups directly below ${r.scope.group.name}; darker is a larger share of the group active.` : 'The top-level groups; darker is a larger share of the group active.';
  return panel({ id: 'heatmap', title, subtitle }, box);
}

// ---------------------------------------------------------------- people

function teamLabel(team: string | null): HTMLElement {
  return team ? h('span', null, team) : h('span', { class: 'muted' }, 'No team');
}

function neverStarted(r: Report): HTMLElement {
  const people = r.neverStarted;
  const body = people.length
    ? h('ul', { class: 'people-list', 'data-list': 'never-started', tabindex: '0', 'aria-label': 'Engineers who never started' },
        people.map((p) =>
          h('li', { class: 'person', 'data-person': p.personId },
            h('span', { class: 'person-name' }, p.name),
            h('span', { class: 'person-detail' }, teamLabel(p.team), p.email ? ` · ${p.email}` : ''))))
    : emptyBlock({ icon: 'trophy', title: 'Everyone in scope has started mirrord' });
  return panel({
    id: 'never-started',
    title: `Never started (${formatInt(people.length)})`,
    subtitle: 'In scope, with no mirrord session before the end of the range.',
  }, body);
}

function champions(r: Report): HTMLElement {
  type Champion = Report['champions'][number];
  return dataTable<Champion>({
    id: 'champions',
    title: 'Champions',
    description: `Active on ${r.thresholds.championActiveDays} or more days of the range.`,
    rows: r.champions,
    searchLabel: 'Search champions…',
    search: (c) => `${c.name} ${c.team ?? ''}`,
    defaultSort: { column: 'days', direction: 'desc' },
    columns: [
      { id: 'name', label: 'Engineer', sort: (c) => c.name, render: (c) => h('span', { class: 'cell-primary' }, c.name) },
      { id: 'team', label: 'Team', sort: (c) => c.team ?? '', render: (c) => teamLabel(c.team) },
      { id: 'days', label: 'Active Days', numeric: true, sort: (c) => c.activeDays, render: (c) => h('strong', null, formatInt(c.activeDays)) },
      { id: 'sessions', label: 'Sessions', numeric: true, sort: (c) => c.sessions, render: (c) => formatInt(c.sessions) },
    ],
    empty: () => emptyBlock({ icon: 'trophy', title: 'No champions in this range' }),
  });
}

function goingCold(ctx: ViewContext, r: Report): HTMLElement {
  type Cold = Report['goingCold'][number];
  return dataTable<Cold>({
    id: 'going-cold',
    title: 'Going cold',
    description: `A session earlier in the range, and none in its last ${r.thresholds.goingColdDays} days.`,
    rows: r.goingCold,
    searchLabel: 'Search engineers, teams…',
    search: (c) => `${c.name} ${c.email ?? ''} ${c.team ?? ''}`,
    defaultSort: { column: 'since', direction: 'desc' },
    columns: [
      {
        id: 'name',
        label: 'Engineer',
        sort: (c) => c.name,
        render: (c) => h('span', { class: 'cell-stack' }, h('span', { class: 'cell-primary' }, c.name), c.email ? h('span', { class: 'cell-secondary' }, c.email) : null),
      },
      { id: 'team', label: 'Team', sort: (c) => c.team ?? '', render: (c) => teamLabel(c.team) },
      { id: 'last', label: 'Last Session', sort: (c) => c.lastSession, render: (c) => relativeTime(c.lastSession, ctx.now) },
      { id: 'since', label: 'Days Since', numeric: true, sort: (c) => c.daysSince, render: (c) => formatInt(c.daysSince) },
    ],
    empty: () => emptyBlock({ icon: 'clock', title: 'Nobody is going cold' }),
  });
}

// ---------------------------------------------------------------- services per team

/** "1 engineer", "3 engineers". */
function count(n: number, noun: string): string {
  return `${formatInt(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** Each team shows this many services; the rest fold into a disclosure. */
const SERVICES_SHOWN = 5;

function servicesPerTeam(r: Report): HTMLElement {
  const teams = r.servicesPerTeam;
  const title = 'Services per team';
  if (teams.length === 0) return panel({ id: 'services-per-team', title }, emptyBlock({ icon: 'target', title: 'No teams in this scope' }));
  type Service = Report['servicesPerTeam'][number]['services'][number];
  const item = (s: Service) =>
    h('li', { class: 'team-service' },
      h('span', { class: 'team-service-name' }, s.target),
      h('span', { class: 'cell-secondary' },
        [[s.targetType, s.namespace].filter(Boolean).join(' in '), count(s.sessions, 'session'), count(s.engineers, 'engineer')].filter(Boolean).join(' · ')));
  return panel({ id: 'services-per-team', title, subtitle: 'The services each team’s engineers ran against in the range, most sessions first.' },
    h('div', { class: 'team-grid' }, teams.map((team) => {
      const rest = team.services.slice(SERVICES_SHOWN);
      return h('article', { class: 'team-card', 'data-team': team.id, 'aria-labelledby': `team-${team.id}` },
        h('h3', { class: 'team-card-title', id: `team-${team.id}` }, team.name),
        h('p', { class: 'team-card-note' }, `${count(team.engineers, 'engineer')} · ${count(team.services.length, 'service')}`),
        team.services.length
          ? h('ol', { class: 'team-services' }, team.services.slice(0, SERVICES_SHOWN).map(item))
          : h('p', { class: 'muted' }, 'No services in this range.'),
        rest.length
          ? h('details', { class: 'team-more' }, h('summary', null, `${formatInt(rest.length)} more`), h('ol', { class: 'team-services' }, rest.map(item)))
          : null);
    })));
}

// ---------------------------------------------------------------- no directory

const SAMPLE = `kind,id,name,type,parent,email,kubernetes_user,groups
group,eng,Engineering,department,,,,
group,payments,Payments,team,eng,,,
person,p1,Ada Lovelace,,,ada@example.com,ada@corp,payments`;

function noDirectory(config: UiConfig): HTMLElement {
  return h('div', { class: 'state-panel onboarding', 'data-state': 'no-directory' },
    h('div', { class: 'state-icon' }, icon('users')),
    h('h2', null, 'No directory imported yet'),
    h('p', { class: 'muted' },
      'mirrord’s logs know identities, not people or teams. Import a directory of your engineers and their groups, and this view shows who in each team uses mirrord, who never started and who is going cold; every report can then be scoped to a team.'),
    h('ol', { class: 'steps' },
      snippet('Write a CSV (or JSON) file',
        'One row per engineer or group. An engineer’s kubernetes_user, client_name, client_hostname or client_id ties their sessions to them; groups nest through parent.',
        SAMPLE),
      snippet('Import it', 'The file is checked first; a file with problems is refused and changes nothing.',
        'mirrord-usage directory import people.csv\nmirrord-usage directory show'),
      snippet('Or name it in the config', 'serve imports it at start and again whenever the file changes.',
        '[directory]\nfile = "/path/people.csv"')),
    h('p', null, 'Every column and the matching rules are in ', h('a', { href: config.docsUrl, target: '_blank', rel: 'noopener' }, 'the docs'), '.'));
}
