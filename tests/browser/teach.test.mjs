// The teaching canvas in real Chromium, driven as a person would: the walkthrough's chapters (by
// URL, buttons' keys), a digit drawn with the mouse, images dropped on the page, the live probes.
// Screenshots of every chapter go to build/screenshots (and to docs/images/walkthrough when
// DIDA_DOC_IMAGES=1, which is how the README's pictures are made).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSite, openModel, screenshotPath, ROOT } from './browser.mjs';

let site;
const state = () => site.page.evaluate(() => window.dida.state().explorer);
before(async () => {
  site = await openSite({ viewport: { width: 1400, height: 900 } });
  await openModel(site, 'mnist-mnistm-dida', '&chapter=3');
});
after(async () => { if (site) await site.close(); });

async function shoot(name) {
  const path = screenshotPath(name);
  await site.page.screenshot({ path });
  if (process.env.DIDA_DOC_IMAGES === '1') {
    mkdirSync(join(ROOT, 'docs/images/walkthrough'), { recursive: true });
    copyFileSync(path, join(ROOT, 'docs/images/walkthrough', name));
  }
}

test('?chapter=3 opens chapter 3; the arrow keys turn the pages', async () => {
  let s = await state();
  assert.equal(s.chapter, 3);
  assert.equal(s.chapter_title, 'The split: dida');
  assert.equal(s.method, 'dida');
  await site.page.mouse.click(5, 895);  // the canvas has the keyboard
  await site.page.keyboard.press('ArrowRight', { delay: 120 });  // held across frames, as a person's key is
  await site.page.waitForFunction(() => window.dida.state().explorer.chapter === 4);
  await site.page.keyboard.press('ArrowLeft', { delay: 120 });
  await site.page.waitForFunction(() => window.dida.state().explorer.chapter === 3);
});

test('each chapter sets up its model and views (screenshots of all six)', async () => {
  const want = { 1: 'source-only', 2: 'dann', 3: 'dida', 4: 'dida', 5: 'dida', 6: 'dida' };
  for (let k = 1; k <= 6; ++k) {
    await site.page.evaluate((c) => window.dida.openChapter(c), k);
    await site.page.waitForFunction((m) => window.dida.state().explorer.method === m && window.dida.state().explorer.core_ready &&
                                     /^loaded/.test(window.dida.loadState()), want[k], { timeout: 60000 });
    await site.page.waitForTimeout(400);
    const s = await state();
    assert.equal(s.chapter, k);
    if (k === 1) {  // the shift: a target sample the source-only model gets wrong is selected
      assert.ok(s.selected >= 0, 'a sample is selected');
      assert.notEqual(s.predictions[s.selected], undefined);
      assert.equal(s.colour_by_domain, true);
    }
    if (k === 4) {  // the probes' chapter: its figures in, and what it says of them is them
      await site.page.waitForFunction(() => Object.values(window.dida.state().explorer.probes).every((p) => p.accuracy >= 0),
                                      null, { timeout: 300000 });
      const { probes, findings } = await state();
      const pct = (x) => `${Math.round(100 * x)} %`;
      assert.ok(findings.probes.includes(`domain read from z_inv ${pct(probes.domain_inv.accuracy)} (chance 50 %)`), findings.probes);
      assert.ok(findings.probes.includes(`domain read from z_spe ${pct(probes.domain_spe.accuracy)}`), findings.probes);
      assert.ok(findings.probes.includes(`class read from z_spe ${pct(probes.class_spe.accuracy)}`), findings.probes);
    }
    if (k === 5) {  // the swap's chapter: the grid's own figure
      const { swap, findings } = await state();
      const cells = swap.rows.length * swap.cols.length;
      assert.ok(swap.style_retrieval >= 0 && swap.style_retrieval <= 1);
      assert.ok(findings.swap.includes(`${Math.round(swap.style_retrieval * cells)} of ${cells} cells`), findings.swap);
    }
    await shoot(`chapter-${k}.png`);
  }
});

