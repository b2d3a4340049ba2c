// The app bar: the theme follows the system on a first visit and survives a reload once
// chosen; Sync refetches and updates the last-updated time; the operator version shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, gotoView, launch, openPage, settled } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const theme = (page) => page.getAttribute('html', 'data-theme');
const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test('a first visit follows the system theme', async () => {
  for (const scheme of ['dark', 'light']) {
    const { page, problems, context } = await openPage(browser, { colorScheme: scheme });
    await gotoView(page, '?view=usage');
    assert.equal(await theme(page), scheme);
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test('the chosen theme survives a reload and a new tab', async () => {
  const { page, problems, context } = await openPage(browser, { colorScheme: 'light' });
  await gotoView(page, '?view=usage');
  const light = await background(page);
  // With the keyboard: focus stays on the toggle after it is pressed.
  await page.focus('[data-action="theme"]');
  await page.keyboard.press('Enter');
  assert.equal(await theme(page), 'dark');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.action), 'theme');
  await page.waitForFunction((before) => getComputedStyle(document.body).backgroundColor !== before, light);
  const dark = await background(page);
  assert.notEqual(dark, light, 'the page really turns dark');
  assert.equal(await theme(page), 'dark', 'one press toggles once');
  assert.equal(await page.getAttribute('[data-action="theme"]', 'aria-label'), 'Switch to light theme');
  assert.equal(await page.evaluate(() => localStorage.getItem('mirrord-usage.theme')), 'dark');

  await page.reload();
  await page.waitForSelector('#app[data-status="ready"]');
  assert.equal(await theme(page), 'dark', 'still dark after a reload, though the system is light');
  assert.equal(await background(page), dark);

  const second = await context.newPage();
  await gotoView(second, '?view=users');
  assert.equal(await theme(second), 'dark', 'and in another tab');

  await page.click('[data-action="theme"]');
  await page.reload();
  await page.waitForSelector('#app[data-status="ready"]');
  assert.equal(await theme(page), 'light');
  assert.deepEqual(problems, []);
  await context.close();
});

test('Sync refetches every report and updates the last-updated time', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=30d');
  const stamp = '[data-role="last-updated"] time';
  const before = Number(await page.getAttribute(stamp, 'data-epoch'));
  assert.ok(before > 0);
  assert.match(await page.getAttribute(stamp, 'title'), /\d{4}/, 'the exact time is on hover');

  await page.waitForTimeout(1100);
  const fetched = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/')) fetched.push(new URL(r.url()).pathname);
  });
  await page.focus('[data-action="sync"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction((old) => Number(document.querySelector('[data-role="last-updated"] time')?.dataset.epoch) > old, before);
  await settled(page);
  assert.ok(fetched.includes('/api/v1/reports/usage'));
  assert.ok(fetched.includes('/api/v1/reports/usage/trends'));
  const after = Number(await page.getAttribute(stamp, 'data-epoch'));
  assert.ok(after - before >= 1000, 'the time moved forward');
  assert.equal(await page.getAttribute('[data-action="sync"]', 'aria-disabled'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.action), 'sync', 'focus stays on Sync');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the app bar shows the operator version and links to the docs', async () => {
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=all');
  const report = await api('api/v1/reports/usage', { format: 'json' });
  const version = report.generalMetrics.operatorVersion;
  const chip = await page.textContent('[data-role="operator-version"]');
  if (version) assert.ok(chip.includes(`v${version.replace(/^v/, '')}`), `"${chip}" shows ${version}`);
  else assert.match(chip, /unknown/);
  const config = await (await fetch(new URL('ui/config.json', page.url()))).json();
  assert.equal(await page.getAttribute('[data-role="docs"]', 'href'), config.docsUrl);
  assert.deepEqual(problems, []);
  await context.close();
});
