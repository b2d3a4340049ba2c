// The dashboard's shell: app bar (with the group scope and the export of everything), view
// tabs, range picker, and the loading of reports.
//
// State lives in the URL (view, range, group and interval), in localStorage (theme, ROI inputs,
// dismissed suggestions), and in memory (the directory and the last reports fetched). Every
// change of view re-renders the main area from that state; a change of range, group or
// interval, or a Sync, refetches first.

import { Api, ApiError, loadConfig, USER_KEY } from './api';
import { h, replaceChildren, type Child } from './dom';
import { icon, type IconName } from './icons';
import { formatClock, formatExact, formatInt, formatRelative } from './format';
import { loadChartEngine, mountPendingCharts, releaseDetachedCharts, repaintCharts } from './charts';
import { followSystemTheme, currentTheme, onThemeChange, toggleTheme } from './theme';
import {
  describeRange, isDate, parseRange, PRESETS, sameRange, todayUtc, trendsQuery, usageQuery, writeRange, addDays,
  type Range,
} from './range';
import { groupQuery, groupTree, hasDirectory, parseGroup, parseInterval, trendsIntervalQuery, writeScope } from './scope';
import type { AdoptionReport, DirectoryOverview, Interval, JiraMetric, Trends, UiConfig, UsageReport } from './types';
import type { ViewContext, ViewId } from './views/context';
import { renderUsage } from './views/usage';
import { renderUsers } from './views/users';
import { renderTargets } from './views/targets';
import { renderTrends } from './views/trends';
import { renderJira } from './views/jira';
import { renderRoi } from './views/roi';
import { renderAdoption } from './views/adoption';
import { exportAllButton } from './views/exports';
import { errorPanel, loadingView, loginPanel, onboarding } from './views/states';

interface ViewSpec {
  id: ViewId;
  label: string;
  icon: IconName;
  title: string;
  blurb: string;
  render: (ctx: ViewContext) => Child;
  count?: (usage: UsageReport) => number;
}

const VIEWS: ViewSpec[] = [
  { id: 'usage', label: 'Usage', icon: 'usage', title: 'Usage', blurb: 'Sessions, time and who works against what.', render: renderUsage },
  { id: 'users', label: 'Users', icon: 'users', title: 'Users', blurb: 'Who uses mirrord, how often and for how long.', render: renderUsers, count: (u) => u.userMetrics.length },
  { id: 'targets', label: 'Services', icon: 'target', title: 'Services', blurb: 'Which services developers run against.', render: renderTargets, count: (u) => u.targetMetrics.length },
  { id: 'trends', label: 'Trends', icon: 'trends', title: 'Trends', blurb: 'Over time: sessions, active users, CI and adoption.', render: renderTrends },
  { id: 'adoption', label: 'Adoption', icon: 'funnel', title: 'Adoption', blurb: 'Who in each team uses mirrord, who has not started, and who is going cold.', render: renderAdoption },
  { id: 'jira', label: 'Jira', icon: 'ticket', title: 'Jira Issues', blurb: 'Sessions per Jira issue, from branch names.', render: renderJira, count: (u) => u.jiraMetrics.length },
  { id: 'roi', label: 'ROI Calculator', icon: 'calculator', title: 'ROI Calculator', blurb: 'What the time mirrord saves is worth.', render: renderRoi },
];

type Status = 'loading' | 'ready' | 'empty' | 'error' | 'login';

interface State {
  config: UiConfig | null;
  api: Api | null;
  view: ViewId;
  range: Range;
  /** The directory group every report is scoped to; null is everyone. */
  group: string | null;
  /** The interval the URL names; null leaves each view its default (trends: day, adoption: week). */
  interval: Interval | null;
  status: Status;
  error: Error | null;
  usage: UsageReport | null;
  trends: Trends | null;
  /** Fetched with the first reports and on Sync; its snapshot is null before the first import. */
  directory: DirectoryOverview | null;
  lastUpdated: Date | null;
  refreshing: boolean;
}

const root = document.getElementById('app')!;
const state: State = {
  config: null,
  api: null,
  view: 'usage',
  range: parseRange(new URLSearchParams(location.search)),
  group: null,
  interval: null,
  status: 'loading',
  error: null,
  usage: null,
  trends: null,
  directory: null,
  lastUpdated: null,
  refreshing: false,
};

function readUrl(): void {
  const params = new URLSearchParams(location.search);
  const view = params.get('view');
  state.view = VIEWS.some((v) => v.id === view) ? (view as ViewId) : 'usage';
  state.range = parseRange(params);
  state.group = parseGroup(params);
  state.interval = parseInterval(params);
}

