// The teaching canvas on a phone-sized, HiDPI, touch screen (390 x 844 CSS pixels at 3x): the
// story stays on top, the chapter's window comes to the front below it, and a digit drawn with a
// finger is predicted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, openModel, screenshotPath } from './browser.mjs';

let site;
before(async () => {
  site = await openSite({ isolation: false, viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, hasTouch: true });
  await openModel(site, 'mnist-mnistm-dida', '&chapter=6');
});
after(async () => { if (site) await site.close(); });

test('on a phone a digit drawn with a finger is predicted (plain static host, 3x pixels)', async () => {
  const s0 = (await site.page.evaluate(() => window.dida.state()));
  assert.equal(s0.device_pixel_ratio, 3);
  assert.equal(s0.explorer.chapter, 6);
  await site.page.waitForTimeout(500);
  // The pad's rectangle in device pixels; touch events take CSS pixels.
  const [x, y, w, h] = (await site.page.evaluate(() => window.dida.state().explorer.pad_rect)).map((v) => v / 3);
  assert.ok(x >= 0 && y >= 0 && x + w <= 390 && y + h <= 844, `the pad is on the screen: ${[x, y, w, h]}`);
  const cdp = await site.page.context().newCDPSession(site.page);
  const touch = (type, px, py) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x: px, y: py }] });
  await touch('touchStart', x + w / 2, y + h * 0.15);
  for (let k = 1; k <= 12; ++k) { await touch('touchMove', x + w / 2, y + h * (0.15 + 0.06 * k)); await site.page.waitForTimeout(30); }
  await touch('touchEnd');
  await site.page.waitForFunction(() => window.dida.state().explorer.user.some((u) => u.name === 'your drawing'), null, { timeout: 30000 });
  const d = (await site.page.evaluate(() => window.dida.state().explorer.user)).find((u) => u.name === 'your drawing');
  assert.equal(d.predicted, 1, 'a vertical stroke reads as a 1');
  await site.page.screenshot({ path: screenshotPath('phone-chapter-6.png') });
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
