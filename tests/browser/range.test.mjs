// The range selector: presets and a custom range change the URL and the numbers; a URL
// reopens the same view and range; Back goes to the previous range.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, api, gotoView, int, launch, openPage, settled, todayUtc } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const sessionsCard = (page) => page.textContent('[data-card="sessions"] .card-value');

async function pick(page, preset) {
  const request = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage?'));
  await page.click(`.range-presets [data-range="${preset}"]`);
  const url = new URL((await request).url());
  await settled(page);
  return url;
}

test('presets change the URL, the request and the numbers', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '');
  assert.equal(new URL(page.url()).searchParams.get('range'), '30d', 'the default range is written to the URL');
  assert.equal(await page.getAttribute('[data-range="30d"]', 'aria-pressed'), 'true');

  const week = await pick(page, '7d');
  assert.equal(new URL(page.url()).searchParams.get('range'), '7d');
  assert.equal(week.searchParams.get('from'), addDays(todayUtc(), -6));
  const weekReport = await api('api/v1/reports/usage', { from: addDays(todayUtc(), -6), format: 'json' });
  assert.equal(await sessionsCard(page), int(weekReport.periodMetrics.sessionCount));
  assert.equal(await page.textContent('[data-card="sessions"] .card-sub'), 'last 7 days');

  const all = await pick(page, 'all');
  assert.equal(new URL(page.url()).searchParams.get('range'), 'all');
  assert.equal(all.searchParams.get('from'), null, 'all time sends no from');
  const allReport = await api('api/v1/reports/usage', { format: 'json' });
  assert.equal(await sessionsCard(page), int(allReport.periodMetrics.sessionCount));
  assert.ok(allReport.periodMetrics.sessionCount > weekReport.periodMetrics.sessionCount, 'the demo data has sessions older than a week');
  assert.equal(await page.textContent('[data-card="sessions"] .card-sub'), 'all time');

  await pick(page, '90d');
  const ninety = await api('api/v1/reports/usage', { from: addDays(todayUtc(), -89), format: 'json' });
  assert.equal(await sessionsCard(page), int(ninety.periodMetrics.sessionCount));

  // Back returns to the previous range, and its numbers.
  await page.goBack();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('range') === 'all');
  await settled(page);
  await page.waitForSelector('[data-range="all"][aria-pressed="true"]');
  assert.equal(await sessionsCard(page), int(allReport.periodMetrics.sessionCount));
  assert.deepEqual(problems, []);
  await context.close();
});

test('a custom from/to range is applied, shown and kept in the URL', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=30d');
  const from = addDays(todayUtc(), -20);
  const to = addDays(todayUtc(), -10);
  await page.click('.custom-range summary');
  await page.fill('#range-from', from);
  await page.fill('#range-to', to);
  const request = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage?'));
  const trends = page.waitForRequest((r) => r.url().includes('/api/v1/reports/usage/trends?'));
  await page.click('.custom-range-form button[type="submit"]');
  const sent = new URL((await request).url());
  assert.equal(sent.searchParams.get('from'), from);
  assert.equal(sent.searchParams.get('to'), to);
  const sentTrends = new URL((await trends).url());
  assert.equal(sentTrends.searchParams.get('start'), from);
  assert.equal(sentTrends.searchParams.get('end'), to);
  await settled(page);

  const url = new URL(page.url());
  assert.equal(url.searchParams.get('from'), from);
  assert.equal(url.searchParams.get('to'), to);
  assert.equal(url.searchParams.get('range'), null);
  const report = await api('api/v1/reports/usage', { from, to, format: 'json' });
  assert.equal(await sessionsCard(page), int(report.periodMetrics.sessionCount));
  assert.ok(await page.$('.custom-range summary.is-active'), 'the custom button shows it is active');

  // The link reopens the same range in a fresh page, on another view too.
  const { page: other, context: otherContext } = await openPage(browser);
  await gotoView(other, `?view=targets&from=${from}&to=${to}`);
  assert.equal(await other.getAttribute('.tab[data-view="targets"]', 'aria-current'), 'page');
  assert.match(await other.textContent('[data-role="range-label"]'), /–/);
  assert.equal(await other.textContent('[data-table="target-metrics"] [data-role="count"]'), `(${int(report.targetMetrics.length)})`);
  await otherContext.close();

  // A backwards range is refused with a message, not sent.
  await page.click('.custom-range summary');
  await page.fill('#range-from', to);
  await page.fill('#range-to', from);
  await page.click('.custom-range-form button[type="submit"]');
  assert.match(await page.textContent('.custom-range-form [role="alert"]'), /not be after/);
  assert.deepEqual(problems, []);
  await context.close();
});