function urlFor(view: ViewId, range: Range): string {
  const params = new URLSearchParams(location.search);
  params.set('view', view);
  writeRange(params, range);
  writeScope(params, state.group, state.interval);
  return `${location.pathname}?${params.toString()}`;
}

function writeUrl(replace = false): void {
  const url = urlFor(state.view, state.range);
  if (url === `${location.pathname}${location.search}`) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
}

// ---------------------------------------------------------------- data

let loadToken = 0;

/** A report a view fetches on first use, kept while its query stays the same; a failure is not kept. */
class LazyReport<T> {
  private entry: { key: string; promise: Promise<T> } | null = null;

  get(params: Record<string, string>, fetch: (params: Record<string, string>) => Promise<T>): Promise<T> {
    const key = JSON.stringify(params);
    if (this.entry?.key !== key) {
      const entry = { key, promise: fetch(params) };
      entry.promise.catch(() => {
        if (this.entry === entry) this.entry = null;
      });
      this.entry = entry;
    }
    return this.entry.promise;
  }

  clear(): void {
    this.entry = null;
  }
}

const jiraReport = new LazyReport<JiraMetric[]>();
const adoptionReport = new LazyReport<AdoptionReport>();

/** "All" asks the API for ten years of days; start the charts at the first day with activity. */
function trimLeadingEmptyDays(trends: Trends): Trends {
  const active = (i: number) =>
    (trends.dailySessions[i]?.count ?? 0) > 0 || (trends.dailyCiSessions[i]?.count ?? 0) > 0 || (trends.userAdoption[i]?.cumulativeUsers ?? 0) > 0;
  let first = 0;
  while (first < trends.dailySessions.length && !active(first)) first++;
  first = Math.max(0, Math.min(first, trends.dailySessions.length - 7));
  if (first === 0) return trends;
  return {
    ...trends,
    from: trends.dailySessions[first]?.date ?? trends.from,
    dailySessions: trends.dailySessions.slice(first),
    dailyActiveUsers: trends.dailyActiveUsers.slice(first),
    dailyCiSessions: trends.dailyCiSessions.slice(first),
    userAdoption: trends.userAdoption.slice(first),
  };
}

async function load(): Promise<void> {
  const api = state.api;
  if (!api) return;
  const token = ++loadToken;
  const range = state.range;
  state.refreshing = true;
  if (!state.usage) state.status = 'loading';
  render();
  try {
    const directoryLoad = state.directory ? Promise.resolve(state.directory) : api.directory();
    // Scoped, the group is checked against the directory first: the reports refuse an unknown one.
    if (state.group) dropUnknownGroup(await directoryLoad);
    const scope = groupQuery(state.group);
    const [directory, usage, trends] = await Promise.all([
      directoryLoad,
      api.usage({ ...usageQuery(range), ...scope }),
      api.trends({ ...trendsQuery(range), ...scope, ...trendsIntervalQuery(state.interval) }),
    ]);
    if (token !== loadToken) return;
    state.directory = directory;
    state.usage = usage;
    state.trends = range.kind === 'preset' && range.preset === 'all' ? trimLeadingEmptyDays(trends) : trends;
    jiraReport.clear();
    adoptionReport.clear();
    state.error = null;
    state.lastUpdated = new Date();
    const allTime = usage.allTimeMetrics;
    // A group none of whose people ever started is a finding, not a first run.
    state.status = !state.group && allTime.totalSessionCount + allTime.totalCiSessionCount === 0 ? 'empty' : 'ready';
  } catch (e) {
    if (token !== loadToken) return;
    const error = e as Error;
    state.error = error;
    state.status = error instanceof ApiError && error.unauthorized && !state.config?.licenseKey ? 'login' : 'error';
    if (state.status === 'login') api.forgetStoredKey();
  }
  state.refreshing = false;
  render();
  if (state.status === 'ready' && !performance.getEntriesByName('mirrord-usage:data-shown').length) {
    performance.mark('mirrord-usage:data-shown');
  }
}

/** A group the directory no longer has (or a link from another server) falls back to everyone. */
function dropUnknownGroup(directory: DirectoryOverview): void {
  if (!state.group) return;
  if (hasDirectory(directory) && directory.groups.some((g) => g.id === state.group)) return;
  state.group = null;
  writeUrl(true);
}

