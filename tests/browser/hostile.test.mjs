// A broken models index, a missing first model and a bad ?samples= in real Chromium: each gets a
// notice that names the file, and the page stays usable (the picker is there, another model loads).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, waitForApp } from './browser.mjs';

let site, realIndex;
before(async () => {
  site = await openSite();
  realIndex = await (await fetch(`${site.origin}/models/index.json`)).json();
});
after(async () => { if (site) await site.close(); });

// Opens the page with models/index.json answered by `body` (a string; null: HTTP 404).
async function openWithIndex(body, query = '') {
  await site.page.unroute('**/models/index.json');
  await site.page.route('**/models/index.json', (route) =>
    body === null ? route.fulfill({ status: 404, body: 'not found' }) : route.fulfill({ contentType: 'application/json', body }));
  await site.page.goto(`${site.origin}/${query}`);
  await waitForApp(site.page);
  await site.page.waitForFunction(() => /^(loaded|error|no model)/.test(window.dida.loadState()), null, { timeout: 30000 });
  return site.page.evaluate(() => ({ load: window.dida.loadState(), notice: window.dida.notice(),
                                     state: window.dida.state().explorer, status: document.getElementById('status').textContent }));
}

test('index entries without a name or label, or with a number for one, are shown as text', async () => {
  const models = structuredClone(realIndex.models.slice(0, 3));
  delete models[0].label;
  delete models[0].name;
  models[1].label = 7;
  models.push({ label: 'no path here' });
  const r = await openWithIndex(JSON.stringify({ ...realIndex, models }));
  assert.match(r.load, /^loaded /);
  assert.equal(r.state.models[0], models[0].path);
  assert.equal(r.state.models[1], '7');
  assert.equal(r.state.models.length, 3);
  assert.match(r.notice, /models\/index\.json: entry 4 left out \(no "path"\)/);
  assert.doesNotMatch(r.status, /could not start/);
  await site.page.evaluate(() => window.dida.selectModel(1));
  await site.page.waitForFunction(() => /^loaded /.test(window.dida.loadState()), null, { timeout: 30000 });
});

test('a missing first model is named, and another model can be picked', async () => {
  const models = [{ ...realIndex.models[0], name: 'gone', label: 'gone', path: 'models/gone' }, ...realIndex.models.slice(0, 2)];
  const r = await openWithIndex(JSON.stringify({ ...realIndex, models }));
  assert.match(r.load, /^error: /);
  assert.match(r.notice, /models\/gone\/(config\.json|model\.safetensors): HTTP 404/);
  assert.equal(r.state.loaded, false);
  assert.equal(r.state.models.length, 3, 'the picker is there');
  await site.page.evaluate(() => window.dida.selectModel(1));
  await site.page.waitForFunction(() => /^loaded /.test(window.dida.loadState()), null, { timeout: 30000 });
  const s = await site.page.evaluate(() => window.dida.state().explorer);
  assert.equal(s.loaded, true);
  assert.equal(s.model_index, 1);
});

test('a bad ?samples= names the URL and keeps the picker', async () => {
  const r = await openWithIndex(JSON.stringify(realIndex), '?samples=nowhere.safetensors');
  assert.match(r.load, /^error: /);
  assert.match(r.notice, /nowhere\.safetensors: HTTP 404/);
  assert.equal(r.state.models.length, realIndex.models.length);
});

test('a malformed or missing index gets a notice, not a blank page', async () => {
  let r = await openWithIndex('{"models": [');
  assert.equal(r.load, 'no model shipped');
  assert.match(r.notice, /models\/index\.json: not valid JSON/);
  r = await openWithIndex(null);
  assert.match(r.notice, /models\/index\.json: HTTP 404/);
  r = await openWithIndex('{"models": 5}');
  assert.match(r.notice, /models\/index\.json: no "models" list/);
});

test('a dropped bundle whose class_names do not fit is refused by name; the model shown stays', async () => {
  await openWithIndex(JSON.stringify(realIndex));
  const m = realIndex.models[0].path;
  const r = await site.page.evaluate(async (path) => {
    const before = window.dida.state().explorer;
    const config = JSON.parse(new TextDecoder().decode(await (await fetch(`${path}/config.json`)).arrayBuffer()));
    config.class_names = ['zero', 'one'];
    const weights = await (await fetch(`${path}/model.safetensors`)).arrayBuffer();
    await window.dida.dropFiles([new File([JSON.stringify(config)], 'config.json'), new File([weights], 'model.safetensors')]);
    return { before, after: window.dida.state().explorer, notice: window.dida.notice(), load: window.dida.loadState() };
  }, m);
  assert.match(r.load, /^error: /);
  assert.match(r.notice, /config\.json: "class_names" must be 10 strings/);
  assert.equal(r.after.model_index, r.before.model_index);
  assert.equal(r.after.models.length, r.before.models.length);
});

// A config.json whose format_version is an array nested 100,000 deep (200 kB): refused by the core
// before parsing, with one line naming the file; the load does not hang in "loading" and the
// picker gains no dead entry. The same drop again is refused the same way (the page still works).
test('a dropped bundle with deeply nested JSON is refused in one line, and leaves no dead entry', async () => {
  await openWithIndex(JSON.stringify(realIndex));
  const m = realIndex.models[0].path;
  const r = await site.page.evaluate(async (path) => {
    const before = window.dida.state().explorer;
    const text = new TextDecoder().decode(await (await fetch(`${path}/config.json`)).arrayBuffer());
    const deep = text.replace(/"format_version":\s*\d+/, `"format_version": ${'['.repeat(100000)}${']'.repeat(100000)}`);
    const weights = await (await fetch(`${path}/model.safetensors`)).arrayBuffer();
    const results = [];
    for (let k = 0; k < 2; ++k) {
      await window.dida.dropFiles([new File([deep], 'config.json'), new File([weights], 'model.safetensors')]);
      results.push({ notice: window.dida.notice(), load: window.dida.loadState(), after: window.dida.state().explorer });
    }
    await window.dida.selectModel(1);
    return { before, results, deepLength: deep.length, finally: window.dida.loadState() };
  }, m);
  assert.ok(r.deepLength > 200000);
  for (const x of r.results) {
    assert.match(x.load, /^error: /);
    assert.match(x.notice, /config\.json: .*(nested|deep)/i);
    assert.ok(!x.notice.includes('\n') && x.notice.length < 400, x.notice);
    assert.equal(x.after.models.length, r.before.models.length, 'no dead entry in the picker');
    assert.equal(x.after.model_index, r.before.model_index);
  }
  assert.match(r.finally, /^loaded /, 'another model still loads');
});
