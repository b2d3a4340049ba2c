// Tabs switch views; Users, Services, Trends and Jira show the API's numbers; charts answer
// hovering with tooltips; exports download.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { addDays, api, columnIndex, duration, gotoView, int, launch, openPage, tableRows, tableText, todayUtc } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const VIEWS = {
  usage: 'Usage',
  users: 'Users',
  targets: 'Services',
  trends: 'Trends',
  adoption: 'Adoption',
  jira: 'Jira Issues',
  roi: 'ROI Calculator',
};

/** Hovers the biggest bubble of a chart (ECharts draws each as a circle path) and returns the tooltip's text. */
async function hoverBubble(page, chart) {
  const box = await page.$eval(`[data-panel="${chart}"] .chart svg`, (svg) => {
    const bubbles = Array.from(svg.querySelectorAll('path[d^="M1 0A1 1"]'), (p) => p.getBoundingClientRect());
    const r = bubbles.sort((a, b) => b.width - a.width)[0];
    return r ? { x: r.x + r.width / 2, y: r.y + r.height / 2 } : null;
  });
  assert.ok(box, `${chart} draws bubbles`);
  await page.mouse.move(box.x, box.y);
  const tooltip = await page.waitForSelector(`[data-panel="${chart}"] .chart > div:not(:first-child)`, { state: 'visible' });
  return tooltip.innerText();
}

test('tabs switch views and keep the range in the URL', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=90d');
  for (const [view, title] of Object.entries(VIEWS)) {
    await page.click(`.tab[data-view="${view}"]`);
    await page.waitForSelector(`.view[data-view="${view}"]`);
    assert.equal(await page.textContent('#view-title'), title);
    assert.equal(await page.getAttribute(`.tab[data-view="${view}"]`, 'aria-current'), 'page');
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('view'), view);
    assert.equal(url.searchParams.get('range'), '90d');
  }
  await page.goBack();
  await page.waitForSelector('.view[data-view="jira"]');
  // Keyboard: tabs are links, reachable and followed with Enter.
  await page.focus('.tab[data-view="users"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.view[data-view="users"]');
  assert.deepEqual(problems, []);
  await context.close();
});

