// The Adoption view, the group scope, the interval and "Export all data": what the page shows
// equals what the API answers for the same query (the query the page itself sent), in light
// and dark; scoping to a team rescopes every report and back; the interval regroups Trends and
// Adoption; the export is a ZIP holding the files its manifest names; without a directory the
// view says how to import one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  addDays, api, axeViolations, columnIndex, gotoView, int, launch, openPage, queryOf, screenshot, settled, tableRows, tableText,
  teamText, todayUtc,
} from './lib.mjs';
import { unzip } from './zip.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const ADOPTION = '/api/v1/reports/adoption';
const isRequest = (path) => (r) => new URL(r.url()).pathname === path;

/** Waits for the Adoption view to show the report it asked for, charts drawn. */
async function adoptionShown(page) {
  await page.waitForSelector('[data-section="adoption"][aria-busy="false"]');
  await settled(page);
}

/** Opens the Adoption view at `query`; the report the page asked for, fetched again through the API. */
async function openAdoption(page, query) {
  const request = page.waitForRequest(isRequest(ADOPTION));
  await gotoView(page, query);
  const sent = queryOf(await request);
  await adoptionShown(page);
  return { sent, report: await api(ADOPTION.slice(1), sent) };
}

/** Picks a group in the app bar's scope picker (`''` is everyone); the adoption query sent. */
async function scopeTo(page, group) {
  const request = page.waitForRequest(isRequest(ADOPTION));
  await page.selectOption('[data-role="group-scope"]', group);
  const sent = queryOf(await request);
  await settled(page);
  await adoptionShown(page);
  return sent;
}

const stat = (page, id) => page.getAttribute(`[data-section="adoption-counts"] [data-stat="${id}"]`, 'data-raw');
const stage = (report, name) => report.funnel.find((f) => f.stage === name).count;

/** Every number and list the Adoption view shows, against the report. */
async function assertShows(page, report) {
  assert.equal(Number(await stat(page, 'engineers')), report.counts.engineers);
  assert.equal(Number(await stat(page, 'services')), report.counts.services);
  assert.equal(Number(await stat(page, 'teams')), report.counts.teams);
  assert.equal(Number(await stat(page, 'active')), stage(report, 'active'));

  const funnel = await page.$$eval('[data-section="funnel"] [data-stage]', (lis) =>
    lis.map((li) => ({ stage: li.dataset.stage, count: Number(li.querySelector('.funnel-count').dataset.raw), text: li.innerText, title: li.title })));
  assert.deepEqual(funnel.map(({ stage: s, count }) => ({ stage: s, count })), report.funnel);
  const regular = funnel.find((f) => f.stage === 'regular');
  const champion = funnel.find((f) => f.stage === 'champion');
  assert.match(regular.text, new RegExp(`\\b${report.thresholds.regularActiveDays} or more days`), 'the regular stage names its threshold');
  assert.match(champion.title, new RegExp(`\\b${report.thresholds.championActiveDays} or more days`), 'and so does the champion stage, on hover');

  assert.equal(Number(await page.getAttribute('[data-panel="active-over-time"] .chart', 'data-points')), report.activeOverTime.length);
  if (report.heatmap.groups.length && report.heatmap.weeks.length) {
    assert.equal(Number(await page.getAttribute('[data-panel="heatmap"] .chart', 'data-rows')), report.heatmap.groups.length);
    assert.equal(Number(await page.getAttribute('[data-panel="heatmap"] .chart', 'data-columns')), report.heatmap.weeks.length);
  }

  // The names of everyone who never started, in the API's order.
  const never = await page.$$eval('[data-list="never-started"] .person-name', (els) => els.map((e) => e.textContent));
  assert.deepEqual(never, report.neverStarted.map((p) => p.name), 'the never-started names are the API\'s');
  assert.match(await page.textContent('[data-panel="never-started"] .panel-title'), new RegExp(`\\(${int(report.neverStarted.length)}\\)`));

  assert.equal(await tableText(page, 'going-cold', 'count'), `(${int(report.goingCold.length)})`);
  assert.equal(await tableText(page, 'champions', 'count'), `(${int(report.champions.length)})`);
  if (report.champions.length) {
    const top = (await tableRows(page, 'champions'))[0];
    assert.equal(top[await columnIndex(page, 'champions', 'days')], int(report.champions[0].activeDays));
  }
  const teams = await page.$$eval('[data-panel="services-per-team"] [data-team]', (els) => els.map((e) => e.dataset.team));
  assert.deepEqual(teams, report.servicesPerTeam.map((t) => t.id));
}

