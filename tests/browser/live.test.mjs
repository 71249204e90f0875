// The live view: a real short training with `dida train --serve`, the page opened on its ?run=0
// while it trains: the epochs rise, the curves (named by the log) and the plots of the replay grow
// from at least two epochs, the run finishes and its bundle is shown; Ctrl-C stops the server and
// leaves the run as it was. Then `dida serve` with that run and a DANN run beside it, and run
// folders that were interrupted or diverged. A screenshot goes to build/screenshots/live.png (and
// docs/images/live-run.png with DIDA_DOC_IMAGES=1).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

// A short real training (5 epochs of 6 iterations); `serve`: with --serve 0, resolving `url` once it serves.
function train(method, out, serve = false) {
  const args = ['--threads', '1', 'train', '--config', join(ROOT, 'configs/small.toml'), '--source', 'mnist', '--target', 'mnistm',
                '--method', method, '--epochs', '5', '--iters-per-epoch', '6', '--erasure-retrain-iters', '20', '--quiet',
                '--out', out, ...(serve ? ['--serve', '0'] : [])];
  const child = spawn(DIDA, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = new Promise((resolve) => child.stderr.on('data', (d) => {
    err += d;
    const m = /watch this run at (http:\/\/127\.0\.0\.1:\d+\/)\?run=0/.exec(err);
    if (m) resolve(m[1]);
  }));
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, err })));
  children.push(child);
  return { child, url, done, stderr: () => err };
}

test('dida train --serve: the page follows the run as its epochs finish, curves and plots growing, until it is done', async () => {
  const dida = train('dida', runs[0], true);
  const dann = train('dann', runs[1]);  // for the next test: a second run, side by side
  const origin = (await Promise.race([dida.url, dida.done.then((r) => { throw new Error(`no server: ${r.err}`); })])).replace(/\/$/, '');
  site = await openSite({ viewport: { width: 1400, height: 900 } });
  const live = () => site.page.evaluate(() => window.dida.live());
  await site.page.goto(`${origin}/?run=0`);
  await waitForApp(site.page);
  // The first epoch's model is shown, with its replay so far.
  await site.page.waitForFunction(() => window.dida.live().runs[0]?.shown_epoch >= 1 && /^loaded/.test(window.dida.loadState()),
                                  null, { timeout: 180000 });
  let l = await live();
  assert.deepEqual(l.runs.map((r) => r.name), ['dida-run']);
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
  assert.equal(s.replay.epoch, s.replay.epochs - 1, 'the newest epoch is shown');
  // The run finishes; the page says so and shows its bundle; the server keeps serving until Ctrl-C.
  await site.page.waitForFunction(() => {
    const r = window.dida.live().runs[0];
    return r.state === 'done' && r.epoch === 5 && r.shown_done && /^loaded/.test(window.dida.loadState());
  }, null, { timeout: 120000 });
  const text = await site.page.evaluate(() => document.getElementById('live').textContent);
  assert.match(text, /dida-run dida, mnist → mnistm: done, epoch 5 of 5 \(shown: the bundle\)/);
  assert.deepEqual(site.consoleErrors, []);
  await site.page.waitForTimeout(500);
  const shot = screenshotPath('live.png');
  await site.page.screenshot({ path: shot });
  if (process.env.DIDA_DOC_IMAGES === '1') copyFileSync(shot, join(ROOT, 'docs/images/live-run.png'));
  await site.close();
  site = null;
  const before = readdirSync(runs[0]).sort();
  dida.child.kill('SIGINT');
  const r = await dida.done;
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readdirSync(runs[0]).sort(), before, 'stopping the server touched nothing of the run');
  assert.equal((await dann.done).code, 0);
});

test('dida serve RUN RUN: two runs side by side, their curves over each other; a run interrupted, resumed or diverged says so', async () => {
  // A third run as a run folder holds it when interrupted after a resume, a fourth diverged.
  const odd = [join(work, 'stopped-run'), join(work, 'diverged-run')];
  for (const [dir, state] of [[odd[0], 'interrupted'], [odd[1], 'diverged']]) {
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ options: { method: 'dida' }, data: { source: 'mnist', target: 'mnistm' } }));
    writeFileSync(join(dir, 'status.json'), JSON.stringify({ state, epoch: 3, epochs: 25, resumed_at_epoch: state === 'interrupted' ? 2 : null,
                                                             updated: Date.now() / 1000 }));
    writeFileSync(join(dir, 'log.jsonl'), [1, 2, 3].map((e) => JSON.stringify({ epoch: e, losses: { task: 1 / e, mi: 0.1 },
                                                                                source_val_accuracy: 0.5 + e / 10 })).join('\n') + '\n');
  }
  site = await openSite({ viewport: { width: 1400, height: 900 }, runs: [...runs, ...odd] });
  await site.page.goto(`${site.origin}/?run=0,1,2,3`);
  await waitForApp(site.page);
  await site.page.waitForFunction(() => {
    const rs = window.dida.live().runs;
    return rs.length === 4 && rs[0].shown_done && rs[1].shown_done && /^loaded/.test(window.dida.loadState());
  }, null, { timeout: 120000 });
  const s = (await site.page.evaluate(() => window.dida.state())).explorer;
  assert.equal(s.method, 'dida');
  assert.ok(s.compare, 'the second run is shown beside the first');
  const text = await site.page.evaluate(() => document.getElementById('live').textContent);
  assert.match(text, /dida-run dida, mnist → mnistm: done, epoch 5 of 5/);
  assert.match(text, /dann-run dann, mnist → mnistm: done, epoch 5 of 5 \(shown: the bundle, beside\)/);
  assert.match(text, /stopped-run dida, mnist → mnistm: interrupted, epoch 3 of 25, resumed at epoch 2/);
  assert.match(text, /diverged-run dida, mnist → mnistm: diverged, epoch 3 of 25/);
  // One curve per term, a line per run in it (the DANN run's log names dida's terms too, at 0).
  const lines = await site.page.evaluate(() => document.querySelectorAll('[data-curve="task"] polyline').length);
  assert.equal(lines, 4);
  // A run that is not served: said, and the page still works.
  await site.page.goto(`${site.origin}/?run=0,9`);
  await waitForApp(site.page);
  await site.page.waitForFunction(() => window.dida.live().error !== '', null, { timeout: 30000 });
  assert.match((await site.page.evaluate(() => window.dida.live())).error, /\?run=9: no such run/);
  assert.deepEqual(site.consoleErrors, []);
});
