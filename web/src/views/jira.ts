// Jira: sessions per issue key, found in the git branch each session ran from.

import { h, replaceChildren, type Child } from '../dom';
import { emptyBlock, relativeTime } from '../components';
import { formatDuration, formatInt } from '../format';
import { dataTable } from '../table';
import type { JiraMetric } from '../types';
import type { ViewContext } from './context';
import { errorPanel, skeletonTable } from './states';

export function renderJira(ctx: ViewContext): Child {
  const host = h('div', { class: 'jira-host', 'data-section': 'jira' }, skeletonTable());
  const load = () => {
    replaceChildren(host, skeletonTable());
    ctx.jira().then(
      (issues) => replaceChildren(host, jiraTable(ctx, issues)),
      (error: Error) => replaceChildren(host, errorPanel(error, load)),
    );
  };
  load();
  return host;
}

function jiraTable(ctx: ViewContext, issues: JiraMetric[]): HTMLElement {
  return dataTable<JiraMetric>({
    id: 'jira-issues',
    title: 'Issues',
    description: 'Sessions are linked to an issue when its key appears in the branch name, e.g. feature/SHOP-123-checkout.',
    rows: issues,
    searchLabel: 'Search issue keys…',
    search: (j) => j.key,
    defaultSort: { column: 'sessions', direction: 'desc' },
    columns: [
      { id: 'key', label: 'Issue', sort: (j) => j.key, render: (j) => h('span', { class: 'issue-key' }, j.key) },
      { id: 'sessions', label: 'Sessions', numeric: true, sort: (j) => j.sessions, render: (j) => h('strong', null, formatInt(j.sessions)) },
      { id: 'exec', label: 'Developer', numeric: true, sort: (j) => j.execSessions, render: (j) => formatInt(j.execSessions) },
      { id: 'ci', label: 'CI', numeric: true, sort: (j) => j.ciSessions, render: (j) => formatInt(j.ciSessions) },
      { id: 'time', label: 'Total Time', numeric: true, sort: (j) => j.totalSessionTimeSeconds, render: (j) => formatDuration(j.totalSessionTimeSeconds) },
      { id: 'users', label: 'Users', numeric: true, sort: (j) => j.uniqueUsers, render: (j) => formatInt(j.uniqueUsers) },
      { id: 'first', label: 'First Used', sort: (j) => j.firstUsed ?? '', render: (j) => relativeTime(j.firstUsed, ctx.now) },
      { id: 'last', label: 'Last Used', sort: (j) => j.lastUsed ?? '', render: (j) => relativeTime(j.lastUsed, ctx.now) },
    ],
    empty: () =>
      emptyBlock({
        icon: 'ticket',
        title: 'No Jira issues in this range',
        body: h('span', null,
          'mirrord sends the git branch of each session. Name branches with the issue key (',
          h('code', null, 'SHOP-123-fix-checkout'),
          ') or set ', h('code', null, 'MIRRORD_BRANCH_NAME'), ', and sessions show up here.'),
      }),
  });
}