for (const scheme of ['light', 'dark']) {
  test(`Adoption shows the adoption report of the range (${scheme}; screenshot, axe)`, async () => {
    const { page, problems, context } = await openPage(browser, { colorScheme: scheme, bypassCSP: true });
    const { sent, report } = await openAdoption(page, '?view=adoption&range=90d');
    assert.equal(sent.from, addDays(todayUtc(), -89), 'the range on screen');
    assert.equal(sent.interval, 'week', 'the Adoption view groups by week until told otherwise');
    assert.equal(sent.group, undefined, 'everyone');
    assert.ok(report.counts.engineers > 0, 'the demo has a directory of engineers');
    assert.ok(report.neverStarted.length > 0, 'the demo has engineers who never started');
    await assertShows(page, report);
    await screenshot(page, `adoption-${scheme}`);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
}

test('a dismissed suggestion stays dismissed after a reload, and comes back on request', async () => {
  const { page, problems, context } = await openPage(browser);
  const { report } = await openAdoption(page, '?view=adoption&range=90d');
  const actions = report.suggestedActions;
  if (actions.length === 0) {
    assert.equal(await page.$('[data-panel="suggested-actions"]'), null, 'no suggestions, no panel');
    await context.close();
    return;
  }
  const shown = () => page.$$eval('[data-suggestion]', (lis) => lis.map((li) => li.dataset.suggestion));
  assert.deepEqual(await shown(), actions.map((a) => a.id));
  const [first] = actions;
  await page.click(`[data-dismiss="${first.id}"]`);
  assert.deepEqual(await shown(), actions.slice(1).map((a) => a.id));
  assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem('mirrord-usage.dismissed-actions'))), [first.id]);
  await page.reload();
  await adoptionShown(page);
  assert.deepEqual(await shown(), actions.slice(1).map((a) => a.id), 'still dismissed after a reload');
  await page.click('[data-action-restore]');
  assert.deepEqual(await shown(), actions.map((a) => a.id));
  assert.deepEqual(problems, []);
  await context.close();
});

/** A leaf group (nothing below it) with people in it, the one with the most: a team. */
function leafTeam(directory) {
  const parents = new Set(directory.groups.map((g) => g.parent).filter(Boolean));
  const leaves = directory.groups.filter((g) => !parents.has(g.id) && g.people > 0);
  return leaves.sort((a, b) => b.people - a.people)[0];
}

