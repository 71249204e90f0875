// The canvas app in real Chromium: it starts, draws, reacts to a click, and logs no errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, waitForApp, pixelStats, screenshotPath } from './browser.mjs';

let site;
before(async () => {
  site = await openSite();
  await site.page.goto(site.origin + '/');
  await waitForApp(site.page);
});
after(async () => { if (site) await site.close(); });

test('the core runs in wasm and reports its version and check', async () => {
  const s = await site.page.evaluate(() => window.dida.state());
  assert.match(s.version, /^\d+\.\d+\.\d+$/);
  assert.equal(s.build, 'wasm');
  assert.equal(s.core_check.ok, true, s.core_check.detail);
  assert.ok(s.core_check.bytes > 256);
});

test('the canvas is drawn, not blank', async () => {
  const png = await site.page.locator('#canvas').screenshot({ path: screenshotPath('canvas.png') });
  const stats = pixelStats(png);
  assert.ok(stats.width > 600 && stats.height > 400, JSON.stringify(stats));
  assert.ok(stats.std > 8, `luminance std ${stats.std.toFixed(2)}: canvas looks blank`);
  assert.ok(stats.colours > 20, `only ${stats.colours} colours: canvas looks blank`);
});

test('clicking the ImGui button changes the state the page exposes', async () => {
  const { page } = site;
  const before = await page.evaluate(() => window.dida.state());
  const [x, y, w, h] = before.button;
  assert.ok(w > 0 && h > 0, 'button rectangle reported');
  await page.mouse.move(x + w / 2, y + h / 2);
  await page.waitForTimeout(100);
  await page.mouse.down();
  await page.waitForTimeout(100);
  await page.mouse.up();
  await page.waitForFunction((c) => window.dida.state().clicks > c, before.clicks, { timeout: 5000 });
  const after = await page.evaluate(() => window.dida.state());
  assert.equal(after.clicks, before.clicks + 1);
  assert.ok(after.progress > before.progress);
  await page.screenshot({ path: screenshotPath('canvas-after-click.png') });
});

test('no console errors and no request leaves the origin', async () => {
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
