// The live view: two real trainings (dida and DANN, a few short epochs) served by `dida serve`, the
// page opened on ?run=0,1 while they train. It sees the epochs rise, the curves (named by the logs)
// and the plots of the replay drawn from at least two epochs, the second run's model beside the
// first's, and both runs finish; the first run's model is then its bundle. A screenshot goes to
// build/screenshots/live.png (and docs/images/live-run.png with DIDA_DOC_IMAGES=1).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { openSite, waitForApp, screenshotPath, ROOT } from './browser.mjs';
import { DIDA } from '../../scripts/serve.mjs';

const work = mkdtempSync(join(os.tmpdir(), 'dida-live-'));
const runs = [join(work, 'dida-run'), join(work, 'dann-run')];
const children = [];
let site;
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (site) await site.close();
  rmSync(work, { recursive: true, force: true });
});

function train(method, out) {
  mkdirSync(out, { recursive: true });  // dida serve serves folders that exist
  const args = ['--threads', '1', 'train', '--config', join(ROOT, 'configs/small.toml'), '--source', 'mnist', '--target', 'mnistm',
                '--method', method, '--epochs', '5', '--iters-per-epoch', '6', '--erasure-retrain-iters', '20', '--quiet', '--out', out];
  const child = spawn(DIDA, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, err })));
  children.push(child);
  return done;
}

test('?run=0,1 follows two trainings as their epochs finish, curves and plots growing, until both are done', async () => {
  const finished = [train('dida', runs[0]), train('dann', runs[1])];
  site = await openSite({ viewport: { width: 1400, height: 900 }, runs });
  const live = () => site.page.evaluate(() => window.dida.live());
  await site.page.goto(`${site.origin}/?run=0,1`);
  await waitForApp(site.page);
  // The first epoch's model of the dida run is shown, with its replay so far.
  await site.page.waitForFunction(() => window.dida.live().runs[0]?.shown_epoch >= 1 && /^loaded/.test(window.dida.loadState()),
                                  null, { timeout: 180000 });
  let l = await live();
  assert.deepEqual(l.runs.map((r) => r.name), ['dida-run', 'dann-run']);
  assert.equal(l.error, '');
  // The epoch count rises; the curves and the plots hold at least two epochs.
  await site.page.waitForFunction(() => {
    const r = window.dida.live().runs[0], s = window.dida.state().explorer;
    return r.shown_epoch >= 2 && s.replay && s.replay.epochs >= 2 && /^loaded/.test(window.dida.loadState());
  }, null, { timeout: 180000 });
  l = await live();
  assert.ok(l.runs[0].logged >= 2, JSON.stringify(l));
  // Every loss term is the log's own name; the accuracies and the label-free statistics beside them.
  for (const name of ['task', 'adv', 'mi', 'swap', 'source_val_accuracy', 'target_train_confidence', 'target_test_accuracy'])
    assert.ok(l.curves.includes(name), `${name} not drawn: ${l.curves}`);
  const reporting = await site.page.evaluate(() => document.querySelector('[data-curve="target_test_accuracy"]').textContent);
  assert.match(reporting, /reporting only/);
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.equal(s.method, 'dida');
  assert.ok(s.replay.epoch === s.replay.epochs - 1, 'the newest epoch is shown');
  // Both runs finish; the page says so and shows the dida run's bundle.
  const results = await Promise.all(finished);
  results.forEach((r) => assert.equal(r.code, 0, r.err));
  await site.page.waitForFunction(() => {
    const rs = window.dida.live().runs;
    return rs.every((r) => r.state === 'done' && r.epoch === 5) && rs[0].shown_done && /^loaded/.test(window.dida.loadState());
  }, null, { timeout: 60000 });
  l = await live();
  assert.ok(l.runs[1].shown_epoch >= 1, 'the second run is shown beside the first');
  assert.ok(existsSync(join(runs[0], 'bundle', 'replay.safetensors')));
  const text = await site.page.evaluate(() => document.getElementById('live').textContent);
  assert.match(text, /dida-run dida, mnist → mnistm: done, epoch 5 of 5/);
  assert.match(text, /dann-run dann, mnist → mnistm: done, epoch 5 of 5/);
  await site.page.waitForTimeout(500);
  const shot = screenshotPath('live.png');
  await site.page.screenshot({ path: shot });
  if (process.env.DIDA_DOC_IMAGES === '1') copyFileSync(shot, join(ROOT, 'docs/images/live-run.png'));
  assert.deepEqual(site.consoleErrors, []);
});

test('a page asked for a run that is not served says so and still works', async () => {
  if (!site) return;
  await site.page.goto(`${site.origin}/?run=7`);
  await waitForApp(site.page);
  await site.page.waitForFunction(() => window.dida.live().error !== '', null, { timeout: 30000 });
  assert.match((await site.page.evaluate(() => window.dida.live())).error, /\?run=7: no such run/);
});