test('scoping to a team rescopes every report, and Everyone undoes it', async () => {
  const directory = await api('api/v1/directory');
  assert.ok(directory.snapshot, 'serve --demo imports a demo directory');
  const team = leafTeam(directory);
  assert.ok(team, 'the demo directory has a team with people');
  const { page, problems, context } = await openPage(browser);
  const { report: everyone } = await openAdoption(page, '?view=adoption&range=90d');

  // The picker lists everyone and every group.
  const options = await page.$$eval('[data-role="group-scope"] option', (os) => os.map((o) => o.value));
  assert.deepEqual(options.slice().sort(), ['', ...directory.groups.map((g) => g.id)].sort());

  const usageRequest = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage?'));
  const trendsRequest = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage/trends?'));
  const sent = await scopeTo(page, team.id);
  assert.equal(sent.group, team.id);
  assert.equal(queryOf(await usageRequest).group, team.id, 'the usage report is scoped');
  assert.equal(queryOf(await trendsRequest).group, team.id, 'the trends are scoped');
  assert.equal(new URL(page.url()).searchParams.get('group'), team.id, 'the group is in the URL');
  assert.match(await page.textContent('[data-role="scope-label"]'), new RegExp(team.name));
  const scoped = await api(ADOPTION.slice(1), sent);
  await assertShows(page, scoped);
  assert.equal(scoped.counts.engineers, team.people, 'a team counts its own people');
  assert.ok(scoped.counts.engineers < everyone.counts.engineers, 'a team is fewer people than everyone');

  // The other views are scoped too: Users (with the team column), Jira, a session list.
  const scopedUsage = await api('api/v1/reports/usage', { from: sent.from, group: team.id, format: 'json' });
  await page.click('.tab[data-view="users"]');
  await page.waitForSelector('[data-table="user-metrics"]');
  assert.equal(await tableText(page, 'user-metrics', 'count'), `(${int(scopedUsage.userMetrics.length)})`);
  const jira = page.waitForRequest((r) => r.url().includes('/api/v1/reports/jira?'));
  await page.click('.tab[data-view="jira"]');
  assert.equal(queryOf(await jira).group, team.id, 'the Jira report is scoped');
  await page.click('.tab[data-view="usage"]');
  const link = await page.$('[data-table="session-activity"] tbody .row-link');
  if (link) {
    const sessions = page.waitForRequest((r) => r.url().includes('/api/v1/sessions?'));
    await link.click();
    assert.equal(queryOf(await sessions).group, team.id, 'a session list is scoped');
    await page.keyboard.press('Escape');
  }

  // Back to everyone: the URL loses the group and the numbers are everyone's again.
  await page.click('.tab[data-view="adoption"]');
  await adoptionShown(page);
  const back = await scopeTo(page, '');
  assert.equal(back.group, undefined);
  assert.equal(new URL(page.url()).searchParams.get('group'), null);
  assert.equal(await page.$('[data-role="scope-label"]'), null);
  await assertShows(page, await api(ADOPTION.slice(1), back));
  assert.deepEqual(problems, []);
  await context.close();
});

test('the Users and Session Activity tables show each identity\'s team, or "Not in directory"', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=users&range=all');
  const report = await api('api/v1/reports/usage', { format: 'json' });
  for (const [view, table, rows, key] of [
    ['users', 'user-metrics', report.userMetrics, (r) => r.identifier],
    ['usage', 'session-activity', report.userTargetMetrics, (r) => `${r.identifier} / ${r.target}`],
  ]) {
    await page.click(`.tab[data-view="${view}"]`);
    await page.waitForSelector(`[data-table="${table}"] th[data-column="team"]`);
    const byKey = new Map(rows.map((r) => [key(r), r]));
    const team = await columnIndex(page, table, 'team');
    const shown = await page.$$eval(`[data-table="${table}"] tbody tr`, (trs, i) =>
      trs.map((tr) => ({ key: tr.querySelector('.row-link')?.dataset.sessions, team: tr.children[i].innerText.split('\n')[0] })), team);
    assert.ok(shown.length > 0);
    for (const row of shown) assert.equal(row.team, teamText(byKey.get(row.key)), `${table}: the team of ${row.key}`);
    // An identity no one in the directory has is shown, marked, never dropped.
    const stranger = rows.find((r) => !r.personId);
    if (stranger) {
      await page.fill(`[data-table="${table}"] input[type="search"]`, stranger.identifier);
      const cell = await page.$(`[data-table="${table}"] tbody tr [data-directory="none"]`);
      assert.ok(cell, `${stranger.identifier} is in the table`);
      assert.equal(await cell.textContent(), 'Not in directory');
      await page.fill(`[data-table="${table}"] input[type="search"]`, '');
    }
  }
  assert.deepEqual(problems, []);
  await context.close();
});

const dayFormat = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const monthFormat = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
/** How a tooltip names the interval starting on `date` (web/src/scope.ts describeInterval). */
function describeInterval(date, interval) {
  const d = new Date(`${date}T00:00:00Z`);
  return { day: dayFormat.format(d), week: `Week of ${dayFormat.format(d)}`, '2week': `Two weeks from ${dayFormat.format(d)}`, month: monthFormat.format(d) }[interval];
}