test('a digit drawn with the mouse is predicted by both engines and placed in both plots', async () => {
  await site.page.evaluate(() => window.dida.openChapter(6));
  await site.page.waitForTimeout(300);
  const [x, y, w, h] = (await state()).pad_rect;
  const m = site.page.mouse;
  await m.move(x + w * 0.5, y + h * 0.15);
  await m.down();
  for (let k = 0; k <= 12; ++k) { await m.move(x + w * 0.5, y + h * (0.15 + 0.06 * k)); await site.page.waitForTimeout(20); }
  await m.up();
  await site.page.waitForFunction(() => window.dida.state().explorer.user.some((u) => u.name === 'your drawing' && u.ort_predicted >= 0),
                                  null, { timeout: 60000 });
  const s = await state();
  const d = s.user.find((u) => u.name === 'your drawing');
  assert.equal(d.predicted, 1, 'a vertical stroke reads as a 1');
  assert.equal(d.ort_predicted, d.predicted, 'ONNX Runtime Web agrees');
  assert.ok(d.inv_xy.every(Number.isFinite) && d.spe_xy.every(Number.isFinite));
  assert.notDeepEqual(d.inv_xy, [0, 0]);
  await shoot('drawn-digit.png');
});

test('dropped PNG images join the plots as yours; a file that is not an image is named in a notice', async () => {
  const r = await site.page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = c.height = 64;
    const g = c.getContext('2d');
    g.fillStyle = '#000'; g.fillRect(0, 0, 64, 64);
    g.strokeStyle = '#fff'; g.lineWidth = 6;
    g.beginPath(); g.arc(32, 32, 18, 0, 2 * Math.PI); g.stroke();  // a zero
    const png = await new Promise((res) => c.toBlob(res, 'image/png'));
    await window.dida.dropFiles([new File([png], 'zero.png', { type: 'image/png' })]);
    const afterPng = { notice: window.dida.notice(), user: window.dida.state().explorer.user };
    await window.dida.dropFiles([new File(['hello'], 'notes.txt', { type: 'text/plain' })]);
    return { ...afterPng, notice2: window.dida.notice(), user2: window.dida.state().explorer.user };
  });
  assert.match(r.notice, /zero\.png: predicted and placed in the plots/);
  const zero = r.user.find((u) => u.name === 'zero.png');
  assert.ok(zero, 'zero.png is one of yours');
  assert.equal(zero.predicted, 0, 'a ring reads as a 0');
  assert.match(r.notice2, /notes\.txt: not an image/);
  assert.equal(r.user2.length, r.user.length, 'nothing added for the text file');
});

test('the training replay loads on demand and its slider moves the points', async () => {
  await site.page.evaluate(() => window.dida.openChapter(3));
  await site.page.waitForFunction(() => window.dida.state().explorer.method === 'dida' && window.dida.state().explorer.core_ready);
  const before = await state();
  assert.equal(before.replay, null, 'not fetched on the first visit');
  await site.page.evaluate(() => window.dida.loadReplay());
  await site.page.waitForFunction(() => window.dida.state().explorer.replay?.slider_rect?.length === 4, null, { timeout: 30000 });
  // Pause, then drag the slider to its left end (epoch 1) and to its right end (the last epoch).
  await site.page.waitForFunction(() => !window.dida.state().explorer.replay.playing, null, { timeout: 60000 });
  const [x, y, w, h] = (await state()).replay.slider_rect;
  const m = site.page.mouse;
  await m.move(x + w - 2, y + h / 2);
  await m.down();
  await m.move(x + w * 0.5, y + h / 2, { steps: 5 });
  await m.move(x + 1, y + h / 2, { steps: 5 });
  await site.page.waitForTimeout(100);
  await m.up();
  await site.page.waitForTimeout(200);
  const first = await state();
  assert.equal(first.replay.epoch, 0, 'the slider at its left end shows epoch 1');
  await m.move(x + 1, y + h / 2);
  await m.down();
  await m.move(x + w - 1, y + h / 2, { steps: 8 });
  await site.page.waitForTimeout(100);
  await m.up();
  await site.page.waitForTimeout(200);
  const last = await state();
  assert.equal(last.replay.epoch, last.replay.epochs - 1);
  assert.notDeepEqual(first.shown_inv_xy_head, last.shown_inv_xy_head, 'the points moved');
  await shoot('replay.png');
});

test('the live probes report accuracies and chance beside the plots', async () => {
  await site.page.waitForFunction(() => Object.values(window.dida.state().explorer.probes).every((p) => p.accuracy >= 0),
                                  null, { timeout: 300000 });
  const p = (await state()).probes;
  for (const k of ['domain_inv', 'domain_spe', 'class_spe']) assert.ok(p[k].accuracy >= 0 && p[k].accuracy <= 1, k);
  assert.equal(p.domain_inv.chance, 0.5);
  assert.ok(p.domain_spe.accuracy > 0.8, `z_spe tells the domains apart: ${p.domain_spe.accuracy}`);
  assert.ok(p.class_spe.chance < 0.2);
  assert.deepEqual(site.consoleErrors, []);
  assert.deepEqual(site.foreignRequests, []);
});
