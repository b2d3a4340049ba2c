// The sessions behind a row: a dialog listing single sessions (newest first) for a user, a
// service or both, in the range and scope on screen, paged by the API's cursor. The heading
// names the engineer and team the directory gives the user.

import { h, replaceChildren } from '../dom';
import { chip, emptyBlock, relativeTime, teamText } from '../components';
import { formatDuration, formatInt } from '../format';
import { icon } from '../icons';
import { describeRange } from '../range';
import { hasDirectory } from '../scope';
import type { SessionRecord } from '../types';
import type { ViewContext } from './context';
import { errorPanel } from './states';

const PAGE = 50;

export interface SessionFilter {
  user?: string;
  target?: string;
  title: string;
}

/** A button that opens the sessions dialog, labelled with the row's own text. */
export function sessionsLink(ctx: ViewContext, filter: SessionFilter, content: Node | string): HTMLElement {
  return h('button', {
    type: 'button',
    class: 'row-link',
    'data-sessions': [filter.user, filter.target].filter(Boolean).join(' / '),
    title: `Show the sessions of ${filter.title}`,
    onclick: (e: Event) => openSessions(ctx, filter, e.currentTarget as HTMLElement),
  }, content);
}

export function openSessions(ctx: ViewContext, filter: SessionFilter, opener?: HTMLElement): void {
  const titleId = 'sessions-dialog-title';
  const tbody = h('tbody');
  const status = h('p', { class: 'dialog-status', 'aria-live': 'polite' });
  const who = h('span', { 'data-role': 'person' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Load more');
  const body = h('div', { class: 'dialog-body' },
    h('div', { class: 'table-scroll', tabindex: '0', role: 'group', 'aria-label': 'Sessions table' },
      h('table', { class: 'data-table', 'aria-labelledby': titleId },
        h('thead', null, h('tr', null, ['Started', 'Duration', 'Status', 'Service', 'Branch', 'Ports'].map((label) => h('th', { scope: 'col' }, h('span', { class: 'th-label' }, label))))),
        tbody)),
    h('div', { class: 'dialog-footer' }, status, more));
  const dialog = h('dialog', { class: 'drawer', 'aria-labelledby': titleId, 'data-dialog': 'sessions' },
    h('header', { class: 'drawer-header' },
      h('div', null,
        h('h2', { id: titleId, class: 'panel-title' }, `Sessions of ${filter.title}`),
        h('p', { class: 'panel-subtitle' }, who, `${describeRange(ctx.range)} · newest first`)),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', 'data-action': 'close', onclick: () => dialog.close() }, icon('x'))),
    body);

  let cursor: string | null = null;
  let shown = 0;
  const load = async () => {
    more.disabled = true;
    status.textContent = 'Loading…';
    const params: Record<string, string> = { ...ctx.usageParams, limit: String(PAGE) };
    if (filter.user) params.user = filter.user;
    if (filter.target) params.target = filter.target;
    if (cursor) params.cursor = cursor;
    try {
      const page = await ctx.api.sessions(params);
      const first = page.sessions[0];
      if (filter.user && first && hasDirectory(ctx.directory) && !who.textContent) who.textContent = `${first.personName ? `${first.personName}, ` : ''}${teamText(first)} · `;
      for (const s of page.sessions) tbody.appendChild(row(s, ctx.now));
      shown += page.sessions.length;
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.textContent = shown === 0 ? '' : `${formatInt(shown)} sessions shown${cursor ? '' : ', all of them'}`;
      if (shown === 0) replaceChildren(body, emptyBlock({ icon: 'inbox', title: 'No sessions in this range' }));
    } catch (e) {
      replaceChildren(body, errorPanel(e as Error, () => dialog.close()));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => void load());
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener?.focus();
  });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close(); // a click on the backdrop
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  void load();
}

function row(s: SessionRecord, now: Date): HTMLElement {
  return h('tr', { 'data-session': s.sessionId },
    h('td', null, relativeTime(s.startedAt, now)),
    h('td', { class: 'num' }, s.durationSeconds === null ? (s.status === 'open' ? 'running' : '—') : formatDuration(s.durationSeconds)),
    h('td', null, chip(s.kind === 'ci' ? `${s.status} · CI` : s.status, `status-${s.status}`)),
    h('td', null, h('div', { class: 'cell-stack' },
      h('span', { class: 'cell-primary' }, s.targetName ?? 'targetless'),
      h('span', { class: 'cell-secondary' }, [s.targetType, s.namespace].filter(Boolean).join(' in ')))),
    h('td', null, s.branch ? h('div', { class: 'cell-stack' },
      h('span', { class: 'cell-mono' }, s.branch),
      s.jiraKey ? h('span', { class: 'issue-key' }, s.jiraKey) : null) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'cell-mono' }, s.ports.length ? s.ports.join(', ') : '—'),
  );
}