test('Users: bubble chart, timeline and metrics table match the report', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=users&range=90d');
  const from = addDays(todayUtc(), -89);
  const report = await api('api/v1/reports/usage', { from, format: 'json' });
  const users = report.userMetrics;
  assert.ok(users.length > 0);

  assert.equal(await page.textContent('.tab[data-view="users"] .tab-count'), int(users.length));
  assert.equal(await tableText(page, 'user-metrics', 'count'), `(${int(users.length)})`);
  const top = [...users].sort((a, b) => b.totalSessionCount - a.totalSessionCount)[0];
  const first = (await tableRows(page, 'user-metrics'))[0];
  const cell = async (column) => first[await columnIndex(page, 'user-metrics', column)];
  assert.equal(await cell('sessions'), int(top.totalSessionCount));
  assert.equal(await cell('time'), duration(top.totalSessionTimeSeconds));
  assert.equal(await cell('avg'), duration(top.averageSessionDurationSeconds));

  // Timeline: one entry per user, most recent first, relative times with exact ones on hover.
  const items = await page.$$('.timeline-item');
  assert.equal(items.length, users.length);
  const latest = [...users].sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''))[0];
  assert.equal(await page.getAttribute('.timeline-item:first-child', 'data-user'), latest.identifier);
  const lastSeen = await page.$('.timeline-item:first-child .timeline-last time');
  assert.equal(await lastSeen.getAttribute('datetime'), latest.lastSeen);
  assert.ok(Date.parse(latest.lastSeen) <= Date.now() + 60_000,
    `the API reports a last-seen time in the future (${latest.lastSeen}); the page would say "in N hours"`);
  assert.match(await lastSeen.innerText(), /ago|just now|yesterday|today/);
  assert.match(await lastSeen.getAttribute('title'), /\d{4}.*\d{2}:\d{2}:\d{2}/, 'the exact time is in the hover title');

  // The bubble chart answers a hover with a user's numbers.
  const tip = await hoverBubble(page, 'duration-vs-count');
  assert.match(tip, /sessions/);
  assert.match(tip, /total/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('Services: adoption bubbles, namespace bars and the metrics table match the report', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=targets&range=all');
  const report = await api('api/v1/reports/usage', { format: 'json' });
  const targets = report.targetMetrics;
  assert.ok(targets.length > 0);
  assert.ok(targets.every((t) => !t.target.startsWith('mirrord-copy-')), 'copy-target pods are not targets');

  assert.equal(await tableText(page, 'target-metrics', 'count'), `(${int(targets.length)})`);
  // The UI says "service" for what the API calls a target.
  assert.equal(await page.textContent('.tab[data-view="targets"] span:not(.tab-count)'), 'Services');
  assert.equal(await page.textContent('[data-table="target-metrics"] th[data-column="target"]'), 'Service');
  assert.match(await page.textContent('[data-panel="target-adoption"] .panel-title'), /^Service Adoption$/);
  assert.doesNotMatch(await page.innerText('main'), /\bTargets?\b/, 'no "Target" left on the Services view');
  const top = Math.max(...targets.map((t) => t.sessions));
  const row = (await tableRows(page, 'target-metrics'))[0];
  assert.equal(row[2], int(top));
  const leader = targets.find((t) => t.sessions === top && row[0].startsWith(t.target));
  assert.ok(leader, `first row ${row[0]} is a target with ${top} sessions`);
  assert.equal(row[3], duration(leader.totalSessionTimeSeconds));
  assert.equal(row[4], int(leader.uniqueUsers));

  const bars = await page.$$eval('[data-panel="namespaces"] svg path', (paths) => paths.length);
  assert.ok(bars >= Math.min(report.namespaceMetrics.length, 10), 'one bar per namespace');
  const labels = await page.$eval('[data-panel="namespaces"] svg', (svg) => svg.textContent);
  const biggest = [...report.namespaceMetrics].sort((a, b) => b.sessions - a.sessions)[0];
  assert.ok(labels.includes(int(biggest.sessions)), 'the biggest namespace shows its session count');

  const tip = await hoverBubble(page, 'target-adoption');
  assert.match(tip, /sessions · \d+ users/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('Trends: the summary equals the trends report, four charts drawn', async () => {
  const { page, problems, context } = await openPage(browser);
  const request = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage/trends?'));
  await gotoView(page, '?view=trends&range=30d');
  assert.equal(new URL((await request).url()).searchParams.get('days'), '30');
  const trends = await api('api/v1/reports/usage/trends', { days: '30' });
  assert.equal(trends.dailySessions.length, 30, 'every day of the range is present');
  const total = trends.dailySessions.reduce((sum, d) => sum + d.count, 0);
  assert.equal(await page.textContent('[data-stat="sessions"] .stat-value'), int(total));
  const added = trends.userAdoption.reduce((sum, d) => sum + d.newUsers, 0);
  assert.equal(await page.textContent('[data-stat="new"] .stat-value'), int(added));
  for (const chart of ['daily-sessions', 'daily-active-users', 'daily-ci', 'adoption']) {
    assert.ok(await page.$(`[data-panel="${chart}"] svg path`), `${chart} is drawn`);
  }
  // Hovering a day shows that day's numbers.
  const box = await (await page.$('[data-panel="daily-sessions"] .chart')).boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6);
  const tip = await page.waitForSelector('[data-panel="daily-sessions"] .chart > div:not(:first-child)', { state: 'visible' });
  assert.match(await tip.innerText(), /Sessions: \d/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('Jira: the issues table equals the Jira report', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=jira&range=all');
  await page.waitForSelector('[data-table="jira-issues"]');
  const { issues } = await api('api/v1/reports/jira');
  assert.equal(await tableText(page, 'jira-issues', 'count'), `(${int(issues.length)})`);
  if (issues.length > 0) {
    // Most sessions first; ties keep the API's order.
    const busiest = [...issues].sort((a, b) => b.sessions - a.sessions)[0];
    const row = (await tableRows(page, 'jira-issues'))[0];
    assert.equal(row[0], busiest.key);
    assert.equal(row[1], int(busiest.sessions));
    assert.equal(row[2], int(busiest.execSessions));
    assert.equal(row[3], int(busiest.ciSessions));
    assert.equal(row[4], duration(busiest.totalSessionTimeSeconds));
    assert.equal(row[5], int(busiest.uniqueUsers));
    // Search by key narrows to that issue.
    await page.fill('[data-table="jira-issues"] input[type="search"]', busiest.key);
    const found = await tableRows(page, 'jira-issues');
    assert.ok(found.every((r) => r[0].includes(busiest.key)));
  } else {
    assert.match(await page.textContent('[data-table="jira-issues"] tbody'), /branch/);
  }
  assert.deepEqual(problems, []);
  await context.close();
});

test('exports download the per-user report as CSV and Excel', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=users&range=all');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="csv"]')]);
  assert.match(csv.suggestedFilename(), /\.csv$/);
  const text = readFileSync(await csv.path(), 'utf8');
  const report = await api('api/v1/reports/usage', { format: 'json' });
  assert.ok(text.split('\n').filter((l) => l.trim()).length >= report.userMetrics.length, 'one CSV line per user at least');
  const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="xlsx"]')]);
  assert.match(xlsx.suggestedFilename(), /\.xlsx$/);
  assert.equal(readFileSync(await xlsx.path()).subarray(0, 2).toString(), 'PK', 'an xlsx file is a zip');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a Session Activity row opens its sessions, newest first, from the sessions API', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=90d');
  const from = addDays(todayUtc(), -89);
  const report = await api('api/v1/reports/usage', { from, format: 'json' });
  const top = [...report.userTargetMetrics].sort((a, b) => b.sessions - a.sessions)[0];
  const opener = `[data-table="session-activity"] tbody tr:first-child .row-link`;
  assert.equal(await page.getAttribute(opener, 'data-sessions'), `${top.identifier} / ${top.target}`);
  const request = page.waitForRequest((r) => r.url().includes('/api/v1/sessions?'));
  await page.click(opener);
  const sent = new URL((await request).url());
  assert.equal(sent.searchParams.get('user'), top.identifier);
  assert.equal(sent.searchParams.get('target'), top.target);
  assert.equal(sent.searchParams.get('from'), from);
  await page.waitForSelector('dialog[data-dialog="sessions"] tbody tr');

  const expected = await api('api/v1/sessions', { from, user: top.identifier, target: top.target, limit: '50' });
  const rows = await page.$$eval('dialog[data-dialog="sessions"] tbody tr', (trs) => trs.map((tr) => tr.dataset.session));
  assert.deepEqual(rows, expected.sessions.map((s) => s.sessionId));
  assert.ok(rows.length <= top.sessions);
  const targets = await page.$$eval('dialog[data-dialog="sessions"] tbody tr td:nth-child(4) .cell-primary', (els) => els.map((e) => e.textContent));
  assert.ok(targets.every((t) => t === top.target));
  if (expected.nextCursor) {
    await page.click('dialog[data-dialog="sessions"] button:has-text("Load more")');
    await page.waitForFunction((n) => document.querySelectorAll('dialog[data-dialog="sessions"] tbody tr').length > n, rows.length);
  }
  // Escape closes the dialog and gives focus back to the row.
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-dialog="sessions"]', { state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('row-link')), true);
  assert.deepEqual(problems, []);
  await context.close();
});
