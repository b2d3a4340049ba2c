// Small building blocks the views share: panels, cards, chips, the user, service and team
// cells, and the interval control.

import { h, time, type Child } from './dom';
import { icon, type IconName } from './icons';
import { formatExact, formatRelative } from './format';
import { hasDirectory, INTERVALS } from './scope';
import type { Column } from './table';
import type { DirectoryOverview, Interval, Person } from './types';

export function panel(props: { title: string; subtitle?: Child; id?: string; className?: string; actions?: Child }, ...body: Child[]): HTMLElement {
  const titleId = props.id ? `${props.id}-title` : undefined;
  return h(
    'section',
    { class: `panel ${props.className ?? ''}`.trim(), 'data-panel': props.id, 'aria-labelledby': titleId },
    h('header', { class: 'panel-header' },
      h('div', { class: 'panel-heading' },
        h('h2', { class: 'panel-title', id: titleId }, props.title),
        props.subtitle ? h('p', { class: 'panel-subtitle' }, props.subtitle) : null,
      ),
      props.actions ? h('div', { class: 'panel-actions' }, props.actions) : null,
    ),
    body,
  );
}

export interface CardSpec {
  id: string;
  label: string;
  icon: IconName;
  value: string;
  raw?: number | string;
  sub: Child;
  extra?: Child;
  title?: string;
}

export function card(spec: CardSpec): HTMLElement {
  return h(
    'article',
    { class: 'card', 'data-card': spec.id, 'aria-labelledby': `card-${spec.id}-label` },
    h('div', { class: 'card-label', id: `card-${spec.id}-label` }, icon(spec.icon), spec.label),
    h('div', { class: 'card-value', 'data-raw': spec.raw === undefined ? undefined : String(spec.raw), title: spec.title }, spec.value),
    h('div', { class: 'card-sub' }, spec.sub),
    spec.extra ?? null,
  );
}

export function chip(text: string | null | undefined, kind = ''): HTMLElement {
  if (!text) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `chip ${kind}`.trim(), title: text }, text);
}

/** A user: the display name, with the identifier underneath when they differ. */
export function userCell(identifier: string, displayName: string | null | undefined, extra?: string | null): HTMLElement {
  const name = displayName && displayName !== identifier ? displayName : null;
  const secondary = [name ? identifier : null, extra].filter(Boolean).join(' · ');
  return h('span', { class: 'cell-stack' },
    h('span', { class: 'cell-primary' }, name ?? identifier),
    secondary ? h('span', { class: 'cell-secondary' }, secondary) : null,
  );
}

export function targetCell(target: string, targetType: string | null | undefined): HTMLElement {
  return h('span', { class: 'cell-stack' },
    h('span', { class: 'cell-primary' }, target),
    targetType ? h('span', { class: 'cell-secondary' }, targetType) : null,
  );
}

/** What the team cell shows, and sorts and searches on. */
export function teamText(row: Person): string {
  if (!row.personId) return 'Not in directory';
  return row.team || 'No team';
}

/**
 * An identity's team from the directory, with the engineer's name under it when the row shows
 * another one; "Not in directory" (muted) when the identity matches no one: never hidden.
 */
export function teamCell(row: Person, shownName?: string | null): HTMLElement {
  if (!row.personId) return h('span', { class: 'muted', 'data-directory': 'none' }, teamText(row));
  const person = row.personName && row.personName !== shownName ? row.personName : null;
  return h('span', { class: 'cell-stack' },
    h('span', { class: row.team ? 'cell-primary' : 'muted' }, teamText(row)),
    person ? h('span', { class: 'cell-secondary' }, person) : null);
}

/** The Team column, when a directory is imported (without one, every row would say so). */
export function teamColumns<T extends Person>(directory: DirectoryOverview | null, shownName: (row: T) => string): Column<T>[] {
  if (!hasDirectory(directory)) return [];
  return [{ id: 'team', label: 'Team', sort: teamText, render: (row) => teamCell(row, shownName(row)) }];
}

/** Day, Week, 2 weeks, Month: how the Trends and Adoption views group their series. */
export function intervalPicker(current: Interval, choose: (interval: Interval) => void): HTMLElement {
  return h('div', { class: 'view-controls' },
    h('span', { class: 'view-controls-label', id: 'interval-label' }, 'Interval'),
    h('div', { class: 'range-presets', role: 'group', 'aria-labelledby': 'interval-label', 'data-role': 'interval' },
      INTERVALS.map(({ interval, label }) =>
        h('button', {
          type: 'button',
          class: `range-button ${interval === current ? 'is-active' : ''}`.trim(),
          'aria-pressed': String(interval === current),
          'data-interval': interval,
          onclick: () => choose(interval),
        }, label))));
}

export function relativeTime(ts: string | null | undefined, now: Date): HTMLElement {
  return time(ts, formatRelative(ts, now), formatExact(ts));
}

/** A number beside a bar whose length is its share of the largest value. */
export function barCell(value: number, max: number, label: string): HTMLElement {
  const pct = max > 0 ? Math.max(2, (value / max) * 100) : 0;
  return h('div', { class: 'bar-cell' },
    h('span', { class: 'bar-value' }, label),
    h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: { width: `${pct}%` } })),
  );
}

export function emptyBlock(props: { icon: IconName; title: string; body?: Child; action?: Child }): HTMLElement {
  return h('div', { class: 'empty-inline' },
    icon(props.icon, 'icon empty-icon'),
    h('p', { class: 'empty-title' }, props.title),
    props.body ? h('p', { class: 'empty-body' }, props.body) : null,
    props.action ?? null,
  );
}

export function chartBox(className = ''): HTMLElement {
  return h('div', { class: `chart ${className}`.trim() });
}

/**
 * A CI identity rather than a person (left out of the Champion card and the ROI developer
 * measures): all of its sessions are CI sessions, or, from a server that does not count them,
 * its name is a CI service account's.
 */
export function isCiUser(user: { identifier: string; totalSessionCount: number; ciSessionCount?: number }): boolean {
  if (user.ciSessionCount !== undefined) return user.totalSessionCount > 0 && user.ciSessionCount >= user.totalSessionCount;
  return /^system:serviceaccount:|mirrord-ci/i.test(user.identifier);
}