/** The query of the usage report, the exports and the session lists: range and scope. */
function scopedQuery(): Record<string, string> {
  return { ...usageQuery(state.range), ...groupQuery(state.group) };
}

function jiraFor(): Promise<JiraMetric[]> {
  return jiraReport.get(scopedQuery(), (params) => state.api!.jira(params).then((r) => r.issues));
}

/**
 * The adoption report of the range, scope and interval; null while the other reports reload
 * (an "All" range starts where the trends found the first activity, not ten years back).
 */
function adoptionFor(): Promise<AdoptionReport> | null {
  if (state.refreshing || !state.trends) return null;
  const all = state.range.kind === 'preset' && state.range.preset === 'all';
  const params = { ...scopedQuery(), ...(all ? { from: state.trends.from } : {}), interval: state.interval ?? 'week' };
  return adoptionReport.get(params, (p) => state.api!.adoption(p));
}

// ---------------------------------------------------------------- actions

function setView(view: ViewId): void {
  if (view === state.view) return;
  state.view = view;
  writeUrl();
  render();
  window.scrollTo({ top: 0 });
  (document.getElementById('view-title') as HTMLElement | null)?.focus({ preventScroll: true });
}

function setRange(range: Range): void {
  if (sameRange(range, state.range)) return;
  state.range = range;
  writeUrl();
  void load();
}

function setGroup(group: string | null): void {
  if (group === state.group) return;
  state.group = group;
  writeUrl();
  void load();
}

function chooseInterval(interval: Interval): void {
  if (interval === state.interval) return;
  state.interval = interval;
  writeUrl();
  void load();
}

function sync(): void {
  state.directory = null;
  void load();
}

// ---------------------------------------------------------------- rendering

const appBar = h('header', { class: 'appbar' });
const toolbar = h('section', { class: 'toolbar', 'aria-label': 'Views and report range' });
const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
const footer = h('footer', { class: 'footer' });
const progress = h('div', { class: 'progress', 'aria-hidden': 'true' });

/**
 * The app bar and toolbar are rebuilt on every render; a keyboard user's focus on one of
 * their controls (Sync, theme, the scope, a range or a tab), or on an interval of the view,
 * moves to the rebuilt control.
 */
function focusKey(): string | null {
  const active = document.activeElement as HTMLElement | null;
  if (!active) return null;
  if (main.contains(active)) return active.dataset.interval ? `[data-interval="${active.dataset.interval}"]` : null;
  if (!(appBar.contains(active) || toolbar.contains(active))) return null;
  for (const attr of ['data-action', 'data-range', 'data-view', 'data-role']) {
    const value = active.getAttribute(attr);
    if (value) return `[${attr}="${value}"]`;
  }
  return null;
}

function restoreFocus(key: string | null): void {
  if (!key) return;
  const target = (appBar.querySelector(key) ?? toolbar.querySelector(key) ?? main.querySelector(key)) as HTMLElement | null;
  target?.focus();
}

function render(): void {
  const focused = focusKey();
  root.dataset.status = state.status;
  root.setAttribute('aria-busy', String(state.refreshing));
  renderAppBar();
  renderToolbar();
  renderMain();
  renderFooter();
  releaseDetachedCharts();
  mountPendingCharts();
  restoreFocus(focused);
}

