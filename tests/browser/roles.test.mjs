// The dashboard holds viewer rights only: with a shared key it gets the viewer key and never
// the admin key; behind a login the real server (no mocked routes) sets an HttpOnly cookie that
// opens the reports and nothing an admin key opens; every page carries the hardening headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, gotoView, licenseKey } from './lib.mjs';

const LOGIN_URL = (process.env.MIRRORD_USAGE_LOGIN_URL ?? '').replace(/\/$/, '');
const ADMIN_KEY = process.env.MIRRORD_USAGE_ADMIN_KEY ?? '';
const skip = LOGIN_URL && ADMIN_KEY ? false : 'MIRRORD_USAGE_LOGIN_URL / MIRRORD_USAGE_ADMIN_KEY not set';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** What a script running in the page gets from a route, with the page's own credentials. */
async function fromPage(page, path, init = {}) {
  return page.evaluate(async ([p, i]) => {
    const r = await fetch(p, { credentials: 'same-origin', ...i });
    return r.status;
  }, [path, init]);
}

const SQL = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'select 1' }) };

test('a shared dashboard gets the viewer key, never the admin key', { skip }, async () => {
  const config = await (await fetch(`${BASE_URL}/ui/config.json`)).json();
  assert.equal(config.licenseKey, await licenseKey());
  assert.notEqual(config.licenseKey, ADMIN_KEY);
  assert.ok(!JSON.stringify(config).includes(ADMIN_KEY), 'the admin key is nowhere in /ui/config.json');
  const { page, problems, context } = await openPage(browser);
  await gotoView(page, '?view=usage&range=30d');
  assert.equal(await page.getAttribute('#app', 'data-status'), 'ready');
  // The key the page holds opens reports but not SQL.
  const headers = { 'x-license-key': config.licenseKey };
  assert.equal(await fromPage(page, '/api/v1/reports/usage?format=json', { headers }), 200);
  assert.equal(await fromPage(page, '/api/v1/sql', { ...SQL, headers: { ...SQL.headers, ...headers } }), 403);
  assert.deepEqual(problems.filter((p) => !/(HTTP 403: .*api\/v1\/sql|status of 403)/.test(p)), []);
  await context.close();
});

test('behind a login, the real cookie opens the reports and nothing more', { skip }, async () => {
  const config = await (await fetch(`${LOGIN_URL}/ui/config.json`)).json();
  assert.equal(config.licenseKey, null, 'no key is handed out');
  assert.equal(config.authRequired, true);
  const viewerKey = await licenseKey();
  for (const typed of [viewerKey, ADMIN_KEY]) {
    const { page, problems, context } = await openPage(browser);
    await gotoView(page, '?view=usage&range=30d', LOGIN_URL);
    assert.equal(await page.getAttribute('#app', 'data-status'), 'login');
    await page.fill('#license-key', typed);
    await page.click('.login-form button[type="submit"]');
    await page.waitForSelector('#app[data-status="ready"] [data-card="sessions"]');
    const cookies = await context.cookies();
    const cookie = cookies.find((c) => c.name === 'mirrord_usage_key');
    assert.ok(cookie?.httpOnly, 'the key sits in an HttpOnly cookie');
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.value, viewerKey, 'the cookie holds the viewer key, whichever key was typed');
    assert.equal(await page.evaluate(() => document.cookie.includes('mirrord_usage_key')), false, 'scripts cannot read it');
    assert.equal(await fromPage(page, '/api/v1/reports/usage?format=json'), 200);
    assert.equal(await fromPage(page, '/api/v1/sql', SQL), 403, 'the cookie does not open SQL');
    assert.equal(await fromPage(page, '/api/v1/admin/retention?dry_run=true', { method: 'POST' }), 403);
    assert.equal(await fromPage(page, '/api/v1/ingest', { method: 'POST', body: '{}' }), 403);
    assert.deepEqual(problems.filter((p) => !/(HTTP 401|status of 401|HTTP 403: .*api\/v1\/(sql|admin|ingest)|status of 403)/.test(p)), []);
    await context.close();
  }
});

test('the dashboard page carries the hardening headers', async () => {
  const response = await fetch(`${BASE_URL}/`);
  assert.equal(response.status, 200);
  const csp = response.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.equal(response.headers.get('x-frame-options'), 'DENY');
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  // Over plain http there is no HSTS (tests/tls.rs checks it over https).
  assert.equal(response.headers.get('strict-transport-security'), null);
});