/** Hovers a chart at 3/4 of its width; the tooltip's lines. */
async function hoverTooltip(page, panel) {
  const chart = await page.$(`[data-panel="${panel}"] .chart`);
  await chart.scrollIntoViewIfNeeded();
  const box = await chart.boundingBox();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.6);
  const tip = await page.waitForSelector(`[data-panel="${panel}"] .chart > div:not(:first-child)`, { state: 'visible' });
  return (await tip.innerText()).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Clicks an interval; the request it sent to `path`. */
async function pickInterval(page, interval, path) {
  const request = page.waitForRequest(isRequest(path));
  await page.click(`[data-interval="${interval}"]`);
  const sent = queryOf(await request);
  await settled(page);
  assert.equal(await page.getAttribute(`[data-interval="${interval}"]`, 'aria-pressed'), 'true');
  return sent;
}

test('the interval regroups the Trends and the Adoption view, and lives in the URL', async () => {
  const { page, problems, context } = await openPage(browser);
  const first = page.waitForRequest(isRequest('/api/v1/reports/usage/trends'));
  await gotoView(page, '?view=trends&range=90d');
  assert.equal(queryOf(await first).interval, undefined, 'by day the trends are the vendor\'s UTC days');
  assert.equal(await page.getAttribute('[data-interval="day"]', 'aria-pressed'), 'true');
  const daily = await api('api/v1/reports/usage/trends', { days: '90' });
  assert.equal(Number(await page.getAttribute('[data-panel="daily-sessions"] .chart', 'data-points')), daily.dailySessions.length);

  for (const interval of ['week', 'month']) {
    const sent = await pickInterval(page, interval, '/api/v1/reports/usage/trends');
    assert.equal(sent.interval, interval);
    assert.equal(new URL(page.url()).searchParams.get('interval'), interval);
    const trends = await api('api/v1/reports/usage/trends', sent);
    assert.equal(trends.interval, interval);
    assert.equal(Number(await page.getAttribute('[data-panel="daily-sessions"] .chart', 'data-points')), trends.dailySessions.length);
    assert.ok(trends.dailySessions.length < daily.dailySessions.length, `fewer ${interval}s than days`);
    const total = trends.dailySessions.reduce((sum, d) => sum + d.count, 0);
    assert.equal(await page.textContent('[data-stat="sessions"] .stat-value'), int(total));
    // The tooltip names an interval of the series, with its sessions.
    const [heading, sessions] = await hoverTooltip(page, 'daily-sessions');
    const point = trends.dailySessions.find((d) => describeInterval(d.date, interval) === heading);
    assert.ok(point, `the tooltip heading "${heading}" is one of the API's ${interval}s`);
    assert.equal(sessions, `Sessions: ${int(point.count)}`);
  }

  // The Adoption view takes the interval from the URL, and its own picker changes it.
  const adoption = page.waitForRequest(isRequest(ADOPTION));
  await page.click('.tab[data-view="adoption"]');
  const monthly = queryOf(await adoption);
  assert.equal(monthly.interval, 'month');
  await adoptionShown(page);
  const byMonth = await api(ADOPTION.slice(1), monthly);
  assert.equal(Number(await page.getAttribute('[data-panel="active-over-time"] .chart', 'data-points')), byMonth.activeOverTime.length);
  const weekly = await pickInterval(page, 'week', ADOPTION);
  assert.equal(weekly.interval, 'week');
  await adoptionShown(page);
  const byWeek = await api(ADOPTION.slice(1), weekly);
  assert.equal(Number(await page.getAttribute('[data-panel="active-over-time"] .chart', 'data-points')), byWeek.activeOverTime.length);
  assert.ok(byWeek.activeOverTime.length > byMonth.activeOverTime.length, 'more weeks than months');
  const [heading, share, detail] = await hoverTooltip(page, 'active-over-time');
  const point = byWeek.activeOverTime.find((p) => describeInterval(p.start, 'week') === heading);
  assert.ok(point, `the tooltip heading "${heading}" is one of the API's weeks`);
  assert.match(share, /^Active: [\d.]+%$/);
  assert.equal(detail, `${int(point.active)} of ${int(point.engineers)} engineers`);

  // Day again: the trends request leaves the interval out.
  await page.click('.tab[data-view="trends"]');
  const sent = await pickInterval(page, 'day', '/api/v1/reports/usage/trends');
  assert.equal(sent.interval, undefined);
  assert.equal(Number(await page.getAttribute('[data-panel="daily-sessions"] .chart', 'data-points')), daily.dailySessions.length);
  assert.deepEqual(problems, []);
  await context.close();
});

