// The canvas app in real Chromium: it starts, draws, and logs no errors (clicks and taps on the
// explorer: explorer.test.mjs, display.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openSite, waitForApp, pixelStats, screenshotPath } from './browser.mjs';

let site;
before(async () => {
  site = await openSite();
  await site.page.goto(site.origin + '/');
  await waitForApp(site.page);
});
after(async () => { if (site) await site.close(); });

test('the core runs in wasm and reports its version', async () => {
  const s = await site.page.evaluate(() => window.dida.state());
  // The version the core was built with: the project's, as CMakeLists.txt declares it.
  const declared = readFileSync(new URL('../../CMakeLists.txt', import.meta.url), 'utf8').match(/project\(dida VERSION (\S+)/)[1];
  assert.equal(s.version, declared);
  assert.equal(s.build, 'wasm');
  for (const gone of ['clicks', 'progress', 'core_check', 'button']) assert.equal(s[gone], undefined, `bring-up field ${gone}`);
});

test('the canvas is drawn, not blank', async () => {
  const png = await site.page.locator('#canvas').screenshot({ path: screenshotPath('canvas.png') });
  const stats = pixelStats(png);
  assert.ok(stats.width > 600 && stats.height > 400, JSON.stringify(stats));
  assert.ok(stats.std > 8, `luminance std ${stats.std.toFixed(2)}: canvas looks blank`);
  assert.ok(stats.colours > 20, `only ${stats.colours} colours: canvas looks blank`);
});

test('no console errors and no request leaves the origin', async () => {
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
