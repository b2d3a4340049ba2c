// The states that are not data: loading, an API failure (and recovery), sign-in when the
// server asks for it, and the first-run guide on an empty database. None is a blank page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, EMPTY_URL, gotoView, launch, licenseKey, openPage, screenshot } from './lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a slow API shows a loading skeleton, then the data', async () => {
  const { page, problems, context } = await openPage(browser);
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  await page.route('**/api/v1/reports/usage?*', async (route) => {
    await gate;
    await route.continue();
  });
  await page.goto(`${BASE_URL}/?view=usage&range=30d`);
  await page.waitForSelector('[data-state="loading"]');
  assert.equal(await page.getAttribute('#app', 'data-status'), 'loading');
  assert.ok((await page.$$('.skeleton')).length > 0, 'skeletons stand in for the cards and table');
  assert.match(await page.textContent('[data-state="loading"]'), /Loading usage data/);
  release();
  await page.waitForSelector('#app[data-status="ready"] [data-card="sessions"]');
  assert.deepEqual(problems, []);
  await context.close();
});

test('an API failure shows an error with the reason, and Try again recovers', async () => {
  const { page, problems, context } = await openPage(browser);
  let failing = true;
  await page.route('**/api/v1/reports/usage?*', (route) =>
    failing
      ? route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'database is locked' }) })
      : route.continue(),
  );
  await gotoView(page, '?view=usage&range=30d');
  assert.equal(await page.getAttribute('#app', 'data-status'), 'error');
  const panel = await page.textContent('[data-state="error"]');
  assert.match(panel, /Couldn’t load usage data/);
  assert.match(panel, /database is locked/);
  assert.match(panel, /HTTP 500/);
  await screenshot(page, 'state-error-light');
  failing = false;
  await page.click('[data-action="retry"]');
  await page.waitForSelector('#app[data-status="ready"] [data-card="sessions"]');
  assert.deepEqual(problems.filter((p) => !/HTTP 500: .*reports\/usage/.test(p) && !/status of 500/.test(p)), []);
  await context.close();
});

test('when the server asks for a login, the key is asked once and the dashboard opens', async () => {
  // Simulates a server started with --dashboard-login: no key in the config, 401 until the
  // browser signs in through POST /ui/login (which would set an HttpOnly cookie).
  const { page, problems, context } = await openPage(browser);
  const key = await licenseKey();
  let signedIn = false;
  await page.route('**/ui/config.json', async (route) => {
    const response = await route.fetch();
    const config = await response.json();
    await route.fulfill({ response, json: { ...config, licenseKey: null } });
  });
  await page.route('**/ui/login', async (route) => {
    const body = route.request().postDataJSON();
    signedIn = body.licenseKey === key;
    await route.fulfill(signedIn ? { status: 204 } : { status: 401, json: { error: 'That is not the license key.' } });
  });
  await page.route('**/api/**', async (route) => {
    if (!signedIn) return route.fulfill({ status: 401, json: { error: 'missing license key' } });
    assert.equal(route.request().headers()['x-license-key'], undefined, 'after a cookie login the page sends no key');
    return route.continue({ headers: { ...route.request().headers(), 'x-license-key': key } });
  });
  await gotoView(page, '?view=usage&range=30d');
  assert.equal(await page.getAttribute('#app', 'data-status'), 'login');
  await page.fill('#license-key', 'wrong-key');
  await page.click('.login-form button[type="submit"]');
  await page.waitForFunction(() => /not the license key/.test(document.querySelector('.login-form [role="alert"]')?.textContent ?? ''));
  await page.fill('#license-key', key);
  await page.click('.login-form button[type="submit"]');
  await page.waitForSelector('#app[data-status="ready"] [data-card="sessions"]');
  assert.deepEqual(problems.filter((p) => !/(HTTP 401|status of 401)/.test(p)), []);
  await context.close();
});

test('an empty database shows how to send data, not a blank page', { skip: EMPTY_URL ? false : 'MIRRORD_USAGE_EMPTY_URL is not set' }, async () => {
  for (const scheme of ['light', 'dark']) {
    const { page, problems, context } = await openPage(browser, { colorScheme: scheme });
    await gotoView(page, '?view=usage&range=30d', EMPTY_URL);
    assert.equal(await page.getAttribute('#app', 'data-status'), 'empty');
    const guide = await page.textContent('[data-state="empty"]');
    assert.match(guide, /No mirrord sessions yet/);
    assert.match(guide, /otelLogExportUrl/);
    assert.match(guide, /mirrord-usage ingest/);
    assert.match(guide, /serve --demo/);
    await screenshot(page, `state-empty-${scheme}`);
    // Other data views show the same guide; the ROI calculator still works.
    await page.click('.tab[data-view="users"]');
    await page.waitForSelector('.view[data-view="users"] [data-state="empty"]');
    await page.click('.tab[data-view="roi"]');
    await page.waitForSelector('[data-output="net-roi"]');
    assert.deepEqual(problems, []);
    await context.close();
  }
});
