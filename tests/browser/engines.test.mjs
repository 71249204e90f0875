// The page's two engines and its model picker, in real Chromium: ONNX Runtime Web (loaded from the
// site's own ort/ folder: model.onnx for the predictions, swap.onnx for the swap grid, decoder.onnx
// for the style mixer) gives the
// core's outputs within 1e-4, with and without cross-origin
// isolation (without it ORT runs on one thread, as on any static host); picking another model loads it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSite, openModel, screenshotPath, SITE } from './browser.mjs';

const sites = [];
after(async () => { for (const s of sites) await s.close(); });

async function switchToOrt(page) {
  const core = (await page.evaluate(() => window.dida.state())).explorer;
  assert.equal(core.engine, 'core');
  await page.evaluate(() => window.dida.setEngine('ort'));
  await page.waitForFunction(() => window.dida.state().explorer.engine === 'ort' ||
                                   window.dida.state().explorer.ort.status.startsWith('failed'), null, { timeout: 60000 });
  const ort = (await page.evaluate(() => window.dida.state())).explorer;
  assert.equal(ort.engine, 'ort', `ORT status: ${ort.ort.status}`);
  return { core, ort };
}

for (const isolation of [true, false]) {
  test(`ONNX Runtime Web predicts as the core, max |diff| < 1e-4 (${isolation ? 'cross-origin isolated' : 'plain static host'})`,
       async () => {
    const site = await openSite({ isolation, viewport: { width: 1400, height: 900 } });
    sites.push(site);
    await openModel(site);
    assert.equal(await site.page.evaluate(() => self.crossOriginIsolated), isolation);
    const { core, ort } = await switchToOrt(site.page);
    assert.deepEqual(ort.predictions, core.predictions);
    assert.ok(ort.engine_max_diff >= 0 && ort.engine_max_diff < 1e-4, `max diff ${ort.engine_max_diff}`);
    assert.ok(ort.ort.ms > 0, 'ORT latency reported');
    // The swap grid comes from swap.onnx, within 1e-4 of the core's cells; a new row recomputes it.
    await site.page.waitForFunction(() => window.dida.state().explorer.swap.ort_max_diff >= 0, null, { timeout: 60000 });
    const swap = (await site.page.evaluate(() => window.dida.state())).explorer.swap;
    assert.ok(swap.ort_max_diff < 1e-4, `swap max diff ${swap.ort_max_diff}`);
    assert.ok(swap.ort_ms > 0);
    // The style mixer's row comes from decoder.onnx, within 1e-4 of the core's; a move of the slider
    // or another pair of styles asks for it again.
    const mixFromOrt = async () => {
      await site.page.waitForFunction(() => window.dida.state().explorer.mix?.shown === 'ort', null, { timeout: 60000 });
      const mix = (await site.page.evaluate(() => window.dida.state())).explorer.mix;
      assert.ok(mix.ort_max_diff >= 0 && mix.ort_max_diff < 1e-4, `mix max diff ${mix.ort_max_diff}`);
      return mix;
    };
    const first = await mixFromOrt();
    await site.page.evaluate(() => window.dida.setMix(0.5));
    const half = await mixFromOrt();
    assert.ok(half.version > first.version && half.t === 0.5);
    await site.page.evaluate(() => window.dida.setMixColumns(2, 3));
    const other = await mixFromOrt();
    assert.deepEqual([other.a, other.b, other.t], [2, 3, 0.5]);
    if (!isolation) assert.equal(ort.ort.threads, 1, 'single-threaded without isolation');
    // Back to the core: the page's predictions and the mixer's row are the core's again.
    await site.page.evaluate(() => window.dida.setEngine('core'));
    const back = (await site.page.evaluate(() => window.dida.state())).explorer;
    assert.equal(back.engine, 'core');
    assert.deepEqual(back.predictions, core.predictions);
    assert.equal(back.mix.shown, 'core', 'the mixer follows the engine');
    if (isolation) await site.page.screenshot({ path: screenshotPath('engines-ort.png') });
    const urls = await site.page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    assert.ok(urls.some((u) => u.endsWith('/ort/ort.wasm.min.js')), 'ORT script from the site');
    assert.ok(urls.some((u) => u.endsWith('.wasm') && u.includes('/ort/')), 'ORT wasm from the site');
    assert.ok(['/model.onnx', '/swap.onnx', '/decoder.onnx'].every((f) => urls.some((u) => u.endsWith(f))), 'the three ONNX files');
    assert.deepEqual(site.consoleErrors, []);
    assert.deepEqual(site.foreignRequests, []);
  });
}

test('with ONNX Runtime Web chosen, another model runs on it too', async () => {
  const site = await openSite({ viewport: { width: 1400, height: 900 } });
  sites.push(site);
  await openModel(site);
  await switchToOrt(site.page);
  const index = JSON.parse(readFileSync(join(SITE, 'models/index.json'))).models;
  const other = index.findIndex((m) => m.name === 'optdigits-mnist-dida');
  await site.page.evaluate((i) => window.dida.selectModel(i), other);
  await site.page.waitForFunction((i) => window.dida.state().explorer.model_index === i &&
                                         window.dida.state().explorer.engine === 'ort', other, { timeout: 60000 });
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.ok(s.engine_max_diff >= 0 && s.engine_max_diff < 1e-4, `max diff ${s.engine_max_diff}`);
  assert.deepEqual(site.consoleErrors, []);
});

test('the model picker lists every shipped bundle and loads the one picked', async () => {
  const site = await openSite({ viewport: { width: 1400, height: 900 } });
  sites.push(site);
  await openModel(site);
  const index = JSON.parse(readFileSync(join(SITE, 'models/index.json'))).models;
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.equal(s.models.length, index.length);
  assert.ok(index.length >= 3, `${index.length} models listed`);
  const other = index.findIndex((m) => m.method !== s.method || m.source !== 'mnist');
  assert.ok(other >= 0);
  await site.page.evaluate((i) => window.dida.selectModel(i), other);
  await site.page.waitForFunction((i) => window.dida.state().explorer.model_index === i, other, { timeout: 30000 });
  const t = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.equal(t.method, index[other].method);
  assert.equal(await site.page.evaluate(() => window.dida.loadState()), `loaded ${index[other].path}`);
  assert.deepEqual(site.consoleErrors, []);
});