function renderAppBar(): void {
  const usage = state.usage;
  const version = usage?.generalMetrics.operatorVersion;
  const lastEvent = usage?.generalMetrics.lastOperatorEvent;
  const updated = state.lastUpdated;
  const theme = currentTheme();
  replaceChildren(appBar,
    h('div', { class: 'appbar-inner' },
      h('a', { class: 'brand', href: urlFor('usage', state.range), onclick: (e: MouseEvent) => linkClick(e, 'usage') },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, h('img', { src: 'favicon.svg', alt: '', width: '26', height: '26' })),
        h('span', { class: 'brand-name' }, 'mirrord'),
        h('span', { class: 'brand-divider', 'aria-hidden': 'true' }),
        h('span', { class: 'brand-product' }, 'Usage')),
      h('div', { class: 'appbar-meta' },
        scopePicker(),
        h('span', {
          class: 'version-chip',
          'data-role': 'operator-version',
          title: lastEvent ? `Last operator event: ${formatExact(lastEvent)}` : 'No operator event received yet',
        }, h('span', { class: 'visually-hidden' }, 'Operator version '), version ? `operator v${version.replace(/^v/, '')}` : 'operator version unknown'),
        h('span', { class: 'updated', 'data-role': 'last-updated', 'aria-live': 'polite' },
          updated
            ? ['Updated ', h('time', { datetime: updated.toISOString(), title: formatExact(updated), 'data-epoch': String(updated.getTime()) }, formatClock(updated))]
            : state.refreshing ? 'Loading…' : 'Not loaded'),
        exportAllButton(state.api, { primary_key: USER_KEY, ...scopedQuery() }),
        h('button', {
          type: 'button',
          class: `button button-primary sync ${state.refreshing ? 'is-spinning' : ''}`.trim(),
          'data-action': 'sync',
          // aria-disabled, not disabled: a disabled button drops keyboard focus mid-sync.
          'aria-disabled': String(state.refreshing || !state.api || state.status === 'login'),
          title: 'Fetch every report again',
          onclick: () => {
            if (!state.refreshing && state.api && state.status !== 'login') sync();
          },
        }, icon('sync'), state.refreshing ? 'Syncing' : 'Sync'),
        h('a', { class: 'button button-ghost', href: state.config?.docsUrl ?? '#', target: '_blank', rel: 'noopener', 'data-role': 'docs' },
          icon('book'), 'Docs', h('span', { class: 'visually-hidden' }, '(opens in a new tab)')),
        h('button', {
          type: 'button',
          class: 'icon-button theme-toggle',
          'data-action': 'theme',
          'aria-label': theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme',
          title: theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme',
          onclick: () => {
            toggleTheme();
          },
        }, icon(theme === 'dark' ? 'sun' : 'moon')),
      ),
    ),
    progress,
  );
  progress.classList.toggle('is-active', state.refreshing);
}

/** The group every report counts: "Everyone", then the directory's groups as an indented tree. */
function scopePicker(): HTMLElement | null {
  const directory = state.directory;
  if (!hasDirectory(directory)) return null;
  const indent = (depth: number) => '\u00a0\u00a0\u00a0'.repeat(depth);
  return h('div', { class: 'scope' },
    h('label', { class: 'scope-label', for: 'scope-group' }, icon('users'), 'Scope'),
    h('select', {
      id: 'scope-group',
      class: 'select scope-select',
      'data-role': 'group-scope',
      title: 'Count only the sessions of the people in this group and the groups below it',
      onchange: (e: Event) => setGroup((e.target as HTMLSelectElement).value || null),
    },
      h('option', { value: '', selected: !state.group }, `Everyone (${formatInt(directory.snapshot.people)})`),
      groupTree(directory.groups).map(({ group, depth }) =>
        h('option', { value: group.id, selected: group.id === state.group }, `${indent(depth)}${group.name} (${formatInt(group.people)})`)),
    ));
}

function groupName(id: string | null): string | null {
  return id ? state.directory?.groups.find((g) => g.id === id)?.name ?? id : null;
}

function linkClick(e: MouseEvent, view: ViewId): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  setView(view);
}

function renderToolbar(): void {
  const usage = state.usage;
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Views' },
    VIEWS.map((v) => {
      const count = usage && v.count ? v.count(usage) : null;
      return h('a', {
        class: 'tab',
        href: urlFor(v.id, state.range),
        'aria-current': v.id === state.view ? 'page' : undefined,
        'data-view': v.id,
        onclick: (e: MouseEvent) => linkClick(e, v.id),
      }, icon(v.icon), h('span', null, v.label), count !== null ? h('span', { class: 'tab-count', 'aria-label': `(${count})` }, formatInt(count)) : null);
    }));
  replaceChildren(toolbar, h('div', { class: 'toolbar-inner' }, tabs, rangePicker()));
}

