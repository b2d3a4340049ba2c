// Every view, in light and dark: axe-core finds no serious or critical accessibility
// violation, and a full-page screenshot is saved as a test artifact.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, axeViolations, gotoView, launch, openPage, screenshot, settled } from './lib.mjs';

const VIEWS = ['usage', 'users', 'targets', 'trends', 'adoption', 'jira', 'roi'];

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  console.log(`screenshots: ${ARTIFACTS}`);
});

for (const scheme of ['light', 'dark']) {
  test(`every view passes axe in ${scheme} mode (screenshots saved)`, async () => {
    // The dashboard's CSP allows only its own scripts; axe is injected by the test, so this
    // context alone lets it in (roles.test.mjs checks the policy itself).
    const { page, problems, context } = await openPage(browser, { colorScheme: scheme, bypassCSP: true });
    for (const view of VIEWS) {
      await gotoView(page, `?view=${view}&range=90d`);
      if (view === 'jira') await page.waitForSelector('[data-table="jira-issues"]');
      if (view === 'adoption') {
        await page.waitForSelector('[data-section="adoption"][aria-busy="false"], [data-state="no-directory"]');
        await settled(page);
      }
      await page.waitForTimeout(300);
      await screenshot(page, `${view}-${scheme}`);
      const found = await axeViolations(page);
      assert.deepEqual(found, [], `${view} (${scheme}): ${JSON.stringify(found, null, 2)}`);
    }
    // Narrow screens too: the layout stacks and nothing overflows the viewport.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['usage', 'roi']) {
      await gotoView(page, `?view=${view}&range=90d`);
      await page.waitForTimeout(300);
      await screenshot(page, `${view}-${scheme}-mobile`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${view} fits a phone screen (overflows by ${overflow}px)`);
    }
    assert.deepEqual(problems, []);
    await context.close();
  });
}
