// The ROI calculator in the page: pre-filled from measured usage, and the outputs for a
// known input (the example in web/README.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, api, gotoView, launch, openPage, todayUtc } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const raw = (page, id) => page.getAttribute(`[data-output="${id}"] .result-value`, 'data-raw').then(Number);
const text = (page, id) => page.textContent(`[data-output="${id}"] .result-value`);

test('developers are pre-filled from the active users of the range', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=roi&range=30d');
  const report = await api('api/v1/reports/usage', { from: addDays(todayUtc(), -29), format: 'json' });
  const active = report.periodMetrics.activeUsers;
  assert.equal(await page.inputValue('#roi-developers'), String(active > 0 ? active : 10));
  assert.match(await page.textContent('#roi-developers-hint'), new RegExp(`Measured: ${active} active developers`));
  assert.deepEqual(problems, []);
  await context.close();
});

test('known inputs give the documented outputs, and the math is shown', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=roi&range=30d');
  await page.fill('#roi-developers', '10');
  await page.click('label[for="roi-costMode-salary"]');
  await page.fill('#roi-cost', '150000');
  await page.fill('#roi-cycles', '4');
  await page.fill('#roi-minutes', '15');
  await page.click('details.infra summary');
  await page.fill('#roi-staging', '2');
  await page.click('label[for="roi-stagingCostPeriod-monthly"]');
  await page.fill('#roi-staging-cost', '1500');
  await page.fill('#roi-license', '12000');

  assert.equal(await raw(page, 'hours-per-week'), 5);
  assert.equal(await text(page, 'hours-per-week'), '5 h');
  assert.equal(await text(page, 'faster-delivery'), '12.5%');
  assert.equal(await page.getAttribute('[data-output="team-hours"]', 'data-raw'), '2400');
  assert.equal(await text(page, 'productivity'), '$187,500');
  assert.equal(await text(page, 'infrastructure'), '$36,000');
  assert.equal(await raw(page, 'net-roi'), 211_500);
  assert.equal(await text(page, 'net-roi'), '$211,500');
  assert.match(await page.textContent('[data-output="net-roi"]'), /18\.6× the license cost/);
  const math = await page.textContent('[data-panel="roi-math"]');
  assert.match(math, /4 cycles × 15 min × 5 days ÷ 60/);
  assert.match(math, /2 environments × \$1,500 × 12/);

  // An annual environment cost is not multiplied by twelve.
  await page.click('label[for="roi-stagingCostPeriod-annual"]');
  assert.equal(await text(page, 'infrastructure'), '$3,000');
  await page.click('label[for="roi-stagingCostPeriod-monthly"]');

  // Switching to an hourly rate carries the cost across: $150,000 a year is $78.13 an hour.
  await page.click('label[for="roi-costMode-hourly"]');
  assert.equal(await page.inputValue('#roi-cost'), '78.13');
  assert.equal(await text(page, 'productivity'), '$187,512');

  // Inputs are remembered in this browser; Reset returns to the measured values.
  await page.reload();
  await page.waitForSelector('#app[data-status="ready"]');
  assert.equal(await page.inputValue('#roi-developers'), '10');
  assert.equal(await page.inputValue('#roi-cost'), '78.13');
  await page.click('button:has-text("Reset to measured values")');
  const report = await api('api/v1/reports/usage', { from: addDays(todayUtc(), -29), format: 'json' });
  assert.equal(await page.inputValue('#roi-developers'), String(report.periodMetrics.activeUsers || 10));
  assert.equal(await page.inputValue('#roi-cost'), '150000');
  assert.deepEqual(problems, []);
  await context.close();
});