function rangePicker(): HTMLElement {
  const r = state.range;
  const today = todayUtc();
  const from = h('input', { type: 'date', id: 'range-from', class: 'input', required: true, max: today, value: r.kind === 'custom' ? r.from : addDays(today, -29) });
  const to = h('input', { type: 'date', id: 'range-to', class: 'input', required: true, max: today, value: r.kind === 'custom' ? r.to : today });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const details = h('details', { class: 'custom-range', open: false },
    h('summary', { class: `range-button ${r.kind === 'custom' ? 'is-active' : ''}`.trim(), 'data-range': 'custom', 'aria-label': r.kind === 'custom' ? `Custom range: ${describeRange(r)}` : 'Custom range' },
      icon('calendar'), r.kind === 'custom' ? describeRange(r) : 'Custom'),
    h('form', {
      class: 'custom-range-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (!isDate(from.value) || !isDate(to.value)) error.textContent = 'Pick both dates.';
        else if (from.value > to.value) error.textContent = 'The start must not be after the end.';
        else {
          details.open = false;
          setRange({ kind: 'custom', from: from.value, to: to.value });
        }
      },
    },
      h('div', { class: 'field' }, h('label', { for: 'range-from' }, 'From'), from),
      h('div', { class: 'field' }, h('label', { for: 'range-to' }, 'To'), to),
      error,
      h('button', { type: 'submit', class: 'button button-primary' }, 'Apply')),
  );
  return h('div', { class: 'range', role: 'group', 'aria-label': 'Report range' },
    h('div', { class: 'range-presets' },
      PRESETS.map((p) => {
        const active = r.kind === 'preset' && r.preset === p.preset;
        return h('button', {
          type: 'button',
          class: `range-button ${active ? 'is-active' : ''}`.trim(),
          'aria-pressed': String(active),
          'data-range': p.preset,
          title: p.days ? `Last ${p.days} days` : 'All time',
          onclick: () => setRange({ kind: 'preset', preset: p.preset }),
        }, p.label);
      })),
    details,
  );
}

function context(): ViewContext {
  return {
    config: state.config!,
    api: state.api!,
    usage: state.usage!,
    trends: state.trends!,
    directory: state.directory,
    range: state.range,
    group: state.group,
    interval: state.interval,
    now: new Date(),
    usageParams: scopedQuery(),
    setRange,
    chooseInterval,
    chooseGroup: setGroup,
    jira: jiraFor,
    adoption: adoptionFor,
  };
}

function renderMain(): void {
  const spec = VIEWS.find((v) => v.id === state.view)!;
  main.classList.toggle('is-refreshing', state.refreshing && state.status !== 'loading');
  const header = h('div', { class: 'view-header' },
    h('div', null,
      h('h1', { id: 'view-title', tabindex: '-1' }, spec.title),
      h('p', { class: 'view-blurb' }, spec.blurb)),
    state.usage && state.status !== 'login'
      ? h('p', { class: 'view-range', 'data-role': 'range-label' }, icon('calendar'), describeRange(state.range),
          state.group ? h('span', { 'data-role': 'scope-label' }, ` · ${groupName(state.group)}`) : null,
          state.usage.generalMetrics.lastOperatorEvent
            ? h('span', { class: 'muted' }, ` · last event ${formatRelative(state.usage.generalMetrics.lastOperatorEvent)}`)
            : null)
      : null,
  );
  let body: Child;
  switch (state.status) {
    case 'loading':
      body = loadingView();
      break;
    case 'login':
      body = loginPanel(async (key) => {
        await state.api!.login(key);
        await load();
        if (state.status === 'login') throw new Error('That key was not accepted.');
      });
      break;
    case 'error':
      body = errorPanel(state.error ?? new Error('Unknown error'), () => void (state.api ? load() : connect()));
      break;
    case 'empty':
      body = state.view === 'roi' ? spec.render(context()) : onboarding(state.config!);
      break;
    case 'ready':
      body = spec.render(context());
      break;
  }
  replaceChildren(main, header, h('div', { class: 'view', 'data-view': state.view }, body));
}

function renderFooter(): void {
  const config = state.config;
  replaceChildren(footer,
    h('span', null, `mirrord-usage ${config ? `v${config.version}` : ''}`),
    h('span', { class: 'muted' }, 'Usage analytics from the mirrord Operator’s functional logs.'),
    h('a', { href: 'licenses.txt' }, 'Third-party licences'),
  );
}

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  void loadChartEngine(); // in parallel with the config and the first reports
  readUrl();
  writeUrl(true);
  replaceChildren(root, h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'), appBar, toolbar, main, footer);
  document.querySelector('body > .skip-link')?.remove();
  render();
  await connect();
}

async function connect(): Promise<void> {
  state.status = 'loading';
  state.refreshing = true;
  render();
  try {
    state.config = await loadConfig();
    state.api = new Api(state.config);
  } catch (e) {
    state.status = 'error';
    state.error = e as Error;
    state.refreshing = false;
    render();
    return;
  }
  await load();
}

window.addEventListener('popstate', () => {
  const before = { range: state.range, group: state.group, interval: state.interval };
  readUrl();
  const same = sameRange(before.range, state.range) && before.group === state.group && before.interval === state.interval;
  if (!same) void load();
  else render();
});

onThemeChange(() => {
  const focused = focusKey();
  renderAppBar();
  restoreFocus(focused);
  repaintCharts();
});
followSystemTheme();

void start();
