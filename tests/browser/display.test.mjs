// The page on a HiDPI touch screen, in real Chromium: the canvas draws at the device pixel ratio
// (crisp text), follows the window size, and a tap on a sample selects it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, openModel, pixelStats, screenshotPath } from './browser.mjs';

let site;
before(async () => {
  site = await openSite({ viewport: { width: 1200, height: 800 }, deviceScaleFactor: 2, hasTouch: true });
  await openModel(site);
});
after(async () => { if (site) await site.close(); });

test('the canvas draws at the device pixel ratio', async () => {
  const s = await site.page.evaluate(() => window.dida.state());
  assert.equal(s.device_pixel_ratio, 2);
  assert.deepEqual(s.canvas, [2400, 1600]);
  const png = await site.page.screenshot({ path: screenshotPath('hidpi.png') });
  const stats = pixelStats(png);
  assert.equal(stats.width, 2400);
  assert.ok(stats.colours > 60, `only ${stats.colours} colours`);
});

test('a tap on a sample selects it', async () => {
  const { page } = site;
  const k = 5;
  const [x, y, w, h] = await page.evaluate((i) => window.dida.thumbnail(i), k);
  assert.ok(w > 0 && h > 0, 'thumbnail rectangle');
  await page.touchscreen.tap(x + w / 2, y + h / 2);
  await page.waitForFunction((i) => window.dida.state().explorer.selected === i, k, { timeout: 5000 });
});

test('the canvas follows the window size', async () => {
  const { page } = site;
  await page.setViewportSize({ width: 900, height: 700 });
  await page.waitForFunction(() => window.dida.state().canvas[0] === 1800, null, { timeout: 5000 });
  assert.deepEqual((await page.evaluate(() => window.dida.state())).canvas, [1800, 1400]);
  assert.deepEqual(site.consoleErrors, []);
});
