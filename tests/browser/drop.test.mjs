// Files dropped on the page, in real Chromium: a bundle joins the model picker and runs on both
// engines, a sample set replaces the samples, and anything wrong is refused with a clear message
// while the model shown before stays.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, openModel, TEST_MODEL } from './browser.mjs';

let site;
before(async () => {
  site = await openSite({ viewport: { width: 1400, height: 900 } });
  await openModel(site);
});
after(async () => { if (site) await site.close(); });

// Drops files on the page; each is [name, URL on the site] or [name, text].
async function drop(files) {
  return site.page.evaluate(async (list) => {
    const made = await Promise.all(list.map(async ([name, url, text]) =>
      new File([text !== undefined ? text : await (await fetch(url)).arrayBuffer()], name)));
    await window.dida.dropFiles(made);
    return { notice: window.dida.notice(), load: window.dida.loadState(), state: window.dida.state().explorer };
  }, files);
}

test('wrong files are refused with a message naming them; the model stays', async () => {
  const shown = (await site.page.evaluate(() => window.dida.state())).explorer;
  let r = await drop([['holiday.png', null, 'not an image at all']]);
  assert.match(r.notice, /holiday\.png: not an image nor a dida file/);
  r = await drop([['config.json', `models/${TEST_MODEL}/config.json`]]);
  assert.match(r.notice, /config\.json: a bundle needs config\.json and model\.safetensors together/);
  // A truncated weights file (its header intact): the core's check names the file.
  r = await site.page.evaluate(async (m) => {
    const b = new Uint8Array(await (await fetch(`models/${m}/model.safetensors`)).arrayBuffer());
    const config = new File([await (await fetch(`models/${m}/config.json`)).arrayBuffer()], 'config.json');
    await window.dida.dropFiles([config, new File([b.subarray(0, b.length >> 1)], 'model.safetensors')]);
    return { notice: window.dida.notice(), load: window.dida.loadState(), state: window.dida.state().explorer };
  }, TEST_MODEL);
  assert.match(r.load, /^error: /);
  assert.match(r.notice, /model\.safetensors/);
  assert.equal(r.state.model_index, shown.model_index, 'the model shown before stays');
  assert.deepEqual(r.state.predictions, shown.predictions);
  assert.equal(r.state.models.length, shown.models.length, 'nothing added to the picker');
});

test('a dropped bundle joins the picker and runs on both engines', async () => {
  const m = 'fashion-fashionm-dann';
  const r = await drop([['config.json', `models/${m}/config.json`], ['model.safetensors', `models/${m}/model.safetensors`],
                        ['model.onnx', `models/${m}/model.onnx`]]);
  assert.match(r.load, /^loaded dropped-/);
  assert.match(r.notice, /model loaded and added to the picker/);
  assert.equal(r.state.method, 'dann');
  assert.match(r.state.models.at(-1), /^dropped: model\.safetensors/);
  await site.page.evaluate(() => window.dida.setEngine('ort'));
  await site.page.waitForFunction(() => window.dida.state().explorer.engine === 'ort', null, { timeout: 60000 });
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.ok(s.engine_max_diff >= 0 && s.engine_max_diff < 1e-4, `max diff ${s.engine_max_diff}`);
  await site.page.evaluate(() => window.dida.setEngine('core'));
});

test('a dropped sample set replaces the samples', async () => {
  const r = await drop([['optdigits-mnist.safetensors.gz', 'samples/optdigits-mnist.safetensors.gz']]);
  assert.match(r.notice, /sample set loaded/);
  // optdigits -> mnist samples under the fashion -> fashionm model dropped above: said, not silent.
  assert.match(r.notice, /the samples are optdigits -> mnist images, the model was trained on fashion -> fashionm/);
  assert.match(r.state.pair_warning, /optdigits -> mnist/);
  assert.match(r.load, /^loaded /);
  assert.equal(r.state.predictions.length, r.state.samples);
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