test('"Export all data" downloads a ZIP of the range and scope holding the files its manifest names', async () => {
  const team = leafTeam(await api('api/v1/directory'));
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, `?view=usage&range=30d&group=${encodeURIComponent(team.id)}`);
  const response = page.waitForResponse(isRequest('/api/v1/export.zip'));
  const downloading = page.waitForEvent('download');
  downloading.catch(() => {}); // awaited below, unless the export failed first
  await page.click('[data-action="export-all"]');
  assert.equal((await response).status(), 200, 'GET /api/v1/export.zip answers');
  const download = await downloading;
  const sent = queryOf((await response).request());
  assert.equal(sent.from, addDays(todayUtc(), -29));
  assert.equal(sent.group, team.id);
  assert.match(download.suggestedFilename(), /\.zip$/);
  const files = unzip(readFileSync(await download.path()));
  assert.ok(files.has('manifest.json'), `manifest.json is in the ZIP (${[...files.keys()].join(', ')})`);
  const manifest = JSON.parse(files.get('manifest.json').toString('utf8'));
  assert.ok(manifest.files.length > 0, 'the manifest names files');
  assert.deepEqual([...files.keys()].filter((n) => n !== 'manifest.json').sort(), manifest.files.map((f) => f.name).sort(),
    'the ZIP holds exactly the files the manifest names');
  for (const { name, rows } of manifest.files) {
    const records = csvRecords(files.get(name).toString('utf8'));
    assert.equal(records, rows + 1, `${name}: ${rows} rows in the manifest, ${records} CSV records with the header`);
  }
  assert.equal(manifest.group?.id, team.id, 'the manifest names the group');
  assert.equal(manifest.from?.slice(0, 10), sent.from, 'and the range');
  assert.deepEqual(problems, []);
  await context.close();
});

/** How many records a CSV text holds: line ends outside quotes, and a last line without one. */
function csvRecords(text) {
  let records = 0;
  let quoted = false;
  let open = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === '\n' && !quoted) {
      records++;
      open = false;
    } else if (ch !== '\r') open = true;
  }
  return records + (open ? 1 : 0);
}

test('without a directory the Adoption view says how to import one, and nothing is scoped', async () => {
  const { page, problems, context } = await openPage(browser, { bypassCSP: true });
  await page.route('**/api/v1/directory', (route) => route.fulfill({ json: { snapshot: null, groups: [], neverMatched: [] } }));
  let asked = false;
  page.on('request', (r) => {
    if (isRequest(ADOPTION)(r)) asked = true;
  });
  await gotoView(page, '?view=adoption&range=90d');
  const guide = await page.textContent('[data-state="no-directory"]');
  assert.match(guide, /No directory imported yet/);
  assert.match(guide, /mirrord-usage directory import people\.csv/);
  assert.match(guide, /\[directory\]\s*file = /);
  assert.equal(await page.$('[data-role="group-scope"]'), null, 'no scope picker without a directory');
  assert.equal(asked, false, 'no adoption report is asked for');
  await screenshot(page, 'adoption-no-directory-light');
  assert.deepEqual(await axeViolations(page), []);
  await page.click('.tab[data-view="users"]');
  await page.waitForSelector('[data-table="user-metrics"]');
  assert.equal(await page.$('[data-table="user-metrics"] th[data-column="team"]'), null, 'no Team column without a directory');
  assert.deepEqual(problems, []);
  await context.close();
});
