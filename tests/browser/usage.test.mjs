// The Usage view: cards show the API's numbers, and the Session Activity table searches,
// sorts on every column and pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, api, columnIndex, duration, gotoView, int, launch, openPage, tableRows, tableText, teamText, todayUtc } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// A CI identity is not a champion: all its sessions are CI sessions (or, without that count,
// its name is a CI service account's).
const isCi = (u) =>
  u.ciSessionCount !== undefined ? u.totalSessionCount > 0 && u.ciSessionCount >= u.totalSessionCount : /^system:serviceaccount:|mirrord-ci/i.test(u.identifier);

test('cards show the numbers of the usage report for the range', async () => {
  const { page, problems, context } = await openPage(browser);
  const usageRequest = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage?'));
  await gotoView(page, '?view=usage&range=30d');
  const requested = new URL((await usageRequest).url());
  const from = addDays(todayUtc(), -29);
  assert.equal(requested.searchParams.get('from'), from, 'a 30-day range starts 29 days before today');

  const report = await api('api/v1/reports/usage', { from, format: 'json' });
  const config = await (await fetch(new URL('ui/config.json', page.url()))).json();
  const p = report.periodMetrics;
  const value = (id) => page.textContent(`[data-card="${id}"] .card-value`);

  const seats = report.generalMetrics.totalLicenses ?? config.seats;
  // The seat count when configured; otherwise the seats in use (active developers).
  assert.equal(await value('licenses'), seats ? int(seats) : `${int(p.activeUsers)} in use`);
  assert.equal(await page.getAttribute('[data-card="licenses"] [data-role="machines"]', 'data-raw'), String(p.uniqueMachines));
  assert.match(await page.textContent('[data-card="licenses"] [data-role="machines"]'), new RegExp(`^${int(p.uniqueMachines)} active unique machines`));

  const champion = report.userMetrics.filter((u) => !isCi(u)).sort((a, b) => b.totalSessionTimeSeconds - a.totalSessionTimeSeconds)[0];
  if (champion) {
    assert.equal(await value('champion'), champion.displayName ?? champion.identifier);
    assert.match(await page.textContent('[data-card="champion"] .card-sub'), new RegExp(`^${duration(champion.totalSessionTimeSeconds)} total`));
  }

  assert.equal(await value('sessions'), int(p.sessionCount));
  assert.equal(Number(await page.getAttribute('[data-card="time"] .card-value', 'data-raw')), p.sessionTimeSeconds);
  const hours = p.sessionTimeSeconds >= 36_000 ? `${int(Math.round(p.sessionTimeSeconds / 3600))}h` : duration(p.sessionTimeSeconds);
  assert.equal(await value('time'), hours);
  assert.equal(await value('ci'), int(p.ciSessionCount));
  assert.equal(await page.getAttribute('[data-card="ci"] [data-role="max-concurrency"]', 'data-raw'), String(report.ciMetrics.maxConcurrentCiSessions));

  // Three sparklines, drawn by the chart library.
  for (const id of ['sessions', 'time', 'ci']) {
    assert.ok(await page.$(`[data-spark="${id}"] svg path`), `the ${id} card has a sparkline`);
  }
  assert.deepEqual(problems, []);
  await context.close();
});

