// The explorer in real Chromium: the page loads the site's model and sample set, the core (wasm)
// predicts every sample as `dida predict` (core native) does, and clicking a sample selects it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readSafetensors } from '../../scripts/safetensors.mjs';
import { openSite, openModel, click, pixelStats, screenshotPath, ROOT, SITE, TEST_MODEL } from './browser.mjs';

const DIDA = process.env.DIDA_CLI || join(ROOT, 'build/native/bin/dida');
let site;

before(async () => {
  site = await openSite({ viewport: { width: 1400, height: 900 } });
  await openModel(site);
});
after(async () => { if (site) await site.close(); });

function sampleImage(k) {
  const entry = JSON.parse(readFileSync(join(SITE, 'models/index.json'))).models.find((m) => m.name === TEST_MODEL);
  const images = readSafetensors(join(SITE, entry.samples)).images;
  const [N, H, W, C] = images.shape;
  assert.ok(k < N);
  const start = k * H * W * C;
  const png = new PNG({ width: W, height: H });
  for (let i = 0; i < H * W; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = images.data[start + i * C + (C === 3 ? c : 0)];
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

test('the model and the sample set load, and the core predicts every sample', async () => {
  assert.equal(await site.page.evaluate(() => window.dida.loadState()), `loaded models/${TEST_MODEL}`);
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.ok(s, 'explorer state');
  assert.equal(s.predictions.length, s.samples);
  assert.ok(s.samples >= 100);
  assert.ok(s.source_accuracy > 0.8, `source accuracy ${s.source_accuracy}`);
});

test('the page predicts as `dida predict` (core native) for the same images', async () => {
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  const dir = mkdtempSync(join(tmpdir(), 'dida-page-'));
  try {
    const ks = [0, 7, s.samples - 1];
    const files = ks.map((k) => { const f = join(dir, `sample-${k}.png`); writeFileSync(f, sampleImage(k)); return f; });
    const out = JSON.parse(execFileSync(DIDA, ['predict', '--json', join(SITE, 'models', TEST_MODEL), ...files]).toString());
    ks.forEach((k, i) => assert.equal(s.predictions[k], out[i].class, `sample ${k}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the swap grid renders: cells differ from each other and from a blank image', async () => {
  const swap = (await site.page.evaluate(() => window.dida.state())).explorer.swap;
  assert.equal(swap.rows.length, 4);
  assert.equal(swap.cols.length, 4);
  assert.ok(swap.min_pair_mean_abs_diff > 0.5, `cells too alike: ${swap.min_pair_mean_abs_diff}`);
  assert.ok(swap.min_cell_std > 1, `a cell looks blank: ${swap.min_cell_std}`);
});

test('t-SNE runs in the page with progress, and PCA comes back', async () => {
  const { page } = site;
  const pca = (await page.evaluate(() => window.dida.state())).explorer.inv_xy_head;
  assert.equal(pca.length, 8);
  await page.evaluate(() => window.dida.setProjection('tsne'));
  await page.waitForFunction(() => window.dida.state().explorer.tsne_iteration >= 100, null, { timeout: 60000 });
  const s = (await page.evaluate(() => window.dida.state())).explorer;
  assert.equal(s.projection, 'tsne');
  assert.notDeepEqual(s.inv_xy_head, pca, 'the plot shows the t-SNE layout, not PCA\'s');
  await page.screenshot({ path: screenshotPath('explorer-tsne.png') });
  await page.evaluate(() => window.dida.setProjection('pca'));
  await page.waitForFunction(() => window.dida.state().explorer.projection === 'pca', null, { timeout: 5000 });
  assert.deepEqual((await page.evaluate(() => window.dida.state())).explorer.inv_xy_head, pca, 'PCA\'s layout again');
});

test('clicking a sample selects it; the explorer is drawn', async () => {
  const { page } = site;
  const k = 3;
  const rect = await page.evaluate((i) => window.dida.thumbnail(i), k);
  assert.equal(rect.length, 4, 'thumbnail rectangle');
  await click(page, rect[0] + rect[2] / 2, rect[1] + rect[3] / 2);
  await page.waitForFunction((i) => window.dida.state().explorer.selected === i, k, { timeout: 5000 });
  const png = await page.screenshot({ path: screenshotPath('explorer.png') });
  const stats = pixelStats(png);
  assert.ok(stats.colours > 60, `only ${stats.colours} colours`);
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
