// Shared helpers for the browser tests: the server under test, a Chromium that never reaches
// the network, pages that record every console error and failed request, and the API itself
// (so a test compares what the page shows with what the API says).
//
// Environment:
//   MIRRORD_USAGE_URL        the server with data (tests/browser.rs starts `serve --demo`)
//   MIRRORD_USAGE_KEY        its license key (read from /ui/config.json when absent)
//   MIRRORD_USAGE_EMPTY_URL  a server on an empty database (the empty-state test skips without)
//   MIRRORD_USAGE_ARTIFACTS  where screenshots go (default: a temp dir, printed)
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.MIRRORD_USAGE_URL ?? '').replace(/\/$/, '');
export const EMPTY_URL = (process.env.MIRRORD_USAGE_EMPTY_URL ?? '').replace(/\/$/, '');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!BASE_URL) {
  throw new Error('Set MIRRORD_USAGE_URL to a running `mirrord-usage serve --demo` (cargo test --test browser does it for you).');
}

export const ARTIFACTS = process.env.MIRRORD_USAGE_ARTIFACTS ?? join(tmpdir(), 'mirrord-usage-browser');
mkdirSync(ARTIFACTS, { recursive: true });

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A fresh Chromium. Playwright gives every launch a new, empty profile directory of its own
 * (and deletes it on close), so no state leaks between runs.
 */
export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * A page in a new context, with everything that went wrong collected in `problems`:
 * console errors, uncaught exceptions, failed requests and HTTP errors.
 */
export async function openPage(browser, options = {}) {
  const { colorScheme = 'light', viewport = { width: 1440, height: 1000 }, reducedMotion = 'reduce', ...rest } = options;
  const context = await browser.newContext({ colorScheme, viewport, reducedMotion, acceptDownloads: true, timezoneId: 'UTC', locale: 'en-US', ...rest });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // A download the page hands to the browser ends the request without a body: not a failure.
    if (req.failure()?.errorText === 'net::ERR_ABORTED' && /format=(csv|xlsx)/.test(req.url())) return;
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return { context, page, problems };
}

let cachedKey = process.env.MIRRORD_USAGE_KEY ?? null;

export async function licenseKey(base = BASE_URL) {
  if (cachedKey && base === BASE_URL) return cachedKey;
  const config = await (await fetch(`${base}/ui/config.json`)).json();
  if (base === BASE_URL) cachedKey = config.licenseKey;
  return config.licenseKey;
}

/**
 * What the dashboard adds to its report requests (web/src/api.ts): people grouped by their
 * Kubernetes user (the API's default is the vendor's, the machine id) and dense trend series.
 */
const DASHBOARD_PARAMS = {
  'api/v1/reports/usage': { primary_key: 'username' },
  'api/v1/reports/usage/trends': { dense: 'true' },
};

/** The query a request the page sent carried, as an object (to ask the API the same). */
export function queryOf(request) {
  return Object.fromEntries(new URL(request.url()).searchParams);
}

/** GET an API route the way a script would (with the license key header), asking what the dashboard asks. */
export async function api(path, params = {}, base = BASE_URL) {
  const url = new URL(path, `${base}/`);
  for (const [k, v] of Object.entries({ ...DASHBOARD_PARAMS[path], ...params })) url.searchParams.set(k, v);
  const response = await fetch(url, { headers: { 'x-license-key': await licenseKey(base) } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Opens a view and waits until it shows data (or a non-loading state) and its charts. */
export async function gotoView(page, query = '', base = BASE_URL) {
  await page.goto(`${base}/${query}`);
  await page.waitForSelector('#app[data-status]:not([data-status="loading"])');
  await settled(page);
}

/**
 * Waits for the page to finish loading its data (after a range change or a Sync) and to draw
 * every chart on screen (the chart engine is a chunk of its own that may arrive later).
 */
export async function settled(page) {
  await page.waitForFunction(() => document.getElementById('app')?.getAttribute('aria-busy') === 'false');
  await page.waitForFunction(() => !document.querySelector('.chart[role="img"]:not([data-drawn])'));
}

export async function screenshot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

export function addDays(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export const int = (n) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);

/** The dashboard's duration format ("6h 33m"), restated here so a change to it is noticed. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0m';
  if (s < 60) return `${s}s`;
  const minutes = Math.round(s / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${int(h)}h` : `${int(h)}h ${m}m`;
}

/** Rows of the data table `id` as arrays of cell texts. */
export async function tableRows(page, id) {
  return page.$$eval(`[data-table="${id}"] tbody tr`, (rows) =>
    rows.map((row) => Array.from(row.querySelectorAll('td'), (td) => td.innerText.trim())),
  );
}

export async function tableText(page, id, role) {
  return page.textContent(`[data-table="${id}"] [data-role="${role}"]`);
}

/** Where column `column` of data table `id` sits in the arrays `tableRows` returns. */
export async function columnIndex(page, id, column) {
  const index = await page.$$eval(`[data-table="${id}"] thead th`, (ths, c) => ths.findIndex((th) => th.dataset.column === c), column);
  if (index < 0) throw new Error(`table ${id} has no column ${column}`);
  return index;
}

/** What the dashboard's team cell says for a report row (web/src/components.ts teamText). */
export function teamText(row) {
  if (!row.personId) return 'Not in directory';
  return row.team || 'No team';
}

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * The serious and critical accessibility violations axe-core finds on the page. The page's CSP
 * allows only its own scripts: open it in a context with `bypassCSP: true`.
 */
export async function axeViolations(page) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