test('Session Activity: sort on every column, search and pages', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=all');
  const report = await api('api/v1/reports/usage', { format: 'json' });
  const rows = report.userTargetMetrics;
  assert.ok(rows.length > 10, `the demo data has more than one page of user × target rows (has ${rows.length})`);
  const table = '[data-table="session-activity"]';

  assert.equal(await tableText(page, 'session-activity', 'count'), `(${int(rows.length)})`);
  assert.equal(await tableText(page, 'session-activity', 'page'), `Page 1 of ${int(Math.ceil(rows.length / 10))}`);
  assert.equal((await tableRows(page, 'session-activity')).length, 10);

  // Default: most sessions first.
  const maxSessions = Math.max(...rows.map((r) => r.sessions));
  assert.equal((await tableRows(page, 'session-activity'))[0][await columnIndex(page, 'session-activity', 'sessions')], int(maxSessions));
  // With a directory imported, the Team column sorts too, by the text it shows.
  const hasTeams = (await page.$('[data-table="session-activity"] th[data-column="team"]')) !== null;

  // Every column sorts, both ways, by the value it shows.
  const keys = {
    user: (r) => (r.displayName ?? r.identifier).toLowerCase(),
    ...(hasTeams ? { team: (r) => teamText(r).toLowerCase() } : {}),
    target: (r) => r.target.toLowerCase(),
    namespace: (r) => (r.namespace ?? '').toLowerCase(),
    sessions: (r) => r.sessions,
    time: (r) => r.totalSessionTimeSeconds,
  };
  const shown = {
    user: (r) => r.displayName ?? r.identifier,
    team: (r) => teamText(r),
    target: (r) => r.target,
    namespace: (r) => r.namespace ?? '—',
    sessions: (r) => int(r.sessions),
    time: (r) => duration(r.totalSessionTimeSeconds),
  };
  for (const [column, key] of Object.entries(keys)) {
    for (let click = 0; click < 2; click++) {
      await page.click(`${table} th[data-column="${column}"] button`);
      const direction = await page.getAttribute(`${table} th[data-column="${column}"]`, 'aria-sort');
      assert.ok(direction === 'ascending' || direction === 'descending', `${column} is sorted`);
      const values = rows.map(key);
      const best = values.reduce((a, b) => (direction === 'ascending' ? (b < a ? b : a) : b > a ? b : a));
      const expected = rows.filter((r) => key(r) === best).map(shown[column]);
      const first = (await tableRows(page, 'session-activity'))[0][await columnIndex(page, 'session-activity', column)];
      assert.ok(expected.some((e) => first.startsWith(e)), `sorted ${direction} by ${column}: first row shows "${first}", expected one of ${expected.slice(0, 3).join(', ')}`);
    }
    const directions = await page.$$eval(`${table} th`, (ths) => ths.map((th) => th.getAttribute('aria-sort')));
    assert.equal(directions.filter((d) => d !== 'none').length, 1, 'one column is sorted at a time');
  }

  // Search: by a target name, matching users, targets and namespaces.
  const needle = rows[Math.floor(rows.length / 2)].target;
  const hay = (r) => `${r.identifier} ${r.displayName ?? ''} ${r.personName ?? ''} ${r.team ?? ''} ${r.target} ${r.namespace ?? ''} ${r.targetType ?? ''}`.toLowerCase();
  const matches = rows.filter((r) => hay(r).includes(needle.toLowerCase()));
  await page.fill(`${table} input[type="search"]`, needle);
  const found = await tableRows(page, 'session-activity');
  assert.equal(found.length, Math.min(10, matches.length));
  assert.equal(await tableText(page, 'session-activity', 'count'), matches.length === rows.length ? `(${int(rows.length)})` : `(${int(matches.length)} of ${int(rows.length)})`);
  const allRows = await page.$$eval(`${table} tbody tr`, (trs) => trs.map((tr) => tr.innerText.toLowerCase()));
  assert.ok(allRows.every((text) => text.includes(needle.toLowerCase())), 'every row found contains the search');

  await page.fill(`${table} input[type="search"]`, 'no-such-thing-xyz');
  assert.match(await page.textContent(`${table} tbody`), /Nothing matches/);
  await page.click(`${table} tbody button:has-text("Clear search")`);
  assert.equal(await page.inputValue(`${table} input[type="search"]`), '');
  assert.equal(await tableText(page, 'session-activity', 'count'), `(${int(rows.length)})`);

  // Pages: next, last, first, and a bigger page size.
  const pages = Math.ceil(rows.length / 10);
  const page1 = await tableRows(page, 'session-activity');
  await page.click(`${table} button[aria-label="Next page"]`);
  assert.equal(await tableText(page, 'session-activity', 'page'), `Page 2 of ${int(pages)}`);
  assert.notDeepEqual(await tableRows(page, 'session-activity'), page1);
  assert.equal(await tableText(page, 'session-activity', 'range'), `11–${int(Math.min(20, rows.length))} of ${int(rows.length)}`);
  await page.click(`${table} button[aria-label="Last page"]`);
  assert.equal(await tableText(page, 'session-activity', 'page'), `Page ${int(pages)} of ${int(pages)}`);
  assert.equal((await tableRows(page, 'session-activity')).length, rows.length - (pages - 1) * 10);
  assert.ok(await page.isDisabled(`${table} button[aria-label="Next page"]`));
  await page.click(`${table} button[aria-label="First page"]`);
  assert.deepEqual(await tableRows(page, 'session-activity'), page1);
  await page.selectOption(`${table} select`, '25');
  assert.equal((await tableRows(page, 'session-activity')).length, Math.min(25, rows.length));

  // Keyboard: a sort header is a button reachable with Tab and pressed with Enter.
  await page.focus(`${table} th[data-column="target"] button`);
  await page.keyboard.press('Enter');
  assert.notEqual(await page.getAttribute(`${table} th[data-column="target"]`, 'aria-sort'), 'none');

  assert.deepEqual(problems, []);
  await context.close();
});
